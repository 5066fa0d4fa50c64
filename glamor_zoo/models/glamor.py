"""GLAMOR-Net: Global-Local Attention for emotion recognition, its baselines and ablations.

Paper: "Global-local attention for emotion recognition", Nhat Le, Khanh Nguyen, Anh Nguyen,
Bac Le, Neural Computing and Applications (2021), https://arxiv.org/abs/2111.04129.
Official TF2 code: the authors' glamor-net repository (``model.py``, class ``GLAMORNet``).

Two inputs: a face crop (B, 3, 96, 96) and the context, the whole image with the face box
zeroed, (B, 3, 112, 112). Each goes through its own encoder; the face map is averaged into the
face vector v_f; an attention module pools the context map into v_c; a fusion module combines
v_f and v_c; a small head gives logits (the official code ends in a softmax, the zoo returns
logits). Every part is pluggable by name: see :mod:`glamor_zoo.components`.
"""

# NOTE: no ``from __future__ import annotations`` here: TorchScript resolves GlamorFeatures' field
# types and FX → TorchScript the forward signature from real (not string) annotations.
from typing import Any, NamedTuple

import torch
from torch import nn

from glamor_zoo.components.attention import ATTENTION
from glamor_zoo.components.encoders import (
    ENCODERS,
    PAPER_WIDTHS,
    TimmEncoder,
    create_encoder,
)
from glamor_zoo.components.fusion import FUSION
from glamor_zoo.components.stn import create_face_transform
from glamor_zoo.labels import PAPER_LABELS
from glamor_zoo.models._factory import (
    HUB_ORG,
    ZooModel,
    build_zoo_model,
    default_cfgs_of,
    register_model,
    with_factory_kwargs,
)
from glamor_zoo.models._official import official_weights_kwargs
from glamor_zoo.spec import InputSetting, ModelSpec, default_labels

__all__ = ["GlamorFeatures", "GlamorNet", "InputSetting"]

PAPER_ENCODER_MEAN = (0.0, 0.0, 0.0)  # the paper's encoder sees pixels / 255, no normalisation
PAPER_ENCODER_STD = (1.0, 1.0, 1.0)


class GlamorFeatures(NamedTuple):
    """What :meth:`GlamorNet.forward_features` returns. Absent parts are ``None``.

    Attributes:
        fused: (B, num_features) the head's input.
        face: (B, Df) the face vector v_f.
        context: (B, Dc) the attended context vector v_c.
        attention: (B, Hc, Wc) the attention map over the context cells (sums to 1).
        fusion_weights: (B, 2) [w_face, w_context] of adaptive fusion.
        face_map: (B, Df, Hf, Wf) the face encoder's output.
        context_map: (B, Dc, Hc, Wc) the context encoder's output.
    """

    fused: torch.Tensor
    face: torch.Tensor | None = None
    context: torch.Tensor | None = None
    attention: torch.Tensor | None = None
    fusion_weights: torch.Tensor | None = None
    face_map: torch.Tensor | None = None
    context_map: torch.Tensor | None = None


