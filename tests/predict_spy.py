"""Which inputs a prediction run really sent through the model (for the resume tests)."""

from __future__ import annotations

import pytest

from glamor_zoo.inference.recognizer import EmotionRecognizer


def record_predicted_sources(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Patch :meth:`EmotionRecognizer.predict_iter` to append each result's source to the
    returned list, in the order the model produced them."""
    seen: list[str] = []
    original = EmotionRecognizer.predict_iter

    def spy(self, inputs, *args, **kwargs):
        for result in original(self, inputs, *args, **kwargs):
            seen.append(result.source)
            yield result

    monkeypatch.setattr(EmotionRecognizer, "predict_iter", spy)
    return seen
