"""The processes of a prediction job: one, or many under ``accelerate launch`` / ``torchrun``.

A thin view of accelerate's ``PartialState`` (which reads the launcher's environment and joins
the process group: gloo on CPUs, NCCL on GPUs): this process's rank, how many there are, a
barrier, the device this process owns, and ``split_between_processes`` to share out work.
A plain ``python``/``glamor-zoo`` run is one process and never imports accelerate.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["Processes", "current_processes"]

T = TypeVar("T")

_LAUNCHER_VARIABLES = ("WORLD_SIZE", "ACCELERATE_NUM_PROCESSES")


@dataclass(frozen=True)
class Processes:
    """This process's place in the job.

    Attributes:
        rank: This process's index (0 is the main process).
        world_size: How many processes share the job.
        device: The device the launcher gave this process (``None``: choose as usual).
        state: accelerate's ``PartialState`` (``None`` for a single plain process).
    """

    rank: int = 0
    world_size: int = 1
    device: Any = None
    state: Any = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wait(self) -> None:
        """Block until every process gets here (no-op for one process)."""
        if self.state is not None:
            self.state.wait_for_everyone()

    def split(self, items: Sequence[T]) -> list[T]:
        """This process's share of ``items``: contiguous, sizes differing by at most one."""
        if self.state is None:
            return list(items)
        with self.state.split_between_processes(list(items)) as share:
            return list(share)


def _launched() -> bool:
    return any(int(os.environ.get(name, "1") or 1) > 1 for name in _LAUNCHER_VARIABLES)


def current_processes() -> Processes:
    """The job's processes as the launcher set them up (a single process when not launched)."""
    if not _launched():
        return Processes()
    from accelerate import PartialState

    state = PartialState()
    return Processes(state.process_index, state.num_processes, state.device, state)
