"""Write the official ``crop/`` layout for any image folder: one ``x1,y1,x2,y2`` file per image."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from glamor_zoo.data.detection.base import FaceDetector, best_face
from glamor_zoo.data.detection.cache import detect_files
from glamor_zoo.data.images import list_images
from glamor_zoo.serialization import atomic_write_text

__all__ = ["CropReport", "crop_path_for", "format_box", "write_crop_files"]

_logger = logging.getLogger(__name__)


def format_box(box: tuple[float, float, float, float] | None) -> str:
    """The crop-file text of ``box``: whole pixels ``x1,y1,x2,y2``, or ``0,0,0,0`` for none."""
    if box is None:
        return "0,0,0,0"
    return ",".join(str(round(float(v))) for v in box)


def crop_path_for(image: Path, images_root: Path, crop_root: Path) -> Path:
    """``crop_root/<same relative folder>/<stem>.txt`` for ``images_root/<folder>/<stem>.<ext>``."""
    return (crop_root / image.relative_to(images_root)).with_suffix(".txt")


@dataclass
class CropReport:
    """What :func:`write_crop_files` did.

    Attributes:
        written: Crop files written (with a face).
        no_face: Crop files written as ``0,0,0,0``.
        skipped: Images whose crop file existed already.
        failures: Image path → why no crop file was written.
    """

    written: int = 0
    no_face: int = 0
    skipped: int = 0
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.written + self.no_face + self.skipped + len(self.failures)


def _chunks(items: list[tuple[Path, Path]], size: int) -> Iterator[list[tuple[Path, Path]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def write_crop_files(
    images_root: str | os.PathLike[str],
    crop_root: str | os.PathLike[str],
    detector: FaceDetector,
    batch_size: int = 16,
    overwrite: bool = False,
    progress: bool = True,
) -> CropReport:
    """Detect the highest-scoring face of every image under ``images_root``; write its box.

    Each crop file is written atomically as soon as its image is done, so an interrupted run
    resumes where it stopped: existing crop files are skipped unless ``overwrite``. Unreadable
    images get no crop file and are listed in the report's ``failures``.

    Args:
        images_root: Folder of images (searched recursively).
        crop_root: Where the mirrored ``.txt`` files go.
        detector: The face detector.
        batch_size: Images per detection batch.
        overwrite: Re-detect images that already have a crop file.
        progress: Show a progress bar.
    """
    images_root, crop_root = Path(images_root), Path(crop_root)
    report = CropReport()
    todo: list[tuple[Path, Path]] = []
    owners: dict[Path, Path] = {}
    for image in list_images(images_root):
        target = crop_path_for(image, images_root, crop_root)
        if target in owners:
            report.failures[str(image)] = (
                f"its crop file {target} would also be {owners[target].name}'s (same name, "
                "another extension)"
            )
            continue
        owners[target] = image
        if target.exists() and not overwrite:
            report.skipped += 1
        else:
            todo.append((image, target))
    with tqdm(total=len(todo), desc="detecting faces", unit="img", disable=not progress) as bar:
        for chunk in _chunks(todo, batch_size):
            results = detect_files(
                [i for i, _ in chunk], detector, progress=False, batch_size=batch_size
            )
            for (image, target), result in zip(chunk, results, strict=True):
                if result.error is not None:
                    report.failures[str(image)] = result.error.reason
                    continue
                face = best_face(result.faces)
                atomic_write_text(target, format_box(face.box if face else None))
                if face is None:
                    report.no_face += 1
                else:
                    report.written += 1
            bar.update(len(chunk))
    if report.failures:
        _logger.warning(
            "%d image(s) got no crop file (unreadable or ambiguous)", len(report.failures)
        )
    return report
