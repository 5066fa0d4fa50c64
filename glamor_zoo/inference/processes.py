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


def current_processes(cpu: bool | None = None) -> Processes:
    """The job's processes as the launcher set them up (a single process when not launched).

    Args:
        cpu: Join the process group on CPUs (gloo). ``None``: when ``ACCELERATE_USE_CPU`` is
            set (as ``accelerate.Accelerator`` reads it) or torch sees no CUDA device.

    Raises:
        RuntimeError: the launcher started several processes but they could not join one group
            (each would otherwise do the whole job).
    """
    if not _launched():
        return Processes()
    import torch
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    if cpu is None:
        # NOTE: PartialState, unlike Accelerator, does not read ACCELERATE_USE_CPU itself, and
        # without cpu=True on a machine with no GPU it sees one process, not a CPU group.
        cpu = parse_flag_from_env("ACCELERATE_USE_CPU") or not torch.cuda.is_available()
    state = PartialState(cpu=cpu)
    if state.num_processes == 1:
        raise RuntimeError(
            f"the launcher started {os.environ.get('WORLD_SIZE')} processes, but accelerate "
            "joined none of them into a group; on CPUs set ACCELERATE_USE_CPU=1"
        )
    return Processes(state.process_index, state.num_processes, state.device, state)
