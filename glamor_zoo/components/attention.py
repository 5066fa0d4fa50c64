"""Attention over the context map: how the context cells are pooled into one context vector.

Every attention module is built as ``Attention(face_dim, context_dim, **kwargs)`` and called as
``attention(face_vector (B, Df), context_map (B, Dc, H, W))``; it returns the context vector
(B, Dc) and the attention map (B, H, W), whose cells sum to 1 per sample.

- ``gla``: the paper's Global-Local Attention (GLAMOR-Net §3.2.2), scores from
  ``[face vector ; cell]``.
- ``context``: the "standard" attention of CAER-Net-S (Lee et al., ICCV 2019), scores from the
  context map alone.
- ``none``: the plain average of the cells (paper Table 4, "no attention").
"""

from __future__ import annotations

import torch
from torch import nn

from glamor_zoo.components.encoders import BN_EPS, BN_MOMENTUM
from glamor_zoo.registry import new_registry

__all__ = [
    "ATTENTION",
    "ContextAttention",
    "GlobalLocalAttention",
    "NoAttention",
    "spatial_softmax_pool",
]

ATTENTION = new_registry("attention")


def spatial_softmax_pool(
    scores: torch.Tensor, context_map: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax ``scores`` (B, H*W) over all cells and pool ``context_map`` (B, C, H, W) with them."""
    b, c, h, w = context_map.shape
    weights = torch.softmax(scores.float(), dim=1).to(context_map.dtype)
    context_vector = torch.bmm(context_map.reshape(b, c, h * w), weights.unsqueeze(-1)).squeeze(-1)
    return context_vector, weights.reshape(b, h, w)


@ATTENTION.register("gla")
class GlobalLocalAttention(nn.Module):
    """Global-Local Attention: score_ij = MLP([v_f ; v_ij]), weights shared across cells.

    The MLP is exactly the official code's: Dense(hidden, ReLU) → BatchNorm → ReLU → Dense(1);
    the BatchNorm normalises over the batch and all cells (Keras BatchNormalization on the
    (B, H*W, hidden) tensor).

    Args:
        face_dim: Width of the face vector v_f.
        context_dim: Width of the context cells v_ij.
        hidden_dim: Width of the scoring MLP.
    """

    uses_face = True

    def __init__(self, face_dim: int, context_dim: int, hidden_dim: int = 128) -> None:
        super().__init__()
        self.fc1 = nn.Linear(face_dim + context_dim, hidden_dim)
        self.bn = nn.BatchNorm1d(hidden_dim, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(hidden_dim, 1)

    def forward(
        self, face_vector: torch.Tensor, context_map: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b, _, h, w = context_map.shape
        cells = context_map.flatten(2).transpose(1, 2)  # (B, HW, C)
        # NOTE: fc1([v_f ; v_ij]) = W_f·v_f + W_c·v_ij, so the face half is computed once per
        # sample instead of once per cell; identical to the official concatenation.
        face_part = nn.functional.linear(face_vector, self.fc1.weight[:, : face_vector.shape[1]])
        cell_part = nn.functional.linear(
            cells, self.fc1.weight[:, face_vector.shape[1] :], self.fc1.bias
        )
        hidden = torch.relu(cell_part + face_part.unsqueeze(1))  # Dense(128, activation='relu')
        hidden = self.bn(hidden.reshape(b * h * w, -1))
        scores = self.fc2(self.act(hidden)).reshape(b, h * w)
        return spatial_softmax_pool(scores, context_map)


@ATTENTION.register("context")
class ContextAttention(nn.Module):
    """CAER-Net-S attention: Conv3×3 → BatchNorm → ReLU → Conv3×3 (1 channel), spatial softmax.

    Args:
        face_dim: Unused (the scores ignore the face); kept for a uniform signature.
        context_dim: Width of the context map.
        hidden_dim: Channels of the first convolution.
    """

    uses_face = False

    def __init__(self, face_dim: int, context_dim: int, hidden_dim: int = 128) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(context_dim, hidden_dim, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm2d(hidden_dim, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(hidden_dim, 1, kernel_size=3, padding=1)

    def forward(
        self, face_vector: torch.Tensor | None, context_map: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.conv2(self.act(self.bn(self.conv1(context_map)))).flatten(1)
        return spatial_softmax_pool(scores, context_map)


@ATTENTION.register("none")
class NoAttention(nn.Module):
    """No attention: the context vector is the mean of the cells (uniform attention map).

    Args:
        face_dim: Unused.
        context_dim: Unused.
    """

    uses_face = False

    def __init__(self, face_dim: int, context_dim: int) -> None:
        super().__init__()

    def forward(
        self, face_vector: torch.Tensor | None, context_map: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b, _, h, w = context_map.shape
        scores = context_map.new_zeros(b, h * w)
        return spatial_softmax_pool(scores, context_map)
