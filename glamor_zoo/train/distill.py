"""Knowledge distillation: a trained teacher's soft predictions as a second training target.

``optim.distill_from`` names a pretrained model (a zoo tag such as ``face_resnet18.fer2013``,
``hf-hub:…`` or ``local-dir:…``) with the same classes as the dataset. Every training batch goes
through it too (the same augmented view the student sees: "consistent" distillation, Beyer et al.
2022), and the loss becomes ``(1 - α)·CE(student, label) + α·T²·KL(teacher_T ‖ student_T)``
(Hinton et al. 2015), with ``α = optim.distill_weight`` and ``T = optim.distill_temperature``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from glamor_zoo.train.config import ConfigError
from glamor_zoo.train.evaluate import forward_batch

__all__ = ["Distillation", "distillation_loss"]


def distillation_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float
) -> torch.Tensor:
    """``T²·KL(softmax(teacher/T) ‖ softmax(student/T))``, averaged over the batch (the ``T²``
    keeps the gradient's scale independent of ``T``)."""
    t = float(temperature)
    return (
        F.kl_div(
            F.log_softmax(student_logits.float() / t, dim=1),
            F.log_softmax(teacher_logits.float() / t, dim=1),
            reduction="batchmean",
            log_target=True,
        )
        * t
        * t
    )


class Distillation:
    """The teacher of ``optim.distill_from`` and the loss term it gives.

    The teacher runs in evaluation mode, without gradients, in the student's precision (inside
    the trainer's autocast) and memory layout. Its test-time flip averaging (``test_flip``) is
    turned off: the student is matched to the teacher on the very view it sees, which already
    includes random mirroring, at half the teacher's cost.

    Args:
        source: The teacher: a zoo tag, ``hf-hub:…`` or ``local-dir:…``.
        classes: The dataset's class names, in the order of its labels.
        device: Where the student trains.
        channels_last: Whether the batches are channels-last (``run.channels_last``).
        sources: Indices of the mixed training set's parts whose images are distilled
            (``optim.distill_sources``); ``None``: every image.

    Raises:
        ConfigError: the teacher's classes differ from the dataset's.
    """

    def __init__(
        self,
        source: str,
        classes: Sequence[str],
        device: torch.device | str,
        channels_last: bool = False,
        sources: Sequence[int] | None = None,
    ) -> None:
        from glamor_zoo.models import create_model
        from glamor_zoo.spec import get_model_spec

        teacher = create_model(source, pretrained=True)
        names = [str(n) for n in get_model_spec(teacher).label_names]
        if names != [str(c) for c in classes]:
            raise ConfigError(
                f"optim.distill_from: the teacher {source!r} predicts {names}, but the dataset's "
                f"classes are {list(classes)}: a teacher must have the same classes, in order"
            )
        if hasattr(teacher, "test_flip"):
            teacher.test_flip = False
        teacher = teacher.eval().requires_grad_(False).to(device)
        if channels_last:
            teacher = teacher.to(memory_format=torch.channels_last)
        self.source = source
        self.teacher: nn.Module = teacher
        self.sources = None if sources is None else [int(i) for i in sources]

    @torch.no_grad()
    def teacher_logits(self, batch: dict[str, Any]) -> torch.Tensor:
        """The teacher's logits for a training batch (float32)."""
        return forward_batch(self.teacher, batch).float()

    def selected(self, batch: dict[str, Any]) -> torch.Tensor | None:
        """Which images of ``batch`` are distilled (a boolean mask), ``None`` for all."""
        if self.sources is None:
            return None
        return torch.isin(
            batch["source"], torch.tensor(self.sources, device=batch["source"].device)
        )

    def loss(
        self, batch: dict[str, Any], student_logits: torch.Tensor, temperature: float
    ) -> torch.Tensor | None:
        """The distillation term for ``batch`` (only its :meth:`selected` images; ``None``
        when it has none)."""
        mask = self.selected(batch)
        if mask is None:
            return distillation_loss(student_logits, self.teacher_logits(batch), temperature)
        if not bool(mask.any()):
            return None
        chosen = {
            k: v[mask] if isinstance(v, torch.Tensor) and len(v) == len(mask) else v
            for k, v in batch.items()
        }
        return distillation_loss(student_logits[mask], self.teacher_logits(chosen), temperature)
