"""Evaluation: predictions over a dataset, metrics, confusion matrix, and prediction files.

An evaluation folder holds ``metrics.json`` (top-1, per-class accuracy, confusion matrix),
``confusion_matrix.json``, ``confusion_matrix.png``, ``predictions.csv`` (one row per scored
image: path, true class, predicted class, confidence, one probability column per class) and
``skipped.csv`` (path, class, reason of every labelled image that was not scored).
``glamor-zoo compare`` (:mod:`glamor_zoo.train.compare`) reads two ``predictions.csv`` files.

No image is scored on a face that was not found: an image without a face box (the detector
found none) never goes through the model and counts as wrong (``no_face``); so does an image
of a class the model does not know (``unknown_class``, from the dataset's ``left_out``), and
so does an image that could not be read (``unreadable``, from the dataset's ``unreadable``).
``top1`` is over every labelled image, ``top1_detected`` over the scored ones, and
``coverage`` is the share scored.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from glamor_zoo.csv_cells import neutralize_row
from glamor_zoo.models.face_resnet import flip_averaged_logits
from glamor_zoo.serialization import atomic_write_text
from glamor_zoo.spec import get_model_spec
from glamor_zoo.train.calibration import expected_calibration_error
from glamor_zoo.train.metrics import classification_metrics

__all__ = [
    "EVALUATION_FILES",
    "Predictions",
    "collate_samples",
    "evaluate_model",
    "evaluation_metrics",
    "forward_batch",
    "predict",
    "write_evaluation",
]

#: The files :func:`write_evaluation` writes into its folder.
EVALUATION_FILES = (
    "metrics.json",
    "skipped.csv",
    "confusion_matrix.json",
    "predictions.csv",
    "confusion_matrix.png",
)
NO_FACE = "no_face"
UNKNOWN_CLASS = "unknown_class"
UNREADABLE = "unreadable"
_WHY = {
    NO_FACE: "the detector found no face: never scored on a blank face, counted as wrong",
    UNKNOWN_CLASS: "the model has no such class: counted as wrong",
    UNREADABLE: "the file could not be read as an image: counted as wrong",
}


@dataclass
class Predictions:
    """A model's outputs on a dataset, in dataset order.

    Attributes:
        paths: Image paths (``""`` when the dataset gives none).
        targets: True class indices.
        probs: (N, num_classes) softmax probabilities (NaN rows for images not scored).
        class_names: Class names in output order.
        loss: Mean cross-entropy over the scored images (``nan`` when not computed).
        scored: Per image, whether it went through the model (``False``: no face was found);
            ``None``: all did.
        left_out: Path → class of the images whose class the model does not know.
        unreadable: Path → true class index of the labelled images that could not be read.
    """

    paths: list[str]
    targets: np.ndarray
    probs: np.ndarray
    class_names: list[str]
    loss: float = float("nan")
    scored: np.ndarray | None = None
    left_out: dict[str, str] = field(default_factory=dict)
    unreadable: dict[str, int] = field(default_factory=dict)

    @property
    def scored_mask(self) -> np.ndarray:
        """Per image, whether it was scored."""
        if self.scored is None:
            return np.ones(len(self.targets), dtype=bool)
        return self.scored

    @property
    def predictions(self) -> np.ndarray:
        """Predicted class indices; -1 for an image that was not scored (always wrong)."""
        out = np.nan_to_num(self.probs, nan=-1.0).argmax(axis=1)
        out[~self.scored_mask] = -1
        return out


def forward_batch(model: nn.Module, batch: dict[str, Any], test_flip: bool = False) -> torch.Tensor:
    """Logits for a dataset batch: ``model(face, context)`` when the model's spec reads a
    context, else ``model(face)`` (face-only models: the face ResNets, Deep-Emotion).

    Args:
        model: The model (possibly wrapped by accelerate / DDP).
        batch: ``{"face", "context"?}`` tensors.
        test_flip: Average the logits of the faces and of their mirror images (face-only
            models; the spec's ``test_flip`` says whether the model was meant to be run so).
    """
    core = getattr(model, "module", model)
    face = batch.get("face")
    if not get_model_spec(core).uses_context:
        if face is None:
            raise ValueError("this model needs face images but the batch has no 'face'")
        return flip_averaged_logits(model, face) if test_flip else model(face)
    if test_flip:
        raise ValueError("test_flip averages face-only models' logits; this model reads a context")
    return model(face, batch.get("context"))


def _class_names(dataset: Dataset, model: nn.Module | None) -> list[str]:
    names = getattr(dataset, "classes", None)
    if names:
        return [str(n) for n in names]
    if model is None:
        raise ValueError("the dataset has no .classes and no model was given to name them")
    return list(get_model_spec(model).label_names)


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
    test_flip: bool | None = None,
) -> Predictions:
    """Run ``model`` over ``dataset`` (samples ``{"face", "context"?, "label", "path"}``).

    Images without a face (``dataset.missing_faces()``) are not run: their rows are NaN and
    ``scored`` is ``False`` for them; ``dataset.left_out`` and ``dataset.unreadable`` are passed
    on as ``left_out`` and ``unreadable``.

    Args:
        model: A zoo model; with ``accelerator``, the prepared (possibly wrapped) model.
        dataset: The evaluation dataset.
        batch_size: Images per forward pass (per process).
        num_workers: DataLoader workers.
        accelerator: An ``accelerate.Accelerator``: shards the data across processes, gathers
            the results (every process receives all of them) and applies mixed precision.
        progress: Show a progress bar (main process only).
        description: Progress-bar label.
        test_flip: Average the logits of each face and of its mirror image (default: the
            model's spec's ``test_flip``).
    """
    from tqdm.auto import tqdm

    if test_flip is None:
        test_flip = get_model_spec(getattr(model, "module", model)).test_flip

    missing = set(getattr(dataset, "missing_faces", list)())
    scored_indices = [i for i in range(len(dataset)) if i not in missing]  # type: ignore[arg-type]
    loader = DataLoader(
        Subset(dataset, scored_indices) if missing else dataset,
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
                    logits = forward_batch(model, batch, test_flip)
            else:
                logits = forward_batch(model, batch, test_flip)
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
    left_out = dict(getattr(dataset, "left_out", {}))
    unreadable = {path: int(label) for path, label in getattr(dataset, "unreadable", {}).items()}
    if not probs and not missing:
        raise ValueError("the evaluation dataset is empty")
    names = _class_names(dataset, core)
    if not missing:
        return Predictions(
            paths=[str(p) for p in paths],
            targets=torch.cat(targets).numpy(),
            probs=torch.cat(probs).numpy(),
            class_names=names,
            loss=float(torch.cat(losses).mean()),
            left_out=left_out,
            unreadable=unreadable,
        )
    samples = dataset.samples  # type: ignore[attr-defined]
    scored = np.zeros(len(samples), dtype=bool)
    scored[scored_indices] = True
    width = probs[0].shape[1] if probs else len(names)
    all_probs = np.full((len(samples), width), np.nan, dtype=np.float32)
    if probs:
        all_probs[scored_indices] = torch.cat(probs).numpy()
    return Predictions(
        paths=[s.path for s in samples],
        targets=np.asarray([s.label for s in samples], dtype=np.int64),
        probs=all_probs,
        class_names=names,
        loss=float(torch.cat(losses).mean()) if losses else float("nan"),
        scored=scored,
        left_out=left_out,
        unreadable=unreadable,
    )


def _predictions_csv(pred: Predictions) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["path", "target", "prediction", "confidence", *[f"prob_{c}" for c in pred.class_names]]
    )
    for path, target, row, scored in zip(
        pred.paths, pred.targets, pred.probs, pred.scored_mask, strict=True
    ):
        if not scored:
            continue
        best = int(row.argmax())
        writer.writerow(
            neutralize_row(
                [
                    path,
                    pred.class_names[int(target)],
                    pred.class_names[best],
                    f"{row[best]:.6f}",
                    *[f"{p:.6f}" for p in row],
                ]
            )
        )
    return buffer.getvalue()


def skipped_images(pred: Predictions) -> list[tuple[str, str, str]]:
    """(path, class, reason) of every labelled image that was not scored, in order."""
    rows = [
        (path, pred.class_names[int(target)], NO_FACE)
        for path, target, scored in zip(pred.paths, pred.targets, pred.scored_mask, strict=True)
        if not scored
    ]
    rows += [(path, pred.class_names[t], UNREADABLE) for path, t in pred.unreadable.items()]
    return rows + [(path, name, UNKNOWN_CLASS) for path, name in pred.left_out.items()]


def evaluation_metrics(pred: Predictions, headline: str = "top1") -> dict[str, Any]:
    """Metrics of ``pred``: :func:`classification_metrics` of the scored images, then ``top1``
    over every labelled image (images not scored or not read count as wrong; per-class
    accuracies alike), ``top1_detected`` over the scored ones, ``coverage``, and the counts of
    ``skipped`` images by reason.

    Args:
        pred: The predictions.
        headline: ``"top1"`` or ``"top1_detected"``: the figure to lead with (``headline``).
    """
    if headline not in ("top1", "top1_detected"):
        raise ValueError(f"headline must be 'top1' or 'top1_detected', got {headline!r}")
    scored = pred.scored_mask
    metrics = classification_metrics(
        pred.targets[scored], pred.predictions[scored], pred.class_names
    )
    width = len(pred.class_names)
    missed = np.bincount(pred.targets[~scored], minlength=width)
    unread = np.bincount(
        np.asarray(list(pred.unreadable.values()), dtype=np.int64), minlength=width
    )
    correct = int(np.trace(np.asarray(metrics["confusion_matrix"])))
    num_scored = int(scored.sum())
    total = len(pred.targets) + len(pred.left_out) + len(pred.unreadable)
    per_class: dict[str, float | None] = {}
    for i, name in enumerate(pred.class_names):
        support = metrics["support"][name] + int(missed[i]) + int(unread[i])
        hits = metrics["confusion_matrix"][i][i]
        per_class[name] = 100.0 * hits / support if support else None
        metrics["support"][name] = support
    present = [v for v in per_class.values() if v is not None]
    unknown: dict[str, int] = {}
    for name in pred.left_out.values():
        unknown[name] = unknown.get(name, 0) + 1
    metrics.update(
        {
            "headline": headline,
            "top1": 100.0 * correct / total if total else 0.0,
            "top1_detected": metrics["top1"],
            "coverage": num_scored / total if total else 0.0,
            "per_class_accuracy": per_class,
            "mean_class_accuracy": float(np.mean(present)) if present else 0.0,
            "num_samples": total,
            "num_scored": num_scored,
            # Over the scored images (probabilities as the model gives them).
            "ece": expected_calibration_error(pred.probs[scored], pred.targets[scored]),
            "skipped": {
                NO_FACE: {
                    "count": int((~scored).sum()),
                    "per_class": {
                        n: int(missed[i]) for i, n in enumerate(pred.class_names) if missed[i]
                    },
                    "why": _WHY[NO_FACE],
                },
                UNREADABLE: {
                    "count": len(pred.unreadable),
                    "per_class": {
                        n: int(unread[i]) for i, n in enumerate(pred.class_names) if unread[i]
                    },
                    "why": _WHY[UNREADABLE],
                },
                UNKNOWN_CLASS: {
                    "count": len(pred.left_out),
                    "per_class": unknown,
                    "why": _WHY[UNKNOWN_CLASS],
                },
                "file": "skipped.csv",
            },
            "loss": pred.loss,
        }
    )
    return metrics


def write_evaluation(
    pred: Predictions,
    output_dir: str | Path,
    title: str | None = None,
    plot: bool = True,
    headline: str = "top1",
) -> dict[str, Any]:
    """Compute :func:`evaluation_metrics` and write ``metrics.json``,
    ``confusion_matrix.{json,png}`` (scored images), ``predictions.csv`` and ``skipped.csv``
    into ``output_dir`` (atomically). Returns the metrics."""
    output_dir = Path(output_dir)
    metrics = evaluation_metrics(pred, headline)
    atomic_write_text(output_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["path", "target", "reason"])
    writer.writerows(neutralize_row(row) for row in skipped_images(pred))
    atomic_write_text(output_dir / "skipped.csv", buffer.getvalue())
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
    headline: str = "top1",
    test_flip: bool | None = None,
) -> dict[str, Any]:
    """Predict over ``dataset`` and return (and with ``output_dir``, write) the metrics
    (:func:`evaluation_metrics`).

    Args:
        model: The model to evaluate.
        dataset: Samples ``{"face", "context"?, "label", "path"}`` with ``.classes``.
        output_dir: Folder for the evaluation files (see the module docstring); ``None``: none.
        batch_size: Images per forward pass.
        num_workers: DataLoader workers.
        accelerator: Optional ``accelerate.Accelerator`` (distributed / mixed precision).
        progress: Show a progress bar.
        title: Title of the confusion-matrix figure.
        headline: ``"top1"`` (every labelled image) or ``"top1_detected"`` (scored images).
        test_flip: Test-time flip averaging (default: the model's spec's ``test_flip``).
    """
    pred = predict(
        model,
        dataset,
        batch_size=batch_size,
        num_workers=num_workers,
        accelerator=accelerator,
        progress=progress,
        test_flip=test_flip,
    )
    main = accelerator is None or accelerator.is_main_process
    if output_dir is not None and main:
        return write_evaluation(pred, output_dir, title=title, headline=headline)
    return evaluation_metrics(pred, headline)
