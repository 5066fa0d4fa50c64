"""Deep-Emotion: facial expression recognition with an attentional convolutional network.

Paper: "Deep-Emotion: Facial Expression Recognition Using Attentional Convolutional Network",
Shervin Minaee, Amirali Abdolrashidi, Sensors 21(9) 3046 (2021), https://arxiv.org/abs/1902.01019.

A face-only model on 48×48 grayscale faces. A spatial transformer (the paper's attention:
localisation net of two convolutions and two fully connected layers regressing an affine warp,
:class:`glamor_zoo.components.stn.SpatialTransformer`) resamples the face; the feature path is
four 3×3 convolutions of 10 channels with ReLU and a max-pool after each pair, then dropout and
two fully connected layers (810 → 50 → classes) on the flattened 10×9×9 map. The paper trains it with Adam (lr 0.005, weight
decay) on cross-entropy plus an L2 penalty on the last two fully connected layers (the
trainer's ``optim.l2_modules: [head.fc1, head.fc]``), from Gaussian(0, 0.05) initial weights.

Unlike GLAMOR-Net, ``forward`` takes one input: ``model(face)``. The timm interface holds as for
timm's convolutional families: ``num_features`` is the width of the ``forward_features`` map
(10 channels), ``global_pool`` is the head's reduction of that map (``"flatten"``, the paper's;
``""`` returns the map itself), ``head_hidden_size`` is the ``pre_logits`` width (50), and
``features_only=True`` returns the maps after the first convolution and after each max-pool.
"""

# NOTE: no ``from __future__ import annotations`` here: TorchScript and FX → TorchScript read the
# forward signatures' annotations, and strings ("torch.Tensor") defeat them.
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from glamor_zoo.components.stn import create_face_transform
from glamor_zoo.labels import canonical_label
from glamor_zoo.models._factory import (
    HUB_ORG,
    ZooModel,
    build_zoo_model,
    default_cfgs_of,
    register_model,
    with_factory_kwargs,
)
from glamor_zoo.models._released import PACKAGE_WEIGHTS, released_cfg
from glamor_zoo.spec import ModelSpec, default_labels

__all__ = ["FER2013_CLASSES", "DeepEmotion", "packaged_weights"]

# FER-2013's class order (its integer labels 0..6 and its image-folder release).
FER2013_CLASSES: tuple[str, ...] = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "neutral",
    "sad",
    "surprise",
)
FER2013_LABELS: tuple[str, ...] = tuple(canonical_label(name) for name in FER2013_CLASSES)
GLOBAL_POOLS = ("flatten", "")  # the paper's flattened map, or no reduction (the map itself)
# Grayscale pixels / 255 mapped to [-1, 1].
DEEP_EMOTION_MEAN = (0.5,)
DEEP_EMOTION_STD = (0.5,)
INIT_STD = 0.05  # paper §4.2: "Gaussian variables with zero mean and 0.05 standard deviation"


def packaged_weights(name: str) -> Path:
    """Path of a weights file shipped inside the package (``glamor_zoo/weights/<name>``)."""
    return PACKAGE_WEIGHTS / name


class DeepEmotionFeatures(nn.Sequential):
    """Conv → ReLU → Conv → MaxPool → ReLU, twice (the paper's "each two followed by max-pooling
    and ReLU"); an optional BatchNorm after the fourth convolution.

    A ``Sequential`` (run in registration order), so that timm's ``features_only`` wrapper can
    tap its stages.

    Args:
        in_chans: Input channels.
        width: Channels of every convolution (paper: 10).
        batch_norm: BatchNorm after the fourth convolution.
    """

    def __init__(self, in_chans: int = 1, width: int = 10, batch_norm: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, width, 3)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width, width, 3)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.act2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(width, width, 3)
        self.act3 = nn.ReLU(inplace=True)
        self.conv4 = nn.Conv2d(width, width, 3)
        self.norm = nn.BatchNorm2d(width) if batch_norm else nn.Identity()
        self.pool4 = nn.MaxPool2d(2, 2)
        self.act4 = nn.ReLU(inplace=True)
        self.out_channels = width


