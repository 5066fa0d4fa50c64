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

``--processes 1 2`` measures instead the whole ``glamor-zoo predict DIR --output OUT`` job
(start-up, model loading and merging included) on ``--copies`` copies of the scene photos, in
one plain process and under ``accelerate launch`` with N CPU processes (gloo), each with
``--threads`` / N threads so that every run uses the same cores: images/s of the job.

    python benchmarks/bench_predict.py --processes 1 2 --copies 20 --threads 2

``--versus REV`` measures instead warm end-to-end ``predict`` (decode, detect, preprocess,
classify; ``fast=False`` on both sides) side by side with the code of commit REV (a git
worktree of it), same model, on the scene photos plus ``group.jpeg`` upscaled to 4032×3024,
per stage; and checks that today's defaults find the same faces as REV's full-resolution
MTCNN (same count per photo, every face matched at IoU >= 0.9). Each side runs in its own
process (``predict_pass.py``), one after the other.

    python benchmarks/bench_predict.py --versus f010fcf --model deep_emotion.fer2013
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


def _predict_command(processes: int, threads: int) -> tuple[list[str], dict[str, str]]:
    """``glamor-zoo predict`` in one plain process, or under ``accelerate launch`` on CPUs."""
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, threads // processes))}
    if processes == 1:
        return [sys.executable, "-m", "glamor_zoo"], env
    env["ACCELERATE_USE_CPU"] = "1"
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu"]
    launch += ["--num_processes", str(processes), "--num_machines", "1"]
    launch += ["--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0"]
    return [*launch, "-m", "glamor_zoo"], env


