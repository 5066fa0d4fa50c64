"""A shuffling sampler whose order depends only on (seed, epoch): exact resume anywhere."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

__all__ = ["EpochShuffleSampler", "WeightedEpochSampler"]


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


class WeightedEpochSampler(Sampler[int]):
    """Draws each part of a mixed dataset ``round(weight × size)`` times per epoch, shuffled
    together; like :class:`EpochShuffleSampler` the order depends only on (seed, epoch).

    A part with weight above 1 contributes whole shuffled passes over it and then a random
    share of one more; below 1, a different random share each epoch.

    Args:
        sizes: Each part's number of items (the parts lie one after the other).
        weights: Each part's weight (> 0).
        seed: Run seed.
    """

    def __init__(self, sizes: list[int], weights: list[float], seed: int = 0) -> None:
        if len(sizes) != len(weights) or any(w <= 0 for w in weights):
            raise ValueError(f"one weight > 0 per part, got sizes {sizes}, weights {weights}")
        self.sizes = [int(n) for n in sizes]
        self.counts = [round(w * n) for w, n in zip(weights, self.sizes, strict=True)]
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose draw the next iteration yields."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        drawn, offset = [], 0
        for size, count in zip(self.sizes, self.counts, strict=True):
            passes = -(-count // size) if size else 0
            order = torch.cat(
                [torch.randperm(size, generator=generator) for _ in range(passes)]
                or [torch.empty(0, dtype=torch.long)]
            )
            drawn.append(order[:count] + offset)
            offset += size
        everything = torch.cat(drawn)
        return iter(everything[torch.randperm(len(everything), generator=generator)].tolist())

    def __len__(self) -> int:
        return sum(self.counts)
