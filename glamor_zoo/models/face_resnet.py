"""Face ResNets: compact timm ResNets for small grey faces (``face_resnet18``, ``face_resnet26``).

A :class:`FaceResNet` is timm's :class:`~timm.models.resnet.ResNet` (BasicBlocks, a quarter of
ImageNet ResNet's widths: 32, 64, 128, 256) behind a deep stem (three 3×3 convolutions) whose
first convolution keeps full resolution (``stem_stride=1``) and no max-pool: a 48-px FER-2013
face reaches the first blocks at 48×48 and leaves the last at 6×6. It is built by timm's
``build_model_with_cfg`` and is a plain timm classifier: ``forward(x)`` → logits,
``forward_features`` / ``forward_head``, ``features_only``, ``reset_classifier``, TorchScript.

Two of its choices are not timm ``ResNet`` arguments, so ``timm.create_model`` needs
``import glamor_zoo`` to build it: the stem's first stride (timm's deep stem is fixed at 2) and
leaving out the stem's max-pool (timm has a max-pool, an anti-aliased pool or a stride-2
convolution, ``replace_stem_pool``, never none).

Test-time flip averaging is not in ``forward``: the spec's ``test_flip`` asks the recogniser and
``glamor-zoo eval`` to average the logits of the face and of its mirror image
(:func:`flip_averaged_logits`).

The weights released before these models were timm models were saved from a face-only
GLAMOR-Net (``face_encoder.model.*``, ``head.fc.*``); :func:`checkpoint_filter_fn` maps them,
and :func:`to_glamor_layout` maps back (a recipe's ``init_from: {tag: [face_encoder, head]}``).
"""

# NOTE: no ``from __future__ import annotations`` here: TorchScript reads the forward signatures.
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from timm.models.resnet import BasicBlock, ResNet
from torch import nn

from glamor_zoo.models._factory import ZooModel, build_zoo_model, default_cfgs_of, register_model
from glamor_zoo.models._released import released_cfg
from glamor_zoo.spec import ModelSpec, default_labels

__all__ = [
    "FACE_MEAN",
    "FACE_STD",
    "FaceResNet",
    "checkpoint_filter_fn",
    "flip_averaged_logits",
    "to_glamor_layout",
]

FACE_MEAN = (0.5,)  # grey pixels / 255 mapped to [-1, 1]
FACE_STD = (0.5,)
# A face-only GLAMOR-Net's prefixes of a face ResNet's trunk and classifier (released weights).
_GLAMOR_TRUNK = "face_encoder.model."
_GLAMOR_HEAD = "head.fc."
# GLAMOR-Net arguments of the face models before they were timm models (saved folders, recipes):
# those that do not change the network once it is a FaceResNet.
_GLAMOR_FIXED = {"backbone": None, "inputs": "face", "hidden_dim": 0}


