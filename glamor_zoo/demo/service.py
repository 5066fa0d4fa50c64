"""What the web demo computes, without the web: choices, checks, records and pictures.

:class:`DemoService` owns the models and detectors a visitor may pick (only those that load
on this machine; nothing a visitor types is ever passed to a loader), the upload limits, and
a few recognisers kept warm. :meth:`DemoService.records` returns exactly the JSON records of
``glamor-zoo predict --format json`` (:meth:`ImageResult.to_dict` with attention maps), named
by the uploaded file's name instead of the server's temporary path; :meth:`DemoService.analyse`
adds the pictures the page shows. Nothing here imports Gradio.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from PIL import Image

from glamor_zoo.data.images import DEFAULT_MAX_PIXELS, ImageLoadError, load_image
from glamor_zoo.inference import DEFAULT_MODEL, EmotionRecognizer, ImageResult

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "DEFAULT_MAX_UPLOAD_BYTES",
    "RANDOM_MODEL",
    "Analysis",
    "DemoInputError",
    "DemoService",
    "ModelChoice",
    "PhotoSettings",
    "Settings",
    "available_detectors",
    "available_models",
]

_logger = logging.getLogger(__name__)

# Photos from phones are 2–12 MB; anything far bigger is not a photo to look at in a browser.
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024

# An architecture with no weights: it loads anywhere, and exercises the attention view.
RANDOM_MODEL = "glamor_test"

# NOTE: retinaface downloads its weights when it is built (a GitHub release), so it is never
# probed here; name it with ``detectors=`` (``--detector``) where that download is wanted.
_PROBED_DETECTORS = ("mtcnn", "dlib-hog", "dlib-mmod", "none")

MODES = ("exact", "shared")


class DemoInputError(ValueError):
    """A request the demo refuses (a model or detector it does not offer, a bad setting)."""


class Settings(TypedDict, total=False):
    """What a visitor picks on the page; each one left out (or ``None``) takes the default.

    Attributes:
        model: One of :attr:`DemoService.model_choices` (default: the first).
        detector: One of :attr:`DemoService.detector_choices` (default: the first).
        threshold: Minimum face score (default: the detector's).
    """

    model: str | None
    detector: str | None
    threshold: Any


class PhotoSettings(Settings, total=False):
    """:class:`Settings` for a photo, and the context mode.

    Attributes:
        mode: ``"exact"`` (default) or ``"shared"`` context (context models only).
    """

    mode: str | None


@dataclass(frozen=True)
class ModelChoice:
    """A model the demo offers.

    Attributes:
        name: The name :func:`glamor_zoo.inference.load_model` takes.
        label: What the page shows (says where the weights come from, or that there are none).
    """

    name: str
    label: str


@dataclass
class Analysis:
    """Everything the page shows for one photo.

    Attributes:
        record: The JSON record, as ``glamor-zoo predict --format json`` writes it.
        summary: One Markdown paragraph: which model and detector ran, how many faces, or
            what was wrong with the upload.
        annotated: The photo with each face's box and label (``None`` when it did not load).
        headers: Column names of the per-face table.
        rows: One row per face: number, label, confidence, every class's probability, box.
        explanations: (picture, caption) per face: the attention map over the masked context
            for context models, the occlusion saliency for face-only ones.
    """

    record: dict[str, Any]
    summary: str
    annotated: Image.Image | None = None
    headers: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    explanations: list[tuple[Image.Image, str]] = field(default_factory=list)


def _weights_here(name: str) -> str | None:
    """Where the pretrained tag ``name`` finds its weights on this machine, or ``None``."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    if cfg is None:
        return None
    if cfg.file and Path(cfg.file).is_file():
        return "packaged weights"
    from glamor_zoo.convert.official import cached_official_folder
    from glamor_zoo.models._official import official_source

    source = official_source(name)
    if source is not None and (cached_official_folder(source) / "model.safetensors").is_file():
        return "the authors' checkpoint, converted"
    if cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache

        repo = cfg.hf_hub_id.removeprefix("hf-hub:")
        if isinstance(try_to_load_from_cache(repo, "model.safetensors"), str):
            return "Hugging Face cache"
    return None


def available_models(extra: Sequence[str] = ()) -> list[ModelChoice]:
    """The models that load on this machine without a download, the default first.

    Args:
        extra: Names to offer as well (``hf-hub:…``, ``local-dir:…``, a zoo name); they come
            first, and the first of them becomes the default.

    Returns:
        ``extra``, then :data:`~glamor_zoo.inference.DEFAULT_MODEL`, every other published
        pretrained tag whose weights are packaged or cached, and :data:`RANDOM_MODEL`
        (random weights, labelled so).
    """
    import glamor_zoo

    choices = [ModelChoice(name, name) for name in extra]
    tags = [
        DEFAULT_MODEL,
        *(n for n in glamor_zoo.list_models(pretrained=True) if n != DEFAULT_MODEL),
    ]
    for name in tags:
        where = _weights_here(name)
        if where is not None:
            note = f"default, {where}" if name == DEFAULT_MODEL else where
            choices.append(ModelChoice(name, f"{name} ({note})"))
    choices.append(ModelChoice(RANDOM_MODEL, f"{RANDOM_MODEL} (random weights: for testing only)"))
    unique: dict[str, ModelChoice] = {}
    for choice in choices:
        unique.setdefault(choice.name, choice)
    return list(unique.values())


def available_detectors(extra: Sequence[str] = ()) -> list[str]:
    """The face detectors that build on this machine (``mtcnn`` first), after ``extra``.

    Built-in detectors that need no download are built once to find out; ``extra`` names are
    offered as they are (a detector that fails later says why in the page).
    """
    from glamor_zoo.data.detection import create_detector

    names = list(extra)
    for name in _PROBED_DETECTORS:
        if name in names:
            continue
        try:
            create_detector(name)
        except Exception as exc:  # a missing extra or model file: not offered here
            _logger.debug("detector %s is not offered: %s", name, exc)
            continue
        names.append(name)
    return list(dict.fromkeys(names))


def _upload_name(name: str | None, path: str) -> str:
    """The file name a record shows: the name it was uploaded with, never a server path."""
    return Path(str(name or path).replace("\\", "/")).name or "upload"


def _size_refusal(path: str, limit: int) -> str | None:
    """Why the upload at ``path`` is refused for its size (over ``limit`` bytes), or ``None``.

    Raises:
        OSError: the upload is missing on the server.
    """
    size = os.path.getsize(path)
    if size <= limit:
        return None
    return f"file is {size / 2**20:.1f} MB, over the demo's limit of {limit / 2**20:.0f} MB"


class DemoService:
    """The demo's inference: fixed choices, upload limits, warm recognisers.

    Args:
        models: Model names to offer first (see :func:`available_models`); ``None`` or empty:
            the default offline model first.
        detectors: Detector names to offer first (see :func:`available_detectors`).
        device: Torch device (default: CUDA if available, else the CPU).
        max_upload_bytes: Largest upload accepted, in bytes.
        max_pixels: Largest image accepted, in pixels (checked before decoding).
        explained_faces: Faces per photo that get an attention or saliency picture (saliency
            runs the model on dozens of occluded copies of each face).
        cache_size: Recognisers (model × detector × settings) kept loaded.
    """

    def __init__(
        self,
        models: Sequence[str] | None = None,
        detectors: Sequence[str] | None = None,
        device: str | None = None,
        *,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        explained_faces: int = 8,
        cache_size: int = 4,
    ) -> None:
        self.model_choices = available_models(models or ())
        self.detector_choices = available_detectors(detectors or ())
        if not self.detector_choices:
            raise DemoInputError(
                "no face detector builds on this machine: install facenet-pytorch (mtcnn)"
            )
        self.device = device
        self.max_upload_bytes = int(max_upload_bytes)
        self.max_pixels = int(max_pixels)
        self.explained_faces = int(explained_faces)
        self._cache: OrderedDict[tuple[Any, ...], EmotionRecognizer] = OrderedDict()
        self._cache_size = max(1, int(cache_size))
        self._lock = threading.Lock()

    @property
    def default_model(self) -> str:
        return self.model_choices[0].name

    @property
    def default_detector(self) -> str:
        return self.detector_choices[0]

    def default_threshold(self, detector: str | None = None) -> float | None:
        """The minimum face score ``detector`` uses when none is given (what the page shows).

        Raises:
            DemoInputError: a detector not offered, or one that cannot be built.
        """
        found = getattr(self.recognizer(None, detector).detector, "threshold", None)
        return None if found is None else float(found)

    # ----------------------------------------------------------------- checks

    def _check(
        self, model: str | None, detector: str | None, mode: str | None, threshold: Any
    ) -> tuple[str, str, str, float | None]:
        model = model or self.default_model
        detector = detector or self.default_detector
        mode = mode or "exact"
        names = [c.name for c in self.model_choices]
        if model not in names:
            raise DemoInputError(f"model {model!r} is not offered here; choose one of {names}")
        if detector not in self.detector_choices:
            raise DemoInputError(
                f"detector {detector!r} is not offered here; choose one of {self.detector_choices}"
            )
        if mode not in MODES:
            raise DemoInputError(f"mode must be one of {list(MODES)}, got {mode!r}")
        if threshold is not None:
            try:
                threshold = float(threshold)
            except (TypeError, ValueError):
                raise DemoInputError(f"threshold must be a number, got {threshold!r}") from None
            if not math.isfinite(threshold):
                raise DemoInputError(f"threshold must be a finite number, got {threshold}")
        return model, detector, mode, threshold

    def recognizer(
        self,
        model: str | None = None,
        detector: str | None = None,
        mode: str | None = "exact",
        threshold: float | None = None,
    ) -> EmotionRecognizer:
        """The recogniser for these settings (built once, then kept while it is recent).

        Raises:
            DemoInputError: a model or detector not offered, a bad mode or threshold, or a
                combination that cannot run (the message says why).
        """
        model, detector, mode, threshold = self._check(model, detector, mode, threshold)
        key = (model, detector, mode, threshold)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            options = {} if threshold is None else {"threshold": threshold}
            try:
                recognizer = EmotionRecognizer(
                    model,
                    detector=detector,
                    device=self.device,
                    mode=mode,  # type: ignore[arg-type]
                    fast=False,  # one photo at a time: compiling would cost more than it saves
                    detector_args=options,
                )
            except Exception as exc:  # ModelLoadError, a detector option, a context model + none
                raise DemoInputError(str(exc)) from exc
            self._cache[key] = recognizer
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return recognizer

    def _load(self, path: str, name: str) -> Image.Image | ImageLoadError:
        """The upload as RGB, or the error that describes it (by its name, not its path)."""
        try:
            too_large = _size_refusal(path, self.max_upload_bytes)
        except OSError:
            return ImageLoadError(name, "the upload is missing on the server; upload it again")
        if too_large:
            return ImageLoadError(name, too_large)
        try:
            return load_image(path, max_pixels=self.max_pixels)
        except ImageLoadError as exc:
            return ImageLoadError(name, exc.reason)

    # ----------------------------------------------------------------- work

    def _result(
        self, recognizer: EmotionRecognizer, path: str, name: str
    ) -> tuple[ImageResult, Image.Image | None]:
        loaded = self._load(path, name)
        # NOTE: predict_iter takes a load failure as that input's error, so a bad upload gets
        # the same record as a bad file given to `glamor-zoo predict`.
        (result,) = recognizer.predict_iter([loaded], errors="record", sources=[name])
        return result, loaded if isinstance(loaded, Image.Image) else None

    def records(
        self, path: str, name: str | None = None, **settings: Unpack[PhotoSettings]
    ) -> list[dict[str, Any]]:
        """The JSON records of ``glamor-zoo predict --format json`` for one uploaded image.

        Args:
            path: The uploaded file on the server.
            name: The name it was uploaded with (the records' ``input``; default: the file's).
            settings: The visitor's choices (:class:`PhotoSettings`).

        Returns:
            One record (a list, as ``predict`` prints for one input): ``input``, ``width``,
            ``height``, ``faces`` (box, score, label, confidence, probabilities, and for context
            models fusion weights and the attention map) and ``error`` (a bad upload).

        Raises:
            DemoInputError: a setting the demo does not offer.
        """
        recognizer = self.recognizer(**settings)
        result, _ = self._result(recognizer, path, _upload_name(name, path))
        return [result.to_dict(attention=True)]

    def analyse(
        self, path: str, name: str | None = None, **settings: Unpack[PhotoSettings]
    ) -> Analysis:
        """:meth:`records` and the pictures and table of the page (same arguments)."""
        from glamor_zoo.inference.visualize import attention_overlay, draw_faces

        recognizer = self.recognizer(**settings)
        result, image = self._result(recognizer, path, _upload_name(name, path))
        record = result.to_dict(attention=True)
        ran = f"Ran {recognizer.describe()}."
        if recognizer.loaded.source == "random":
            ran = (
                f"**{recognizer.model_name} has random weights: its labels mean nothing "
                f"(for testing only).** {ran}"
            )
        if image is None or not result.ok:
            return Analysis(record, f"**Cannot use this upload:** {result.error}\n\n{ran}")
        faces = result.faces
        count = f"{len(faces)} face{'s' if len(faces) != 1 else ''} found"
        if not faces:
            count += " (try another detector or a lower threshold)"
        headers = ["face", "label", "confidence", *recognizer.labels, "box"]
        rows = [
            [
                number,
                face.label,
                round(face.confidence, 4),
                *(round(face.probabilities[label], 4) for label in recognizer.labels),
                ", ".join(str(round(v)) for v in face.box),
            ]
            for number, face in enumerate(faces, start=1)
        ]
        explained = faces[: self.explained_faces]
        if len(faces) > len(explained):
            count += f"; pictures for the first {len(explained)}"
        pictures: list[tuple[Image.Image, str]] = []
        if recognizer.uses_context:
            boxes = [f.box for f in faces] if recognizer.mode == "shared" else None
            for number, face in enumerate(explained, start=1):
                picture = attention_overlay(image, face, recognizer.preprocess_cfg, boxes)
                pictures.append((picture, f"face {number}: attention over the masked context"))
        else:
            from glamor_zoo.inference.saliency import face_saliency_picture

            for number, face in enumerate(explained, start=1):
                picture = face_saliency_picture(recognizer, image, face)
                pictures.append((picture, f"face {number}: occlusion saliency"))
        return Analysis(
            record,
            f"{count}. {ran}",
            draw_faces(image, faces),
            headers,
            rows,
            pictures,
        )
