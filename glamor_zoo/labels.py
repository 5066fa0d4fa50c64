"""The paper's emotion classes and one vocabulary across datasets' spellings."""

from __future__ import annotations

__all__ = ["PAPER_LABELS", "canonical_label"]

# Class order of CAER-S / NCAER-S and the official code (alphabetical).
PAPER_LABELS: tuple[str, ...] = ("Anger", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")

_SYNONYMS: dict[str, str] = {
    "anger": "Anger",
    "angry": "Anger",
    "disgust": "Disgust",
    "disgusted": "Disgust",
    "fear": "Fear",
    "fearful": "Fear",
    "scared": "Fear",
    "happy": "Happy",
    "happiness": "Happy",
    "joy": "Happy",
    "neutral": "Neutral",
    "sad": "Sad",
    "sadness": "Sad",
    "surprise": "Surprise",
    "surprised": "Surprise",
    "contempt": "Contempt",
}


def canonical_label(name: str) -> str:
    """Map a dataset's spelling (``angry``, ``Anger``, ``sadness``…) to the zoo's class name.

    Raises:
        ValueError: the name is not an emotion the zoo knows.
    """
    key = name.strip().lower()
    if key not in _SYNONYMS:
        raise ValueError(
            f"unknown emotion label {name!r}; known spellings: {', '.join(sorted(_SYNONYMS))}"
        )
    return _SYNONYMS[key]
