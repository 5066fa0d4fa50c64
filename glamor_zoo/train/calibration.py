"""Confidence that means something: expected calibration error and temperature scaling.

A classifier is calibrated when, among the faces it labels with confidence ``p``, a share ``p``
is right. :func:`expected_calibration_error` measures the gap (Naeini et al. 2015; Guo et al.
2017: 15 equal-width confidence bins, the gap of each weighted by its share of the images);
:func:`fit_temperature` finds the one temperature ``T`` that, dividing the logits, minimises
the negative log-likelihood of held-out labels (Guo et al. 2017's temperature scaling: the
argmax, hence top-1, does not move). The zoo stores it in the model's spec
(:attr:`glamor_zoo.spec.ModelSpec.temperature`), and the recogniser applies it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "ECE_BINS",
    "expected_calibration_error",
    "fit_temperature",
    "mean_nll",
    "scaled_probabilities",
]

#: Confidence bins of the expected calibration error (Guo et al. 2017).
ECE_BINS = 15
# The temperatures searched (a log-spaced grid, then refined around the best).
_T_RANGE = (0.25, 8.0)


def scaled_probabilities(log_probs: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of ``log_probs / temperature`` per row (logits or log-probabilities: the same,
    since a softmax ignores a constant added to a row)."""
    x = np.asarray(log_probs, dtype=np.float64) / float(temperature)
    x = x - x.max(axis=1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


def expected_calibration_error(
    probs: np.ndarray, targets: Sequence[int], bins: int = ECE_BINS
) -> float:
    """ECE in percent: ``Σ_b (n_b / n) · |accuracy_b − mean confidence_b|`` over ``bins``
    equal-width bins of the top-class probability (rows with NaN are left out)."""
    probs = np.asarray(probs, dtype=np.float64)
    targets = np.asarray(targets)
    keep = ~np.isnan(probs).any(axis=1)
    probs, targets = probs[keep], targets[keep]
    if not len(probs):
        return float("nan")
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == targets
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    gap = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            gap += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return 100.0 * float(gap)


def _nll(log_probs: np.ndarray, targets: np.ndarray, temperature: float) -> float:
    p = scaled_probabilities(log_probs, temperature)
    return float(-np.log(np.clip(p[np.arange(len(targets)), targets], 1e-12, None)).mean())


def _scored_sets(
    log_probs: Sequence[np.ndarray], targets: Sequence[Sequence[int]]
) -> list[tuple[np.ndarray, np.ndarray]]:
    sets = []
    for logits, labels in zip(log_probs, targets, strict=True):
        logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels)
        keep = ~np.isnan(logits).any(axis=1)
        if keep.any():
            sets.append((logits[keep], labels[keep]))
    if not sets:
        raise ValueError("no scored images to fit a temperature on")
    return sets


def mean_nll(
    log_probs: Sequence[np.ndarray], targets: Sequence[Sequence[int]], temperature: float
) -> float:
    """The mean over the sets of each set's negative log-likelihood at ``temperature``."""
    sets = _scored_sets(log_probs, targets)
    return float(np.mean([_nll(x, y, temperature) for x, y in sets]))


def fit_temperature(
    log_probs: Sequence[np.ndarray],
    targets: Sequence[Sequence[int]],
    keep_each_ece: bool = False,
) -> float:
    """The temperature minimising :func:`mean_nll`: each set counts once, whatever its size
    (a small hold-out is not drowned by a large one). Rows with NaN (images not scored) are
    left out.

    Args:
        log_probs: One (N_i, C) array of logits or log-probabilities per held-out set.
        targets: The true classes of each set.
        keep_each_ece: Only temperatures that leave no set's expected calibration error above
            its value at T = 1 are candidates (1 itself always is): a temperature never trades
            one set's calibration for another's.
    """
    sets = _scored_sets(log_probs, targets)

    def loss(t: float) -> float:
        return float(np.mean([_nll(x, y, t) for x, y in sets]))

    def allowed(t: float) -> bool:
        if not keep_each_ece or t == 1.0:
            return True
        return all(
            expected_calibration_error(scaled_probabilities(x, t), y)
            <= expected_calibration_error(scaled_probabilities(x, 1.0), y)
            for x, y in sets
        )

    grid = np.exp(np.linspace(np.log(_T_RANGE[0]), np.log(_T_RANGE[1]), 61))
    best = min([1.0, *(float(t) for t in grid if allowed(float(t)))], key=loss)
    fine = np.exp(np.linspace(np.log(best / 1.06), np.log(best * 1.06), 41))
    return min([best, *(float(t) for t in fine if allowed(float(t)))], key=loss)
