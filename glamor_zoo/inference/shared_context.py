"""Multi-person scenes with the context encoded once ("shared context" mode).

The paper (§3.2) notes that every face of a scene sees the same surroundings, so the context
can be encoded once and reused. In the exact mode each face gets its own context input (only
its own box zeroed) and its own pass through the context encoder. In the shared mode every
detected face is zeroed in one context image per photo, the context encoder runs once per
photo, and only the cheap per-face parts (face encoder, attention, fusion, head) run per face.
Each face still gets its own attention map, because GLA scores the cells with that face's v_f.

# NOTE: the shared mode is an approximation the paper suggests, not what the model was trained
# on: the context a face sees also has the other faces zeroed. ``docs/predict.md`` reports how
# far its predictions move on the group photos.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from glamor_zoo.data.transforms import mask_context
from glamor_zoo.models.glamor import GlamorFeatures

__all__ = ["mask_faces", "shared_context_features"]


def mask_faces(image: torch.Tensor, boxes: Sequence[Sequence[float]]) -> torch.Tensor:
    """A copy of ``image`` (C, H, W) with every box (x1, y1, x2, y2) set to zero."""
    out = image
    for box in boxes:
        out = mask_context(out, box)
    return out.clone() if out is image else out


def shared_context_features(
    model: nn.Module, faces: torch.Tensor, contexts: torch.Tensor, owners: torch.Tensor
) -> GlamorFeatures:
    """:meth:`GlamorNet.forward_features` for N faces that share M < N context images.

    The context encoder runs on the M contexts only; its maps are then indexed by ``owners``
    so that attention, fusion and (later) the head run once per face, exactly as in
    ``forward_features``. With one face per context this equals ``forward_features``.

    Args:
        model: A GlamorNet in eval mode, or its :func:`glamor_zoo.fast_inference` form.
        faces: (N, C, Hf, Wf) face inputs.
        contexts: (M, C, Hc, Wc) context inputs, one per photo, every face of it masked.
        owners: (N,) long tensor, the index in ``contexts`` of each face's photo.

    Returns:
        The features of the N faces (``context_map`` is the M shared maps, not per face).
    """
    return model.forward_features(faces, contexts, context_index=owners)
