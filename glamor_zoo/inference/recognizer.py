"""EmotionRecognizer: photos in; faces, emotions, probabilities and attention maps out.

Detection runs on a chunk of images at once; every face of the chunk is preprocessed as the
model's spec says (:class:`~glamor_zoo.spec.ModelSpec`: face-only models get the face; context
models get the face and the context with the face zeroed) and the faces go through the model in
batches. By default (``fast="auto"``) the model runs eagerly until the work left is big enough to
win back the set-up of :func:`~glamor_zoo.fast_inference` (:mod:`glamor_zoo.fast.auto`);
:func:`job_size` counts a job's images and sampled video frames for it.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import torch
from PIL import Image
from torch import nn

from glamor_zoo.data.detection.adapted import ChannelOrder
from glamor_zoo.data.images import load_image
from glamor_zoo.data.transforms import GlamorTransform, clip_box, face_region, to_uint8_tensor
from glamor_zoo.inference.loading import LoadedModel, load_model
from glamor_zoo.inference.results import FaceRecord, ImageResult
from glamor_zoo.inference.shared_context import mask_faces, shared_context_features
from glamor_zoo.models.face_resnet import flip_averaged_logits
from glamor_zoo.models.glamor import GlamorFeatures
from glamor_zoo.spec import ModelSpec

if TYPE_CHECKING:
    from glamor_zoo.fast.auto import FastAuto, FastOption
    from glamor_zoo.inference.tracked import VideoTracks
    from glamor_zoo.inference.tracking import TrackingOptions

__all__ = ["ContextMode", "EmotionRecognizer", "ImageInput", "JobFile", "Preprocessing", "job_size"]

_logger = logging.getLogger(__name__)

ImageInput = str | os.PathLike[str] | Image.Image | np.ndarray
ContextMode = Literal["exact", "shared"]
Preprocessing = Literal["zoo", "official"]


def _create_detector(
    detector: Any,
    detector_args: dict[str, Any] | None,
    max_side: int | None,
    channel_order: ChannelOrder,
) -> Any:
    if detector is None or isinstance(detector, str):
        from glamor_zoo.data.detection import create_detector

        return create_detector(
            "none" if detector is None else detector,
            max_side=max_side,
            channel_order=channel_order,
            **(detector_args or {}),
        )
    if not hasattr(detector, "detect"):
        raise TypeError(
            f"detector must be a name, None, or an object with .detect(images); got {type(detector).__name__}"
        )
    if max_side is not None or channel_order != "rgb":
        from glamor_zoo.data.detection import AdaptedDetector, FaceDetector

        if not isinstance(detector, FaceDetector):
            raise TypeError(
                "max_side and official preprocessing need a detector name or a FaceDetector"
            )
        return AdaptedDetector(detector, max_side=max_side, channel_order=channel_order)
    return detector


def _default_max_side(detector: Any, preprocessing: Preprocessing) -> int | None:
    """``max_side="auto"``: a bounded copy for the zoo's pipeline and a real detector; the full
    image for the authors' pipeline, for ``none`` (face crops) and for plain detector objects."""
    from glamor_zoo.data.detection import DEFAULT_MAX_SIDE, FaceDetector

    if preprocessing == "official" or detector is None:
        return None
    if detector == "none" or getattr(detector, "name", None) == "none":
        return None
    return DEFAULT_MAX_SIDE if isinstance(detector, (str, FaceDetector)) else None


def _fast_runner(model: nn.Module, fast: bool) -> nn.Module:
    if not fast:
        return model
    import glamor_zoo

    try:
        fast_inference = getattr(glamor_zoo, "fast_inference", None)
    except ImportError as exc:
        _logger.warning("fast_inference is unavailable (%s); running the plain model", exc)
        return model
    if fast_inference is None:
        return model
    try:
        return fast_inference(model)
    except Exception as exc:
        _logger.warning("fast_inference failed (%s); running the plain model", exc)
        return model


class JobFile(Protocol):
    """One input of a job, as :func:`glamor_zoo.inference.batch.expand_inputs` lists them."""

    @property
    def path(self) -> Path: ...

    @property
    def kind(self) -> str: ...


