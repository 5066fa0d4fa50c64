"""``glamor-zoo predict``: inputs, one record each, outputs, pictures, resuming, errors."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from middle_detector import MiddleDetector
from PIL import Image

from glamor_zoo.inference.journal import JOURNAL_NAME
from glamor_zoo_cli import main

DATA = Path(__file__).parent / "data"
PHOTO = DATA / "inference_two_people.jpg"
FACES = sorted(DATA.glob("deep_emotion_face_*.png"))
OPTS = ["--detector", MiddleDetector.name, "--no-fast", "--no-progress"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny GLAMOR model: the same weights in every run of the command."""
    import torch

    import glamor_zoo
    from glamor_zoo.serialization import save_pretrained

    torch.manual_seed(0)
    return save_pretrained(
        glamor_zoo.create_model("glamor_test"), tmp_path_factory.mktemp("m") / "glamor_test"
    )


@pytest.fixture()
def cli_args(model_dir: Path) -> list[str]:
    """Tiny saved context model, the middle of every image taken as the face: fast, offline."""
    return ["--model", f"local-dir:{model_dir}", *OPTS]


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """Three face crops (one in a sub-folder), a corrupt file and a hidden file."""
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    shutil.copy(FACES[0], root / "a.png")
    shutil.copy(FACES[1], root / "b.png")
    shutil.copy(FACES[2], root / "sub" / "c.png")
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (root / ".hidden.png").write_bytes(b"ignored")
    return root


def read_json(path: Path) -> list[dict]:
    return json.loads(path.read_text())


