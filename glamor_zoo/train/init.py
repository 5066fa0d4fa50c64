"""Initialising parts of a model from other weights: an earlier stage's, or a pretrained model's.

``copy_weights`` copies the tensors under module prefixes (``face_encoder``…) and adapts input
convolutions whose channel count differs the way timm adapts pretrained stems
(:func:`timm.models.adapt_input_conv`): a grey (1-channel) FER-2013 face encoder becomes an RGB
one by repeating its stem kernels over the three channels, scaled by 1/3, so a grey image
repeated to RGB gives the same features. Convolutions do not depend on the image size, so a
48-px face encoder initialises a 96-px face branch as it is.

A face ResNet's parts are named as in the face-only GLAMOR-Net it was saved from before it was a
timm model: ``face_encoder`` (the trunk) and ``head`` (the classifier). Its weights, from either
side, are copied in that layout (:func:`glamor_zoo.models.face_resnet.to_glamor_layout`), so
``init_from: {face_resnet18.fer2013: [face_encoder]}`` starts a GLAMOR-Net's face branch, and
``[face_encoder, head]`` a face ResNet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from timm.models import adapt_input_conv
from torch import nn

from glamor_zoo.train.config import ConfigError

__all__ = ["copy_weights", "init_from_pretrained"]

_FACE_RESNET_STEM = "conv1.0.weight"  # a face ResNet's first stem convolution, by its own name


def _fit(target: torch.Tensor, source: torch.Tensor) -> torch.Tensor | None:
    """``source`` shaped like ``target`` (input channels adapted), or ``None`` if it cannot be."""
    if source.shape == target.shape:
        return source
    if (
        source.ndim == 4
        and source.shape[0] == target.shape[0]
        and source.shape[2:] == target.shape[2:]
    ):
        return adapt_input_conv(target.shape[1], source, base_chans=source.shape[1])
    return None


def copy_weights(
    model: nn.Module, weights: Mapping[str, torch.Tensor], prefixes: Iterable[str], where: str
) -> dict[str, int]:
    """Copy the ``weights`` under each module prefix into ``model`` (in place).

    Returns:
        The number of tensors copied per prefix.

    Raises:
        ConfigError: a prefix matches nothing, or a tensor fits no tensor of the model; the
            message starts with ``where`` (the recipe key).
    """
    from glamor_zoo.models.face_resnet import FaceResNet, checkpoint_filter_fn, to_glamor_layout

    if _FACE_RESNET_STEM in weights:  # a face ResNet's own names
        weights = to_glamor_layout(weights)
    face_resnet = isinstance(model, FaceResNet)
    own = to_glamor_layout(model.state_dict()) if face_resnet else model.state_dict()
    copied: dict[str, int] = {}
    for prefix in prefixes:
        keys = [k for k in weights if k.startswith(prefix + ".")]
        if not keys:
            raise ConfigError(f"{where}: the source has no weights under {prefix!r}")
        for key in keys:
            fitted = _fit(own[key], weights[key]) if key in own else None
            if fitted is None:
                shape = tuple(own[key].shape) if key in own else "no such tensor"
                raise ConfigError(
                    f"{where}: {key} {tuple(weights[key].shape)} does not fit this model "
                    f"({shape}); the two models' {prefix!r} differ"
                )
            own[key] = fitted.to(own[key].dtype)
        copied[prefix] = len(keys)
    model.load_state_dict(checkpoint_filter_fn(own, model) if face_resnet else own)
    return copied


def init_from_pretrained(model: nn.Module, sources: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """``model.init_from``: copy module prefixes from pretrained models (a zoo tag such as
    ``face_resnet18.fer2013``, ``hf-hub:…`` or ``local-dir:…``) into ``model``."""
    from glamor_zoo.models import create_model

    copied: dict[str, int] = {}
    for source, prefixes in sources.items():
        weights = create_model(source, pretrained=True).state_dict()
        for prefix, count in copy_weights(
            model, weights, prefixes, f"model.init_from[{source!r}]"
        ).items():
            copied[f"{source}:{prefix}"] = count
    return copied
