"""Averaging trained face models into one model: their predictions (a ``glamor`` model with the
``face_ensemble`` encoder) or their weights (a "model soup" of one architecture).

Release tooling, not the library: ``tools/fer2013_ensemble.py`` measures ensembles and builds the
soups some released weights came from. Importing this module registers the ``face_ensemble``
encoder, which a saved ensemble's folder needs to load (``import face_ensemble`` with ``tools/``
on ``sys.path``, then ``glamor_zoo.create_model("local-dir:…")``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from glamor_zoo.components.encoders import ENCODERS, FaceResNetEncoder
from glamor_zoo.models._factory import create_model
from glamor_zoo.models.face_resnet import FaceResNet
from glamor_zoo.models.glamor import GlamorNet
from glamor_zoo.spec import get_model_spec

__all__ = [
    "FACE_ENSEMBLE_MEMBERS",
    "FaceEnsembleEncoder",
    "average_model_weights",
    "combine_face_models",
]

# The default members of a face ensemble: the full-resolution face_resnet18 and a cheaper,
# narrower one (stride-2 stem, last stage 192 wide): the pair measured in docs/weights.md.
FACE_ENSEMBLE_MEMBERS: tuple[dict[str, Any], ...] = (
    {"stem_stride": 1},
    {"stem_stride": 2, "widths": (32, 64, 128, 192)},
)


@ENCODERS.register("face_ensemble")
class FaceEnsembleEncoder(nn.Module):
    """Several :class:`FaceResNetEncoder` members side by side, for an ensemble of face models.

    The members' maps are concatenated along the channels at the finest member's resolution
    (a coarser map is repeated, nearest, onto it: a stride-2 member's 3×3 map becomes 6×6), so
    the mean-pooled face vector is the members' own pooled vectors, one after the other. A
    linear classifier on that vector is then a weighted sum of per-member linear classifiers:
    the logits of an ensemble (:func:`combine_face_models`).

    Args:
        in_chans: Input channels of every member.
        members: Each member's :class:`FaceResNetEncoder` arguments (``widths``, ``layers``,
            ``stem_stride``, ``drop_path_rate``); default :data:`FACE_ENSEMBLE_MEMBERS`.
    """

    mean: tuple[float, ...] = FaceResNetEncoder.mean
    std: tuple[float, ...] = FaceResNetEncoder.std

    def __init__(
        self, in_chans: int = 1, members: Sequence[dict[str, Any]] = FACE_ENSEMBLE_MEMBERS
    ) -> None:
        super().__init__()
        if not members:
            raise ValueError("face_ensemble: members must name at least one encoder's arguments")
        self.members = nn.ModuleList(
            FaceResNetEncoder(in_chans=in_chans, **dict(member)) for member in members
        )
        self.out_channels = sum(int(member.out_channels) for member in self.members)
        self.reduction = min(int(member.reduction) for member in self.members)

    @staticmethod
    def stems(members: Sequence[dict[str, Any]] = ()) -> tuple[str, ...]:
        """The members' first convolutions (timm's ``first_conv``, for channel adaptation)."""
        return tuple(f"members.{i}.{FaceResNetEncoder.first_conv}" for i in range(len(members)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = [member(x) for member in self.members]
        finest = maps[0]
        for feature_map in maps[1:]:
            if feature_map.shape[-1] > finest.shape[-1]:
                finest = feature_map
        size = (finest.shape[-2], finest.shape[-1])
        return torch.cat(
            [
                m if m.shape[-2:] == finest.shape[-2:] else nn.functional.interpolate(m, size=size)
                for m in maps
            ],
            dim=1,
        )

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        for member in self.members:
            member.set_grad_checkpointing(enable)


def _member_weights(
    who: str, members: Sequence[nn.Module], weights: Sequence[float] | None
) -> list[float]:
    """``weights`` checked against ``members`` (default: equal weights).

    Raises:
        ValueError: no members, or weights that are not one non-negative number per member
            summing to 1.
    """
    if not members:
        raise ValueError(f"{who}: no members given")
    chosen = [1.0 / len(members)] * len(members) if weights is None else [float(w) for w in weights]
    if len(chosen) != len(members):
        raise ValueError(f"{who}: {len(chosen)} weights for {len(members)} members")
    if any(w < 0 for w in chosen) or abs(sum(chosen) - 1.0) > 1e-6:
        raise ValueError(f"{who}: weights must be non-negative and sum to 1, got {chosen}")
    return chosen


def combine_face_models(
    members: Sequence[FaceResNet], weights: Sequence[float] | None = None
) -> GlamorNet:
    """One face-only ``glamor`` model whose ``face_ensemble`` encoder runs ``members``' trunks
    and whose logits are the weighted mean of their logits.

    Each member is a face ResNet (``face_resnet18``, ``face_resnet26``, e.g.
    ``face_resnet26.fer2013``) with its linear classifier on average-pooled features. The
    ensemble runs the members' trunks side by side
    (:class:`FaceEnsembleEncoder`), and its one linear
    classifier holds the members' classifiers scaled by ``weights``, so its logits are
    ``sum_i weights[i] * logits_i`` (up to float rounding) in every inference path.

    Args:
        members: The trained models, in the order of the ensemble's encoders. They must agree
            on classes, label names, input channels, face size and preprocessing, test-time
            flipping included (their training augmentation may differ); the ensemble keeps the
            first member's spec.
        weights: One non-negative weight per member, summing to 1 (default: equal weights).

    Raises:
        ValueError: A member is not such a model, the members disagree, or the weights are bad.
    """
    weights = _member_weights("combine_face_models", members, weights)
    first = members[0]
    spec = get_model_spec(first)
    for index, member in enumerate(members):
        problem = None
        if not isinstance(member, FaceResNet):
            problem = "is not a face ResNet (face_resnet18, face_resnet26)"
        elif not isinstance(member.fc, nn.Linear) or member.global_pool.pool_type != "avg":
            problem = "must have a linear classifier on average-pooled features"
        elif (member.num_classes, member.in_chans, member.img_size) != (
            first.num_classes,
            first.in_chans,
            first.img_size,
        ):
            problem = "differs from member 0 in classes, channels or face size"
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
        face_size=first.img_size,
        drop_rate=first.drop_rate,
        encoder_args={"members": [_member_encoder_args(m) for m in members]},
        spec=spec,
    )
    with torch.no_grad():
        for index, member in enumerate(members):
            trunk = {k: v for k, v in member.state_dict().items() if not k.startswith("fc.")}
            ensemble.face_encoder.members[index].model.load_state_dict(trunk)
        ensemble.head.fc.weight.copy_(
            torch.cat([w * m.fc.weight for w, m in zip(weights, members, strict=True)], dim=1)
        )
        ensemble.head.fc.bias.copy_(
            sum(w * m.fc.bias for w, m in zip(weights, members, strict=True))
        )
    return ensemble


def average_model_weights(
    members: Sequence[nn.Module], weights: Sequence[float] | None = None
) -> nn.Module:
    """One model whose floating-point parameters and buffers (BatchNorm statistics included)
    are the weighted mean of ``members``' ("model soup", Wortsman et al. 2022).

    It only makes sense for models of one architecture fine-tuned from a shared starting point
    (they then tend to lie in one basin); BatchNorm statistics are averaged as they are, which
    is an approximation (re-estimate them on training data if the soup underperforms).
    Integer buffers (``num_batches_tracked``) are the first member's. The result is a copy of
    the first member (its spec, config and class) with the averaged state.

    Raises:
        ValueError: no members, bad weights, or members whose state dicts differ in names or
            shapes.
    """
    weights = _member_weights("average_model_weights", members, weights)
    states = [member.state_dict() for member in members]
    shapes = {k: tuple(v.shape) for k, v in states[0].items()}
    for index, state in enumerate(states[1:], start=1):
        other = {k: tuple(v.shape) for k, v in state.items()}
        if other != shapes:
            differing = sorted(set(shapes.items()) ^ set(other.items()))[:3]
            raise ValueError(
                f"average_model_weights: member {index} is another architecture than member 0 "
                f"(state dicts differ, e.g. {differing})"
            )
    averaged = {
        key: sum(w * state[key].float() for w, state in zip(weights, states, strict=True)).to(
            value.dtype
        )
        if value.is_floating_point()
        else value.clone()
        for key, value in states[0].items()
    }
    soup = copy.deepcopy(members[0])
    soup.load_state_dict(averaged)
    return soup


def _member_encoder_args(member: FaceResNet) -> dict:
    """``member``'s trunk as a :class:`FaceEnsembleEncoder` member: its blocks per stage, the
    stride of its stem and the widths of its stages."""
    stages = [getattr(member, f"layer{i}") for i in range(1, 5)]
    return {
        "layers": tuple(len(stage) for stage in stages),
        "stem_stride": member.stem_stride,
        "widths": tuple(int(stage[-1].conv2.out_channels) for stage in stages),
    }


def _inference_preprocessing(model: nn.Module) -> dict:
    """The model's preprocessing without its training-time augmentation (``face_augment``):
    members trained with different augmentation still read the same inputs."""
    cfg = get_model_spec(model).preprocess_cfg()
    cfg.pop("face_augment", None)
    return cfg
