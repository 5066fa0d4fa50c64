"""What every zoo dataset shares: samples, the label vocabulary, seeding, loading, transforms."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from glamor_zoo.data.images import ImageLoadError, load_image
from glamor_zoo.data.transforms import Box, GlamorTransform
from glamor_zoo.labels import PAPER_LABELS, canonical_label
from glamor_zoo.registry import new_registry

__all__ = [
    "EmotionDataset",
    "OnError",
    "Sample",
    "WholeImageDataset",
    "class_files",
    "class_folders",
    "class_vocabulary",
    "files_outside",
    "label_of",
    "sample_generator",
    "select_classes",
]

_logger = logging.getLogger(__name__)

OnError = Literal["raise", "substitute"]


@dataclass(frozen=True)
class Sample:
    """One item of a dataset before loading.

    Attributes:
        path: Where the image is (for CSV-backed data, ``file.csv#row``).
        label: Index into the dataset's ``classes``.
        box: Face box (x1, y1, x2, y2) in the image's pixels; ``None`` = no face.
    """

    path: str
    label: int
    box: Box | None = None


def label_of(name: str) -> str:
    """A dataset's class spelling in the zoo's vocabulary; unknown names are kept as they are."""
    try:
        return canonical_label(name)
    except ValueError:
        return name


def class_vocabulary(names: Iterable[str]) -> list[str]:
    """Canonical class names in the paper's order (Anger … Surprise), others after, sorted."""
    canonical = {label_of(n) for n in names}
    ordered = [c for c in PAPER_LABELS if c in canonical]
    return ordered + sorted(canonical - set(PAPER_LABELS))


def select_classes(
    found: Iterable[str], classes: Sequence[str] | None
) -> tuple[list[str], dict[str, int]]:
    """The dataset's ``classes`` and a map from each canonical name to its index.

    Args:
        found: Class names present in the data (any spelling).
        classes: A fixed vocabulary to use instead (any spelling); data of other classes is
            left out. ``None`` → :func:`class_vocabulary` of ``found``.
    """
    vocab = class_vocabulary(found) if classes is None else [label_of(c) for c in classes]
    if len(set(vocab)) != len(vocab):
        raise ValueError(f"classes has duplicates after canonicalisation: {vocab}")
    return vocab, {name: i for i, name in enumerate(vocab)}


def sample_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """A generator seeded from (seed, epoch, index): one independent stream per sample and epoch.

    The same triple always gives the same stream, whatever the worker, batch or process order,
    so a run is reproducible and resumable from any epoch.
    """
    seed %= 1 << 64  # negative seeds are valid too
    entropy = [seed & 0xFFFFFFFF, seed >> 32, epoch % (1 << 32), index % (1 << 32)]
    state = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    generator = torch.Generator()
    generator.manual_seed(int(state[0]) << 31 ^ int(state[1]))
    return generator


#: The dataset kinds :func:`glamor_zoo.data.datasets.build_dataset` builds (each class registers
#: its own; plugins add more through the entry-point group ``glamor_zoo.dataset``).
DATASETS = new_registry("dataset")


class EmotionDataset(Dataset):
    """A map-style dataset of emotion samples.

    Items are dicts ``{"face", "context", "label", "path"}`` (no ``"context"`` for face-only
    preprocessing configs). :attr:`left_out` maps each image of a class outside ``classes``
    (left out of the samples) to its class; :attr:`unreadable` maps each image of a known
    class that could not be read (left out of the samples too) to its label index;
    :meth:`missing_faces` lists the samples whose image has no face box. Training randomness comes from :func:`sample_generator` with
    ``(seed, epoch, index)``; call :meth:`set_epoch` at the start of every epoch.

    Args:
        samples: The samples.
        classes: Class names; ``Sample.label`` indexes it.
        preprocess_cfg: The model's ``preprocess_cfg()`` (``None`` → the paper's pipeline).
        train: Training preprocessing (random crop, face augmentation).
        seed: Base seed of the augmentation.
        on_error: What an unreadable image does: ``"raise"`` an :class:`ImageLoadError`, or
            ``"substitute"``: log a warning and return the next readable sample instead
            (deterministic), so one bad file does not end a long run.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        classes: Sequence[str],
        preprocess_cfg: Mapping[str, Any] | None = None,
        train: bool = False,
        seed: int = 0,
        on_error: OnError = "raise",
    ) -> None:
        if on_error not in ("raise", "substitute"):
            raise ValueError(f"on_error must be 'raise' or 'substitute', got {on_error!r}")
        self.samples = list(samples)
        self.classes = list(classes)
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        self.transform = GlamorTransform(self._crop_rule(preprocess_cfg), train=train)
        self.train = train
        self.seed = int(seed)
        self.epoch = 0
        self.on_error = on_error
        self.failed: set[str] = set()
        self.left_out: dict[str, str] = {}
        self.unreadable: dict[str, int] = {}

    #: Whether every image already is one face, cropped by the dataset's makers: a model's
    #: face crop rule (``face_margin``, ``face_square``: how much around a *detector's* box it
    #: sees) does not apply to it.
    images_are_faces = False

    def _crop_rule(self, preprocess_cfg: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        if not self.images_are_faces or preprocess_cfg is None:
            return preprocess_cfg
        if hasattr(preprocess_cfg, "preprocess_cfg"):
            preprocess_cfg = preprocess_cfg.preprocess_cfg()
        return {**preprocess_cfg, "face_margin": 0.0, "face_square": False}

    @property
    def targets(self) -> list[int]:
        """The label index of every sample, in order."""
        return [s.label for s in self.samples]

    def missing_faces(self) -> list[int]:
        """Indices of the samples whose image has no face (no box: none was detected)."""
        return [i for i, sample in enumerate(self.samples) if sample.box is None]

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation stream of ``epoch`` (training only; evaluation is fixed)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index: int) -> tuple[Image.Image | torch.Tensor, Box | None]:
        """The raw image and face box of sample ``index`` (overridden by non-file datasets)."""
        sample = self.samples[index]
        return load_image(sample.path), sample.box

    def _item(self, index: int) -> dict[str, Any]:
        image, box = self.load(index)
        generator = sample_generator(self.seed, self.epoch, index) if self.train else None
        out: dict[str, Any] = dict(self.transform(image, box, generator))
        out["label"] = self.samples[index].label
        out["path"] = self.samples[index].path
        return out

    def __getitem__(self, index: int) -> dict[str, Any]:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} samples")
        try:
            return self._item(index)
        except ImageLoadError as exc:
            if self.on_error == "raise":
                raise
            first_error = exc
        for offset in range(1, len(self)):
            candidate = (index + offset) % len(self)
            try:
                item = self._item(candidate)
            except ImageLoadError:
                continue
            if first_error.path not in self.failed:
                self.failed.add(first_error.path)
                _logger.warning("%s; using sample %d instead", first_error, candidate)
            return item
        raise ImageLoadError(
            first_error.path, "no readable image left in the dataset"
        ) from first_error

    def class_counts(self) -> dict[str, int]:
        """Number of samples per class name."""
        counts = dict.fromkeys(self.classes, 0)
        for label in self.targets:
            counts[self.classes[label]] += 1
        return counts

    def to_hf_dataset(self) -> Any:
        """The sample index as a Hugging Face :class:`datasets.Dataset` (path, label, box).

        Columns: ``path`` (str), ``label`` (``ClassLabel`` with :attr:`classes`), ``box``
        (4 floats, or ``None`` when there is no face). Needs the ``data`` extra.
        """
        try:
            import datasets
        except ImportError as exc:
            raise ImportError(
                "to_hf_dataset needs Hugging Face datasets: pip install 'glamor-zoo[data]'"
            ) from exc
        features = datasets.Features(
            {
                "path": datasets.Value("string"),
                "label": datasets.ClassLabel(names=self.classes),
                "box": datasets.Sequence(datasets.Value("float32"), length=4),
            }
        )
        return datasets.Dataset.from_dict(
            {
                "path": [s.path for s in self.samples],
                "label": self.targets,
                "box": [list(s.box) if s.box is not None else None for s in self.samples],
            },
            features=features,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self)} samples, classes={self.classes}, train={self.train}, "
            f"seed={self.seed}, epoch={self.epoch})"
        )


class WholeImageDataset(EmotionDataset):
    """A dataset of face images: the box of every sample is the whole image (cropped by the
    dataset's makers, so the model's crop rule around detector boxes does not apply)."""

    images_are_faces = True

    def missing_faces(self) -> list[int]:
        """None: every image is a face."""
        return []

    def load(self, index: int) -> tuple[Image.Image | torch.Tensor, Box | None]:
        image = load_image(self.samples[index].path)
        return image, (0.0, 0.0, float(image.width), float(image.height))


def files_outside(
    folders: Iterable[Path],
    index: Mapping[str, int],
    files: Callable[[Path], Iterable[Path]] | None = None,
) -> dict[str, str]:
    """Image path → class name of every image in the class ``folders`` not in ``index``.

    Args:
        folders: Class folders.
        index: Canonical class name → label, as :func:`select_classes` gives.
        files: How to list a folder's images (default: recursively, by extension).
    """
    from glamor_zoo.data.images import list_images

    lister = files or list_images
    return {
        str(path): label_of(folder.name)
        for folder in folders
        if label_of(folder.name) not in index
        for path in lister(folder)
    }


def class_folders(root: Path) -> list[Path]:
    """The non-hidden sub-folders of ``root`` (one per class), sorted; error if none."""
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {str(root)!r} does not exist")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise FileNotFoundError(f"dataset folder {str(root)!r} has no class sub-folders")
    return folders


def class_files(
    root: Path,
    classes: Sequence[str] | None,
    files: Callable[[Path], Iterable[Path]] | None = None,
) -> tuple[list[str], list[tuple[Path, int]], dict[str, str]]:
    """The images of ``root``'s class folders, labelled with :func:`select_classes`.

    Args:
        root: Folder of class folders (see :func:`class_folders`).
        classes: Fixed class vocabulary (any spelling); ``None`` → the folders found.
        files: How to list a folder's images (default: recursively, by extension).

    Returns:
        The vocabulary; (path, label) of every image of a class in it, folder by folder; and
        :func:`files_outside`, image path → class name of the images of the other folders.
    """
    from glamor_zoo.data.images import list_images

    lister = files or list_images
    folders = class_folders(root)
    vocab, index = select_classes([f.name for f in folders], classes)
    labelled: list[tuple[Path, int]] = []
    for folder in folders:
        label = index.get(label_of(folder.name))
        if label is None:
            _logger.info("skipping class folder %s: not in classes %s", folder, vocab)
            continue
        labelled.extend((p, label) for p in lister(folder))
    return vocab, labelled, files_outside(folders, index, lister)