class GlamorHead(nn.Module):
    """Dense(hidden, ReLU) → Dropout → Dense(num_classes) (``final_fc1`` / ``final_classify``);
    ``hidden_dim=0``: Dropout → Dense(num_classes), a linear classifier (timm's)."""

    def __init__(
        self, in_features: int, hidden_dim: int, num_classes: int, drop_rate: float
    ) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_dim) if hidden_dim else nn.Identity()
        self.act = nn.ReLU(inplace=True) if hidden_dim else nn.Identity()
        self.drop = nn.Dropout(drop_rate)
        width = hidden_dim or in_features
        self.fc = nn.Linear(width, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop(self.act(self.fc1(x)))
        return x if pre_logits else self.fc(x)


class GlamorNet(ZooModel, nn.Module):
    """GLAMOR-Net and its family: face encoder, context encoder, attention, fusion, head.

    Besides the arguments below it takes timm's factory arguments ``device`` (where to create the
    parameters; ``"meta"`` for none) and ``dtype`` (their floating-point type).

    Args:
        num_classes: Number of emotion classes (0 → the head returns pre-logits).
        backbone: Encoder for both branches: ``"glamor"`` (the paper's) or any timm model name.
        face_backbone: Encoder of the face branch (overrides ``backbone``).
        context_backbone: Encoder of the context branch (overrides ``backbone``).
        encoder_widths: Block widths of the paper encoder (ignored by timm backbones).
        encoder_args: Extra keyword arguments of the zoo's other registered encoders, e.g.
            ``{"stem_stride": 2}`` for ``face_resnet18`` (ignored by the paper's and timm's).
        attention: ``"gla"``, ``"context"``, ``"none"``, a plugin name, or a class.
        fusion: ``"adaptive"``, ``"add"``, ``"max"``, ``"concat"``, a plugin name, or a class.
        inputs: Paper Table 4's input setting: ``"both"``, ``"face"`` (face branch only) or
            ``"context"`` (context branch only; GLA still reads v_f but v_f is not fused).
        in_chans: Input channels of both images.
        hidden_dim: Width of the attention MLP, the fusion MLPs and the head (0: the head is
            one linear classifier).
        drop_rate: Dropout before the classifier (paper: 0.5).
        face_size: (H, W) of the face input the model is trained for (metadata for preprocessing).
        context_size: (H, W) of the context input.
        pretrained_backbone: Load timm's ImageNet weights into timm backbones (needs the Hub).
        attention_args: Extra keyword arguments for the attention module.
        fusion_args: Extra keyword arguments for the fusion module.
        face_stn: A face transform in front of the face encoder: ``"stn"`` (Deep-Emotion's
            spatial transformer, an ablation the zoo adds), ``"none"``/``None``, or a class.
        test_flip: In evaluation mode, average the face vector of the face and of its mirror
            image (test-time flip augmentation, not in the paper); training is unchanged.
    """

    @with_factory_kwargs
    def __init__(
        self,
        num_classes: int = 7,
        backbone: str = "glamor",
        face_backbone: str | None = None,
        context_backbone: str | None = None,
        encoder_widths: tuple[int, ...] = PAPER_WIDTHS,
        encoder_args: dict[str, Any] | None = None,
        attention: str | type[nn.Module] = "gla",
        fusion: str | type[nn.Module] = "adaptive",
        inputs: InputSetting = "both",
        in_chans: int = 3,
        hidden_dim: int = 128,
        drop_rate: float = 0.5,
        face_size: tuple[int, int] = (96, 96),
        context_size: tuple[int, int] = (112, 112),
        pretrained_backbone: bool = False,
        attention_args: dict[str, Any] | None = None,
        fusion_args: dict[str, Any] | None = None,
        face_stn: str | type[nn.Module] | None = None,
        test_flip: bool = False,
    ) -> None:
        super().__init__()
        if inputs not in ("both", "face", "context"):
            raise ValueError(f"inputs must be 'both', 'face' or 'context', got {inputs!r}")
        self.num_classes = num_classes
        self.inputs = inputs
        self.in_chans = in_chans
        self.face_size = tuple(face_size)
        self.context_size = tuple(context_size)
        self.face_backbone = face_backbone or backbone
        self.context_backbone = context_backbone or backbone
        self.grad_checkpointing = False
        self.test_flip = bool(test_flip)

        attention_cls = ATTENTION.get(attention)
        uses_context = inputs != "face"
        needs_face = inputs != "context" or getattr(attention_cls, "uses_face", True)

        def encoder(name: str) -> nn.Module:
            extra: dict[str, Any] = {}
            if name == "glamor":
                extra["widths"] = encoder_widths
            elif name not in ENCODERS.names():  # a timm model
                extra["pretrained"] = pretrained_backbone
            else:
                extra.update(encoder_args or {})
            return create_encoder(name, in_chans=in_chans, **extra)

        self.face_encoder = encoder(self.face_backbone) if needs_face else None
        self.context_encoder = encoder(self.context_backbone) if uses_context else None
        face_dim = self.face_encoder.out_channels if self.face_encoder is not None else 0
        context_dim = self.context_encoder.out_channels if self.context_encoder is not None else 0

        self.attention = (
            attention_cls(face_dim, context_dim, **(attention_args or {})) if uses_context else None
        )
        self.fusion = (
            FUSION.create(fusion, face_dim, context_dim, **(fusion_args or {}))
            if inputs == "both"
            else None
        )
        if inputs == "both":
            self.num_features = int(self.fusion.out_dim)
        else:
            self.num_features = face_dim if inputs == "face" else context_dim
        self.head_hidden_size = hidden_dim or self.num_features
        self.drop_rate = drop_rate
        self.head = GlamorHead(self.num_features, hidden_dim, num_classes, drop_rate)
        self._init_weights()
        # Built after _init_weights: the spatial transformer starts as the identity warp.
        self.face_stn = (
            create_face_transform(face_stn, in_chans=in_chans, input_size=self.face_size)
            if face_stn not in (None, "none") and needs_face
            else None
        )
        self.spec = self.default_spec()

    def _init_weights(self) -> None:
        # NOTE: Keras initialises Dense and Conv2D kernels with Glorot-uniform and biases with
        # zeros; PyTorch's defaults differ. Reproduce Keras for every non-timm layer.
        for name, module in self.named_modules():
            if isinstance(module, TimmEncoder):
                continue
            if any(
                name.startswith(f"{prefix}.model") for prefix in ("face_encoder", "context_encoder")
            ):
                continue
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    # ----------------------------------------------------------------- timm interface

    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Replace the last layer with a fresh one for ``num_classes`` (0 → identity).

        The new layer takes the device, dtype and train/eval mode of the head it joins.
        ``global_pool`` is accepted for timm's signature; the head pools nothing.
        """
        self._replace_classifier(num_classes, nn.init.xavier_uniform_)

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute encoder activations in the backward pass to save memory."""
        self.grad_checkpointing = enable
        for enc in (self.face_encoder, self.context_encoder):
            if enc is not None:
                enc.set_grad_checkpointing(enable)

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """Parameter groups for timm's layer-wise lr decay (``create_optimizer_v2(layer_decay=)``).

        Stems first; then encoder blocks by index, the two branches' block ``i`` together (the
        paper encoder's ``blocks.i``, a timm ResNet's ``layer i``, a timm MobileNet's
        ``blocks.i``); then the rest of a timm backbone; attention, fusion and head last.
        """
        encoder = r"^(?:face|context)_encoder\."
        stem = rf"^face_stn\.|{encoder}(?:blocks\.0\.|model\.(?:conv1|bn1|conv_stem|stem)\.)"
        if coarse:
            return {"stem": stem, "blocks": encoder}
        return {
            "stem": stem,
            "blocks": [
                (rf"{encoder}(?:blocks|model\.blocks)\.(\d+)", None),
                (rf"{encoder}model\.layer(\d+)", None),
                (encoder, (99999,)),
            ],
        }

    def forward_features(
        self,
        face: torch.Tensor | None,
        context: torch.Tensor | None = None,
        context_index: torch.Tensor | None = None,
    ) -> GlamorFeatures:
        """Encode, attend and fuse; returns every intermediate users visualise.

        Args:
            face: (B, C, Hf, Wf) faces.
            context: (B, C, Hc, Wc) contexts, one per face; or (M, C, Hc, Wc) contexts shared
                by several faces when ``context_index`` is given.
            context_index: (B,) long tensor: which of the M contexts each face sees. The context
                encoder then runs M times instead of B times (paper §3.2: a scene's context can
                be encoded once for all its faces); ``context_map`` holds the M shared maps.
        """
        face_map = face_vector = context_map = context_vector = attention_map = weights = None
        if self.face_encoder is not None:
            if face is None:
                raise ValueError("this model needs a face image; got face=None")
            if self.face_stn is not None:
                face = self.face_stn(face)
            # NOTE: test-time flip averaging, a zoo addition (off for the paper's models). The
            # face and its mirror go through the encoder as one batch: one call, and each weight
            # feeds one convolution (what int8 quantisers can annotate).
            flip = self.test_flip and not self.training
            encoded = self.face_encoder(torch.cat([face, face.flip(-1)]) if flip else face)
            face_map = encoded.unflatten(0, (2, -1))[0] if flip else encoded
            face_vector = face_map.mean(dim=(2, 3))
            if flip:  # the mean of the face's and the mirror's vectors
                face_vector = encoded.mean(dim=(2, 3)).unflatten(0, (2, -1)).mean(dim=0)
        if self.context_encoder is not None:
            if context is None:
                raise ValueError(
                    f"this model (inputs='{self.inputs}') needs a context image; got context=None"
                )
            context_map = self.context_encoder(context)
            cells = context_map
            if context_index is not None:
                if face is not None and (
                    context_index.dim() != 1 or context_index.shape[0] != face.shape[0]
                ):
                    raise ValueError(
                        f"context_index must have one entry per face ({face.shape[0]}), "
                        f"got shape {list(context_index.shape)}"
                    )
                cells = context_map.index_select(0, context_index)
            context_vector, attention_map = self.attention(face_vector, cells)
        if self.inputs == "both":
            fused, weights = self.fusion(face_vector, context_vector)
        else:
            fused = face_vector if self.inputs == "face" else context_vector
        return GlamorFeatures(
            fused=fused,
            face=face_vector,
            context=context_vector,
            attention=attention_map,
            fusion_weights=weights,
            face_map=face_map,
            context_map=context_map,
        )

    def forward_head(
        self, x: GlamorFeatures | torch.Tensor, pre_logits: bool = False
    ) -> torch.Tensor:
        """Head on the fused vector; ``pre_logits=True`` stops before the classifier."""
        fused = x.fused if isinstance(x, GlamorFeatures) else x
        return self.head(fused, pre_logits=pre_logits)

    def forward(
        self, face: torch.Tensor | None, context: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits (B, num_classes) from a face (B, C, 96, 96) and a context (B, C, 112, 112)."""
        return self.forward_head(self.forward_features(face, context))

    # ----------------------------------------------------------------- what it takes in

    def default_spec(self) -> ModelSpec:
        """The spec the model's own arguments imply, before any override: its inputs, sizes
        and channels, each backbone's mean/std, the official 128×171 resize and rows 8:120 /
        cols 29:141 evaluation crop (scaled to ``context_size``), the face masked in the
        context, and the paper's face augmentation."""
        norm = dict(
            zip(
                ("face_mean", "face_std", "context_mean", "context_std"),
                (
                    *_backbone_norm(self.face_backbone, self.in_chans),
                    *_backbone_norm(self.context_backbone, self.in_chans),
                ),
                strict=True,
            )
        )
        return ModelSpec.build(
            inputs=self.inputs,
            in_chans=self.in_chans,
            face_size=self.face_size,
            context_size=self.context_size,
            **norm,
            mask_face_in_context=True,
            face_augment={"hflip": 0.5, "rotate_degrees": 20.0},
            label_names=default_labels(self.num_classes),
        )


def _zoo_encoder(backbone: str) -> Any:
    """The zoo's registered encoder class named ``backbone`` (``None`` for timm names)."""
    return ENCODERS.get(backbone) if backbone in ENCODERS.names() else None


def _backbone_norm(backbone: str, in_chans: int = 3) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std of ``backbone``'s inputs, one value per input channel."""
    if backbone == "glamor":
        mean, std = PAPER_ENCODER_MEAN, PAPER_ENCODER_STD
    elif (encoder := _zoo_encoder(backbone)) is not None and hasattr(encoder, "mean"):
        mean, std = tuple(encoder.mean), tuple(encoder.std)
    else:
        from timm.models import get_pretrained_cfg

        cfg = get_pretrained_cfg(backbone)
        if cfg is None:
            from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

            mean, std = IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
        else:
            mean, std = tuple(cfg.mean), tuple(cfg.std)
    if len(mean) != in_chans:
        # NOTE: another channel count than the statistics': their average on every channel
        # (grey inputs of an RGB backbone see the mean of its RGB statistics).
        mean = (sum(mean) / len(mean),) * in_chans
        std = (sum(std) / len(std),) * in_chans
    return tuple(mean), tuple(std)


def _first_convs(model_kwargs: dict[str, Any]) -> tuple[str, ...]:
    """Names of both stems, for timm's channel adaptation of pretrained weights."""
    names = []
    inputs = model_kwargs.get("inputs", "both")
    for branch in ("face", "context"):
        if (
            branch == "face" and inputs == "context" and model_kwargs.get("attention") != "gla"
        ) or (branch == "context" and inputs == "face"):
            continue
        backbone = model_kwargs.get(f"{branch}_backbone") or model_kwargs.get("backbone", "glamor")
        encoder = _zoo_encoder(backbone)
        if backbone == "glamor":
            names.append(f"{branch}_encoder.blocks.0.conv")
        elif encoder is not None and hasattr(encoder, "stems"):  # several stems (ensembles)
            members = (model_kwargs.get("encoder_args") or {}).get("members", ())
            names.extend(f"{branch}_encoder.{stem}" for stem in encoder.stems(members))
        elif encoder is not None and hasattr(encoder, "first_conv"):
            names.append(f"{branch}_encoder.{encoder.first_conv}")
        else:
            from timm.models import get_pretrained_cfg

            cfg = get_pretrained_cfg(backbone)
            names.append(f"{branch}_encoder.model.{cfg.first_conv if cfg else 'conv1'}")
    return tuple(names)


def _create_glamor(variant: str, pretrained: bool = False, **kwargs: Any) -> GlamorNet:
    if kwargs.get("features_only"):
        raise ValueError(
            f"{variant}: features_only=True is not supported: GLAMOR models take two inputs "
            "(face, context), which timm's feature wrappers cannot feed. Build the model without "
            "it and call model.forward_features(face, context): its face_map and context_map are "
            "the encoders' feature maps"
        )
    kwargs = official_weights_kwargs(variant, pretrained, kwargs)
    return build_zoo_model(GlamorNet, variant, pretrained, kwargs, first_conv=_first_convs)


def _cfg(hf_hub_id: str = "", **kwargs: Any) -> dict[str, Any]:
    return {
        "hf_hub_id": hf_hub_id,
        "num_classes": 7,
        "input_size": (3, 96, 96),
        "pool_size": None,
        "crop_pct": 1.0,
        "interpolation": "bilinear",
        "fixed_input_size": False,
        "mean": PAPER_ENCODER_MEAN,
        "std": PAPER_ENCODER_STD,
        "first_conv": ("face_encoder.blocks.0.conv", "context_encoder.blocks.0.conv"),
        "classifier": "head.fc",
        "label_names": PAPER_LABELS,
        "license": "mit",
        "paper_ids": "arXiv:2111.04129",
        "paper_name": "Global-local attention for emotion recognition",
        "family": "glamor_net",  # its card template (glamor_zoo/hub/card_templates/)
        **kwargs,
    }


def _hub_cfg(name: str, **kwargs: Any) -> dict[str, Any]:
    """A tag whose weights will live in the Hub repository ``glamor-zoo/<name>``.

    NOTE: none of these repositories exists yet (no CAER-S / NCAER-S training has been run and
    the authors' checkpoint is not converted and pushed): ``published=False`` makes loading them
    fail at once with what to do instead. Drop it when the repository is pushed.
    """
    return _cfg(f"{HUB_ORG}/{name}", published=False, **kwargs)


_IMAGENET = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
_MNV2_STEMS = ("face_encoder.model.conv_stem", "context_encoder.model.conv_stem")
_R18_STEMS = ("face_encoder.model.conv1", "context_encoder.model.conv1")


_OFFICIAL_NOTE = (
    "The authors' TF2 checkpoint (glamor-net repository at commit c12e1b97aa73, "
    "weights/glamor-net/Model, MIT), downloaded, verified and converted on first load "
    "(glamor_zoo.convert.official); official preprocessing: pixels / 255, face 96×96, context "
    "resized to 128×171 and centre-cropped to 112×112."
)

default_cfgs = default_cfgs_of(
    {
        # No Hub repository: the weights come from the authors' repository at a pinned commit
        # (glamor_zoo/models/_official.py); a copy in the Hub cache is loaded first.
        "glamor_original.ncaer_s": _cfg(
            f"{HUB_ORG}/glamor_original.ncaer_s",
            origin_url="https://github.com/minhnhatvt/glamor-net",
            description=_OFFICIAL_NOTE,
        ),
        "glamor_original.caer_s": _hub_cfg("glamor_original.caer_s"),
        "glamor_mobilenetv2.caer_s": _hub_cfg(
            "glamor_mobilenetv2.caer_s", first_conv=_MNV2_STEMS, **_IMAGENET
        ),
        "glamor_mobilenetv2.ncaer_s": _hub_cfg(
            "glamor_mobilenetv2.ncaer_s", first_conv=_MNV2_STEMS, **_IMAGENET
        ),
        "glamor_resnet18.caer_s": _hub_cfg(
            "glamor_resnet18.caer_s", first_conv=_R18_STEMS, **_IMAGENET
        ),
        "glamor_resnet18.ncaer_s": _hub_cfg(
            "glamor_resnet18.ncaer_s", first_conv=_R18_STEMS, **_IMAGENET
        ),
        "caer_net_s.caer_s": _hub_cfg("caer_net_s.caer_s"),
        "glamor_face_only.ncaer_s": _hub_cfg(
            "glamor_face_only.ncaer_s", first_conv="face_encoder.blocks.0.conv"
        ),
        "glamor_context_only.ncaer_s": _hub_cfg("glamor_context_only.ncaer_s"),
        "glamor_no_attention.ncaer_s": _hub_cfg("glamor_no_attention.ncaer_s"),
        "glamor_context_attention.ncaer_s": _hub_cfg("glamor_context_attention.ncaer_s"),
        "glamor_fusion_add.ncaer_s": _hub_cfg("glamor_fusion_add.ncaer_s"),
        "glamor_fusion_max.ncaer_s": _hub_cfg("glamor_fusion_max.ncaer_s"),
        "glamor_fusion_concat.ncaer_s": _hub_cfg("glamor_fusion_concat.ncaer_s"),
        "glamor": _cfg(),
        "glamor_test": _cfg(),
    }
)


@register_model
def glamor_original(pretrained: bool = False, **kwargs: Any) -> GlamorNet:
    """GLAMOR-Net as published: paper encoders, Global-Local Attention, adaptive fusion."""
    model_args: dict[str, Any] = {"backbone": "glamor", "attention": "gla", "fusion": "adaptive"}
    return _create_glamor("glamor_original", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def glamor_mobilenetv2(pretrained: bool = False, **kwargs: Any) -> GlamorNet:
    """GLAMOR-Net with MobileNetV2 (timm ``mobilenetv2_100``) encoders (paper Table 7)."""
    model_args: dict[str, Any] = {
        "backbone": "mobilenetv2_100",
        "attention": "gla",
        "fusion": "adaptive",
    }
    return _create_glamor("glamor_mobilenetv2", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def glamor_resnet18(pretrained: bool = False, **kwargs: Any) -> GlamorNet:
    """GLAMOR-Net with ResNet-18 (timm ``resnet18``) encoders (paper Table 7)."""
    model_args: dict[str, Any] = {"backbone": "resnet18", "attention": "gla", "fusion": "adaptive"}
    return _create_glamor("glamor_resnet18", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def caer_net_s(pretrained: bool = False, **kwargs: Any) -> GlamorNet:
    """CAER-Net-S baseline: paper encoders, context-only ("standard") attention, adaptive fusion."""
    model_args: dict[str, Any] = {
        "backbone": "glamor",
        "attention": "context",
        "fusion": "adaptive",
    }
    return _create_glamor("caer_net_s", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def glamor_face_only(pretrained: bool = False, **kwargs: Any) -> GlamorNet:
    """Paper Table 4, face only: the face branch and the head."""
    model_args: dict[str, Any] = {"backbone": "glamor", "inputs": "face"}
    return _create_glamor("glamor_face_only", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def glamor_context_only(pretrained: bool = False, **kwargs: Any) -> GlamorNet:
    """Paper Table 4, context only: GLA reads v_f, but only v_c reaches the head."""
    model_args: dict[str, Any] = {"backbone": "glamor", "attention": "gla", "inputs": "context"}
    return _create_glamor(
        "glamor_context_only", pretrained=pretrained, **dict(model_args, **kwargs)
    )


@register_model
def glamor_no_attention(pretrained: bool = False, **kwargs: Any) -> GlamorNet:
    """Paper Table 4, no attention: v_c is the average of the context cells."""
    model_args: dict[str, Any] = {"backbone": "glamor", "attention": "none", "fusion": "adaptive"}
    return _create_glamor(
        "glamor_no_attention", pretrained=pretrained, **dict(model_args, **kwargs)
    )


@register_model
def glamor_context_attention(pretrained: bool = False, **kwargs: Any) -> GlamorNet:
    """Paper Table 4, CAER-Net-S-style attention in place of GLA."""
    model_args: dict[str, Any] = {
        "backbone": "glamor",
        "attention": "context",
        "fusion": "adaptive",
    }
    return _create_glamor(
        "glamor_context_attention", pretrained=pretrained, **dict(model_args, **kwargs)
    )


@register_model
def glamor_fusion_add(pretrained: bool = False, **kwargs: Any) -> GlamorNet:
    """Paper Table 6: GLA with additive fusion."""
    model_args: dict[str, Any] = {"backbone": "glamor", "attention": "gla", "fusion": "add"}
    return _create_glamor("glamor_fusion_add", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def glamor_fusion_max(pretrained: bool = False, **kwargs: Any) -> GlamorNet:
    """Paper Table 6: GLA with element-wise max fusion."""
    model_args: dict[str, Any] = {"backbone": "glamor", "attention": "gla", "fusion": "max"}
    return _create_glamor("glamor_fusion_max", pretrained=pretrained, **dict(model_args, **kwargs))


@register_model
def glamor_fusion_concat(pretrained: bool = False, **kwargs: Any) -> GlamorNet:
    """GLA with plain concatenation (no fusion weights)."""
    model_args: dict[str, Any] = {"backbone": "glamor", "attention": "gla", "fusion": "concat"}
    return _create_glamor(
        "glamor_fusion_concat", pretrained=pretrained, **dict(model_args, **kwargs)
    )


@register_model
def glamor(pretrained: bool = False, **kwargs: Any) -> GlamorNet:
    """The configurable family: pass ``backbone``, ``attention``, ``fusion``, ``inputs``…"""
    return _create_glamor("glamor", pretrained=pretrained, **kwargs)


@register_model
def glamor_test(pretrained: bool = False, **kwargs: Any) -> GlamorNet:
    """A tiny GLAMOR-Net for tests: encoder widths 4-8-8-16-16, hidden width 16."""
    model_args: dict[str, Any] = {
        "backbone": "glamor",
        "encoder_widths": (4, 8, 8, 16, 16),
        "hidden_dim": 16,
    }
    return _create_glamor("glamor_test", pretrained=pretrained, **dict(model_args, **kwargs))
