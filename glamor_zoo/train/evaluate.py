"""Evaluation: predictions over a dataset, metrics, confusion matrix, and prediction files.

An evaluation folder holds ``metrics.json`` (top-1, per-class accuracy, confusion matrix),
``confusion_matrix.json``, ``confusion_matrix.png`` and ``predictions.csv`` (one row per image:
path, true class, predicted class, confidence, one probability column per class).
``glamor-zoo compare`` (:mod:`glamor_zoo.train.compare`) reads two ``predictions.csv`` files.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from glamor_zoo.serialization import atomic_write_text
from glamor_zoo.train.metrics import classification_metrics

__all__ = [
    "Predictions",
    "collate_samples",
    "evaluate_model",
    "forward_batch",
    "predict",
    "write_evaluation",
]


@dataclass
class Predictions:
    """A model's outputs on a dataset, in dataset order.

    Attributes:
        paths: Image paths (``""`` when the dataset gives none).
        targets: True class indices.
        probs: (N, num_classes) softmax probabilities.
        class_names: Class names in output order.
        loss: Mean cross-entropy (``nan`` when not computed).
    """

    paths: list[str]
    targets: np.ndarray
    probs: np.ndarray
    class_names: list[str]
    loss: float = float("nan")

    @property
    def predictions(self) -> np.ndarray:
        """Predicted class indices."""
        return self.probs.argmax(axis=1)


def forward_batch(model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
    """Logits for a dataset batch: ``model(face, context)``, or ``model(face)`` for face-only
    models (GLAMOR ``inputs='face'`` and single-input models such as Deep-Emotion)."""
    core = getattr(model, "module", model)
    face = batch.get("face")
    if getattr(core, "inputs", "face") == "face":
        if face is None:
            raise ValueError("this model needs face images but the batch has no 'face'")
        return model(face)
    return model(face, batch.get("context"))


def _class_names(dataset: Dataset, model: nn.Module | None) -> list[str]:
    names = getattr(dataset, "classes", None)
    if names:
        return [str(n) for n in names]
    cfg = getattr(model, "pretrained_cfg", None) or {}
    if cfg.get("label_names"):
        return list(cfg["label_names"])
    return [str(i) for i in range(int(getattr(model, "num_classes", 0)))]


def collate_samples(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack a list of dataset samples into a batch (tensors stacked, labels a long tensor)."""
    batch: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        if isinstance(values[0], torch.Tensor):
            batch[key] = torch.stack(values)
        elif isinstance(values[0], (int, np.integer)):
            batch[key] = torch.as_tensor(values, dtype=torch.long)
        else:
            batch[key] = [str(v) for v in values]
    return batch


@torch.no_grad()
def predict(
    model: nn.Module,
    dataset: Dataset,
    batch_size: int = 64,
    num_workers: int = 0,
    accelerator: Any = None,
    progress: bool = True,
    description: str = "eval",
) -> Predictions:
    """Run ``model`` over ``dataset`` (samples ``{"face", "context"?, "label", "path"}``).

    Args:
        model: A zoo model; with ``accelerator``, the prepared (possibly wrapped) model.
        dataset: The evaluation dataset.
        batch_size: Images per forward pass (per process).
        num_workers: DataLoader workers.
        accelerator: An ``accelerate.Accelerator``: shards the data across processes, gathers
            the results (every process receives all of them) and applies mixed precision.
        progress: Show a progress bar (main process only).
        description: Progress-bar label.
    """
    from tqdm.auto import tqdm

    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate_samples,
    )
    device = next(model.parameters()).device
    if accelerator is not None:
        loader = accelerator.prepare_data_loader(loader)
        device = accelerator.device
    was_training = model.training
    model.eval()
    probs, targets, paths, losses = [], [], [], []
    main = accelerator is None or accelerator.is_main_process
    try:
        for batch in tqdm(loader, desc=description, disable=not (progress and main), leave=False):
            batch = {
                k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()
            }
            if accelerator is not None:
                with accelerator.autocast():
                    logits = forward_batch(model, batch)
            else:
                logits = forward_batch(model, batch)
            logits = logits.float()
            labels = batch["label"]
            loss = nn.functional.cross_entropy(logits, labels, reduction="none")
            batch_paths = batch.get("path") or [""] * len(labels)
            if accelerator is not None:
                logits, labels, loss = accelerator.gather_for_metrics((logits, labels, loss))
                batch_paths = accelerator.gather_for_metrics(
                    list(batch_paths), use_gather_object=True
                )
            probs.append(logits.softmax(dim=1).cpu())
            targets.append(labels.cpu())
            losses.append(loss.cpu())
            paths.extend(batch_paths)
    finally:
        model.train(was_training)
    core = accelerator.unwrap_model(model) if accelerator is not None else model
    if not probs:
        raise ValueError("the evaluation dataset is empty")
    return Predictions(
        paths=[str(p) for p in paths],
        targets=torch.cat(targets).numpy(),
        probs=torch.cat(probs).numpy(),
        class_names=_class_names(dataset, core),
        loss=float(torch.cat(losses).mean()),
    )


