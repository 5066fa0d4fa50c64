"""Expected calibration error and temperature scaling (glamor_zoo.train.calibration)."""

from __future__ import annotations

import numpy as np
import pytest

from glamor_zoo.train.calibration import (
    expected_calibration_error,
    fit_temperature,
    scaled_probabilities,
)


def _overconfident(n: int, seed: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Logits of a 3-class model whose true temperature is ``scale``: its labels are drawn from
    softmax(logits / scale), so dividing by ``scale`` calibrates it exactly."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (n, 3))
    probs = scaled_probabilities(logits, scale)
    labels = np.array([rng.choice(3, p=p) for p in probs])
    return logits, labels


def test_ece_of_a_calibrated_and_of_an_overconfident_model() -> None:
    logits, labels = _overconfident(6000, 0, 1.0)
    assert expected_calibration_error(scaled_probabilities(logits, 1.0), labels) < 2.0
    confident = np.zeros((4, 3))
    confident[:, 0] = 1.0
    assert expected_calibration_error(confident, [0, 1, 1, 1]) == pytest.approx(75.0)
    nan = np.full((2, 3), np.nan)
    assert np.isnan(expected_calibration_error(nan, [0, 1]))


def test_temperature_recovers_the_true_one_and_lowers_the_error() -> None:
    logits, labels = _overconfident(6000, 1, 2.0)
    t = fit_temperature([logits], [labels])
    assert t == pytest.approx(2.0, rel=0.1)
    before = expected_calibration_error(scaled_probabilities(logits, 1.0), labels)
    after = expected_calibration_error(scaled_probabilities(logits, t), labels)
    assert after < before / 3


def test_each_set_counts_once_and_opposite_sets_can_keep_t_at_one() -> None:
    hot = _overconfident(3000, 2, 2.0)
    cold = _overconfident(300, 3, 0.5)
    # Counted once each, the small set pulls the temperature as much as the large one.
    assert 0.5 < fit_temperature([hot[0], cold[0]], [hot[1], cold[1]]) < 2.0
    # Raising neither set's error is impossible here: the temperature stays 1.
    kept = fit_temperature([hot[0], cold[0]], [hot[1], cold[1]], keep_each_ece=True)
    assert kept == 1.0
    with pytest.raises(ValueError, match="no scored images"):
        fit_temperature([np.full((2, 3), np.nan)], [[0, 1]])
