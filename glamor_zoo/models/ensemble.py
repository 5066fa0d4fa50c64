"""Averaging trained face models into one model (a ``glamor`` model with the ``face_ensemble`` encoder)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from glamor_zoo.models._factory import create_model
from glamor_zoo.models.glamor import GlamorNet
from glamor_zoo.spec import get_model_spec

__all__ = ["combine_face_models"]


def combine_face_models(
    members: Sequence[GlamorNet], weights: Sequence[float] | None = None
) -> GlamorNet:
    """One face-only ``glamor`` model whose ``face_ensemble`` encoder runs ``members``'
    encoders and whose logits are the weighted mean of their logits.

    Each member is a face-only ``face_resnet18``-encoder model with a linear classifier
    (``hidden_dim=0``), e.g. ``face_resnet18.fer2013``. The ensemble runs the members' encoders
    side by side (:class:`~glamor_zoo.components.encoders.FaceEnsembleEncoder`), and its one
    linear classifier holds the members' classifiers scaled by ``weights``, so its logits are
    ``sum_i weights[i] * logits_i`` (up to float rounding) in every inference path.

    Args:
        members: The trained models, in the order of the ensemble's encoders. They must agree
            on classes, label names, input channels, face size, test-time flipping and
            preprocessing (their training augmentation may differ); the ensemble keeps the
            first member's spec.
        weights: One non-negative weight per member, summing to 1 (default: equal weights).

    Raises:
        ValueError: A member is not such a model, the members disagree, or the weights are bad.
    """
    if not members:
        raise ValueError("combine_face_models: no members given")
    weights = (
        [1.0 / len(members)] * len(members) if weights is None else [float(w) for w in weights]
    )
    if len(weights) != len(members):
        raise ValueError(f"{len(weights)} weights for {len(members)} members")
    if any(w < 0 for w in weights) or abs(sum(weights) - 1.0) > 1e-6:
        raise ValueError(f"weights must be non-negative and sum to 1, got {weights}")
    first = members[0]
    spec = get_model_spec(first)
    for index, member in enumerate(members):
        args = getattr(member, "model_args", {})
        problem = None
        if not isinstance(member, GlamorNet) or args.get("backbone") != "face_resnet18":
            problem = "is not a face_resnet18-encoder model"
        elif member.inputs != "face" or not isinstance(member.head.fc1, nn.Identity):
            problem = "must be face-only with a linear classifier (inputs='face', hidden_dim=0)"
        elif member.face_stn is not None:
            problem = "has a face transform (face_stn), which the ensemble does not carry"
        elif (member.num_classes, member.in_chans, member.face_size, member.test_flip) != (
            first.num_classes,
            first.in_chans,
            first.face_size,
            first.test_flip,
        ):
            problem = "differs from member 0 in classes, channels, face size or test_flip"
        elif _inference_preprocessing(member) != _inference_preprocessing(first):
            problem = "preprocesses its input differently from member 0"
        if problem:
            raise ValueError(f"combine_face_models: member {index} {problem}")

    ensemble = create_model(
        "glamor",
        backbone="face_ensemble",
        inputs="face",
        hidden_dim=0,
        num_classes=first.num_classes,
        in_chans=first.in_chans,
        face_size=first.face_size,
        test_flip=first.test_flip,
        drop_rate=first.drop_rate,
        encoder_args={"members": [dict(m.model_args.get("encoder_args") or {}) for m in members]},
        spec=spec,
    )
    with torch.no_grad():
        for index, member in enumerate(members):
            ensemble.face_encoder.members[index].load_state_dict(member.face_encoder.state_dict())
        ensemble.head.fc.weight.copy_(
            torch.cat([w * m.head.fc.weight for w, m in zip(weights, members, strict=True)], dim=1)
        )
        ensemble.head.fc.bias.copy_(
            sum(w * m.head.fc.bias for w, m in zip(weights, members, strict=True))
        )
    return ensemble


def _inference_preprocessing(model: nn.Module) -> dict:
    """The model's preprocessing without its training-time augmentation (``face_augment``):
    members trained with different augmentation still read the same inputs."""
    cfg = get_model_spec(model).preprocess_cfg()
    cfg.pop("face_augment", None)
    return cfg
