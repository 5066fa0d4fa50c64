"""Output folders that the zoo's commands write into: checked before the work, locked during it.

- :func:`check_writable` makes the folder and writes (then removes) a file in it, so a
  read-only, missing or full folder is reported in one line before hours of work, not after.
- :class:`OutputLock` is an advisory lock (``fcntl.flock``) on ``<folder>/.glamor-zoo.lock``,
  which holds the writer's PID. A second writer is refused with a message naming that PID. The
  kernel drops the lock when its process ends, however it ends, so a run killed with ``kill -9``
  never blocks its resume. The processes of one multi-process job share their main process's
  lock: only the main process takes it.
- :func:`claim_outputs` keeps a user's files safe: before a command writes names into a folder,
  any of them that already exists and that no command of the zoo wrote there (the folder's
  manifest, ``<folder>/.glamor-zoo-manifest.json``, lists what they wrote) is refused unless
  the caller says to overwrite; the names are then added to the manifest (written atomically).
- :func:`full_or_read_only` tells a write that failed because the disk is full or read-only
  (which the user can fix, then resume) from other errors, so commands report it in one line.
"""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

__all__ = [
    "LOCK_NAME",
    "MANIFEST_NAME",
    "OutputFolderError",
    "OutputLock",
    "OutputLockedError",
    "OverwriteRefusedError",
    "check_writable",
    "claim_outputs",
    "full_or_read_only",
    "written_names",
]

LOCK_NAME = ".glamor-zoo.lock"
MANIFEST_NAME = ".glamor-zoo-manifest.json"


class OutputFolderError(OSError):
    """An output folder cannot be made or written; the message names it and why."""


class OutputLockedError(OutputFolderError):
    """Another process is writing into the output folder; the message names its PID."""


_FULL_OR_READ_ONLY = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def full_or_read_only(exc: BaseException) -> str | None:
    """The system's reason (``No space left on device``…) when ``exc`` is a write that failed
    because the disk is full, over quota or read-only; ``None`` for any other error.

    ``exc`` is an :class:`OSError`, or safetensors' error, which names the OS error in its text.
    """
    code = exc.errno if isinstance(exc, OSError) else None
    if code is None and type(exc).__name__ == "SafetensorError":
        found = re.search(r"\(os error (\d+)\)", str(exc))
        code = int(found.group(1)) if found else None
    return os.strerror(code) if code in _FULL_OR_READ_ONLY else None


class OverwriteRefusedError(OutputFolderError):
    """An output folder holds files the zoo did not write that a command would replace."""


def written_names(folder: str | Path) -> set[str]:
    """The names (relative to ``folder``, ``/``-separated) that the zoo's commands recorded as
    written in ``folder``'s manifest; empty when there is none or it cannot be read."""
    try:
        data = json.loads((Path(folder) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    files = data.get("files") if isinstance(data, dict) else None
    return {name for name in files if isinstance(name, str)} if isinstance(files, list) else set()


def claim_outputs(
    folder: str | Path, names: Iterable[str], overwrite: bool = False, option: str = "--overwrite"
) -> Path:
    """Make ``folder`` and claim ``names`` in it for the zoo before a command writes them.

    A name that already exists in ``folder`` (a file or a folder) and that the manifest does not
    list was put there by someone else: it is refused unless ``overwrite``. The names are then
    recorded in the manifest, so the command may write them again later.

    Args:
        folder: The output folder (made with its parents).
        names: What the command writes there, relative to ``folder`` (``model``, ``eval/val``…).
        overwrite: Replace such files anyway.
        option: How the caller's user says ``overwrite`` (named in the message).

    Raises:
        OverwriteRefusedError: one line naming the folder and the files it would replace.
        OutputFolderError: the folder or its manifest cannot be written.
    """
    from glamor_zoo.serialization import atomic_write_text

    folder = check_writable(folder)
    names = sorted({Path(name).as_posix() for name in names})
    known = written_names(folder)
    foreign = [n for n in names if n not in known and os.path.lexists(folder / n)]
    if foreign and not overwrite:
        shown = ", ".join(foreign[:5]) + (
            f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        )
        raise OverwriteRefusedError(
            f"output folder {str(folder)!r} holds {shown}, which glamor-zoo did not write: "
            f"pass {option} to replace them, or choose another folder"
        )
    if not set(names) <= known:
        manifest = {"written_by": "glamor-zoo", "files": sorted(known | set(names))}
        try:
            atomic_write_text(folder / MANIFEST_NAME, json.dumps(manifest, indent=1) + "\n")
        except OSError as exc:
            raise OutputFolderError(
                f"output folder {str(folder)!r} cannot be written: {exc.strerror or exc}"
            ) from None
    return folder


def check_writable(folder: str | Path) -> Path:
    """Make ``folder`` (with its parents) and check that a file can be written in it.

    Raises:
        OutputFolderError: one line naming the folder and the system's reason.
    """
    from glamor_zoo.serialization import open_temp_beside

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = open_temp_beside(folder / "write-check")
        try:
            os.write(fd, b"\0")
            os.fsync(fd)
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OutputFolderError(
            f"output folder {str(folder)!r} cannot be written: {reason}"
        ) from None
    return folder


class OutputLock:
    """An advisory, exclusive lock on an output folder for as long as it is held.

    Args:
        folder: The output folder (made if needed).

    Use as a context manager, or :meth:`acquire` / :meth:`release`.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> OutputLock:
        """Take the lock, or refuse at once.

        Raises:
            OutputLockedError: another process holds it (the message names its PID).
            OutputFolderError: the lock file cannot be made.
        """
        import fcntl

        if self._fd is not None:
            return self
        check_writable(self.folder)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise OutputLockedError(
                f"output folder {str(self.folder)!r} is being written by process {holder}: wait "
                "for it to finish, or use another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Let the lock go (the file stays: removing it would race with the next writer)."""
        import fcntl

        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
