"""One progress bar for a whole prediction job, however many processes share it.

The main process shows a tqdm bar (images/s and the time left); every other process counts
its finished inputs into a small file, ``parts/progress.<rank>``, rewritten atomically at most
twice a second, and a thread of the main process adds those counts to its own. Files, because
the job's output folder is already shared by its processes (their journals meet there), and
because a collective operation would make the processes wait for each other at every step.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from glamor_zoo.inference.journal import PARTS_NAME
from glamor_zoo.inference.processes import Processes
from glamor_zoo.serialization import atomic_write_text

__all__ = ["JobProgress"]

_INTERVAL_S = 0.5


class JobProgress:
    """Counts finished inputs of every process; the main process shows them as one bar.

    Args:
        folder: The job's output folder (the other processes' counts go there).
        processes: The job's processes.
        total: How many inputs the job has (``None``: unknown).
        initial: How many were finished before this run.
        unit: What an input is called on the bar (``"image"``: the rate reads images/s).
        enabled: Show the bar (``False``: count only).
    """

    def __init__(
        self,
        folder: str | Path,
        processes: Processes,
        total: int | None,
        initial: int = 0,
        unit: str = "image",
        enabled: bool = True,
    ) -> None:
        self.folder = Path(folder) / PARTS_NAME
        self.processes = processes
        self.initial = initial
        self.count = 0
        self._written_at = 0.0
        self._noted_at = 0.0
        self._bar: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if processes.is_main:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total, initial=initial, unit=unit, disable=True if not enabled else None
            )
            if processes.world_size > 1:
                self._thread = threading.Thread(target=self._poll, daemon=True)
                self._thread.start()

    def _path(self, rank: int) -> Path:
        return self.folder / f"progress.{rank}"

    def _others(self) -> int:
        total = 0
        for rank in range(1, self.processes.world_size):
            try:
                total += int(self._path(rank).read_text() or 0)
            except (OSError, ValueError):
                continue  # not written yet
        return total

    def done(self) -> int:
        """Inputs finished: before this run, by this process, and (main process) by the others
        as far as their last published counts go."""
        others = self._others() if self.processes.is_main and self.processes.world_size > 1 else 0
        return self.initial + self.count + others

    def _show(self) -> None:
        delta = self.done() - self._bar.n
        if delta > 0:
            self._bar.update(delta)

    def _poll(self) -> None:
        while not self._stop.wait(_INTERVAL_S):
            self._show()

    def advance(self, n: int = 1) -> None:
        """This process finished ``n`` more inputs."""
        self.count += n
        if self._bar is not None and self._thread is None:
            self._bar.update(n)
        elif self._bar is None and time.monotonic() - self._written_at >= _INTERVAL_S:
            self._publish()

    def where(self, text: str) -> None:
        """Show where this process is inside a long input (a video's time), at most twice a
        second (main process; the others' bars are not shown)."""
        now = time.monotonic()
        if self._bar is not None and now - self._noted_at >= _INTERVAL_S:
            self._bar.set_postfix_str(text, refresh=True)
            self._noted_at = now

    def _publish(self) -> None:
        atomic_write_text(self._path(self.processes.rank), str(self.count))
        self._written_at = time.monotonic()

    def close(self) -> None:
        """Publish this process's last count; on the main process, after every process has
        closed (the job's barrier), show the final count and close the bar."""
        if self._bar is None:
            self._publish()
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def finish(self) -> None:
        """Main process, after the barrier that follows :meth:`close`: the final bar."""
        if self._bar is not None:
            self._show()
            self._bar.close()
