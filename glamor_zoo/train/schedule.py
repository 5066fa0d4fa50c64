"""The paper's learning-rate schedule: step decay at fixed epochs with a floor."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["lr_at_epoch"]


def lr_at_epoch(
    epoch: int, base_lr: float, milestones: Sequence[int], gamma: float, min_lr: float
) -> float:
    """Learning rate of 0-based ``epoch``: ``base_lr·gamma^(milestones passed)``, at least ``min_lr``.

    With the paper's values (5e-4, milestones 25 and 40, ×0.1, floor 1e-5) epochs 0–24 use 5e-4,
    25–39 use 5e-5 and 40+ use 1e-5 (5e-6 would fall below the floor).

    A pure function of the epoch, so a resumed run needs no scheduler state.
    """
    passed = sum(1 for m in milestones if epoch >= m)
    return max(base_lr * gamma**passed, min_lr)
