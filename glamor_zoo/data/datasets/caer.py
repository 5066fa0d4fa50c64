"""CAER-S and NCAER-S in the official layout of the authors' code.

::

    ROOT/images/<split>/<Class>/<name>.png     the frames
    ROOT/crop/<split>/<Class>/<name>.txt       "x1,y1,x2,y2" of the face, "0,0,0,0" = no face

``glamor-zoo detect ROOT/images/<split> --out ROOT/crop/<split>`` writes the ``crop`` files for
any image folder; ``glamor-zoo build-ncaer`` writes both trees from the CAER videos.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from glamor_zoo.data.datasets.base import DATASETS, EmotionDataset, OnError, Sample, class_files
from glamor_zoo.data.images import is_image_file
from glamor_zoo.data.transforms import Box

__all__ = ["SPLIT_ALIASES", "CaerDataset", "read_box"]

# Names the same split goes by (CAER's videos use "validation", recipes say "val").
SPLIT_ALIASES: tuple[tuple[str, ...], ...] = (("val", "validation", "valid"),)


def read_box(path: str | Path) -> Box | None:
    """Parse an official crop file (``x1,y1,x2,y2``); ``None`` for ``0,0,0,0``.

    Raises:
        ValueError: the file does not hold four comma-separated numbers (names the file).
    """
    text = Path(path).read_text(encoding="utf-8").strip()
    parts = [p.strip() for p in text.split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        raise ValueError(f"crop file {str(path)!r} must hold 'x1,y1,x2,y2', found {text[:60]!r}")
    if all(v == 0 for v in values):
        return None
    return values  # type: ignore[return-value]


@DATASETS.register("caer")
@DATASETS.register("ncaer")
class CaerDataset(EmotionDataset):
    """CAER-S / NCAER-S: frames with pre-computed face boxes (the official layout above).

    Args:
        root: The dataset folder holding ``images/`` and ``crop/``.
        split: Split folder name (``train``, ``val``, ``test``…); ``val``, ``validation`` and
            ``valid`` name the same split.
        preprocess_cfg: The model's ``preprocess_cfg()``; ``None`` → the paper's pipeline.
        train: Training preprocessing (random crop, face augmentation).
        seed: Base seed of the augmentation.
        classes: Fixed class vocabulary (any spelling); ``None`` → the class folders found, in
            the paper's order.
        missing_box: A frame without a crop file: ``"error"`` (default, names the file) or
            ``"none"`` (treated as no face).
        on_error: See :class:`EmotionDataset`.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        preprocess_cfg: Mapping[str, Any] | None = None,
        train: bool = False,
        seed: int = 0,
        classes: Sequence[str] | None = None,
        missing_box: Literal["error", "none"] = "error",
        on_error: OnError = "raise",
    ) -> None:
        root = Path(root)
        if not (root / "images").is_dir():
            raise FileNotFoundError(
                f"{str(root)!r} is not a CAER-S/NCAER-S folder: it has no 'images/' sub-folder"
            )
        aliases = next((group for group in SPLIT_ALIASES if split in group), (split,))
        split_dir = next((s for s in aliases if (root / "images" / s).is_dir()), None)
        if split_dir is None:
            found = sorted(p.name for p in (root / "images").iterdir() if p.is_dir())
            raise FileNotFoundError(
                f"split {split!r} not found in {str(root / 'images')!r}; splits: {found}"
            )
        image_root = root / "images" / split_dir
        crop_root = root / "crop" / split_dir
        vocab, files, left_out = class_files(
            image_root,
            classes,
            lambda f: sorted(p for p in f.iterdir() if p.is_file() and is_image_file(p)),
        )
        samples: list[Sample] = []
        missing: list[str] = []
        for image_path, label in files:
            crop_path = crop_root / image_path.parent.name / f"{image_path.stem}.txt"
            if crop_path.is_file():
                box = read_box(crop_path)
            elif missing_box == "none":
                box = None
            else:
                missing.append(str(crop_path))
                continue
            samples.append(Sample(str(image_path), label, box))
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} frame(s) of {str(image_root)!r} have no crop file, e.g. {missing[0]!r}; "
                f"run `glamor-zoo detect {image_root} --out {crop_root}` or pass missing_box='none'"
            )
        if not samples:
            raise FileNotFoundError(f"no images found under {str(image_root)!r}")
        super().__init__(samples, vocab, preprocess_cfg, train=train, seed=seed, on_error=on_error)
        self.left_out = left_out
        self.root = root
        self.split = split
