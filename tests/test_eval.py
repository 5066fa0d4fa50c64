"""Evaluation metrics, prediction files, and the Stuart–Maxwell test (paper Table 5)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from glamor_zoo.train.compare import compare_predictions, load_predictions
from glamor_zoo.train.evaluate import Predictions, write_evaluation
from glamor_zoo.train.metrics import classification_metrics, confusion_matrix
from glamor_zoo.train.stats import stuart_maxwell, stuart_maxwell_table
from glamor_zoo_cli import main as cli_main

# Stuart (1955), unaided distance vision of 7,477 women (right eye rows, left eye columns), the
# classic worked example of the test (Agresti, Categorical Data Analysis): statistic 11.96, df 3.
STUART_1955 = [
    [1520, 266, 124, 66],
    [234, 1512, 432, 78],
    [117, 362, 1772, 205],
    [36, 82, 179, 492],
]


def test_stuart_maxwell_published_worked_example() -> None:
    result = stuart_maxwell_table(STUART_1955)
    assert result.statistic == pytest.approx(11.957, abs=1e-3)
    assert result.df == 3
    assert result.p_value == pytest.approx(0.00753, abs=1e-5)


def test_stuart_maxwell_matches_statsmodels() -> None:
    contingency = pytest.importorskip("statsmodels.stats.contingency_tables")
    rng = np.random.default_rng(0)
    for _ in range(5):
        table = rng.integers(0, 40, (7, 7))
        ours = stuart_maxwell_table(table)
        ref = contingency.SquareTable(table, shift_zeros=False).homogeneity()
        assert ours.statistic == pytest.approx(ref.statistic, rel=1e-9)
        assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-6)
        assert ours.df == ref.df


def test_stuart_maxwell_edge_cases() -> None:
    identical = stuart_maxwell([0, 1, 2, 1], [0, 1, 2, 1], 3)
    assert identical.p_value == 1.0 and identical.df == 0
    # A class nobody disagrees on is left out instead of making the covariance singular.
    result = stuart_maxwell_table([[5, 0, 0], [0, 3, 4], [0, 1, 6]])
    assert result.classes_used == (1, 2) and result.df == 1
    assert result.statistic == pytest.approx(9 / 5)
    with pytest.raises(ValueError, match="square"):
        stuart_maxwell_table([[1, 2, 3]])


def test_metrics() -> None:
    metrics = classification_metrics([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["a", "b", "c"])
    assert metrics["top1"] == pytest.approx(60.0)
    assert metrics["per_class_accuracy"] == {"a": 50.0, "b": 100.0, "c": 0.0}
    assert metrics["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix([3], [0], 3)


def _write(folder: Path, targets: list[int], preds: list[int], names: list[str]) -> Path:
    probs = np.full((len(preds), len(names)), 0.1)
    probs[np.arange(len(preds)), preds] = 0.8
    pred = Predictions(
        paths=[f"img/{i}.png" for i in range(len(preds))],
        targets=np.asarray(targets),
        probs=probs,
        class_names=names,
        loss=0.5,
    )
    write_evaluation(pred, folder, title="test")
    return folder / "predictions.csv"


def test_prediction_files_and_compare_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rng = np.random.default_rng(1)
    names = ["Anger", "Happy", "Sad"]
    targets = rng.integers(0, 3, 200).tolist()
    good = [t if rng.random() < 0.8 else int(rng.integers(0, 3)) for t in targets]
    biased = [t if rng.random() < 0.5 else 1 for t in targets]
    a = _write(tmp_path / "a", targets, good, names)
    b = _write(tmp_path / "b", targets, biased, names)
    assert (tmp_path / "a" / "confusion_matrix.png").stat().st_size > 1000
    saved = json.loads((tmp_path / "a" / "confusion_matrix.json").read_text())
    assert saved["matrix"] == confusion_matrix(targets, good, 3).tolist()

    paths, true, pred, classes = load_predictions(tmp_path / "a")
    assert classes == names and len(paths) == 200 and pred[:5] == [names[p] for p in good[:5]]
    assert true == [names[t] for t in targets]

    result = compare_predictions(a, b)
    expected = stuart_maxwell(good, biased, 3)
    assert result["a_vs_b"]["statistic"] == pytest.approx(expected.statistic)
    assert result["b_vs_truth"]["p_value"] < 1e-6  # B over-predicts "Happy"
    assert result["accuracy_a"] == pytest.approx(100 * np.mean(np.equal(good, targets)))

    out = tmp_path / "cmp.json"
    assert cli_main(["compare", str(a), str(tmp_path / "b"), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "A vs B" in printed and "B vs true labels" in printed
    assert json.loads(out.read_text())["a_vs_b"]["df"] == expected.df


def test_compare_rejects_mismatched_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    a = _write(tmp_path / "a", [0, 1, 2], [0, 1, 2], ["x", "y", "z"])
    b = _write(tmp_path / "b", [0, 1, 1], [0, 1, 2], ["x", "y", "z"])
    assert cli_main(["compare", str(a), str(b)]) == 2
    assert "disagree on the true class" in capsys.readouterr().err
    assert cli_main(["compare", str(a), str(tmp_path / "missing.csv")]) == 2
