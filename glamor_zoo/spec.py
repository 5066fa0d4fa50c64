"""What a model takes in and gives out: one typed :class:`ModelSpec` that travels with the weights.

A model's spec is built with it (its entrypoint's defaults, then the model arguments, then any
overrides such as a recipe's ``data.preprocess``), saved in its ``config.json`` and read back
when the folder or Hub repository is loaded, in the manner of open_clip's ``PreprocessCfg`` and
``set_model_preprocess_cfg``. Every consumer (the recogniser, evaluation, ONNX export, the model
card, the trainer) asks :func:`get_model_spec`; none re-derives it or looks at the model's class
or name. :func:`set_model_spec` also keeps the model's timm ``pretrained_cfg`` (``input_size``,
``mean``, ``std``, ``label_names``) in step, so plain timm tooling sees the same truth.

The spec is stored at the top level of ``config.json`` (``"spec"``), where plain timm ignores it;
the zoo's builders read it back when timm's ``create_model("hf-hub:…")`` or
``create_model("local-dir:…")`` builds the model, so any way of loading a saved model restores it
(folders written before keep it in ``model_args["spec"]``, which timm passes back itself).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from glamor_zoo.labels import PAPER_LABELS
from glamor_zoo.typed import FieldError, UnknownKeysError, check_value, from_mapping

__all__ = [
    "SPEC_VERSION",
    "ChannelOrder",
    "InputSetting",
    "ModelSpec",
    "SpecError",
    "TrainedWith",
    "default_labels",
    "get_model_spec",
    "set_model_spec",
]

SPEC_VERSION = 1

InputSetting = Literal["both", "face", "context"]
ChannelOrder = Literal["rgb", "bgr"]
Interpolation = Literal["bilinear", "bicubic", "nearest"]

# The official pipeline resizes the (masked) context to 128×171 and crops 112×112 from it.
_CONTEXT_RESIZE_RATIO = (128 / 112, 171 / 112)
# The spec fields that the model's architecture fixes: overrides must agree with the model.
_STRUCTURAL = ("inputs", "in_chans", "face_size", "context_size")


class SpecError(ValueError):
    """A spec value has the wrong type, is unknown, or contradicts the model it describes."""


@dataclass(frozen=True)
class TrainedWith:
    """How the training inputs were made, which inference must repeat to see what training saw.

    Attributes:
        detector: Registry name of the face detector that found the training faces (``None``:
            not recorded, or the dataset gave the boxes).
        channel_order: The channel order the detector was given: ``"bgr"`` for images loaded by
            OpenCV, as the authors' code loads them; ``"rgb"`` otherwise.
        context_jpeg: The masked context went through TensorFlow's JPEG round trip, an accident
            of the official pipeline (:func:`glamor_zoo.data.jpeg.tf_jpeg_round_trip`).
    """

    detector: str | None = None
    channel_order: ChannelOrder = "rgb"
    context_jpeg: bool = False

    @property
    def official(self) -> bool:
        """Whether this is the authors' pipeline (BGR detection, JPEG round trip)."""
        return self.channel_order == "bgr" and self.context_jpeg


OFFICIAL = TrainedWith(detector="dlib-mmod", channel_order="bgr", context_jpeg=True)


def context_resize_for(context_size: tuple[int, int]) -> tuple[int, int]:
    """The official 128×171 resize scaled to ``context_size`` (128×171 for 112×112)."""
    ch, cw = context_size
    return round(ch * _CONTEXT_RESIZE_RATIO[0]), round(cw * _CONTEXT_RESIZE_RATIO[1])


