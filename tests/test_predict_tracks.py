"""``glamor-zoo predict VIDEO``: tracks in the records, timelines and summaries in --output,
per-track colours in --annotated-video, --no-tracks, bad flags, and a resumed run."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("av", reason="video support needs PyAV (the 'video' extra)")

from tracking_clip import make_tracking_clip

from glamor_zoo.inference.timeline import TRACK_FILES
from glamor_zoo.inference.video import iter_frames
from glamor_zoo_cli import main

OPTS = ["--detector", "mtcnn", "--no-fast", "--no-progress", "--device", "cpu"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tracking_clip(tmp_path_factory.mktemp("clip"))[0]


@pytest.fixture(scope="module")
def run(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("run") / "out"
    args = ["predict", str(clip), "-o", str(out), "--every-n", "2", "--annotated-video", *OPTS]
    assert main(args) == 0
    return out, json.loads((out / "predictions.json").read_text())


def test_records_carry_tracks_and_the_files_agree(run) -> None:
    out, records = run
    faces = [(r, f) for r in records for f in r["faces"]]
    assert faces and all(
        {"track", "smoothed_label", "smoothed_probabilities"} <= set(f) for _, f in faces
    )
    assert {r["shot"] for r in records} == {0, 1}
    folder = out / "tracks" / "people"
    assert sorted(p.name for p in folder.iterdir()) == sorted(TRACK_FILES)
    with (folder / "timeline.csv").open() as handle:
        table = list(csv.DictReader(handle))
    tracked = [(r, f) for r, f in faces if f["track"] is not None]
    assert len(table) == len(tracked)
    expected = sorted((r["frame"], f["track"], f["smoothed_label"], f["label"]) for r, f in tracked)
    got = sorted((int(t["frame"]), int(t["track"]), t["label"], t["raw_label"]) for t in table)
    assert got == expected
    summary = json.loads((folder / "summary.json").read_text())
    for track in summary["tracks"]:
        mine = [r["time"] for r, f in tracked if f["track"] == track["track"]]
        assert (track["first_seen"], track["last_seen"], track["frames"]) == (
            min(mine),
            max(mine),
            len(mine),
        )
    annotated = list(iter_frames(out / "annotated" / "people.mp4"))
    assert len(annotated) == len(records)


def test_a_resumed_run_continues_the_tracks(run, clip: Path, tmp_path: Path) -> None:
    out, records = run
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copy(out / "run.json", resumed / "run.json")
    lines = (out / "predictions.jsonl").read_text().splitlines(keepends=True)
    (resumed / "predictions.jsonl").write_text("".join(lines[:8]))  # killed after 8 frames
    assert main(["predict", str(clip), "-o", str(resumed), "--every-n", "2", *OPTS]) == 0
    again = json.loads((resumed / "predictions.json").read_text())

    def tracks(rs: list[dict]) -> list:
        return [(r["frame"], r["shot"], [f["track"] for f in r["faces"]]) for r in rs]

    assert tracks(again) == tracks(records)
    changed = main(
        ["predict", str(clip), "-o", str(resumed), "--every-n", "2", "--half-life", "3", *OPTS]
    )
    assert changed == 2  # other tracking settings: refused, not mixed


def test_no_tracks_and_the_terminal(clip: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "plain"
    assert main(["predict", str(clip), "-o", str(out), "--every-n", "4", "--no-tracks", *OPTS]) == 0
    records = json.loads((out / "predictions.json").read_text())
    assert all("track" not in f and "shot" not in r for r in records for f in r["faces"])
    assert not (out / "tracks").exists()
    capsys.readouterr()
    assert main(["predict", str(clip), "--every-n", "4", "--min-track", "0", *OPTS]) == 0
    printed = capsys.readouterr().out
    assert "tracks (0 short)" in printed and "track 1:" in printed
    assert "   track 1: " in printed and "(smoothed)" in printed  # the per-frame lines
    capsys.readouterr()
    assert main(["predict", str(clip), "--every-n", "4", "--format", "csv", *OPTS]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and list(rows[0])[-5:] == [
        "shot",
        "track",
        "smoothed_label",
        "smoothed_confidence",
        "error",
    ]
    assert {r["shot"] for r in rows} == {"0", "1"} and all(r["smoothed_label"] for r in rows)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--half-life", "-1"], "--half-life must be a number of seconds >= 0"),
        (["--max-gap", "nan"], "--max-gap must be a number of seconds >= 0"),
        (["--no-tracks", "--min-track", "2"], "--min-track apply to tracks"),
        (["--dataset", "x", "--tracks"], "--tracks apply to videos, not --dataset"),
    ],
)
def test_bad_tracking_flags(flags: list[str], message: str, clip: Path, capsys) -> None:
    paths = [] if "--dataset" in flags else [str(clip)]
    assert main(["predict", *paths, *flags, *OPTS]) == 2
    assert message in capsys.readouterr().err
