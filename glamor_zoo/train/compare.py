"""Compare two models' prediction files with the Stuart–Maxwell test (paper Table 5)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from glamor_zoo.csv_cells import restore_cell
from glamor_zoo.train.metrics import confusion_matrix
from glamor_zoo.train.stats import stuart_maxwell_table

__all__ = ["align_predictions", "compare_predictions", "load_predictions"]


def load_predictions(path: str | Path) -> tuple[list[str], list[str], list[str], list[str]]:
    """Read a ``predictions.csv`` (or the evaluation folder holding one).

    Returns:
        (paths, true class names, predicted class names, class names in output order).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file lacks the expected columns.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "predictions.csv"
    if not path.is_file():
        raise FileNotFoundError(
            f"no predictions file at {str(path)!r} (write one with glamor-zoo eval)"
        )
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        missing = {"path", "target", "prediction"} - set(fields)
        if missing:
            raise ValueError(
                f"{str(path)!r} lacks column(s) {sorted(missing)}; is it a glamor-zoo predictions.csv?"
            )
        rows = list(reader)
    class_names = [f.removeprefix("prob_") for f in fields if f.startswith("prob_")]
    return (
        [restore_cell(r["path"]) for r in rows],
        [restore_cell(r["target"]) for r in rows],
        [restore_cell(r["prediction"]) for r in rows],
        class_names,
    )


def align_predictions(
    a: tuple[list[str], list[str], list[str], list[str]],
    b: tuple[list[str], list[str], list[str], list[str]],
) -> tuple[list[int], list[int], list[int], list[str]]:
    """Match two prediction files item by item (by path, else by row order).

    Returns:
        (targets, predictions of A, predictions of B) as indices into the returned class names.

    Raises:
        ValueError: the files cover different images or disagree on the true labels.
    """
    paths_a, targets_a, preds_a, classes_a = a
    paths_b, targets_b, preds_b, classes_b = b
    if all(paths_a) and all(paths_b) and len(set(paths_a)) == len(paths_a):
        index_b = {p: i for i, p in enumerate(paths_b)}
        missing = [p for p in paths_a if p not in index_b]
        if missing or len(paths_a) != len(paths_b):
            raise ValueError(
                f"the prediction files cover different images ({len(paths_a)} vs {len(paths_b)}; "
                f"e.g. {missing[:1] or 'extra rows in B'} missing from B)"
            )
        order = [index_b[p] for p in paths_a]
    else:
        if len(paths_a) != len(paths_b):
            raise ValueError(f"the prediction files have {len(paths_a)} and {len(paths_b)} rows")
        order = list(range(len(paths_a)))
    classes: list[str] = list(
        dict.fromkeys([*classes_a, *classes_b, *targets_a, *preds_a, *preds_b])
    )
    index = {c: i for i, c in enumerate(classes)}
    disagreements = sum(targets_a[i] != targets_b[j] for i, j in enumerate(order))
    if disagreements:
        raise ValueError(f"the files disagree on the true class of {disagreements} image(s)")
    return (
        [index[t] for t in targets_a],
        [index[p] for p in preds_a],
        [index[preds_b[j]] for j in order],
        classes,
    )


def compare_predictions(path_a: str | Path, path_b: str | Path) -> dict[str, Any]:
    """Stuart–Maxwell tests for two prediction files (paper Table 5): A vs B, and each vs truth.

    Returns:
        A JSON-serialisable dict with accuracies, the A-vs-B contingency table and three tests.
    """
    targets, preds_a, preds_b, classes = align_predictions(
        load_predictions(path_a), load_predictions(path_b)
    )
    k = len(classes)

    def test(x: Sequence[int], y: Sequence[int]) -> dict[str, Any]:
        result = stuart_maxwell_table(confusion_matrix(x, y, k))
        return {
            "statistic": result.statistic,
            "df": result.df,
            "p_value": result.p_value,
            "classes_used": [classes[i] for i in result.classes_used],
        }

    n = len(targets)
    return {
        "a": str(path_a),
        "b": str(path_b),
        "num_items": n,
        "class_names": classes,
        "accuracy_a": 100.0 * sum(p == t for p, t in zip(preds_a, targets, strict=True)) / n
        if n
        else 0.0,
        "accuracy_b": 100.0 * sum(p == t for p, t in zip(preds_b, targets, strict=True)) / n
        if n
        else 0.0,
        "a_vs_b": test(preds_a, preds_b),
        "a_vs_truth": test(preds_a, targets),
        "b_vs_truth": test(preds_b, targets),
        "contingency_a_rows_b_columns": confusion_matrix(preds_a, preds_b, k).tolist(),
    }
