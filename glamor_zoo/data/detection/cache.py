"""Detect faces in image files once: results cached on disk by file content and detector settings.

The cache is a SQLite file (default ``~/.cache/glamor_zoo/detections.sqlite``; the folder can be
moved with ``GLAMOR_ZOO_CACHE`` or ``XDG_CACHE_HOME``). A key is the SHA-256 of the file's bytes
plus the detector's settings, so renaming or copying a file keeps its entry, editing it or
changing the detector or its threshold does not, and nothing is ever re-detected for the same
inputs, in the next epoch or the next run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from glamor_zoo.data.detection.base import Face, FaceDetector
from glamor_zoo.data.images import ImageLoadError, load_image
from glamor_zoo.serialization import file_sha256 as file_digest

__all__ = ["DetectionCache", "DetectionResult", "default_cache_dir", "detect_files", "file_digest"]

_logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$GLAMOR_ZOO_CACHE``, else ``$XDG_CACHE_HOME/glamor_zoo``, else ``~/.cache/glamor_zoo``."""
    if os.environ.get("GLAMOR_ZOO_CACHE"):
        return Path(os.environ["GLAMOR_ZOO_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "glamor_zoo"


def _faces_to_json(faces: Sequence[Face]) -> str:
    return json.dumps([f.to_dict() for f in faces])


def _faces_from_json(text: str) -> list[Face]:
    return [
        Face(
            box=tuple(d["box"]),
            score=float(d["score"]),
            landmarks=tuple(tuple(p) for p in d["landmarks"]) if d["landmarks"] else None,
        )
        for d in json.loads(text)
    ]


class DetectionCache:
    """Detected faces keyed by (file content, detector settings), in a SQLite file.

    Args:
        path: The database file; ``None`` → ``default_cache_dir() / "detections.sqlite"``.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_dir() / "detections.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60)
        with self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS detections (key TEXT PRIMARY KEY, faces TEXT NOT NULL)"
            )

    @staticmethod
    def key(digest: str, detector: FaceDetector) -> str:
        settings = hashlib.sha256(detector.fingerprint().encode()).hexdigest()[:16]
        return f"{digest}:{settings}"

    def get(self, key: str) -> list[Face] | None:
        row = self._db.execute("SELECT faces FROM detections WHERE key = ?", (key,)).fetchone()
        return None if row is None else _faces_from_json(row[0])

    def put_many(self, items: Iterable[tuple[str, Sequence[Face]]]) -> None:
        """Store several results in one transaction (all or none)."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO detections (key, faces) VALUES (?, ?)",
                [(k, _faces_to_json(f)) for k, f in items],
            )

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM detections").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> DetectionCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class DetectionResult:
    """Faces found in one file, or why it could not be read.

    Attributes:
        path: The image file.
        faces: Detected faces, best first (empty on error).
        error: The loading error, or ``None``.
        cached: Whether the result came from the cache.
    """

    path: str
    faces: list[Face]
    error: ImageLoadError | None = None
    cached: bool = False


def detect_files(
    paths: Sequence[str | os.PathLike[str]],
    detector: FaceDetector,
    cache: DetectionCache | None = None,
    batch_size: int = 16,
    progress: bool = True,
    desc: str = "detecting faces",
) -> list[DetectionResult]:
    """Detect faces in image files, using and filling ``cache``; one bad file never stops it.

    Args:
        paths: Image files.
        detector: The face detector.
        cache: Where results are looked up first and stored after; ``None`` → no caching.
        batch_size: Images loaded and detected together (peak memory grows with it).
        progress: Show a tqdm progress bar.
        desc: The progress bar's label.

    Returns:
        One :class:`DetectionResult` per path, in order.
    """
    results: list[DetectionResult | None] = [None] * len(paths)
    todo: list[tuple[int, str | None]] = []
    for i, path in enumerate(paths):
        key = None
        if cache is not None:
            try:
                key = cache.key(file_digest(path), detector)
            except OSError as exc:
                results[i] = DetectionResult(
                    str(path), [], ImageLoadError(path, f"cannot read ({exc})")
                )
                continue
            faces = cache.get(key)
            if faces is not None:
                results[i] = DetectionResult(str(path), faces, cached=True)
                continue
        todo.append((i, key))
    with tqdm(total=len(todo), desc=desc, disable=not progress or not todo, unit="img") as bar:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            images, loaded = [], []
            for i, key in chunk:
                try:
                    images.append(load_image(paths[i]))
                    loaded.append((i, key))
                except ImageLoadError as exc:
                    _logger.warning("%s", exc)
                    results[i] = DetectionResult(str(paths[i]), [], exc)
            found = detector.detect(images) if images else []
            for (i, _), faces in zip(loaded, found, strict=True):
                results[i] = DetectionResult(str(paths[i]), faces)
            if cache is not None:
                cache.put_many((key, faces) for (_, key), faces in zip(loaded, found, strict=True))
            bar.update(len(chunk))
    return [r for r in results if r is not None]