def _predictions_csv(pred: Predictions) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["path", "target", "prediction", "confidence", *[f"prob_{c}" for c in pred.class_names]]
    )
    for path, target, row in zip(pred.paths, pred.targets, pred.probs, strict=True):
        best = int(row.argmax())
        writer.writerow(
            [
                path,
                pred.class_names[int(target)],
                pred.class_names[best],
                f"{row[best]:.6f}",
                *[f"{p:.6f}" for p in row],
            ]
        )
    return buffer.getvalue()


def write_evaluation(
    pred: Predictions, output_dir: str | Path, title: str | None = None, plot: bool = True
) -> dict[str, Any]:
    """Compute metrics and write ``metrics.json``, ``confusion_matrix.{json,png}``,
    ``predictions.csv`` into ``output_dir`` (atomically). Returns the metrics."""
    output_dir = Path(output_dir)
    metrics = classification_metrics(pred.targets, pred.predictions, pred.class_names)
    metrics["loss"] = pred.loss
    atomic_write_text(output_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    confusion = {
        "class_names": pred.class_names,
        "rows": "true",
        "columns": "predicted",
        "matrix": metrics["confusion_matrix"],
    }
    atomic_write_text(output_dir / "confusion_matrix.json", json.dumps(confusion, indent=2) + "\n")
    atomic_write_text(output_dir / "predictions.csv", _predictions_csv(pred))
    if plot:
        from glamor_zoo.train.plots import plot_confusion_matrix

        plot_confusion_matrix(
            metrics["confusion_matrix"],
            pred.class_names,
            output_dir / "confusion_matrix.png",
            title=title,
        )
    return metrics


def evaluate_model(
    model: nn.Module,
    dataset: Dataset,
    output_dir: str | Path | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    accelerator: Any = None,
    progress: bool = True,
    title: str | None = None,
) -> dict[str, Any]:
    """Predict over ``dataset`` and return (and with ``output_dir``, write) the metrics.

    Args:
        model: The model to evaluate.
        dataset: Samples ``{"face", "context"?, "label", "path"}`` with ``.classes``.
        output_dir: Folder for the evaluation files (see the module docstring); ``None``: none.
        batch_size: Images per forward pass.
        num_workers: DataLoader workers.
        accelerator: Optional ``accelerate.Accelerator`` (distributed / mixed precision).
        progress: Show a progress bar.
        title: Title of the confusion-matrix figure.
    """
    pred = predict(
        model,
        dataset,
        batch_size=batch_size,
        num_workers=num_workers,
        accelerator=accelerator,
        progress=progress,
    )
    main = accelerator is None or accelerator.is_main_process
    if output_dir is not None and main:
        return write_evaluation(pred, output_dir, title=title)
    metrics = classification_metrics(pred.targets, pred.predictions, pred.class_names)
    metrics["loss"] = pred.loss
    return metrics
