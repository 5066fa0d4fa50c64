"""An exclusive lock between processes, held on a lock file (``fcntl.flock``; ``msvcrt`` on Windows).

The operating system releases the lock when its holder exits, even when killed, so a crashed
process never leaves a stale lock behind. The lock file itself stays: deleting it while another
process waits on it would let a third one lock a new file of the same name.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["file_lock"]

_logger = logging.getLogger(__name__)

try:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

except ImportError:  # Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


@contextmanager
def file_lock(path: str | Path, waiting: str = "", poll_s: float = 0.1) -> Iterator[None]:
    """Hold the exclusive lock of ``path`` (created if needed) for the ``with`` block.

    Args:
        path: The lock file.
        waiting: Logged once (INFO) when another process holds the lock and this one waits.
        poll_s: Seconds between tries while waiting.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if not _try_lock(fd):
            if waiting:
                _logger.info("%s", waiting)
            while not _try_lock(fd):
                time.sleep(poll_s)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)
