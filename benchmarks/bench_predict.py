"""End-to-end ``predict`` images/s on ../shared/data/scenes, detection included.

What ``glamor-zoo predict`` does, through its Python API (:class:`EmotionRecognizer`): load
each photo, detect faces (MTCNN by default), preprocess, classify. Measured with and without
``fast_inference`` (the recogniser's ``fast=`` option), after one warm-up pass (which is when
compilation happens; its time is reported apart), and the detector alone.

    python benchmarks/bench_predict.py --models deep_emotion glamor_original
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["deep_emotion", "glamor_original"])
    parser.add_argument("--detector", default="mtcnn")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
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
