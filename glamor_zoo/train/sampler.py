"""A shuffling sampler whose order depends only on (seed, epoch): exact resume anywhere."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

__all__ = ["EpochShuffleSampler"]


class EpochShuffleSampler(Sampler[int]):
    """Shuffles ``range(length)`` with a generator seeded by ``(seed, epoch)``.

    Unlike ``RandomSampler`` it holds no hidden generator state: the order of epoch ``e`` is the
    same in an uninterrupted run and in a run resumed from a checkpoint. Accelerate shards the
    batches this order forms across processes.

    Args:
        length: Dataset size.
        seed: Run seed.
        shuffle: ``False`` yields ``0..length-1`` (evaluation).
    """

    def __init__(self, length: int, seed: int = 0, shuffle: bool = True) -> None:
        self.length = length
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order the next iteration yields."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.length))
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(torch.randperm(self.length, generator=generator).tolist())

    def __len__(self) -> int:
        return self.length
