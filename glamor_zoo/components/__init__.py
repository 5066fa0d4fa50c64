"""Pluggable model parts, each kind in a registry: encoders, attention, fusion."""

from glamor_zoo.components.attention import (
    ATTENTION,
    ContextAttention,
    GlobalLocalAttention,
    NoAttention,
)
from glamor_zoo.components.encoders import ENCODERS, GlamorEncoder, TimmEncoder, create_encoder
from glamor_zoo.components.fusion import FUSION, AdaptiveFusion, AddFusion, ConcatFusion, MaxFusion

__all__ = [
    "ATTENTION",
    "ENCODERS",
    "FUSION",
    "AdaptiveFusion",
    "AddFusion",
    "ConcatFusion",
    "ContextAttention",
    "GlamorEncoder",
    "GlobalLocalAttention",
    "MaxFusion",
    "NoAttention",
    "TimmEncoder",
    "create_encoder",
]
