"""Face-side input transforms: the spatial transformer of Deep-Emotion, and the identity.

A face transform maps a face batch (B, C, H, W) to a batch of the same shape before the face
encoder. Transforms are chosen by name through :data:`FACE_TRANSFORM` and built as
``Transform(in_chans, input_size, **kwargs)``:

- ``stn``: the spatial transformer (Jaderberg et al., NeurIPS 2015) exactly as Deep-Emotion
  (Minaee & Abdolrashidi, 2019, Fig. 3) uses it: a localisation net of two convolutions (each
  followed by max-pooling and ReLU) and two fully connected layers regresses an affine transform
  that resamples the input. Deep-Emotion puts it in front of its feature path; a GLAMOR model
  puts it in front of its face encoder with ``face_stn="stn"``.
- ``none``: the identity.
"""

# NOTE: no ``from __future__ import annotations``: TorchScript reads these annotations.
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from timm.layers import register_notrace_function
from torch import nn

from glamor_zoo.registry import new_registry

__all__ = ["FACE_TRANSFORM", "IdentityTransform", "SpatialTransformer", "create_face_transform"]

FACE_TRANSFORM = new_registry("face_transform")


@FACE_TRANSFORM.register("stn")
class SpatialTransformer(nn.Module):
    """Affine spatial transformer with Deep-Emotion's localisation network.

    Localisation: Conv(k0) → MaxPool2 → ReLU → Conv(k1) → MaxPool2 → ReLU → FC(hidden) → ReLU →
    FC(6). The last layer starts at the identity bias and near-zero weights, so a fresh
    transformer passes its input through (almost) unchanged and learns to warp it.

    Args:
        in_chans: Channels of the input images.
        input_size: (H, W) of the inputs; fixes the width of the first fully connected layer.
        channels: Output channels of the two localisation convolutions (Deep-Emotion: 8, 10).
        kernel_sizes: Kernel sizes of the two convolutions (Deep-Emotion: 7, 5).
        hidden_dim: Width of the first fully connected layer (Deep-Emotion: 32).
        align_corners: ``align_corners`` of ``affine_grid`` / ``grid_sample``.
    """

    def __init__(
        self,
        in_chans: int = 1,
        input_size: Sequence[int] = (48, 48),
        channels: Sequence[int] = (8, 10),
        kernel_sizes: Sequence[int] = (7, 5),
        hidden_dim: int = 32,
        align_corners: bool = False,
    ) -> None:
        super().__init__()
        if len(channels) != 2 or len(kernel_sizes) != 2:
            raise ValueError(
                f"the localisation net has two convolutions: got channels={tuple(channels)}, "
                f"kernel_sizes={tuple(kernel_sizes)}"
            )
        self.in_chans = in_chans
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.align_corners = align_corners
        self.localization = nn.Sequential(
            nn.Conv2d(in_chans, channels[0], kernel_size=kernel_sizes[0]),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels[0], channels[1], kernel_size=kernel_sizes[1]),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(inplace=True),
        )
        h, w = self.input_size
        for k in kernel_sizes:
            h, w = (h - k + 1) // 2, (w - k + 1) // 2
        if h < 1 or w < 1:
            raise ValueError(
                f"input_size {self.input_size} is too small for localisation kernels "
                f"{tuple(kernel_sizes)}; use at least {_min_size(kernel_sizes)} pixels a side"
            )
        self.fc1 = nn.Linear(channels[1] * h * w, hidden_dim)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(hidden_dim, 6)
        self.reset_identity()

    def reset_identity(self, std: float = 1e-3) -> None:
        """Start (near) the identity map: identity bias, last weights N(0, ``std``).

        ``std=0`` is the exact identity of the STN paper's zero init.
        """
        # NOTE: with all-zero last weights no gradient reaches the localisation net on the
        # first step; a tiny random init keeps the warp within a fraction of a pixel of the
        # identity while every parameter learns from step one.
        if std > 0:
            nn.init.normal_(self.fc2.weight, std=std)
        else:
            nn.init.zeros_(self.fc2.weight)
        with torch.no_grad():
            self.fc2.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))

    def theta(self, x: torch.Tensor) -> torch.Tensor:
        """The affine transforms (B, 2, 3) regressed for the batch ``x``."""
        check_input_size(x, self.input_size)
        xs = self.localization(x).flatten(1)
        return self.fc2(self.act(self.fc1(xs))).view(-1, 2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Warp ``x`` (B, C, H, W) with its regressed affine transform; same shape out."""
        return affine_warp(x, self.theta(x), self.align_corners)


# Shape-dependent code in functions that torch.fx keeps as calls (timm's notrace registry;
# torch.fx wraps only public names).
@register_notrace_function
def check_input_size(x: torch.Tensor, size: tuple[int, int]) -> None:
    """Raise if the (H, W) of ``x`` is not ``size``."""
    if x.shape[-2] != size[0] or x.shape[-1] != size[1]:
        raise ValueError(
            f"spatial transformer built for {size} inputs got {(x.shape[-2], x.shape[-1])}; "
            "resize the faces to the model's input size"
        )


@register_notrace_function
def affine_warp(x: torch.Tensor, theta: torch.Tensor, align_corners: bool) -> torch.Tensor:
    """Resample ``x`` (B, C, H, W) through the affine transforms ``theta`` (B, 2, 3)."""
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=align_corners)
    return F.grid_sample(x, grid, align_corners=align_corners)


@FACE_TRANSFORM.register("none")
class IdentityTransform(nn.Identity):
    """No transform (accepts and ignores the transform arguments)."""

    def __init__(
        self, in_chans: int = 1, input_size: Sequence[int] = (48, 48), **kwargs: object
    ) -> None:
        super().__init__()


def _min_size(kernel_sizes: Sequence[int]) -> int:
    size = 1
    for k in reversed(kernel_sizes):
        size = size * 2 + k - 1
    return size


def create_face_transform(
    name: str | type[nn.Module], in_chans: int, input_size: Sequence[int], **kwargs: object
) -> nn.Module:
    """Build the face transform ``name`` (``"stn"``, ``"none"``, a plugin, or a class)."""
    return FACE_TRANSFORM.create(name, in_chans=in_chans, input_size=input_size, **kwargs)
