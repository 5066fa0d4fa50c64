"""Videos: frame sampling, per-frame records, annotated videos, broken files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("av", reason="video support needs PyAV (the 'video' extra)")

from middle_detector import MiddleDetector

from glamor_zoo.inference.batch import expand_inputs
from glamor_zoo.inference.recognizer import job_size
from glamor_zoo.inference.video import iter_frames, sampled_frame_count, video_fps, write_video
from glamor_zoo_cli import main

PHOTO = Path(__file__).parent / "data" / "inference_two_people.jpg"
OPTS = ["--model", "glamor_test", "--detector", MiddleDetector.name, "--no-fast", "--no-progress"]


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 frames at 10 fps of a real photo sliding sideways, 120×68 (odd sizes padded)."""
    photo = Image.open(PHOTO).convert("RGB").resize((120, 67))
    frames = [Image.fromarray(np.roll(np.asarray(photo), shift=4 * i, axis=1)) for i in range(10)]
    return write_video(tmp_path_factory.mktemp("video") / "clip.mp4", frames, fps=10)


def test_sampling(video: Path) -> None:
    assert video_fps(video) == pytest.approx(10)
    every = list(iter_frames(video, every_n=3))
    assert [f.index for f in every] == [0, 3, 6, 9]
    assert [f.time for f in every] == pytest.approx([0.0, 0.3, 0.6, 0.9])
    assert every[0].image.size == (120, 68)
    assert [f.index for f in iter_frames(video, fps=5)] == [0, 2, 4, 6, 8]
    assert len(list(iter_frames(video))) == 10
    assert len(list(iter_frames(video, fps=100))) == 10  # never duplicated
    with pytest.raises(ValueError, match="not both"):
        list(iter_frames(video, every_n=2, fps=2))


@pytest.mark.parametrize("sampling", [{}, {"every_n": 3}, {"fps": 5}, {"fps": 100}])
def test_sampled_frame_count_reads_the_header(video: Path, sampling: dict[str, float]) -> None:
    assert sampled_frame_count(video, **sampling) == len(list(iter_frames(video, **sampling)))


def test_job_size_counts_photos_and_sampled_frames(video: Path, tmp_path: Path) -> None:
    """What fast="auto" weighs before the model runs: the job's photos and video frames."""
    files = expand_inputs([video, PHOTO, tmp_path / "missing.jpg"])
    assert job_size(files) == 10 + 1
    assert job_size(files, every_n=3) == 4 + 1
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    assert sampled_frame_count(broken) is None
    assert job_size(expand_inputs([broken, PHOTO])) is None  # unknown: "auto" waits and sees


def test_predict_video_with_annotated_output(video: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["predict", str(video), "-o", str(out), "--every-n", "3", "--annotated-video", *OPTS]
    assert main(args) == 0
    records = json.loads((out / "predictions.json").read_text())
    assert [r["frame"] for r in records] == [0, 3, 6, 9]
    assert all(r["input"] == str(video) and len(r["faces"]) == 1 for r in records)
    annotated = out / "annotated" / "clip.mp4"
    assert [f.index for f in iter_frames(annotated)] == [0, 1, 2, 3]
    assert video_fps(annotated) == pytest.approx(10 / 3, rel=1e-3)
    # Run again: everything is done, nothing is added.
    assert main(args) == 0
    assert json.loads((out / "predictions.json").read_text()) == records


def test_a_broken_video_gets_one_error_record(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    out = tmp_path / "out"
    assert main(["predict", str(broken), "-o", str(out), *OPTS]) == 1
    (record,) = json.loads((out / "predictions.json").read_text())
    assert record["input"] == str(broken) and record["error"]