class FaceResNet(ZooModel, ResNet):
    """timm's ResNet for small faces: BasicBlocks, a stride-1 deep stem, no stem max-pool.

    Args:
        layers: BasicBlocks per stage (``(2, 2, 2, 2)``: face_resnet18; ``(3, 3, 3, 3)``:
            face_resnet26).
        channels: Channels of the four stages.
        num_classes: Classes (0: ``forward`` returns the pooled features).
        in_chans: Input channels (1 for grey faces).
        stem_stride: Stride of the stem's first convolution (1: full resolution; 2: a quarter
            of the multiply-adds, the map ends at 3×3 for a 48-px face).
        img_size: (H, W) of the faces the model is trained for (metadata for the spec).
        drop_rate: Dropout before the classifier.
        **kwargs: timm ``ResNet`` arguments (``drop_path_rate``, ``global_pool``,
            ``device``, ``dtype``…).
    """

    def __init__(
        self,
        layers: Sequence[int] = (2, 2, 2, 2),
        channels: Sequence[int] = (32, 64, 128, 256),
        num_classes: int = 7,
        in_chans: int = 1,
        stem_stride: int = 1,
        img_size: int | Sequence[int] = 48,
        drop_rate: float = 0.2,
        **kwargs: Any,
    ) -> None:
        if stem_stride not in (1, 2):
            raise ValueError(f"FaceResNet: stem_stride must be 1 or 2, got {stem_stride!r}")
        channels = tuple(int(c) for c in channels)
        super().__init__(
            BasicBlock,
            tuple(int(n) for n in layers),
            num_classes=num_classes,
            in_chans=in_chans,
            channels=channels,
            stem_type="deep",
            stem_width=channels[0] // 2,
            drop_rate=drop_rate,
            **kwargs,
        )
        # NOTE: no max-pool after the deep stem: small faces have few pixels to spare.
        self.maxpool = nn.Identity()
        self.conv1[0].stride = (stem_stride, stem_stride)
        for info in self.feature_info:  # timm's reductions assume a stride-2 stem and a pool
            info["reduction"] = max(1, info["reduction"] // 4) * stem_stride
        self.stem_stride = stem_stride
        size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.img_size = (int(size[0]), int(size[1]))
        self.in_chans = in_chans
        self._init_classifier()
        self.spec = self.default_spec()

    def _init_classifier(self) -> None:
        # NOTE: Glorot-uniform weights and zero bias, as the face models were initialised
        # while they were face-only GLAMOR-Nets (Keras' Dense default).
        if isinstance(self.fc, nn.Linear):
            nn.init.xavier_uniform_(self.fc.weight)
            nn.init.zeros_(self.fc.bias)

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """timm's ``reset_classifier``, the new layer initialised as the model's own."""
        super().reset_classifier(num_classes, global_pool)
        self._init_classifier()

    def default_spec(self) -> ModelSpec:
        """The spec of a face model: ``in_chans`` faces of ``img_size``, pixels / 255 mapped to
        [-1, 1], test-time flip averaging, and the face augmentation of a GLAMOR-Net."""
        mean, std = FACE_MEAN * self.in_chans, FACE_STD * self.in_chans
        return ModelSpec.build(
            inputs="face",
            in_chans=self.in_chans,
            face_size=self.img_size,
            face_mean=mean,
            face_std=std,
            context_mean=mean,
            context_std=std,
            mask_face_in_context=True,
            face_augment={"hflip": 0.5, "rotate_degrees": 20.0},
            label_names=default_labels(self.num_classes),
            test_flip=True,
        )


def flip_averaged_logits(model: nn.Module, face: torch.Tensor, *rest: Any) -> torch.Tensor:
    """The mean of ``model``'s logits for ``face`` and for its mirror image (test-time flip
    averaging), the two as one batch; ``rest`` (a context) is given to both."""
    both = torch.cat([face, face.flip(-1)])
    more = [torch.cat([r, r]) if isinstance(r, torch.Tensor) else r for r in rest]
    return model(both, *more).unflatten(0, (2, -1)).mean(dim=0)


def checkpoint_filter_fn(state_dict: Mapping[str, Any], model: nn.Module) -> dict[str, Any]:
    """A face ResNet's state dict from a saved one: as it is, wrapped (``state_dict``,
    ``module.``), or saved from a face-only GLAMOR-Net (``face_encoder.model.*`` →
    ``*``, ``head.fc.*`` → ``fc.*``), as the released weights were."""
    state_dict = state_dict.get("state_dict", state_dict)
    out = {}
    for key, value in state_dict.items():
        key = key.removeprefix("module.")
        if key.startswith(_GLAMOR_TRUNK):
            key = key[len(_GLAMOR_TRUNK) :]
        elif key.startswith(_GLAMOR_HEAD):
            key = "fc." + key[len(_GLAMOR_HEAD) :]
        out[key] = value
    return out


def to_glamor_layout(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """A face ResNet's state dict with a face-only GLAMOR-Net's names (``conv1.*`` →
    ``face_encoder.model.conv1.*``, ``fc.*`` → ``head.fc.*``): the part names (``face_encoder``,
    ``head``) that recipes' ``init_from`` and a GLAMOR-Net's face branch use."""
    return {
        ("head." + key if key.startswith("fc.") else _GLAMOR_TRUNK + key): value
        for key, value in state_dict.items()
    }


def _face_resnet_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Translate the arguments of a face model saved or written while it was a face-only
    GLAMOR-Net (``encoder_args``, ``face_size``, ``test_flip``…) into FaceResNet's."""
    kwargs = dict(kwargs)
    for key, expected in _GLAMOR_FIXED.items():
        if key in kwargs and expected is not None and kwargs[key] != expected:
            raise ValueError(f"a face ResNet takes {key}={expected!r}, got {kwargs[key]!r}")
        kwargs.pop(key, None)
    encoder = dict(kwargs.pop("encoder_args", None) or {})
    if "widths" in encoder:
        encoder["channels"] = encoder.pop("widths")
    kwargs.update(encoder)  # over the entrypoint's defaults, as the encoder's arguments were
    if "face_size" in kwargs:
        kwargs.setdefault("img_size", tuple(kwargs.pop("face_size")))
    if "test_flip" in kwargs:
        spec = kwargs.get("spec")
        flip = bool(kwargs.pop("test_flip"))
        if isinstance(spec, ModelSpec):
            kwargs["spec"] = spec.replace(test_flip=flip)
        else:
            kwargs["spec"] = {"test_flip": flip, **dict(spec or {})}
    return kwargs


def _create_face_resnet(variant: str, pretrained: bool = False, **kwargs: Any) -> FaceResNet:
    kwargs = _face_resnet_args(kwargs)
    return build_zoo_model(FaceResNet, variant, pretrained, kwargs, filter_fn=checkpoint_filter_fn)


def _cfg(**kwargs: Any) -> dict[str, Any]:
    return {
        "num_classes": 7,
        "input_size": (1, 48, 48),
        "pool_size": (6, 6),
        "crop_pct": 1.0,
        "interpolation": "bilinear",
        "fixed_input_size": False,
        "mean": FACE_MEAN,
        "std": FACE_STD,
        "first_conv": "conv1.0",
        "classifier": "fc",
        "family": "face_only",  # its card template (glamor_zoo/hub/card_templates/)
        **kwargs,
    }


def _released(tag: str, recipe: str, sha256: str, data: str = "FER-2013 train") -> Any:
    from glamor_zoo.models.deep_emotion import FER2013_LABELS

    return released_cfg(
        tag,
        sha256=sha256,
        **_cfg(
            label_names=FER2013_LABELS,
            license="other",
            description=f"Trained by glamor_zoo on {data} ({recipe}). The data are for research "
            "use only, and so are these weights.",
        ),
    )


default_cfgs = default_cfgs_of(
    {
        "face_resnet18.fer2013": _released(
            "face_resnet18.fer2013",
            "recipes/face_resnet18_fer2013_phase8.yaml",
            "5e855b8580caac2041a810d76443b892ba123360d16d9f2c8cf4baa17fde942a",
        ),
        "face_resnet26.fer2013": _released(
            "face_resnet26.fer2013",
            "recipes/face_resnet18_fer2013_phase10.yaml",
            "8ad24f822840b2cfa7f323351e6eafd9fda1511ed224e7e4e1d58838a355ebd5",
        ),
        "face_resnet26.fer2013_sfew": _released(
            "face_resnet26.fer2013_sfew",
            "recipes/face_resnet26_fer2013_sfew.yaml",
            "f155d98ed12dc5048fd0e6c438a939e203684abf35fc604874735399535db5be",
            data="FER-2013 train and SFEW 2.0 Train (faces from movie stills)",
        ),
        "face_resnet26.fer2013_sfew_hardfer": _released(
            "face_resnet26.fer2013_sfew_hardfer",
            "recipes/face_resnet26_fer2013_sfew_hardfer.yaml",
            "a0e2a1627508a15c2451dab16a4c8dec2850f41efd7b8f564296b1a3ad79a14d",
            data="FER-2013 train and SFEW 2.0 Train (faces from movie stills)",
        ),
    }
)


@register_model
def face_resnet18(pretrained: bool = False, **kwargs: Any) -> FaceResNet:
    """Face classifier for 48-px grey faces: BasicBlocks 2-2-2-2 at widths 32–256, a stride-1
    deep stem, no stem max-pool. 2.8 M parameters."""
    model_args: dict[str, Any] = {"layers": (2, 2, 2, 2), "stem_stride": 1}
    return _create_face_resnet("face_resnet18", pretrained, **dict(model_args, **kwargs))


@register_model
def face_resnet26(pretrained: bool = False, **kwargs: Any) -> FaceResNet:
    """``face_resnet18`` one block deeper per stage (3-3-3-3): the zoo's default FER-2013 model
    (``face_resnet26.fer2013``). 4.4 M parameters."""
    model_args: dict[str, Any] = {"layers": (3, 3, 3, 3), "stem_stride": 1}
    return _create_face_resnet("face_resnet26", pretrained, **dict(model_args, **kwargs))
