"""Model families; importing this package registers every zoo entrypoint with timm."""

from glamor_zoo.models import deep_emotion, face_resnet, glamor
from glamor_zoo.models._factory import (
    WeightsNotPublishedError,
    create_model,
    is_published,
    is_zoo_model,
    list_models,
    register_model,
)
from glamor_zoo.models.glamor import GlamorFeatures, GlamorNet

__all__ = [
    "GlamorFeatures",
    "GlamorNet",
    "WeightsNotPublishedError",
    "create_model",
    "deep_emotion",
    "face_resnet",
    "glamor",
    "is_published",
    "is_zoo_model",
    "list_models",
    "register_model",
]
