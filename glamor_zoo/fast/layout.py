"""Memory-layout workarounds: channels-last weights whose strides oneDNN and Inductor agree on."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["plain_strides", "to_channels_last"]


def to_channels_last(model: nn.Module) -> None:
    """Channels-last weights, except those of convolutions that read a single channel.

    A tensor with one channel is contiguous in both memory formats, so its strides are
    ambiguous. oneDNN's convolution writes channels-last output when its input *or* its weight
    looks channels-last; Inductor's dynamic-shape lowering predicts the output layout from the
    input alone, and calls a one-channel input contiguous. A channels-last (C_out, 1, kH, kW)
    weight thus made the kernel disagree with the compiled graph (``assert_size_stride``) from
    the first dynamic-batch call on: plain strides keep the two in step.
    """
    model.to(memory_format=torch.channels_last)
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and module.in_channels == 1:
            module.weight.data = plain_strides(module.weight.data)


def plain_strides(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` with the row-major strides of its shape (a view when it is contiguous).

    ``Tensor.contiguous()`` keeps any stride on a size-1 dimension, e.g. the channels-last
    strides of a one-channel image; this gives the canonical ones.
    """
    if not tensor.is_contiguous():
        return tensor.contiguous()
    strides, step = [], 1
    for size in reversed(tensor.shape):
        strides.append(step)
        step *= max(size, 1)
    return tensor.as_strided(tensor.shape, tuple(reversed(strides)))
