"""Classification metrics: top-1, per-class accuracy, confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["classification_metrics", "confusion_matrix"]


def confusion_matrix(
    targets: Sequence[int], predictions: Sequence[int], num_classes: int
) -> np.ndarray:
    """Counts (num_classes, num_classes): rows are true classes, columns predicted classes."""
    targets = np.asarray(targets, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    if targets.shape != predictions.shape:
        raise ValueError(f"{targets.size} targets but {predictions.size} predictions")
    for name, values in (("target", targets), ("prediction", predictions)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"a {name} is outside 0..{num_classes - 1}")
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (targets, predictions), 1)
    return matrix


def classification_metrics(
    targets: Sequence[int], predictions: Sequence[int], class_names: Sequence[str]
) -> dict[str, Any]:
    """Top-1 accuracy (%), per-class accuracy (% of each true class; ``None`` if absent), mean
    per-class accuracy, and the confusion matrix as nested lists."""
    matrix = confusion_matrix(targets, predictions, len(class_names))
    support = matrix.sum(axis=1)
    total = int(support.sum())
    per_class = {
        name: (100.0 * float(matrix[i, i]) / float(support[i]) if support[i] else None)
        for i, name in enumerate(class_names)
    }
    present = [v for v in per_class.values() if v is not None]
    return {
        "top1": 100.0 * float(np.trace(matrix)) / total if total else 0.0,
        "mean_class_accuracy": float(np.mean(present)) if present else 0.0,
        "per_class_accuracy": per_class,
        "support": {name: int(support[i]) for i, name in enumerate(class_names)},
        "num_samples": total,
        "class_names": list(class_names),
        "confusion_matrix": matrix.tolist(),
    }