def test_folder_to_json_one_record_per_input(
    cli_args: list[str], folder: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    code = main(["predict", str(folder), str(tmp_path / "missing.jpg"), "-o", str(out), *cli_args])
    assert code == 1  # some inputs failed
    records = read_json(out / "predictions.json")
    names = [Path(r["input"]).name for r in records]
    assert names == ["a.png", "b.png", "broken.jpg", "c.png", "missing.jpg"]
    by_name = dict(zip(names, records, strict=True))
    assert "ImageLoadError" in by_name["broken.jpg"]["error"]
    assert "no such file" in by_name["missing.jpg"]["error"]
    face = by_name["a.png"]["faces"][0]
    assert by_name["a.png"]["error"] is None and len(by_name["a.png"]["faces"]) == 1
    assert set(face) >= {"box", "label", "confidence", "probabilities", "attention"}
    assert "2 of 5 inputs failed" in capsys.readouterr().err
    assert len((out / JOURNAL_NAME).read_text().splitlines()) == 5


def test_csv_has_a_row_per_face_and_per_failure(
    cli_args: list[str], folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    main(["predict", str(folder), "-o", str(out), "--format", "csv", *cli_args])
    rows = list(csv.DictReader(io.StringIO((out / "predictions.csv").read_text())))
    assert len(rows) == 4
    assert {"p_Happy", "w_face", "w_context", "error"} <= set(rows[0])
    broken = next(r for r in rows if r["input"].endswith("broken.jpg"))
    assert broken["error"] and not broken["label"]
    ok = next(r for r in rows if r["input"].endswith("a.png"))
    assert ok["label"] and float(ok["w_face"]) + float(ok["w_context"]) == pytest.approx(1, 1e-4)


def test_resume_after_an_interruption(
    cli_args: list[str], folder: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    reference = tmp_path / "reference"
    assert main(["predict", str(folder), "-o", str(reference), *cli_args]) == 1
    full = read_json(reference / "predictions.json")

    from glamor_zoo.inference.recognizer import EmotionRecognizer

    seen: list[str] = []
    original = EmotionRecognizer.predict_iter
    stop_after: list[int] = [2]

    def spy(self, inputs, *args, **kwargs):
        for result in original(self, inputs, *args, **kwargs):
            if len(seen) == stop_after[0]:
                raise KeyboardInterrupt  # Ctrl-C after two finished inputs
            seen.append(Path(result.source).name)
            yield result

    monkeypatch.setattr(EmotionRecognizer, "predict_iter", spy)
    out = tmp_path / "out"
    assert main(["predict", str(folder), "-o", str(out), *cli_args]) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    assert not (out / "predictions.json").exists()
    journal = out / JOURNAL_NAME
    assert len(journal.read_text().splitlines()) == 2
    with journal.open("a") as handle:  # and a line torn by a kill
        handle.write('{"key": "half a rec')

    seen.clear()
    stop_after[0] = 99
    main(["predict", str(folder), "-o", str(out), *cli_args])
    assert "2 finished inputs kept" in capsys.readouterr().err
    assert seen == ["broken.jpg", "c.png"]  # only what was not finished
    resumed = read_json(out / "predictions.json")
    assert [r["input"] for r in resumed] == [r["input"] for r in full]
    # Full-precision probabilities: another batch composition moves the last float bits.
    for got, want in zip(resumed, full, strict=True):
        assert [f["box"] for f in got["faces"]] == [f["box"] for f in want["faces"]]
        for g, w in zip(got["faces"], want["faces"], strict=True):
            assert g["probabilities"] == pytest.approx(w["probabilities"], abs=1e-6)


def test_other_settings_do_not_resume(
    cli_args: list[str], folder: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    main(["predict", str(folder / "a.png"), "-o", str(out), *cli_args])
    other = [*cli_args, "--mode", "shared"]
    assert main(["predict", str(folder / "a.png"), "-o", str(out), *other]) == 2
    assert "other settings" in capsys.readouterr().err
    assert main(["predict", str(folder / "a.png"), "-o", str(out), *other, "--overwrite"]) == 0


def test_pictures(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["--model", "glamor_test", "--min-score", "0.99", "--no-fast", "--no-progress"]
    code = main(["predict", str(PHOTO), "-o", str(out), "--draw", "--attention", *args])
    assert code == 0
    (record,) = read_json(out / "predictions.json")
    assert len(record["faces"]) == 2  # the real MTCNN detector on a real photo
    drawn = Image.open(out / "annotated" / "inference_two_people.jpg")
    assert drawn.size == Image.open(PHOTO).size
    overlays = sorted((out / "attention").glob("*.jpg"))
    assert [p.name for p in overlays] == [
        "inference_two_people_face1.jpg",
        "inference_two_people_face2.jpg",
    ]
    assert all(Image.open(p).size == drawn.size for p in overlays)


def test_saliency_pictures_for_a_face_only_model(tmp_path: Path) -> None:
    out = tmp_path / "out"
    face_only = [
        "--model",
        "deep_emotion_no_stn",
        "--detector",
        "none",
        "--no-fast",
        "--no-progress",
    ]
    assert main(["predict", str(FACES[0]), "-o", str(out), "--saliency", *face_only]) == 0
    (picture,) = (out / "saliency").glob("*")
    assert Image.open(picture).width == 2 * Image.open(picture).height  # face | map


def test_attention_needs_a_context_model(tmp_path: Path, capsys) -> None:
    face_only = ["--model", "deep_emotion_no_stn", "--detector", "none", "--no-progress"]
    assert main(["predict", str(FACES[0]), "-o", str(tmp_path), "--attention", *face_only]) == 2
    assert "--saliency" in capsys.readouterr().err


def test_terminal_summary_and_formats(cli_args: list[str], capsys) -> None:
    assert main(["predict", str(FACES[0]), *cli_args]) == 0
    captured = capsys.readouterr()
    assert "1 face" in captured.out and "model folder" in captured.err
    assert main(["predict", str(FACES[0]), *cli_args, "--format", "json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["faces"][0]["label"]


def test_clear_errors(capsys, tmp_path: Path) -> None:
    assert main(["predict"]) == 2
    assert "--demo" in capsys.readouterr().err
    assert main(["predict", str(PHOTO), "--draw"]) == 2
    assert "--output" in capsys.readouterr().err
    assert main(["predict", str(PHOTO), "--model", "no_such_model_xyz"]) == 2
    assert "glamor-zoo models" in capsys.readouterr().err
    assert (
        main(["predict", str(PHOTO), "--model", "glamor_test", "--detector", "no_such_detector"])
        == 2
    )
    assert "mtcnn" in capsys.readouterr().err


def test_demo_runs_offline_with_the_packaged_model(capsys, monkeypatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert main(["predict", "--demo", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "face_resnet26.fer2013_sfew_hardfer (packaged weights, offline)" in captured.err
    assert "group.jpg: 5 faces" in captured.out


def test_fast_is_auto_with_the_job_size_unless_forced(
    tmp_path: Path, cli_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """By default the recogniser compiles only when the job (3 photos here) pays for it."""
    import glamor_zoo.inference as inference

    real, seen = inference.EmotionRecognizer, []

    def spy(*args: object, **kwargs: object) -> object:
        seen.append((kwargs["fast"], kwargs["job_size"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(inference, "EmotionRecognizer", spy)
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(3):
        shutil.copy(PHOTO, folder / f"{index}.jpg")
    default = [arg for arg in cli_args if arg != "--no-fast"]
    assert main(["predict", str(folder), *default]) == 0
    assert main(["predict", str(folder), *cli_args]) == 0
    assert seen == [("auto", 3), (False, 3)]
