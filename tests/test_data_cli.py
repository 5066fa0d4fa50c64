"""``glamor-zoo detect`` and ``glamor-zoo build-ncaer`` end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from glamor_zoo.data.datasets import CaerDataset
from glamor_zoo.data.detection import DETECTORS, Face, FaceDetector
from glamor_zoo_cli import main

SCENES = Path(__file__).parent / "data" / "scenes"


class StubDetector(FaceDetector):
    """Finds one face in images whose top-left pixel is bright, none otherwise; counts calls."""

    name = "stub"
    calls = 0

    def __init__(self, threshold: float = 0.5) -> None:
        super().__init__(threshold)

    def _detect_batch(self, images):
        StubDetector.calls += len(images)
        return [
            [Face((2.4, 3.0, 20.0, 21.6), 0.9), Face((0, 0, 4, 4), 0.7)]
            if im.getpixel((0, 0))[0] > 127
            else []
            for im in images
        ]


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> type[StubDetector]:
    monkeypatch.setitem(DETECTORS._entries, "stub", StubDetector)
    StubDetector.calls = 0
    return StubDetector


def test_detect_writes_the_crop_layout_and_resumes(tmp_path: Path, stub, capsys) -> None:
    images = tmp_path / "images" / "train"
    for name, value in [("Happy/a.png", 255), ("Happy/b.jpg", 0), ("Sad/c.png", 200)]:
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (30, 30), (value, value, value)).save(images / name)
    (images / "Sad" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    crop = tmp_path / "crop" / "train"
    assert (
        main(["detect", str(images), "--out", str(crop), "--detector", "stub", "--no-progress"])
        == 1
    )
    assert (crop / "Happy" / "a.txt").read_text() == "2,3,20,22"  # the best face, whole pixels
    assert (crop / "Happy" / "b.txt").read_text() == "0,0,0,0"
    assert (crop / "Sad" / "c.txt").read_text() == "2,3,20,22"
    assert not (crop / "Sad" / "broken.txt").exists()
    assert "broken.png" in (crop / "detect_failures.tsv").read_text()
    assert "1 failed" in capsys.readouterr().out
    assert stub.calls == 3

    (images / "Sad" / "broken.png").unlink()
    assert (
        main(["detect", str(images), "--out", str(crop), "--detector", "stub", "--no-progress"])
        == 0
    )
    assert stub.calls == 3, "finished files are skipped"
    assert not (crop / "detect_failures.tsv").exists()
    assert "3 already done" in capsys.readouterr().out
    dataset = CaerDataset(tmp_path, "train")
    assert dataset.samples[0].box == (2.0, 3.0, 20.0, 22.0) and dataset.samples[1].box is None


def test_detect_with_a_real_detector(tmp_path: Path) -> None:
    pytest.importorskip("dlib", reason="uses the fast dlib-hog detector")
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(SCENES / "glamor_sample_2.jpg", images)
    assert (
        main(["detect", str(images), "--out", str(tmp_path / "crop"), "--detector", "dlib-hog"])
        == 0
    )
    x1, y1, x2, y2 = map(int, (tmp_path / "crop" / "glamor_sample_2.txt").read_text().split(","))
    assert 380 < (x1 + x2) / 2 < 520 and 60 < (y1 + y2) / 2 < 190  # the higher-scoring face


def test_detect_user_errors(tmp_path: Path, capsys) -> None:
    assert main(["detect", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    assert main(["detect", str(tmp_path), "--out", str(tmp_path), "--detector", "haar"]) == 2
    assert main(["detect", str(tmp_path), "--out", str(tmp_path), "--detector-arg", "x"]) == 2
    assert main(["detect", str(tmp_path), "--out", str(tmp_path), "--batch-size", "0"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "valid detector names" in err and "KEY=VALUE" in err
    assert "argument --batch-size: must be at least 1, got 0" in err


# ------------------------------------------------------------------------------ build-ncaer

STRIPES = 8  # a frame's index is written in binary as 8 black/white vertical stripes


def _frame(index: int, bright_corner: bool) -> np.ndarray:
    frame = np.zeros((48, 64, 3), np.uint8)
    for bit in range(STRIPES):
        if index >> bit & 1:
            frame[8:, bit * 8 : bit * 8 + 8] = 255
    if bright_corner:
        frame[:8, :8] = 255
    return frame


def _index(image: Image.Image) -> int:
    pixels = np.asarray(image)[8:, :, 0]
    return sum(1 << b for b in range(STRIPES) if pixels[:, b * 8 + 2 : b * 8 + 6].mean() > 127)


def make_video(path: Path, seconds: float, fps: int = 10, face: bool = True) -> None:
    av = pytest.importorskip("av", reason="build-ncaer needs the video extra (PyAV)")
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"qscale": "2"}
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(_frame(i, face), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


@pytest.fixture
def caer(tmp_path: Path) -> Path:
    root = tmp_path / "CAER"
    make_video(root / "train/Anger/0001.avi", 5)  # 3 parts
    make_video(root / "train/Anger/0002.avi", 3, face=False)  # 2 parts, no face
    make_video(root / "train/Happy/0001.avi", 13)  # 7 parts → balanced down to 5
    make_video(root / "test/Happy/0100.avi", 4)  # 2 parts
    (root / "test/Anger").mkdir(parents=True)
    shutil.copy(root / "train/Anger/0001.avi", root / "test/Anger/0200.avi")  # a train video
    (root / "test/Anger/0300.avi").write_bytes(b"not a video")
    return root


def _frames(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.png"))}


def test_build_ncaer(tmp_path: Path, caer: Path, stub, capsys) -> None:
    out = tmp_path / "NCAER-S"
    args = [
        "build-ncaer",
        str(caer),
        str(out),
        "--seed",
        "7",
        "--detector",
        "stub",
        "--no-progress",
    ]
    assert main(args) == 1  # one unreadable clip, recorded
    manifest = json.loads((out / "ncaer_manifest.json").read_text())
    assert manifest["counts"] == {"train": {"Anger": 5, "Happy": 5}, "test": {"Happy": 2}}
    assert manifest["dropped_duplicates"] == {
        str(caer / "test/Anger/0200.avi"): str(caer / "train/Anger/0001.avi")
    }
    assert list(manifest["failures"]) == [str(caer / "test/Anger/0300.avi")]

    images = sorted((out / "images").rglob("*.png"))
    assert len(images) == 12
    for image in images:
        rel = image.relative_to(out / "images")
        clip, part = image.stem.rsplit("_", 1)
        seconds = {"train/Anger/0001": 5, "train/Anger/0002": 3, "train/Happy/0001": 13}.get(
            f"{rel.parent}/{clip}", 4
        )
        parts = max(1, int(seconds / 2 + 0.5))
        index = _index(Image.open(image))
        bounds = np.linspace(0, seconds * 10, parts + 1).round()
        assert bounds[int(part)] <= index < bounds[int(part) + 1], f"{rel}: frame {index}"
        box = (out / "crop" / rel).with_suffix(".txt").read_text()
        assert box == ("0,0,0,0" if clip == "0002" and "Anger" in str(rel) else "2,3,20,22")

    dataset = CaerDataset(out, "train")
    assert dataset.classes == ["Anger", "Happy"] and len(dataset) == 10
    printed = capsys.readouterr().out
    assert "train: 10 images (Anger 5, Happy 5)" in printed and "1 duplicate clips" in printed

    first = _frames(out)
    calls = StubDetector.calls
    assert main(args) == 1
    assert StubDetector.calls == calls, "a re-run skips finished frames"
    assert "12 already there" in capsys.readouterr().out

    again = tmp_path / "again"
    main(
        ["build-ncaer", str(caer), str(again), "--seed", "7", "--detector", "stub", "--no-progress"]
    )
    assert _frames(again) == first, "the same seed rebuilds the same dataset"
    other = tmp_path / "other"
    main(
        ["build-ncaer", str(caer), str(other), "--seed", "8", "--detector", "stub", "--no-progress"]
    )
    assert _frames(other) != first


def test_build_ncaer_without_videos(tmp_path: Path, capsys) -> None:
    pytest.importorskip("av")
    assert (
        main(["build-ncaer", str(tmp_path), str(tmp_path / "out"), "--detector", "dlib-hog"]) == 2
    )
    assert "no videos found" in capsys.readouterr().err
