"""Figures of a run: loss/accuracy curves and confusion matrices (paper Figs. 7–8 style).

matplotlib is imported lazily with the non-interactive Agg backend; it is the ``plot`` extra.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from glamor_zoo.serialization import atomic_write_bytes

__all__ = ["plot_confusion_matrix", "plot_curves"]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            "plots need matplotlib: pip install 'glamor-zoo[plot]' (or pip install matplotlib)"
        ) from exc
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    """Write ``fig`` as a PNG to ``path`` (atomically), then close it (also on failure)."""
    import io

    try:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
        atomic_write_bytes(path, buffer.getvalue())
    finally:
        _pyplot().close(fig)
    return Path(path)


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]] | np.ndarray,
    class_names: Sequence[str],
    path: str | Path,
    title: str | None = None,
) -> Path:
    """Row-normalised confusion matrix with the rate in each cell, as in the paper's Figs. 7–8.

    Rows are true labels, columns predicted labels; a row with no samples stays empty.
    """
    plt = _pyplot()
    counts = np.asarray(matrix, dtype=np.float64)
    support = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, support, out=np.zeros_like(counts), where=support > 0)
    size = max(4.0, 0.75 * len(class_names) + 2.0)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, labels=list(class_names), rotation=45, ha="right")
    ax.set_yticks(ticks, labels=list(class_names))
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    for i in range(rates.shape[0]):
        for j in range(rates.shape[1]):
            ax.text(
                j,
                i,
                f"{rates[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if rates[i, j] > 0.5 else "black",
            )
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_curves(
    history: Sequence[Mapping[str, Any]], path: str | Path, title: str | None = None
) -> Path:
    """Loss and accuracy per epoch (train and validation) from a run's epoch history.

    Each history entry has ``epoch`` and any of ``train_loss``, ``val_loss``, ``train_acc``,
    ``val_acc``; stages are drawn one after another with their name in the legend.
    """
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    stages = list(dict.fromkeys(str(h.get("stage", "")) for h in history))
    offset = 0
    for stage in stages:
        rows = [h for h in history if str(h.get("stage", "")) == stage]
        x = [offset + int(h["epoch"]) + 1 for h in rows]
        for key, ax in (("loss", ax_loss), ("acc", ax_acc)):
            for split, style in (("train", "-"), ("val", "--")):
                y = [h.get(f"{split}_{key}") for h in rows]
                if any(v is not None for v in y):
                    label = f"{stage} {split}".strip()
                    ax.plot(
                        x, [np.nan if v is None else v for v in y], style, marker=".", label=label
                    )
        offset = max(x, default=offset)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("top-1 accuracy (%)")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _save(fig, path)
