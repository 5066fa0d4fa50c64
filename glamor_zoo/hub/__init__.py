"""Publishing to and loading from the Hugging Face Hub.

- :func:`push_to_hub`: weights (safetensors), ``config.json`` and a model card in one commit.
- :func:`render_model_card`: the card alone (the family's template from ``card_templates/`` + the config's metrics).
- Loading is ``glamor_zoo.create_model("hf-hub:org/name", revision=..., cache_dir=...)``;
  files that cannot be loaded raise :class:`CheckpointError` naming the file.
"""

from glamor_zoo.hub.card import card_metadata, card_metrics, config_dataset, render_model_card
from glamor_zoo.hub.paper_results import DATASETS, PAPER_RESULTS, paper_result
from glamor_zoo.hub.push import PushFields, load_model_folder, prepare_push, push_to_hub
from glamor_zoo.models._checkpoint import CheckpointError

__all__ = [
    "DATASETS",
    "PAPER_RESULTS",
    "CheckpointError",
    "PushFields",
    "card_metadata",
    "card_metrics",
    "config_dataset",
    "load_model_folder",
    "paper_result",
    "prepare_push",
    "push_to_hub",
    "render_model_card",
]
