"""End-to-end ``predict`` images/s on ../shared/data/scenes, detection included.

What ``glamor-zoo predict`` does, through its Python API (:class:`EmotionRecognizer`): load
each photo, detect faces (MTCNN by default), preprocess, classify. Measured with and without
``fast_inference`` (the recogniser's ``fast=`` option), after one warm-up pass (which is when
compilation happens; its time is reported apart), and the detector alone.

    python benchmarks/bench_predict.py --models deep_emotion glamor_original

``--big-photo`` measures instead the peak memory of ``glamor-zoo predict`` on one 64 MP photo
(a scene upscaled to 9248×6936 and saved as JPEG), with ``--max-side`` (default 1600) and the
packaged model: the peak resident set size of that process (budget 1.5 GB).

    python benchmarks/bench_predict.py --big-photo --max-side 1600
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub loads: never wait on it

import torch
from machine import machine_info
from real_inputs import DATA

from glamor_zoo.data.images import list_images, load_image
from glamor_zoo.inference.recognizer import EmotionRecognizer


def timed(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def big_photo_peak(max_side: int | None, model: str | None) -> None:
    """Run ``glamor-zoo predict`` on a 64 MP photo in a child process; print its peak memory."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "big.jpg"
        source = load_image(DATA / "scenes" / "group.jpeg")
        source.resize((9248, 6936), Image.Resampling.BILINEAR).save(photo, quality=90)
        argv = [sys.executable, "-m", "glamor_zoo_cli", "predict", str(photo), "--no-fast"]
        argv += ["--no-progress", "--format", "json"]
        argv += ["--max-side", str(max_side)] if max_side else []
        argv += ["--model", model] if model else []
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    faces = done.stdout.count('"face":') if done.returncode == 0 else "error"
    print(
        f"64 MP photo (9248×6936), --max-side {max_side}, model {model or 'default'}: peak RSS "
        f"{peak_mib:.0f} MiB (budget 1536), {seconds:.1f} s, faces {faces}, exit {done.returncode}"
    )
    if done.returncode:
        print(done.stderr[-2000:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["deep_emotion", "glamor_original"])
    parser.add_argument("--detector", default="mtcnn")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--big-photo", action="store_true", help="peak memory on 64 MP instead")
    parser.add_argument("--max-side", type=int, default=1600, help="with --big-photo; 0: none")
    parser.add_argument("--model", default=None, help="with --big-photo (default: packaged)")
    args = parser.parse_args(argv)
    if args.big_photo:
        big_photo_peak(args.max_side or None, args.model)
        return 0
    torch.set_num_threads(args.threads)
    info = machine_info()
    images = [load_image(p) for p in list_images(DATA / "scenes")]
    rows = []
    detector_s = None
    for name in args.models:
        for fast in (False, True):
            try:
                rec = EmotionRecognizer(name, detector=args.detector, device="cpu", fast=fast)
                weights = "pretrained"
            except Exception:  # no weights offline: the same architecture, random init
                rec = EmotionRecognizer(
                    name, detector=args.detector, device="cpu", fast=fast, pretrained=False
                )
                weights = "random init"
            start = time.perf_counter()
            results = rec(images)
            warmup = time.perf_counter() - start
            faces = sum(len(r.faces) for r in results)
            seconds = timed(lambda rec=rec: rec(images), args.rounds)
            if detector_s is None:
                detector_s = timed(lambda rec=rec: rec.detector.detect(images), args.rounds)
            plan = getattr(getattr(rec, "_runner", None), "fast_plan", None)
            rows.append(
                f"| {name} ({weights}) | {'on' if fast else 'off'} "
                f"| {plan.summary() if plan else 'plain model'} "
                f"| {len(images) / seconds:.2f} | {faces / seconds:.1f} | {warmup:.1f} |"
            )
    print(
        f"Machine: {info['cpu']}, {info['cores']} cores, torch threads {info['torch_threads']}, "
        f"load average {info['load_average']}, {info['date_utc']} UTC.\n"
    )
    print(
        f"{len(images)} photos ({DATA / 'scenes'}), detector {args.detector}: detection alone "
        f"{len(images) / detector_s:.2f} images/s.\n"
    )
    print("| model | fast | runs as | images/s | faces/s | first pass (s) |")
    print("|---|---|---|---:|---:|---:|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