def default_labels(num_classes: int) -> tuple[str, ...]:
    """Class names when a model records none: the paper's seven for 7 classes, else numbered."""
    if num_classes == len(PAPER_LABELS):
        return PAPER_LABELS
    return tuple(f"class_{i}" for i in range(num_classes))


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to feed a model and read its output, versioned with its weights.

    Sizes are (H, W). Build one with :meth:`build` (derives the context resize and crop from
    ``context_size``) or :meth:`from_dict` (a saved spec); change one with :meth:`replace`.

    Attributes:
        inputs: ``"face"``, ``"context"`` or ``"both"`` (paper Table 4): which images the model
            reads. ``"context"`` models still take the face (Global-Local Attention reads it).
        in_chans: Channels of both images (1: grey).
        face_size: Size of the face input.
        context_size: Size of the context input (unused when ``inputs == "face"``).
        context_resize: Size the masked context is resized to before cropping.
        context_crop_offset: (top, left) of the evaluation crop in the resized context.
        face_mean: Per-channel mean subtracted from the face (pixels in [0, 1]).
        face_std: Per-channel std dividing the face.
        context_mean: Per-channel mean of the context.
        context_std: Per-channel std of the context.
        interpolation: Resampling of every resize.
        mask_face_in_context: Zero the face box in the context (the paper's setting; ``False``
            is Table 4's visible-face ablation).
        test_flip: Average the logits of the face and of its mirror image at test time (the
            recogniser and ``glamor-zoo eval`` do it; the model's ``forward`` never does).
        face_margin: The face crop's margin around the detector's box, a fraction of the box's
            size added on each side (0: the box itself, the paper's crop;
            :func:`glamor_zoo.data.transforms.face_region`).
        face_square: Make the box square around its centre (by its longer side) before the
            margin; the crop's part outside the image is black.
        temperature: Divides the logits before the softmax of the probabilities the recogniser
            reports (fitted on held-out data so that confidence matches accuracy; 1: as trained).
            The logits themselves and the argmax label are unchanged.
        face_augment: Training-time face augmentation (``hflip``, ``rotate_degrees``, ``scale``,
            ``translate``, ``erase``: :func:`glamor_zoo.data.transforms.face_augment_params`).
        label_names: Class names in output order.
        trained_with: How the training inputs were made (:class:`TrainedWith`).
        schema_version: Version of this layout (:data:`SPEC_VERSION`).
    """

    inputs: InputSetting = "both"
    in_chans: int = 3
    face_size: tuple[int, int] = (96, 96)
    context_size: tuple[int, int] = (112, 112)
    context_resize: tuple[int, int] = (128, 171)
    context_crop_offset: tuple[int, int] = (8, 29)
    face_mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    face_std: tuple[float, ...] = (1.0, 1.0, 1.0)
    context_mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    context_std: tuple[float, ...] = (1.0, 1.0, 1.0)
    interpolation: Interpolation = "bilinear"
    mask_face_in_context: bool = True
    test_flip: bool = False
    face_margin: float = 0.0
    face_square: bool = False
    temperature: float = 1.0
    face_augment: dict[str, Any] | None = field(
        default_factory=lambda: {"hflip": 0.5, "rotate_degrees": 20.0}
    )
    label_names: tuple[str, ...] = PAPER_LABELS
    trained_with: TrainedWith = field(default_factory=TrainedWith)
    schema_version: int = SPEC_VERSION

    def __post_init__(self) -> None:
        if self.schema_version > SPEC_VERSION:
            raise SpecError(
                f"spec schema_version {self.schema_version} is newer than this glamor_zoo reads "
                f"({SPEC_VERSION}): upgrade glamor-zoo"
            )
        if self.in_chans < 1:
            raise SpecError(f"spec in_chans={self.in_chans}: must be >= 1")
        for name in ("face_size", "context_size", "context_resize"):
            if min(getattr(self, name)) < 1:
                raise SpecError(f"spec {name}={getattr(self, name)}: sizes must be >= 1")
        rh, rw = self.context_resize
        ch, cw = self.context_size
        top, left = self.context_crop_offset
        if rh < ch or rw < cw or not (0 <= top <= rh - ch and 0 <= left <= rw - cw):
            raise SpecError(
                f"spec context crop {self.context_size} at {self.context_crop_offset} does not fit "
                f"in context_resize {self.context_resize}"
            )
        for name in ("face_mean", "face_std", "context_mean", "context_std"):
            if len(getattr(self, name)) not in (1, self.in_chans):
                raise SpecError(
                    f"spec {name}={getattr(self, name)}: one value or one per channel "
                    f"(in_chans={self.in_chans})"
                )
        if not 0 <= self.face_margin <= 1:
            raise SpecError(f"spec face_margin={self.face_margin}: must be a fraction in [0, 1]")
        if not 0.05 <= self.temperature <= 20:
            raise SpecError(f"spec temperature={self.temperature}: must be in [0.05, 20]")
        if 0.0 in (*self.face_std, *self.context_std):
            raise SpecError("spec face_std / context_std must be non-zero")

    # ----------------------------------------------------------------- building

    @classmethod
    def build(cls, **values: Any) -> ModelSpec:
        """A spec from field values (lists welcome), deriving ``context_resize`` and
        ``context_crop_offset`` from ``context_size`` when they are not given.

        Raises:
            SpecError: An unknown field or a value of the wrong type or range.
        """
        values = dict(values)
        if isinstance(values.get("trained_with"), TrainedWith):
            values["trained_with"] = dataclasses.asdict(values["trained_with"])
        try:
            ch, cw = check_value(
                values.get("context_size", (112, 112)), tuple[int, int], "spec.context_size"
            )
            if "context_resize" not in values:
                values["context_resize"] = context_resize_for((ch, cw))
            if "context_crop_offset" not in values:
                rh, rw = check_value(
                    values["context_resize"], tuple[int, int], "spec.context_resize"
                )
                values["context_crop_offset"] = ((rh - ch) // 2, (rw - cw) // 2)
            return from_mapping(cls, values, "spec.")
        except (FieldError, UnknownKeysError) as exc:
            raise SpecError(str(exc)) from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSpec:
        """The spec a ``config.json`` (``"spec"``) holds; see :meth:`build`."""
        return cls.build(**data)

    def replace(self, **overrides: Any) -> ModelSpec:
        """A copy with ``overrides`` (field names, or ``context_jpeg`` for
        ``trained_with.context_jpeg``); a new ``context_size`` re-derives the resize and crop
        unless they are given too.

        Raises:
            SpecError: An unknown field or a value of the wrong type or range.
        """
        values = self.to_dict()
        overrides = dict(overrides)
        if "context_jpeg" in overrides:
            trained = dict(values["trained_with"])
            trained["context_jpeg"] = overrides.pop("context_jpeg")
            overrides.setdefault("trained_with", trained)
        if isinstance(overrides.get("trained_with"), TrainedWith):
            overrides["trained_with"] = dataclasses.asdict(overrides["trained_with"])
        if "context_size" in overrides:
            for derived in ("context_resize", "context_crop_offset"):
                if derived not in overrides:
                    values.pop(derived)
        return self.build(**{**values, **overrides})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (lists for tuples) that :meth:`from_dict` reads back."""
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out

    # ----------------------------------------------------------------- questions consumers ask

    @property
    def uses_context(self) -> bool:
        """Whether the model reads a context image (it is then called as ``model(face, context)``)."""
        return self.inputs != "face"

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @property
    def labels_are_named(self) -> bool:
        """Whether ``label_names`` are class names (not ``class_0, class_1…`` placeholders)."""
        return self.label_names != tuple(f"class_{i}" for i in range(self.num_classes))

    @property
    def input_size(self) -> tuple[int, int, int]:
        """timm's ``input_size`` of the face input: (in_chans, H, W)."""
        return (self.in_chans, *self.face_size)

    @property
    def pipeline(self) -> Literal["zoo", "official"]:
        """``"official"`` when the weights expect the authors' pipeline, else ``"zoo"``."""
        return "official" if self.trained_with.official else "zoo"

    def with_pipeline(self, pipeline: Literal["zoo", "official"]) -> ModelSpec:
        """This spec with the authors' pipeline (``"official"``) or exact pixels (``"zoo"``)."""
        if pipeline not in ("zoo", "official"):
            raise SpecError(f"pipeline must be 'zoo' or 'official', got {pipeline!r}")
        if pipeline == self.pipeline:
            return self
        if pipeline == "official":
            return self.replace(trained_with=OFFICIAL)
        return self.replace(trained_with=TrainedWith(detector=self.trained_with.detector))

    def preprocess_cfg(self) -> dict[str, Any]:
        """The input pipeline as :class:`glamor_zoo.data.transforms.GlamorTransform` and 0.1.0's
        ``config.json`` spell it (``context_jpeg`` for ``trained_with.context_jpeg``)."""
        out = self.to_dict()
        for key in ("label_names", "trained_with", "schema_version"):
            out.pop(key)
        out["context_jpeg"] = self.trained_with.context_jpeg
        return out

    def pretrained_cfg_overlay(self) -> dict[str, Any]:
        """The timm ``pretrained_cfg`` entries this spec decides (label names only when they
        are names: a head resized without new names leaves timm's pretrained ones, as timm
        does)."""
        overlay: dict[str, Any] = {
            "input_size": self.input_size,
            "mean": tuple(self.face_mean),
            "std": tuple(self.face_std),
            "interpolation": self.interpolation,
        }
        if self.labels_are_named:
            overlay["label_names"] = tuple(self.label_names)
        return overlay


def _plain(value: Any) -> Any:
    """Tuples as lists, so that a cfg read from JSON compares equal to one built in Python."""
    return list(value) if isinstance(value, (list, tuple)) else value


def _spec_from_pretrained_cfg(model: nn.Module) -> ModelSpec:
    """A face-only spec for a model with none of its own (a plain timm classifier)."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    in_chans, height, width = (int(v) for v in cfg.get("input_size", (3, 224, 224)))
    num_classes = int(getattr(model, "num_classes", 0))
    labels = cfg.get("label_names")

    def per_channel(values: Any) -> tuple[float, ...]:
        values = tuple(float(v) for v in values)
        return values if len(values) in (1, in_chans) else (sum(values) / len(values),)

    mean = per_channel(cfg.get("mean", (0.485, 0.456, 0.406)))
    std = per_channel(cfg.get("std", (0.229, 0.224, 0.225)))
    return ModelSpec.build(
        inputs="face",
        in_chans=in_chans,
        face_size=(height, width),
        face_mean=mean,
        face_std=std,
        context_mean=mean,
        context_std=std,
        interpolation=cfg.get("interpolation") or "bilinear",
        mask_face_in_context=False,
        face_augment=None,
        label_names=tuple(labels)
        if labels is not None and len(labels) == num_classes
        else default_labels(num_classes),
    )


def get_model_spec(model: nn.Module) -> ModelSpec:
    """The spec of ``model``: the one set with it (zoo models always have one), else a
    face-only spec read from a timm model's ``pretrained_cfg``.

    Its ``label_names`` always match ``model.num_classes`` (a classifier reset to another
    class count without new names gets :func:`default_labels`).
    """
    spec = getattr(model, "spec", None)
    if not isinstance(spec, ModelSpec):
        return _spec_from_pretrained_cfg(model)
    num_classes = int(getattr(model, "num_classes", spec.num_classes))
    if num_classes != spec.num_classes:
        spec = spec.replace(label_names=default_labels(num_classes))
    return spec


def set_model_spec(
    model: nn.Module, spec: ModelSpec | Mapping[str, Any] | None = None, **overrides: Any
) -> ModelSpec:
    """Give ``model`` a spec: ``spec`` (a :class:`ModelSpec`, or overrides of the model's
    current one as a mapping) plus ``overrides``; keeps ``model.pretrained_cfg`` in step.

    Returns:
        The spec now set.

    Raises:
        SpecError: A bad value, or one that contradicts the model (``inputs``, ``in_chans``,
            sizes, or a label count other than ``model.num_classes``).
    """
    current = get_model_spec(model)
    if isinstance(spec, ModelSpec):
        new = spec.replace(**overrides) if overrides else spec
    else:
        new = current.replace(**{**dict(spec or {}), **overrides})
    fixed = getattr(model, "default_spec", None)
    if callable(fixed):
        base = fixed()
        for key in _STRUCTURAL:
            if key == "context_size" and not base.uses_context:
                continue
            if getattr(new, key) != getattr(base, key):
                raise SpecError(
                    f"spec {key}={getattr(new, key)!r} contradicts the model, built for "
                    f"{key}={getattr(base, key)!r}: change the model argument instead"
                )
    num_classes = int(getattr(model, "num_classes", new.num_classes))
    if new.num_classes != num_classes:
        raise SpecError(
            f"spec has {new.num_classes} label_names for a model with {num_classes} classes"
        )
    model.spec = new
    cfg = getattr(model, "pretrained_cfg", None)
    if isinstance(cfg, dict):
        changed = {
            key: value
            for key, value in new.pretrained_cfg_overlay().items()
            if _plain(cfg.get(key)) != _plain(value)
        }
        model.pretrained_cfg = {**cfg, **changed}
        if hasattr(model, "default_cfg"):
            model.default_cfg = model.pretrained_cfg  # timm's alias
    return new
