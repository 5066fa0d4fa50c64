"""Cards describe their model: the template is the family's, and every released tag's card
names its dataset, its input and its licence; a face-only card says nothing of a scene."""

from __future__ import annotations

import json
import re

import pytest
import timm
from huggingface_hub import ModelCard

from glamor_zoo.hub.card import card_family, find_template, render_model_card, render_released_card
from glamor_zoo.models._released import PACKAGE_WEIGHTS, released_ledger

RELEASED = sorted(released_ledger())


@pytest.mark.parametrize("tag", RELEASED)
def test_a_released_tags_card_names_its_dataset_input_and_licence(tag: str) -> None:
    config = json.loads((PACKAGE_WEIGHTS / f"{tag.replace('.', '_')}.json").read_text())
    card = ModelCard(render_released_card(tag))
    assert card.data.license == config["pretrained_cfg"]["license"]
    assert "## Licence" in card.text and "research use only" in card.text.lower()
    assert "FER-2013" in card.text and card.data.eval_results[0].dataset_name == "FER-2013"
    face_only = config["model_args"].get("inputs", "face") == "face"
    assert ("**Face only**" if face_only else "**Face + context**") in card.text
    if face_only:
        said = re.findall(r"caer|context", str(card), flags=re.IGNORECASE)
        assert not said, f"a face-only card mentions {sorted(set(said))}"


def test_the_template_is_chosen_by_the_family_in_the_cfg_not_the_module() -> None:
    # face_resnet26 is built by the GLAMOR-Net module, but its cfg says it is face only.
    assert timm.models.get_pretrained_cfg("face_resnet26").family == "face_only"
    assert card_family({"architecture": "face_resnet26"}) == "face_only"
    assert card_family({"architecture": "glamor_original"}) == "glamor_net"
    assert card_family({"architecture": "deep_emotion_no_stn"}) == "deep_emotion"
    assert card_family({"architecture": "not_a_model"}) == "default"
    assert card_family({"architecture": "glamor_original", "family": "face_only"}) == "face_only"
    assert find_template("face_resnet18") == find_template("x", family="face_only")


def test_labels_are_escaped_in_cards() -> None:
    config = json.loads((PACKAGE_WEIGHTS / "deep_emotion_fer2013.json").read_text())
    config["label_names"] = ["<script>alert(1)</script>", *config["label_names"][1:]]
    text = render_model_card(config, "org/escaped")
    assert "<script>" not in text and "&lt;script&gt;" in text