class DeepEmotionHead(nn.Module):
    """Dropout → flatten → FC(hidden) → ReLU → FC(num_classes).

    Args:
        in_features: Size of the flattened feature map (width × H × W).
        hidden_dim: Width of the first fully connected layer (the ``pre_logits`` width).
        num_classes: Outputs of the last layer (0 → identity).
        drop_rate: Dropout before the first fully connected layer.
        global_pool: ``"flatten"`` (the paper), or ``""``: no reduction; the head then returns
            the feature map it is given (timm's ``num_classes=0, global_pool=''``).
    """

    def __init__(
        self,
        in_features: int,
        hidden_dim: int,
        num_classes: int,
        drop_rate: float,
        global_pool: str = "flatten",
    ) -> None:
        super().__init__()
        self.global_pool = _check_pool(global_pool, num_classes)
        self.drop = nn.Dropout(drop_rate)
        self.flatten = nn.Flatten(1)
        self.fc1 = nn.Linear(in_features, hidden_dim)
        self.act = nn.ReLU(inplace=True)
        self.fc = nn.Linear(hidden_dim, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if not self.global_pool:
            return x
        x = self.act(self.fc1(self.flatten(self.drop(x))))
        return x if pre_logits else self.fc(x)


def _check_pool(global_pool: str, num_classes: int) -> str:
    if global_pool not in GLOBAL_POOLS:
        raise ValueError(
            f"Deep-Emotion global_pool must be one of {GLOBAL_POOLS} ('flatten': the paper's "
            f"head; '': the unreduced feature map), got {global_pool!r}"
        )
    if not global_pool and num_classes:
        raise ValueError(
            f"global_pool='' returns the unreduced feature map and needs num_classes=0, got "
            f"num_classes={num_classes}; use global_pool='flatten' for a classifier"
        )
    return global_pool


def _warn_l2_deprecated(name: str) -> None:
    # NOTE: the L2 term is the trainer's (train/regularization.py, one implementation); these
    # methods stay for one release.
    warnings.warn(
        f"DeepEmotion.{name} is deprecated since glamor-zoo 0.2.0 and will be removed in 0.3.0: "
        'the L2 term is glamor_zoo.train.L2Penalty(model, ["head.fc1", "head.fc"], weight), '
        "which recipes set with optim.l2_modules / optim.l2_weight",
        DeprecationWarning,
        stacklevel=3,
    )


class DeepEmotion(ZooModel, nn.Module):
    """Deep-Emotion: spatial transformer → 4-conv feature path → dropout → 2 FC layers.

    Besides the arguments below it takes timm's factory arguments ``device`` (where to create the
    parameters; ``"meta"`` for none) and ``dtype`` (their floating-point type).

    Args:
        num_classes: Number of emotion classes (0 → the head returns pre-logits).
        in_chans: Input channels (paper: 1, grayscale).
        img_size: Side (or (H, W)) of the input faces (paper: 48); the spatial transformer and
            the first fully connected layer are sized for it.
        width: Channels of the four feature convolutions (paper: 10).
        hidden_dim: Width of the first fully connected layer (paper: 50).
        drop_rate: Dropout before the fully connected layers.
        face_transform: The attention in front of the feature path: ``"stn"`` (paper),
            ``"none"`` (ablation), a plugin name, or a class.
        batch_norm: BatchNorm after the fourth convolution.
        transform_args: Extra keyword arguments for the face transform.
        global_pool: How the head reduces the feature map: ``"flatten"`` (paper) or ``""``
            (none: with ``num_classes=0`` the model returns the (B, width, 9, 9) map).
    """

    @with_factory_kwargs
    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        img_size: int | tuple[int, int] = 48,
        width: int = 10,
        hidden_dim: int = 50,
        drop_rate: float = 0.5,
        face_transform: str | type[nn.Module] = "stn",
        batch_norm: bool = True,
        transform_args: dict[str, Any] | None = None,
        global_pool: str = "flatten",
    ) -> None:
        super().__init__()
        size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.img_size = (int(size[0]), int(size[1]))
        self.drop_rate = drop_rate
        self.grad_checkpointing = False

        self.stn = create_face_transform(
            face_transform, in_chans=in_chans, input_size=self.img_size, **(transform_args or {})
        )
        self.features = DeepEmotionFeatures(in_chans, width, batch_norm=batch_norm)
        # NOTE: the paper's Fig. 3 has no normalisation layer. The widely used public PyTorch
        # port of Deep-Emotion adds BatchNorm after the fourth convolution; with it Adam at the
        # paper's lr 0.005 trains stably from scratch. ``batch_norm=False`` is the figure's net.
        h, w = self.img_size
        for _ in range(2):
            h, w = (h - 4) // 2, (w - 4) // 2
        if h < 1 or w < 1:
            raise ValueError(f"img_size {self.img_size} is too small for Deep-Emotion (min 16)")
        self.feature_size = (h, w)
        # NOTE: timm's convention: num_features is the channel width of forward_features' map;
        # the head flattens the whole map (width × h × w inputs to its first layer).
        self.num_features = width
        self.head_hidden_size = hidden_dim
        self.head = DeepEmotionHead(width * h * w, hidden_dim, num_classes, drop_rate, global_pool)
        self.feature_info = [
            {"num_chs": width, "reduction": 1, "module": "features.act1"},
            {"num_chs": width, "reduction": 2, "module": "features.act2"},
            {"num_chs": width, "reduction": 4, "module": "features.act4"},
        ]
        self._init_weights()
        self.spec = self.default_spec()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(module.weight, std=INIT_STD)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        if hasattr(self.stn, "reset_identity"):
            self.stn.reset_identity()

    # ----------------------------------------------------------------- timm interface

    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Replace the last layer with a fresh one for ``num_classes`` (0 → identity).

        The new layer takes the device, dtype and train/eval mode of the head it joins;
        ``global_pool`` (``"flatten"`` or ``""``) changes the head's reduction; ``None`` keeps it,
        except that a classifier (``num_classes > 0``) always follows ``"flatten"``.
        """
        if global_pool is None:
            global_pool = self.head.global_pool if num_classes == 0 else "flatten"
        pool = _check_pool(global_pool, num_classes)
        self.head.global_pool = pool
        self._replace_classifier(num_classes, lambda w: nn.init.normal_(w, std=INIT_STD))

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute the feature path's activations in the backward pass (saves memory)."""
        self.grad_checkpointing = enable

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """Parameter groups for timm's layer-wise lr decay: the transformer, conv1-4, the head."""
        return {
            "stem": r"^stn\.",
            "blocks": r"^features\."
            if coarse
            else [(r"^features\.conv(\d+)", None), (r"^features\.norm", (4,))],
        }

    def regularized_parameters(self) -> list[nn.Parameter]:
        """Deprecated since 0.2.0: the recipe's ``optim.l2_modules: [head.fc1, head.fc]``."""
        _warn_l2_deprecated("regularized_parameters()")
        return self._fc_weights()

    def _fc_weights(self) -> list[nn.Parameter]:
        layers = [self.head.fc1, self.head.fc]
        return [layer.weight for layer in layers if isinstance(layer, nn.Linear)]

    def l2_penalty(self) -> torch.Tensor:
        """Deprecated since 0.2.0: ``glamor_zoo.train.L2Penalty(model, ["head.fc1", "head.fc"],
        1.0)()`` is the paper's term (the trainer adds it from ``optim.l2_modules``)."""
        _warn_l2_deprecated("l2_penalty()")
        return sum(p.pow(2).sum() for p in self._fc_weights())

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """The face after the spatial transformer (what the feature path sees)."""
        return self.stn(x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Warp and encode faces (B, C, H, W) → feature map (B, width, 9, 9) for 48×48."""
        x = self.stn(x)
        if self.grad_checkpointing and torch.is_grad_enabled() and not torch.jit.is_scripting():
            # One segment: the in-place ReLUs would overwrite the inputs of per-layer segments.
            return checkpoint(self.features, x, use_reentrant=False)
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Dropout and the two fully connected layers; ``pre_logits=True`` stops before the last."""
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes) from faces (B, in_chans, 48, 48)."""
        return self.forward_head(self.forward_features(x))

    # ----------------------------------------------------------------- what it takes in

    def default_spec(self) -> ModelSpec:
        """The spec the model's arguments imply: ``in_chans`` faces (1 = grey) of ``img_size``,
        pixels / 255 mapped to [-1, 1], and the augmentation of the paper's public port
        (flip, ±10°, zoom 0.9–1.1, shift ±10 %). No context."""
        mean, std = DEEP_EMOTION_MEAN * self.in_chans, DEEP_EMOTION_STD * self.in_chans
        norm = {"face_mean": mean, "face_std": std, "context_mean": mean, "context_std": std}
        return ModelSpec.build(
            inputs="face",
            in_chans=self.in_chans,
            face_size=self.img_size,
            **norm,
            mask_face_in_context=False,
            face_augment={
                "hflip": 0.5,
                "rotate_degrees": 10.0,
                "scale": [0.9, 1.1],
                "translate": 0.1,
            },
            label_names=default_labels(self.num_classes),
        )


def _create_deep_emotion(variant: str, pretrained: bool = False, **kwargs: Any) -> DeepEmotion:
    return build_zoo_model(
        DeepEmotion,
        variant,
        pretrained,
        kwargs,
        first_conv=lambda args: (
            None if args.get("face_transform", "stn") == "stn" else "features.conv1"
        ),
        feature_cfg={"flatten_sequential": True, "out_indices": (0, 1, 2)},
    )


def _cfg(hf_hub_id: str = "", **kwargs: Any) -> dict[str, Any]:
    return {
        "hf_hub_id": hf_hub_id,
        "num_classes": 7,
        "input_size": (1, 48, 48),
        "pool_size": (9, 9),
        "crop_pct": 1.0,
        "interpolation": "bilinear",
        "fixed_input_size": True,
        "mean": DEEP_EMOTION_MEAN,
        "std": DEEP_EMOTION_STD,
        "first_conv": ("stn.localization.0", "features.conv1"),
        "classifier": "head.fc",
        "label_names": FER2013_LABELS,
        "license": "mit",
        "paper_ids": "arXiv:1902.01019",
        "paper_name": "Deep-Emotion: Facial Expression Recognition Using Attentional Convolutional Network",
        "family": "deep_emotion",  # its card template (glamor_zoo/hub/card_templates/)
        **kwargs,
    }


default_cfgs = default_cfgs_of(
    {
        "deep_emotion.fer2013": released_cfg(
            "deep_emotion.fer2013",
            sha256="431cf7e09376da2b0a82dc338813318f3a47dd229601cb23ffc83fb37a8db9fd",
            **_cfg(
                f"{HUB_ORG}/deep_emotion.fer2013",
                description="Trained by glamor_zoo on FER-2013 train (28,709 faces); shipped "
                "inside the package, so it loads with no network. FER-2013 is for research use "
                "only, and so are these weights.",
                license="other",
            ),
        ),
        "deep_emotion_no_stn": _cfg(first_conv="features.conv1"),
    }
)


@register_model
def deep_emotion(pretrained: bool = False, **kwargs: Any) -> DeepEmotion:
    """Deep-Emotion as published: spatial transformer, 4 convs of 10 channels, FC 50."""
    model_args: dict[str, Any] = {"face_transform": "stn", "width": 10, "hidden_dim": 50}
    return _create_deep_emotion("deep_emotion", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def deep_emotion_no_stn(pretrained: bool = False, **kwargs: Any) -> DeepEmotion:
    """Ablation: Deep-Emotion's feature path without the spatial transformer (attention)."""
    model_args: dict[str, Any] = {"face_transform": "none", "width": 10, "hidden_dim": 50}
    return _create_deep_emotion(
        "deep_emotion_no_stn", pretrained=pretrained, **dict(model_args, **kwargs)
    )