def scale_out(process_counts: list[int], copies: int, threads: int, model: str | None) -> None:
    """Images/s of whole ``predict`` jobs with 1, 2… processes on the same photos."""
    import shutil

    info = machine_info()
    photos = list_images(DATA / "scenes")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "in"
        inputs.mkdir()
        for copy in range(copies):
            for photo in photos:
                shutil.copy(photo, inputs / f"{copy:03d}_{photo.name}")
        count = len(list_images(inputs))
        for processes in process_counts:
            command, env = _predict_command(processes, threads)
            out = Path(tmp) / f"out{processes}"
            argv = [*command, "predict", str(inputs), "--output", str(out), "--no-progress"]
            argv += ["--no-fast"] + (["--model", model] if model else [])
            start = time.perf_counter()
            done = subprocess.run(argv, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            if done.returncode:
                print(done.stderr[-2000:])
            rows.append(
                f"| {processes} | {seconds:.1f} | {count / seconds:.2f} | {done.returncode} |"
            )
    print(
        f"Machine: {info['cpu']}, {info['cores']} cores, {threads} threads in all, load average "
        f"{info['load_average']}, {info['date_utc']} UTC. {count} photos, model "
        f"{model or 'default'}, detector mtcnn.\n"
    )
    print("| processes | job wall time (s) | images/s | exit |")
    print("|---:|---:|---:|---:|")
    print("\n".join(rows))


def _iou(a: list[float], b: list[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def _same_faces(reference: dict[str, list], found: dict[str, list]) -> tuple[bool, float, list]:
    """Whether every photo has as many faces as the reference and each reference face is
    matched at IoU >= 0.9; the smallest best-match IoU; the photos that differ."""
    worst, differ = 1.0, []
    for name, boxes in reference.items():
        mine = found[name]
        if len(mine) != len(boxes):
            differ.append(f"{name}: {len(boxes)} → {len(mine)} faces")
            continue
        for box in boxes:
            best = max(_iou(box, other) for other in mine)
            worst = min(worst, best)
            if best < 0.9:
                differ.append(f"{name}: IoU {best:.3f}")
    return not differ, worst, differ


def _pass(root: Path, folder: Path, model: str, threads: int, rounds: int, *extra: str) -> dict:
    """``predict_pass.py`` under the code in ``root``, in a fresh process."""
    import json

    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": str(threads)}
    argv = [sys.executable, str(Path(__file__).with_name("predict_pass.py")), str(folder)]
    argv += ["--model", model, "--threads", str(threads), "--rounds", str(rounds), *extra]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=root)
    if done.returncode:
        raise RuntimeError(f"predict_pass under {root} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not result["module"].startswith(str(root)):
        raise RuntimeError(f"{root}: imported glamor_zoo from {result['module']}")
    return result


def versus(revision: str, model: str, threads: int, rounds: int) -> None:
    """Warm end-to-end predict, per stage: today's defaults vs ``revision``'s ``--no-fast``."""
    from PIL import Image

    here = Path(__file__).resolve().parents[1]
    info = machine_info()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(
            ["git", "-C", str(here), "worktree", "add", "--detach", str(base), revision],
            check=True,
            capture_output=True,
        )
        try:
            folder = Path(tmp) / "photos"
            folder.mkdir()
            for photo in list_images(DATA / "scenes"):
                (folder / photo.name).write_bytes(photo.read_bytes())
            group = load_image(DATA / "scenes" / "group.jpeg")
            group.resize((4032, 3024), Image.Resampling.BICUBIC).save(
                folder / "group_4032x3024.jpg", quality=95
            )
            sides = {
                f"{revision} (full image)": _pass(base, folder, model, threads, rounds),
                "today's defaults": _pass(here, folder, model, threads, rounds),
                "today, --max-side 0 (full image)": _pass(
                    here, folder, model, threads, rounds, "--max-side", "0"
                ),
            }
        finally:
            subprocess.run(
                ["git", "-C", str(here), "worktree", "remove", "--force", str(base)],
                capture_output=True,
            )
    reference = sides[f"{revision} (full image)"]
    print(
        f"Machine: {info['cpu']}, {info['cores']} cores, {threads} torch threads, load average "
        f"{info['load_average']}, {info['date_utc']} UTC. {reference['images']} photos "
        f"(../shared/data/scenes + group.jpeg at 4032×3024), model {model}, MTCNN, fast off, "
        f"median of {rounds} warm passes.\n"
    )
    print(
        "| code | images/s | × | decode (s) | detect (s) | classify (s) | preprocess and the "
        "rest (s) | same faces as the full image (min IoU) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, side in sides.items():
        stages = side["stages_s"]
        same, worst, differ = _same_faces(reference["boxes"], side["boxes"])
        verdict = f"{'yes' if same else 'no'} ({worst:.3f})" + (
            f": {'; '.join(differ)}" if differ else ""
        )
        print(
            f"| {name} | {side['images_per_s']:.2f} "
            f"| {side['images_per_s'] / reference['images_per_s']:.2f} "
            f"| {stages.get('decode', 0):.2f} | {stages.get('detect', 0):.2f} "
            f"| {stages.get('classify', 0):.2f} | {stages['preprocess and the rest']:.2f} "
            f"| {verdict} |"
        )
    detectors = "; ".join(f"{name}: {side['detector']}" for name, side in sides.items())
    print(f"\nDetectors: {detectors}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["deep_emotion", "glamor_original"])
    parser.add_argument("--detector", default="mtcnn")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--big-photo", action="store_true", help="peak memory on 64 MP instead")
    parser.add_argument("--max-side", type=int, default=1600, help="with --big-photo; 0: none")
    parser.add_argument(
        "--model", default=None, help="with --big-photo or --processes (default: packaged)"
    )
    parser.add_argument(
        "--processes", type=int, nargs="+", help="whole predict jobs with these process counts"
    )
    parser.add_argument("--copies", type=int, default=20, help="with --processes")
    parser.add_argument("--versus", metavar="REV", help="side by side with commit REV's code")
    args = parser.parse_args(argv)
    if args.versus:
        versus(args.versus, args.model or "deep_emotion.fer2013", args.threads, args.rounds)
        return 0
    if args.processes:
        scale_out(args.processes, args.copies, args.threads, args.model)
        return 0
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