def job_size(
    files: Iterable[JobFile], every_n: int | None = None, fps: float | None = None
) -> int | None:
    """Images a job has in all: one per image file, the sampled frames of each video.

    Args:
        files: The job's inputs (``kind`` ``"image"``, ``"video"`` or ``"error"``: none).
        every_n: Videos: every N-th frame is kept.
        fps: Videos: about this many frames per second are kept.

    Returns:
        The count, or ``None`` when a video's frame count cannot be read from its header.
    """
    from glamor_zoo.inference.video import sampled_frame_count

    total = 0
    for file in files:
        if file.kind == "image":
            total += 1
        elif file.kind == "video":
            frames = sampled_frame_count(file.path, every_n=every_n, fps=fps)
            if frames is None:
                return None
            total += frames
    return total


@dataclass
class _Item:
    source: str
    image: Image.Image | None
    error: BaseException | None = None
    faces: list[Any] | None = None


class EmotionRecognizer:
    """Detect faces and recognise their emotions, in photos or video frames.

    Args:
        model: A model name for :func:`glamor_zoo.create_model` (``"glamor_original.ncaer_s"``,
            ``"hf-hub:org/name"``, ``"local-dir:/path"``), a model object, or ``None`` for the
            model shipped inside the package (``face_resnet26.fer2013``, works offline).
        detector: A face detector name (``"mtcnn"``, ``"dlib-hog"``…, see
            :mod:`glamor_zoo.data.detection`), an object with ``.detect(images)``, or ``None``
            (the ``none`` detector) when every image already is one face crop: its centre
            square, or the whole image with ``detector_args={"crop": "full"}``. Context models
            refuse ``none``: there is no scene around a face crop.
        device: Where the model runs (default: CUDA if available, else the CPU).
        mode: Context models only. ``"exact"``: each face gets its own context (only its box
            zeroed), as the model was trained. ``"shared"``: every face of a photo is zeroed
            in one context that is encoded once; faster with many people, slightly different.
        batch_size: Faces per forward pass.
        image_batch_size: Images per detection call (and per chunk of work).
        fast: ``"auto"``: run the plain model until the fast path pays for its set-up on this
            machine, then switch (:class:`~glamor_zoo.fast.FastAuto`: from the eager seconds
            per image measured on the work, the fast path's measured set-up and speed-up here,
            and ``job_size``); ``True``: :func:`glamor_zoo.fast_inference` from the first
            image (context models through its accelerated ``forward_features``, which gives
            their attention maps and fusion weights too); ``False``: the plain model.
            Compiling takes tens of seconds at the first batch (and once more at the first
            batches of other sizes): it pays only on long runs.
        job_size: With ``fast="auto"``: the images (photos and video frames) the work will
            have, when known (:func:`job_size`); ``None``: unknown, then the recogniser switches
            once the images done would have paid for the set-up.
        pretrained: Load pretrained weights (default: when the model name has any).
        detector_args: Keyword arguments for the detector (e.g. ``{"threshold": 0.95}``).
        max_side: Detect on a copy of each image at most this many pixels on its longer side;
            boxes are mapped back to the original's pixels and each face is detected again on
            a full-resolution crop around it (the boxes of a full-resolution pass, for a
            fraction of its time and memory), and faces are cut from the original. ``"auto"``
            (default): :data:`~glamor_zoo.data.detection.DEFAULT_MAX_SIDE` (1,280) for
            detectors given by name or as a ``FaceDetector`` with ``preprocessing="zoo"``, the
            full image otherwise; ``None``: always the full image.
        preprocessing: ``"zoo"``: the exact pixels. ``"official"``: the authors' pipeline
            exactly, as their ``predict.py`` runs it: the detector sees the image with its
            channels in BGR order (as OpenCV loads it), detects on the full image (no
            ``max_side``), and the masked context goes through TensorFlow's JPEG round trip
            (needs simplejpeg). ``None``: what the model's ``config.json`` says (models converted
            with ``convert-tf`` say ``official``), else ``"zoo"``.
        test_flip: Face-only models: average the logits of each face and of its mirror image
            (test-time flip averaging). ``None``: what the model's spec says (the face ResNets:
            on).
        temperature: Divides the logits before the softmax of the reported probabilities
            (calibration; the label, the argmax, is unchanged). ``None``: the spec's
            ``temperature`` (fitted on held-out data for models that have one, else 1).
        min_confidence: Faces whose reported confidence is below it are marked
            ``uncertain`` (the label stays the most probable class). ``None``: no face is.

    Calling the recogniser with one image (a path, a PIL image or an (H, W, 3) uint8 array)
    returns an :class:`ImageResult`; with a list, a list of them in the same order.
    """

    def __init__(
        self,
        model: str | nn.Module | None = None,
        detector: Any = "mtcnn",
        device: str | torch.device | None = None,
        *,
        mode: ContextMode = "exact",
        batch_size: int = 32,
        image_batch_size: int = 8,
        fast: FastOption = "auto",
        job_size: int | None = None,
        pretrained: bool | None = None,
        detector_args: dict[str, Any] | None = None,
        max_side: int | Literal["auto"] | None = "auto",
        preprocessing: Preprocessing | None = None,
        test_flip: bool | None = None,
        temperature: float | None = None,
        min_confidence: float | None = None,
    ) -> None:
        if mode not in ("exact", "shared"):
            raise ValueError(f"mode must be 'exact' or 'shared', got {mode!r}")
        if batch_size < 1 or image_batch_size < 1:
            raise ValueError("batch_size and image_batch_size must be at least 1")
        if fast not in (True, False, "auto"):
            raise ValueError(f"fast must be True, False or 'auto', got {fast!r}")
        self.loaded: LoadedModel = load_model(model, pretrained=pretrained)
        self.device = torch.device(
            device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu")
        )
        self.model = self.loaded.model.to(self.device).eval()
        if preprocessing not in (None, "zoo", "official"):
            raise ValueError(f"preprocessing must be 'zoo' or 'official', got {preprocessing!r}")
        self.spec: ModelSpec = self.loaded.spec.with_pipeline(
            preprocessing or self.loaded.spec.pipeline
        )
        if test_flip is not None:
            self.spec = self.spec.replace(test_flip=bool(test_flip))
        if self.spec.test_flip and self.spec.uses_context:
            raise ValueError(
                f"test_flip averages face-only models' logits; {self.loaded.name} reads a context"
            )
        self.test_flip = self.spec.test_flip
        if temperature is not None:
            self.spec = self.spec.replace(temperature=float(temperature))
        self.temperature = self.spec.temperature
        if min_confidence is not None and not 0 <= min_confidence <= 1:
            raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence!r}")
        self.min_confidence = min_confidence
        self.labels = list(self.spec.label_names)
        self.preprocessing: Preprocessing = self.spec.pipeline
        if max_side == "auto":
            max_side = _default_max_side(detector, self.preprocessing)
        if self.preprocessing == "official" and max_side is not None:
            raise ValueError(
                "max_side moves the boxes, and official preprocessing detects on the full image "
                "as the authors did: leave max_side out, or use preprocessing='zoo'"
            )
        self.transform = GlamorTransform(self.spec, train=False)
        self.uses_context = self.spec.uses_context
        self.mode: ContextMode = mode
        self.batch_size = batch_size
        self.image_batch_size = image_batch_size
        self.detector = _create_detector(
            detector, detector_args, max_side, self.spec.trained_with.channel_order
        )
        if self.uses_context and getattr(self.detector, "name", None) == "none":
            raise ValueError(
                f"{self.loaded.name} reads the scene around each face, and detector 'none' "
                "takes every image as one face crop, which has no scene (its context would be "
                "black): use a face-only model (e.g. face_resnet26.fer2013) or a real detector"
            )
        # NOTE: context models report their attention maps and fusion weights, so they go
        # through forward_features + forward_head, which fast_inference accelerates as well as
        # the call (logits) that face-only models use.
        self._auto: FastAuto | None = None
        if fast == "auto":
            from glamor_zoo.fast.auto import FastAuto, fast_profile

            self._auto = FastAuto(fast_profile(self.device, self.loaded.name), job_size)
            _logger.debug("fast='auto': %s", self._auto.reason())
        self._runner = self.model if self._auto is not None else _fast_runner(self.model, fast)

    @property
    def model_name(self) -> str:
        return self.loaded.name

    @property
    def preprocess_cfg(self) -> dict[str, Any]:
        """Deprecated since 0.2.0: :attr:`spec` (``spec.preprocess_cfg()`` is this dict)."""
        import warnings

        warnings.warn(
            "EmotionRecognizer.preprocess_cfg is deprecated since glamor-zoo 0.2.0 and will be "
            "removed in 0.3.0: use EmotionRecognizer.spec",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.spec.preprocess_cfg()

    def describe(self) -> str:
        """One line: which model (and where from), which detector, which mode."""
        detector = getattr(self.detector, "name", None) or type(self.detector).__name__
        threshold = getattr(self.detector, "threshold", None)
        if threshold is not None:
            detector += f" (threshold {threshold:g})"
        mode = f", {self.mode} context" if self.uses_context else ""
        official = ", official preprocessing" if self.preprocessing == "official" else ""
        return (
            f"model {self.loaded.describe()}, detector {detector}{mode}{official}, "
            f"device {self.device}"
        )

    # ----------------------------------------------------------------- public API

    def __call__(
        self,
        inputs: ImageInput | Sequence[ImageInput],
        errors: Literal["raise", "record"] = "raise",
    ) -> ImageResult | list[ImageResult]:
        """Recognise the faces of one image or of a list of images.

        Args:
            inputs: A path, PIL image or (H, W, 3) uint8 array, or a list of them.
            errors: ``"raise"`` the first failure, or ``"record"`` it in the image's result
                (``ImageResult.error``) and go on with the others.
        """
        single = not isinstance(inputs, (list, tuple))
        items = [inputs] if single else list(inputs)
        results = list(self.predict_iter(items, errors=errors))
        return results[0] if single else results

    def predict_iter(
        self,
        inputs: Iterable[ImageInput],
        errors: Literal["raise", "record"] = "record",
        sources: Iterable[str] | None = None,
    ) -> Iterator[ImageResult]:
        """Yield one :class:`ImageResult` per input, in order, working a chunk at a time.

        Args:
            inputs: Paths, PIL images or arrays (any iterable, consumed lazily). An exception
                instance stands for an input the caller failed to load: it is recorded (or
                raised) as that input's error, in order.
            errors: ``"record"`` failures in the results, or ``"raise"`` the first one.
            sources: Names for the inputs in the results (default: the path, or
                ``"<image N>"``).
        """
        if errors not in ("raise", "record"):
            raise ValueError(f"errors must be 'raise' or 'record', got {errors!r}")
        names = iter(sources) if sources is not None else None
        chunk: list[_Item] = []
        for index, item in enumerate(inputs):
            source = next(names) if names is not None else _default_source(item, index)
            chunk.append(self._load(item, source))
            if len(chunk) == self.image_batch_size:
                yield from self._finish(chunk, errors)
                chunk = []
        if chunk:
            yield from self._finish(chunk, errors)

    def track(
        self,
        video: str | os.PathLike[str],
        *,
        every_n: int | None = None,
        fps: float | None = None,
        options: TrackingOptions | None = None,
    ) -> VideoTracks:
        """The people of a video over time: faces linked into tracks, probabilities smoothed.

        Args:
            video: A video file (the ``video`` extra decodes it).
            every_n: Keep every N-th frame.
            fps: Keep about this many frames per second (instead of ``every_n``).
            options: Tracking and smoothing settings (default:
                :class:`~glamor_zoo.inference.tracking.TrackingOptions`).

        Returns:
            A :class:`~glamor_zoo.inference.tracked.VideoTracks`: the sampled frames with
            ``track``, ``smoothed_label`` and ``smoothed_probabilities`` on every face, and
            its ``timeline()``, ``summary()``, ``plot()`` and ``save(folder)``.
        """
        from glamor_zoo.inference.tracked import track_video

        return track_video(self, video, every_n=every_n, fps=fps, options=options)

    # ----------------------------------------------------------------- steps

    @staticmethod
    def _load(item: ImageInput, source: str) -> _Item:
        if isinstance(item, BaseException):
            return _Item(source, None, item)
        try:
            if isinstance(item, (str, os.PathLike)):
                image = load_image(item)
            elif isinstance(item, Image.Image):
                image = item if item.mode == "RGB" else item.convert("RGB")
            elif isinstance(item, np.ndarray):
                if item.dtype != np.uint8 or item.ndim not in (2, 3):
                    raise ValueError(
                        f"{source}: expected an (H, W, 3) or (H, W) uint8 array, got "
                        f"{item.dtype} of shape {item.shape}"
                    )
                image = Image.fromarray(item).convert("RGB")
            else:
                raise TypeError(
                    f"{source}: expected a path, PIL image or numpy array, got {type(item).__name__}"
                )
        except Exception as exc:
            return _Item(source, None, exc)
        return _Item(source, image)

    def _detect(self, items: list[_Item]) -> None:
        ready = [item for item in items if item.image is not None]
        if not ready:
            return
        try:
            found = self.detector.detect([item.image for item in ready])
        except Exception:
            found = None
        if found is not None and len(found) == len(ready):
            for item, faces in zip(ready, found, strict=True):
                item.faces = list(faces)
            return
        for item in ready:  # isolate the image that fails the detector
            try:
                item.faces = list(self.detector.detect([item.image])[0])
            except Exception as exc:
                item.error, item.image = exc, None

    def _finish(self, items: list[_Item], errors: str) -> Iterator[ImageResult]:
        self._detect(items)
        if errors == "raise":
            for item in items:
                if item.error is not None:
                    raise item.error
        yield from self._emit(items, errors)

    def _emit(self, items: list[_Item], errors: str) -> Iterator[ImageResult]:
        try:
            records = self._recognise(items)
        except Exception as exc:
            if errors == "raise":
                raise
            if len(items) > 1:  # find the image that breaks the batch; the others go on
                for item in items:
                    yield from self._emit([item], errors)
                return
            items[0].error, items[0].image, records = exc, None, {}
        for index, item in enumerate(items):
            if item.error is not None:
                yield ImageResult(item.source, error=f"{type(item.error).__name__}: {item.error}")
            else:
                assert item.image is not None
                yield ImageResult(
                    item.source, item.image.width, item.image.height, records.get(index, [])
                )

    def _recognise(self, items: list[_Item]) -> dict[int, list[FaceRecord]]:
        """Preprocess every face of ``items`` and run the model; records per item index."""
        faces: list[torch.Tensor] = []
        contexts: list[torch.Tensor] = []
        owners: list[int] = []
        detections: list[tuple[int, Any]] = []
        for index, item in enumerate(items):
            if item.image is None or not item.faces:
                continue
            boxes = [tuple(float(v) for v in face.box) for face in item.faces]
            if not self.uses_context:  # only the faces: never the whole photo as a tensor
                for face, box in zip(item.faces, boxes, strict=True):
                    faces.append(_face_from_region(self.transform, item.image, box))
                    owners.append(-1)
                    detections.append((index, face))
                continue
            pixels = to_uint8_tensor(item.image)
            if self.mode == "shared":
                contexts.append(self.transform.context(mask_faces(pixels, boxes), None))
            for face, box in zip(item.faces, boxes, strict=True):
                faces.append(self.transform.face(pixels, box))
                if self.uses_context and self.mode == "exact":
                    contexts.append(self.transform.context(pixels, box))
                owners.append(len(contexts) - 1)
                detections.append((index, face))
        records: dict[int, list[FaceRecord]] = {}
        if not faces:
            self._observe(len(items), 0.0)
            return records
        start = time.perf_counter()
        logits, attention, weights = self._run(faces, contexts, owners)
        self._observe(len(items), time.perf_counter() - start)
        for row, (index, face) in enumerate(detections):
            records.setdefault(index, []).append(
                self._record(face, logits[row], attention, weights, row)
            )
        return records

    def _run(
        self, faces: list[torch.Tensor], contexts: list[torch.Tensor], owners: list[int]
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        logits_out, attention, weights = [], [], []
        for start, stop, ctx_start, ctx_stop in self._batches(owners):
            face = torch.stack(faces[start:stop]).to(self.device)
            context = local = None
            if self.uses_context:
                context = torch.stack(contexts[ctx_start:ctx_stop]).to(self.device)
                if self.mode == "shared":
                    local = torch.tensor(owners[start:stop], device=self.device) - ctx_start
            with torch.inference_mode():
                logits, feats = self._forward(face, context, local)
                logits_out.append(logits.float().cpu())
                if feats is not None and feats.attention is not None:
                    attention.append(feats.attention.float().cpu())
                if feats is not None and feats.fusion_weights is not None:
                    weights.append(feats.fusion_weights.float().cpu())
        return (
            torch.cat(logits_out).numpy(),
            torch.cat(attention).numpy() if attention else None,
            torch.cat(weights).numpy() if weights else None,
        )

    def _observe(self, images: int, model_seconds: float) -> None:
        """``fast="auto"``: count eager work done; switch to the fast path once it pays."""
        if self._auto is None or not self._auto.observe(images, model_seconds):
            return
        _logger.info("fast='auto': switching to the fast path: %s", self._auto.reason())
        self._auto = None
        self._runner = _fast_runner(self.model, True)

    def _forward(
        self, face: torch.Tensor, context: torch.Tensor | None, local: torch.Tensor | None
    ) -> tuple[torch.Tensor, GlamorFeatures | None]:
        """Logits, and the features of context models; the plain model if the fast one fails."""
        try:
            return _logits_and_features(self._runner, face, context, local, self.test_flip)
        except Exception as exc:
            if self._runner is self.model:
                raise
            _logger.warning("fast_inference failed (%s); running the plain model from now on", exc)
            self._runner = self.model
            return _logits_and_features(self.model, face, context, local, self.test_flip)

    def _batches(self, owners: list[int]) -> Iterator[tuple[int, int, int, int]]:
        """(face start, face stop, context start, context stop) of each forward pass.

        In the shared mode a photo's faces stay in one pass with their context (a pass holds
        whole photos, at least one), so each context is encoded exactly once.
        """
        total = len(owners)
        if not (self.uses_context and self.mode == "shared"):
            for start in range(0, total, self.batch_size):
                stop = min(start + self.batch_size, total)
                yield start, stop, start, stop
            return
        start = 0
        while start < total:
            stop = start + 1
            while stop < total and (
                stop - start < self.batch_size or owners[stop] == owners[stop - 1]
            ):
                stop += 1
            yield start, stop, owners[start], owners[stop - 1] + 1
            start = stop

    def _record(
        self,
        face: Any,
        logits: np.ndarray,
        attention: np.ndarray | None,
        weights: np.ndarray | None,
        row: int,
    ) -> FaceRecord:
        probs = torch.softmax(torch.from_numpy(logits) / self.temperature, dim=0).numpy()
        best = int(logits.argmax())
        landmarks = getattr(face, "landmarks", None)
        score = getattr(face, "score", None)
        return FaceRecord(
            box=tuple(float(v) for v in face.box),  # type: ignore[arg-type]
            score=None if score is None else float(score),
            label=self.labels[best],
            confidence=float(probs[best]),
            probabilities={name: float(p) for name, p in zip(self.labels, probs, strict=True)},
            logits={name: float(v) for name, v in zip(self.labels, logits, strict=True)},
            uncertain=(
                None if self.min_confidence is None else float(probs[best]) < self.min_confidence
            ),
            fusion_weights=(
                {"face": float(weights[row, 0]), "context": float(weights[row, 1])}
                if weights is not None
                else None
            ),
            attention=attention[row] if attention is not None else None,
            landmarks=(
                [(float(x), float(y)) for x, y in np.asarray(landmarks).reshape(-1, 2)]
                if landmarks is not None
                else None
            ),
        )


def _face_from_region(
    transform: GlamorTransform, image: Image.Image, box: tuple[float, ...]
) -> torch.Tensor:
    """``transform.face`` of ``box`` in ``image``, converting only the pixels it crops.

    Equal to ``transform.face(to_uint8_tensor(image), box)``: the region the crop rule cuts
    (the box, or :func:`face_region` of it) is clipped to the image, cut from the PIL image,
    and given to the transform with the box in its pixels. A 64 MP photo would otherwise become
    two more 192 MB copies per chunk.
    """
    if clip_box(box, image.width, image.height) is None:
        return transform.face(to_uint8_tensor(Image.new("RGB", (1, 1))), None)
    x1, y1, x2, y2 = face_region(box, transform.face_margin, transform.face_square)
    left, top = max(0, math.floor(x1)), max(0, math.floor(y1))
    right, bottom = min(image.width, math.ceil(x2)), min(image.height, math.ceil(y2))
    region = to_uint8_tensor(image.crop((left, top, right, bottom)))
    shifted = (box[0] - left, box[1] - top, box[2] - left, box[3] - top)
    return transform.face(region, shifted)


def _logits_and_features(
    model: nn.Module,
    face: torch.Tensor,
    context: torch.Tensor | None,
    local: torch.Tensor | None,
    test_flip: bool = False,
) -> tuple[torch.Tensor, GlamorFeatures | None]:
    if context is None:
        return (flip_averaged_logits(model, face) if test_flip else model(face)), None
    if local is None:
        feats = model.forward_features(face, context)
    else:
        feats = shared_context_features(model, face, context, local)
    return model.forward_head(feats), feats


def _default_source(item: Any, index: int) -> str:
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item)
    return f"<image {index}>"
