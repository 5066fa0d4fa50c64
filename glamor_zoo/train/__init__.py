"""Training and evaluation: recipes, the accelerate loop, checkpoints, metrics and statistics.

Submodules are imported on first use so ``import glamor_zoo.train`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY: dict[str, str] = {
    "ConfigError": "glamor_zoo.train.config",
    "TrainConfig": "glamor_zoo.train.config",
    "load_config": "glamor_zoo.train.config",
    "train": "glamor_zoo.train.trainer",
    "TrainResult": "glamor_zoo.train.trainer",
    "train_folds": "glamor_zoo.train.folds",
    "FoldsResult": "glamor_zoo.train.folds",
    "L2Penalty": "glamor_zoo.train.regularization",
    "evaluate_model": "glamor_zoo.train.evaluate",
    "predict": "glamor_zoo.train.evaluate",
    "load_predictions": "glamor_zoo.train.compare",
    "compare_predictions": "glamor_zoo.train.compare",
    "classification_metrics": "glamor_zoo.train.metrics",
    "stuart_maxwell": "glamor_zoo.train.stats",
    "stuart_maxwell_table": "glamor_zoo.train.stats",
    "lr_at_epoch": "glamor_zoo.train.schedule",
    "lr_at_step": "glamor_zoo.train.schedule",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'glamor_zoo.train' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = sorted(_LAZY)
