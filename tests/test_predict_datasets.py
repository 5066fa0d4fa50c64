"""🤗 datasets in and out of ``predict`` and ``eval``: a small dataset built here, saved to disk,
read memory-mapped and streamed, keyed by row index or an id column, resumed, and the results
written back as Parquet and as a dataset folder. Offline; a tiny face-only model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from predict_spy import record_predicted_sources

from glamor_zoo.inference.journal import JOURNAL_NAME
from glamor_zoo_cli import main

datasets = pytest.importorskip("datasets")

DATA = Path(__file__).parent / "data"
FACES = sorted(DATA.glob("deep_emotion_face_*.png"))
CLASSES = ["Anger", "Happy", "Surprise"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny face-only model: the same weights in every run."""
    import torch

    import glamor_zoo
    from glamor_zoo.serialization import save_pretrained

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("m") / "deep_emotion_no_stn"
    return save_pretrained(glamor_zoo.create_model("deep_emotion_no_stn"), folder)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three face crops and a corrupt image, with class labels and string ids."""
    images = [{"bytes": p.read_bytes(), "path": None} for p in FACES]
    images.append({"bytes": b"\x89PNG not really", "path": None})
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "label": datasets.ClassLabel(names=CLASSES),
            "id": datasets.Value("string"),
        }
    )
    table = {"image": images, "label": [0, 1, 2, 1], "id": ["a7", "b3", "c1", "d9"]}
    folder = tmp_path_factory.mktemp("ds") / "faces"
    datasets.Dataset.from_dict(table, features=features).save_to_disk(str(folder))
    return folder


@pytest.fixture()
def opts(model_dir: Path) -> list[str]:
    return ["--model", f"local-dir:{model_dir}", "--detector", "none", "--no-fast", "--no-progress"]


def test_dataset_in_parquet_and_dataset_out(
    saved: Path, opts: list[str], tmp_path: Path, capsys
) -> None:
    out, back = tmp_path / "out", tmp_path / "back"
    argv = ["predict", "--dataset", str(saved), "--label-column", "label", "-o", str(out)]
    assert main([*argv, "--format", "parquet", "--to-dataset", str(back), *opts]) == 1
    assert "1 of 4 inputs failed" in capsys.readouterr().err
    table = datasets.load_dataset(
        "parquet", data_files=str(out / "predictions.parquet"), split="train"
    )
    assert table["row"] == [0, 1, 2, 3]
    assert table["input"] == [f"{saved}[{i}]" for i in range(4)]
    assert table["target"] == ["Anger", "Happy", "Surprise", "Happy"]
    assert [len(faces) for faces in table["faces"]] == [1, 1, 1, 0]
    assert table["error"][:3] == [None] * 3 and "ImageLoadError" in table["error"][3]
    face = table["faces"][0][0]
    assert (
        face["face"] == 1
        and face["label"]
        and sum(face["probabilities"].values()) == (pytest.approx(1, abs=1e-5))
    )
    assert datasets.load_from_disk(str(back)).to_list() == table.to_list()
    assert len((out / JOURNAL_NAME).read_text().splitlines()) == 4


def test_streaming_by_id_resumes_only_what_is_missing(
    saved: Path, opts: list[str], tmp_path: Path, monkeypatch, capsys
) -> None:
    reference, out = tmp_path / "reference", tmp_path / "out"
    base = ["predict", "--dataset", str(saved), "--id-column", "id"]
    assert main([*base, "-o", str(reference), *opts]) == 1
    want = json.loads((reference / "predictions.json").read_text())
    assert [r["input"] for r in want] == ["a7", "b3", "c1", "d9"]

    streamed = [*base, "--streaming", "-o", str(out), *opts]
    assert main(streamed) == 1
    journal = out / JOURNAL_NAME
    lines = journal.read_text().splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["id:a7", "id:b3", "id:c1", "id:d9"]
    journal.write_text("\n".join(lines[:2]) + "\n" + lines[2][:20])  # killed mid-line
    (out / "predictions.json").unlink()

    seen = record_predicted_sources(monkeypatch)
    capsys.readouterr()
    assert main(streamed) == 1
    assert "2 finished inputs kept" in capsys.readouterr().err
    assert seen == ["c1", "d9"]
    got = json.loads((out / "predictions.json").read_text())
    assert [r["input"] for r in got] == [r["input"] for r in want]
    for g, w in zip(got, want, strict=True):
        assert g["id"] == w["id"] and g["row"] == w["row"] and bool(g["error"]) == bool(w["error"])
        for gf, wf in zip(g["faces"], w["faces"], strict=True):
            assert gf["probabilities"] == pytest.approx(wf["probabilities"], abs=1e-6)


def test_eval_reads_a_dataset(saved: Path, model_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "eval"
    argv = ["eval", str(model_dir), str(saved), "--detector", "none", "--no-progress"]
    # The unreadable row counts as wrong (exit 1: a per-item failure), never silently left out.
    assert main([*argv, "-o", str(out)]) == 1
    assert "1 unreadable image(s), counted as wrong" in capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_samples"] == 4 and metrics["coverage"] == 0.75
    assert metrics["skipped"]["unreadable"]["count"] == 1


def test_clear_one_line_errors(saved: Path, opts: list[str], tmp_path: Path, capsys) -> None:
    cases = {
        ("--image-column", "photo"): "has no column 'photo'",
        ("--id-column", "label"): "repeats",
    }
    for flags, message in cases.items():
        argv = ["predict", "--dataset", str(saved), *flags, "-o", str(tmp_path / "x"), *opts]
        assert main(argv) == 2, flags
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert main(["predict", "--dataset", str(tmp_path / "nothing"), *opts]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["predict", str(FACES[0]), "--streaming", *opts]) == 2
    assert "apply to --dataset" in capsys.readouterr().err


def test_missing_extra_is_named(saved: Path, opts: list[str], monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets → ImportError
    assert main(["predict", "--dataset", str(saved), *opts]) == 2
    err = capsys.readouterr().err
    assert "pip install 'glamor-zoo[data]'" in err and len(err.strip().splitlines()) == 1
