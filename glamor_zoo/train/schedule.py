"""Learning-rate schedules: the paper's step decay, or a cosine; both with an optional warmup.

Every schedule is a pure function of the optimiser step, so a resumed run needs no scheduler
state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["SCHEDULES", "lr_at_epoch", "lr_at_step"]

SCHEDULES = ("step", "cosine")


def lr_at_epoch(
    epoch: int, base_lr: float, milestones: Sequence[int], gamma: float, min_lr: float
) -> float:
    """Learning rate of 0-based ``epoch``: ``base_lr·gamma^(milestones passed)``, at least ``min_lr``.

    With the paper's values (5e-4, milestones 25 and 40, ×0.1, floor 1e-5) epochs 0–24 use 5e-4,
    25–39 use 5e-5 and 40+ use 1e-5 (5e-6 would fall below the floor).
    """
    passed = sum(1 for m in milestones if epoch >= m)
    return max(base_lr * gamma**passed, min_lr)


def lr_at_step(
    step: int,
    steps_per_epoch: int,
    epochs: int,
    base_lr: float,
    schedule: str = "step",
    warmup_epochs: int = 0,
    milestones: Sequence[int] = (),
    gamma: float = 0.1,
    min_lr: float = 0.0,
) -> float:
    """Learning rate of 0-based optimiser ``step`` of a run of ``epochs`` × ``steps_per_epoch``.

    - Warmup: during the first ``warmup_epochs`` epochs the rate rises linearly,
      ``base_lr·(step + 1) / warmup_steps``.
    - ``"step"``: then :func:`lr_at_epoch` of the step's epoch (constant within an epoch).
    - ``"cosine"``: then ``min_lr + (base_lr - min_lr)·(1 + cos(π·p)) / 2``, with ``p`` going
      from 0 at the end of the warmup to 1 at the last step (Deep-Emotion's recipes).

    Raises:
        ValueError: an unknown ``schedule`` or a non-positive ``steps_per_epoch``.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
    warmup = warmup_epochs * steps_per_epoch
    if step < warmup:
        return base_lr * (step + 1) / warmup
    if schedule == "step":
        return lr_at_epoch(step // steps_per_epoch, base_lr, milestones, gamma, min_lr)
    progress = min(1.0, (step - warmup) / max(1, epochs * steps_per_epoch - warmup))
    return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * progress))
