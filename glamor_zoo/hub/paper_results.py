"""The datasets the zoo's models are trained on, and the published numbers each model is held to.

Model cards show a pushed model's measured metrics next to these (GLAMOR-Net, Le et al. 2021,
Tables 2–7; Deep-Emotion, Minaee & Abdolrashidi 2019). All numbers are top-1 accuracy in percent
on the dataset's test split.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "DATASETS",
    "PAPER_RESULTS",
    "DatasetInfo",
    "PaperResult",
    "canonical_dataset",
    "paper_result",
]


class DatasetInfo(NamedTuple):
    """How a dataset is named on cards.

    Attributes:
        name: Display name (``"NCAER-S"``).
        hub_id: The dataset's Hugging Face Hub id, listed under ``datasets:`` in the card's
            metadata; ``None`` when the release the zoo trains on is not on the Hub.
        description: One line for the card.
    """

    name: str
    hub_id: str | None
    description: str


class PaperResult(NamedTuple):
    """A published top-1 accuracy (percent) and where it is printed."""

    top1: float
    source: str


# NOTE: none of these releases has an official Hub dataset (November 2026): CAER-S, CK+, JAFFE
# and FERG are distributed by their authors under research-use terms, FER-2013 through the
# challenge (Kaggle), and NCAER-S is rebuilt from CAER-S; the Hub's community re-uploads are not
# the releases the zoo's splits come from. Cards therefore list no ``datasets:`` for them (a
# non-Hub id there links to a missing page) and name the dataset in the model-index only.
DATASETS: dict[str, DatasetInfo] = {
    "caer_s": DatasetInfo(
        "CAER-S", None, "static frames of TV-show clips, 7 emotions (Lee et al., ICCV 2019)"
    ),
    "ncaer_s": DatasetInfo(
        "NCAER-S",
        None,
        "CAER-S rebuilt without near-duplicate frames, video-disjoint splits (Le et al. 2021)",
    ),
    "fer2013": DatasetInfo(
        "FER-2013", None, "48×48 grayscale faces, 7 emotions (ICML 2013 challenge)"
    ),
    "ckplus": DatasetInfo(
        "CK+", None, "posed expression sequences of the extended Cohn-Kanade set"
    ),
    "jaffe": DatasetInfo("JAFFE", None, "posed expressions of 10 Japanese female subjects"),
    "ferg": DatasetInfo("FERG", None, "expressions of stylised animated characters"),
}

_GLAMOR = "Le et al. 2021"
_DEEP_EMOTION = "Minaee & Abdolrashidi 2019"

# Top-1 of (model, dataset), by where each figure is printed.
_PRINTED: dict[str, dict[tuple[str, str], float]] = {
    f"{_GLAMOR}, Table 2": {("glamor_original", "caer_s"): 77.90, ("caer_net_s", "caer_s"): 73.52},
    f"{_GLAMOR}, Table 3": {("glamor_original", "ncaer_s"): 46.91},
    f"{_GLAMOR}, Table 4": {
        ("glamor_face_only", "ncaer_s"): 42.58,
        ("glamor_no_attention", "ncaer_s"): 43.19,
        ("glamor_context_attention", "ncaer_s"): 44.14,
    },
    f"{_GLAMOR}, Table 6": {
        ("glamor_fusion_add", "ncaer_s"): 44.33,
        ("glamor_fusion_max", "ncaer_s"): 45.62,
    },
    f"{_GLAMOR}, Table 7": {
        ("glamor_mobilenetv2", "caer_s"): 85.44,
        ("glamor_resnet18", "caer_s"): 89.88,
        ("glamor_mobilenetv2", "ncaer_s"): 47.52,
        ("glamor_resnet18", "ncaer_s"): 48.40,
    },
    _DEEP_EMOTION: {
        ("deep_emotion", dataset): top1
        for dataset, top1 in (("fer2013", 70.02), ("ckplus", 98.0), ("jaffe", 92.8), ("ferg", 99.3))
    },
}

PAPER_RESULTS: dict[tuple[str, str], PaperResult] = {
    key: PaperResult(top1, source)
    for source, rows in _PRINTED.items()
    for key, top1 in rows.items()
}


def canonical_dataset(name: str) -> str:
    """``"NCAER-S"``, ``"ncaer-s"``, ``"ncaer_s"`` → ``"ncaer_s"``; ``"CK+"`` → ``"ckplus"``.

    Unknown names come back lower-cased with ``-``/spaces as ``_``, so any dataset can be named;
    a Hub dataset id (``org/name``) comes back as it is.
    """
    if "/" in name:
        return name.strip()
    key = re.sub(r"[\s\-]+", "_", name.strip().lower()).replace("+", "plus")
    aliases = {"fer_2013": "fer2013", "ck_plus": "ckplus", "ck": "ckplus"}
    return aliases.get(key, key)


def paper_result(architecture: str, dataset: str) -> PaperResult | None:
    """The published accuracy of ``architecture`` on ``dataset``, if the papers report one."""
    return PAPER_RESULTS.get((architecture, canonical_dataset(dataset)))
