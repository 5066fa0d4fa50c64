"""Smoothing a track's emotion probabilities over time, and counting how often labels flip.

Per-frame labels flicker (one frame "Sad", the next "Neutral") when a face sits between two
classes and the picture changes a little (compression, light, blur). :class:`EmaSmoother`
keeps, per track, an exponential moving average of the probabilities whose weights halve every
``half_life`` seconds; frames sampled unevenly, or a face missed for a while, are weighed by
the time between them, not by their count.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Iterable, Sequence

import numpy as np

__all__ = ["EmaSmoother", "count_flips"]


class EmaSmoother:
    """Exponential moving averages of probability vectors, one per key (track).

    The average after an observation ``p`` at time ``t`` is ``a·p + (1 − a)·previous`` with
    ``a = 1 − 2^(−Δt / half_life)``, ``Δt`` the seconds since the key's previous observation;
    a key's first observation is taken as it is.

    Args:
        half_life: Seconds after which an observation weighs half as much; 0: no smoothing
            (every observation is returned as it is).
    """

    def __init__(self, half_life: float) -> None:
        if not (math.isfinite(half_life) and half_life >= 0):
            raise ValueError(f"half_life must be a number of seconds >= 0, got {half_life!r}")
        self.half_life = float(half_life)
        self._state: dict[Hashable, tuple[float, np.ndarray]] = {}

    def update(self, key: Hashable, time: float, probabilities: Sequence[float]) -> np.ndarray:
        """Add the observation of ``key`` at ``time`` (seconds); its smoothed probabilities."""
        p = np.asarray(probabilities, dtype=np.float64)
        previous = self._state.get(key)
        if previous is None or self.half_life == 0:
            smoothed = p
        else:
            last_time, average = previous
            weight = 1.0 - 2.0 ** (-max(0.0, time - last_time) / self.half_life)
            smoothed = weight * p + (1.0 - weight) * average
        self._state[key] = (time, smoothed)
        return smoothed

    def retain(self, keys: Iterable[Hashable]) -> None:
        """Drop the averages of every key not in ``keys`` (tracks that ended)."""
        kept = set(keys)
        for key in [k for k in self._state if k not in kept]:
            del self._state[key]


def count_flips(labels: Sequence[str]) -> int:
    """How many times consecutive labels differ."""
    return sum(1 for a, b in itertools.pairwise(labels) if a != b)
