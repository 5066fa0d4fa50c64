"""Download a file whose bytes are pinned in advance, and prove that they are those bytes.

A :class:`PinnedFile` names a file and what it must hash to: its SHA-256, and/or its git blob id
(the SHA-1 of ``b"blob <size>\\0"`` followed by the content: what ``git hash-object`` prints,
and what a repository's tree records for every file, so a file known only from a git tree is
pinned too), and/or its size. :func:`download_pinned` streams a URL (``http(s)://`` or
``file://``) into a file with the standard library, then :func:`verify_pinned` checks it.
Nothing here decides where files are cached: the caller downloads into a temporary folder and
keeps the files only when every check passed.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DownloadError",
    "IntegrityError",
    "PinnedFile",
    "download_pinned",
    "git_blob_id",
    "verify_pinned",
]

_logger = logging.getLogger(__name__)

_BLOCK = 1 << 16
# A pinned file of unknown size may not grow past this (a wrong URL serving something huge).
MAX_UNSIZED_BYTES = 256 << 20


class DownloadError(OSError):
    """A download that did not complete: no network, an HTTP error, a connection cut mid-file.

    Attributes:
        url: The URL being downloaded.
    """

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        super().__init__(f"{url}: {reason}")

    def __str__(self) -> str:
        return str(self.args[0])


class IntegrityError(ValueError):
    """A file whose size or hash is not the pinned one.

    Attributes:
        label: The file (or URL) checked.
        kind: ``"size"``, ``"sha256"`` or ``"git blob id"``.
        actual: What the file has.
        expected: What was pinned.
    """

    def __init__(self, label: str, kind: str, actual: str, expected: str) -> None:
        self.label, self.kind, self.actual, self.expected = label, kind, actual, expected
        super().__init__(f"{label}: {kind} {actual}, but the pinned {kind} is {expected}")


@dataclass(frozen=True)
class PinnedFile:
    """A file and the hashes its bytes must have (at least one of ``sha256`` and ``git_blob``).

    Attributes:
        name: The file name (also its name in the folder it is downloaded from).
        sha256: Hex SHA-256 of the content.
        git_blob: Hex git blob id (SHA-1 of ``b"blob <size>\\0" + content``).
        size: The size in bytes, when known (checked first: a clearer message than a hash).
    """

    name: str
    sha256: str | None = None
    git_blob: str | None = None
    size: int | None = None

    def __post_init__(self) -> None:
        if not (self.sha256 or self.git_blob):
            raise ValueError(f"pinned file {self.name!r} needs a sha256 or a git blob id")
        for kind, value, length in (("sha256", self.sha256, 64), ("git_blob", self.git_blob, 40)):
            if value is not None and (
                len(value) != length or value.strip("0123456789abcdef") != ""
            ):
                raise ValueError(
                    f"pinned file {self.name!r}: {kind} must be {length} lower-case hex digits, "
                    f"got {value!r}"
                )


def _hashes(path: Path) -> tuple[int, str, str]:
    """Size, SHA-256 and git blob id of the file at ``path``."""
    size = path.stat().st_size
    sha256 = hashlib.sha256()
    blob = hashlib.sha1(f"blob {size}\0".encode())
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha256.update(block)
            blob.update(block)
    return size, sha256.hexdigest(), blob.hexdigest()


def git_blob_id(path: str | Path) -> str:
    """The git blob id of a file: what ``git hash-object PATH`` prints."""
    return _hashes(Path(path))[2]


def verify_pinned(
    path: str | Path, pinned: PinnedFile, label: str | None = None
) -> dict[str, str | int]:
    """Check the file at ``path`` against ``pinned``: size, then SHA-256, then git blob id.

    Args:
        path: The file.
        pinned: What it must be.
        label: How to name the file in the error (default: ``path``).

    Returns:
        The file's ``{"sha256": …, "git_blob": …, "bytes": …}`` (all three, whatever was pinned).

    Raises:
        IntegrityError: a size or hash differs; the message names the file and both values.
    """
    label = label or str(path)
    size, sha256, blob = _hashes(Path(path))
    if pinned.size is not None and size != pinned.size:
        pinned_hash = (
            f"sha256 {pinned.sha256}" if pinned.sha256 else f"git blob id {pinned.git_blob}"
        )
        own_hash = f"sha256 {sha256}" if pinned.sha256 else f"git blob id {blob}"
        raise IntegrityError(
            label, "size", f"{size:,} bytes ({own_hash})", f"{pinned.size:,} bytes ({pinned_hash})"
        )
    if pinned.sha256 is not None and sha256 != pinned.sha256:
        raise IntegrityError(label, "sha256", sha256, pinned.sha256)
    if pinned.git_blob is not None and blob != pinned.git_blob:
        raise IntegrityError(label, "git blob id", blob, pinned.git_blob)
    return {"sha256": sha256, "git_blob": blob, "bytes": size}


def download_pinned(
    url: str, dest: str | Path, pinned: PinnedFile, timeout: float = 30.0, user_agent: str = ""
) -> dict[str, str | int]:
    """Download ``url`` into ``dest`` and verify it against ``pinned``.

    ``dest`` is written in place (download into a temporary folder); on any failure it may hold
    part of the file, and the caller discards the folder.

    Args:
        url: An ``http://``, ``https://`` or ``file://`` URL.
        dest: The file to write.
        pinned: The size and hashes the content must have.
        timeout: Seconds without progress before giving up on a connection.
        user_agent: The ``User-Agent`` header to send (default: urllib's).

    Returns:
        What :func:`verify_pinned` returns.

    Raises:
        DownloadError: the download failed or stopped early.
        IntegrityError: the bytes are not the pinned ones.
    """
    limit = pinned.size if pinned.size is not None else MAX_UNSIZED_BYTES
    headers = {"User-Agent": user_agent} if user_agent else {}
    start = time.perf_counter()
    received = 0
    try:
        with (
            urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=timeout
            ) as response,
            open(dest, "wb") as out,
        ):
            declared = response.headers.get("Content-Length")
            declared = int(declared) if declared and declared.isdigit() else None
            while block := response.read(_BLOCK):
                received += len(block)
                if received > limit:
                    raise IntegrityError(
                        url, "size", f"more than {limit:,} bytes", f"{limit:,} bytes"
                    )
                out.write(block)
    except urllib.error.HTTPError as exc:
        raise DownloadError(url, f"HTTP {exc.code} {exc.reason}") from exc
    except http.client.IncompleteRead as exc:
        total = received + len(exc.partial) + (exc.expected or 0)
        raise DownloadError(
            url, f"the connection closed after {received + len(exc.partial):,} of {total:,} bytes"
        ) from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DownloadError(
            url, f"download failed after {received:,} bytes ({type(exc).__name__}: {reason})"
        ) from exc
    if declared is not None and received != declared:
        raise DownloadError(url, f"the connection closed after {received:,} of {declared:,} bytes")
    hashes = verify_pinned(dest, pinned, label=url)
    _logger.info(
        "downloaded %s (%s bytes, %.2f s), %s verified",
        url,
        f"{received:,}",
        time.perf_counter() - start,
        " and ".join(k for k in ("sha256", "git_blob") if getattr(pinned, k)),
    )
    return hashes
