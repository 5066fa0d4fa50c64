"""Fusion of the face vector and the context vector (paper §3.2.3 "Fusion Net", Table 6).

Every fusion module is built as ``Fusion(face_dim, context_dim)``, exposes ``out_dim``, and is
called as ``fusion(face_vector, context_vector)``; it returns the fused vector (B, out_dim) and
the fusion weights (B, 2) = [w_face, w_context], or ``None`` when the fusion has no weights.

- ``adaptive``: the paper's adaptive fusion, learned per-sample weights (softmax of two scores).
- ``add``, ``max``: element-wise sum / maximum (equal widths required).
- ``concat``: plain concatenation, face first.
"""

from __future__ import annotations

import torch
from torch import nn

from glamor_zoo.registry import new_registry

__all__ = ["FUSION", "AdaptiveFusion", "AddFusion", "ConcatFusion", "MaxFusion"]

FUSION = new_registry("fusion")


class _ScoreMLP(nn.Module):
    """Dense(hidden, ReLU) → Dense(1): one fusion score per sample."""

    def __init__(self, in_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden_dim)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(hidden_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


@FUSION.register("adaptive")
class AdaptiveFusion(nn.Module):
    """Adaptive fusion: [w_f, w_c] = softmax([MLP_f(v_f), MLP_c(v_c)]); out = [w_f·v_f ; w_c·v_c].

    Args:
        face_dim: Width of the face vector.
        context_dim: Width of the context vector.
        hidden_dim: Width of each scoring MLP.
    """

    def __init__(self, face_dim: int, context_dim: int, hidden_dim: int = 128) -> None:
        super().__init__()
        self.face_score = _ScoreMLP(face_dim, hidden_dim)
        self.context_score = _ScoreMLP(context_dim, hidden_dim)
        self.out_dim = face_dim + context_dim

    def forward(
        self, face_vector: torch.Tensor, context_vector: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        scores = torch.cat(
            [self.face_score(face_vector), self.context_score(context_vector)], dim=1
        )
        weights = torch.softmax(scores.float(), dim=1).to(face_vector.dtype)
        fused = torch.cat([face_vector * weights[:, :1], context_vector * weights[:, 1:]], dim=1)
        return fused, weights


class _EqualWidthFusion(nn.Module):
    """An element-wise fusion of face and context vectors of equal width: a subclass defines
    ``combine(face_vector, context_vector)``.

    Args:
        face_dim: Width of the face vector.
        context_dim: Width of the context vector (must equal ``face_dim``).
    """

    def __init__(self, face_dim: int, context_dim: int) -> None:
        super().__init__()
        if face_dim != context_dim:
            raise ValueError(
                f"fusion {self.name!r} needs face and context vectors of equal width, got "
                f"{face_dim} and {context_dim}; use fusion='adaptive' or 'concat', or backbones "
                "of equal width"
            )
        self.out_dim = face_dim

    def forward(
        self, face_vector: torch.Tensor, context_vector: torch.Tensor
    ) -> tuple[torch.Tensor, None]:
        return self.combine(face_vector, context_vector), None  # type: ignore[attr-defined]


@FUSION.register("add")
class AddFusion(_EqualWidthFusion):
    """Element-wise sum v_f + v_c (vectors of equal width)."""

    name = "add"

    def combine(self, face_vector: torch.Tensor, context_vector: torch.Tensor) -> torch.Tensor:
        return face_vector + context_vector


@FUSION.register("max")
class MaxFusion(_EqualWidthFusion):
    """Element-wise maximum of v_f and v_c (vectors of equal width)."""

    name = "max"

    def combine(self, face_vector: torch.Tensor, context_vector: torch.Tensor) -> torch.Tensor:
        return torch.maximum(face_vector, context_vector)


@FUSION.register("concat")
class ConcatFusion(nn.Module):
    """Concatenation [v_f ; v_c] with no weights.

    Args:
        face_dim: Width of the face vector.
        context_dim: Width of the context vector.
    """

    def __init__(self, face_dim: int, context_dim: int) -> None:
        super().__init__()
        self.out_dim = face_dim + context_dim

    def forward(
        self, face_vector: torch.Tensor, context_vector: torch.Tensor
    ) -> tuple[torch.Tensor, None]:
        return torch.cat([face_vector, context_vector], dim=1), None
