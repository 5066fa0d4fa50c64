"""The compile tax: ``predict`` from a cold process with ``fast`` auto / on / off, small and large.

Each run is a fresh interpreter doing what ``glamor-zoo predict FOLDER`` does through the
library (``expand_inputs`` → ``EmotionRecognizer(fast=..., job_size=job_size(files))`` →
``predict_files``), so it measures the default the command line gets once it passes the job size
(``fast="auto"``), whichever default the command line has today. Inductor's cache is *cold*
for the first fast run (a fresh ``TORCHINDUCTOR_CACHE_DIR``) and *warm* for the next ones.
First, :func:`glamor_zoo.fast.calibrate` measures the fast path of the model on this machine
(with a cache of its own, so the cold run stays cold) into a profiles file of the run, which
the ``auto`` runs read; ``--save-profile`` keeps it for this machine's later runs.

Then, from the small and the large folder, the end-to-end crossover: the job size from which
``fast`` on beats off, (set-up on − set-up off) ÷ (seconds per image off − on).

Also ``EmotionRecognizer()``'s first call on one photo (construction + call), for each choice.

    python benchmarks/bench_compile_tax.py                       # 11 scene photos and 200
    python benchmarks/bench_compile_tax.py --large 400 --detector mtcnn --model deep_emotion
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

START = time.perf_counter()
SCENES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scenes"


def worker(args: argparse.Namespace) -> None:
    """One cold process: import, build the recogniser, run the folder (or one photo); JSON out."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from glamor_zoo.inference.batch import expand_inputs, predict_files
    from glamor_zoo.inference.recognizer import EmotionRecognizer, job_size

    torch.set_num_threads(args.threads)
    fast: Any = {"auto": "auto", "on": True, "off": False}[args.fast]
    imported = time.perf_counter()
    files = expand_inputs([args.folder])
    size = None if args.first_call else job_size(files)  # EmotionRecognizer() alone: unknown
    rec = EmotionRecognizer(args.model, detector=args.detector, fast=fast, job_size=size)
    built = time.perf_counter()
    first = None
    images = faces = 0
    if args.first_call:
        faces = len(rec(str(files[0].path)).faces)
        images = 1
        first = time.perf_counter()
    else:
        for prediction in predict_files(rec, files):
            first = first or time.perf_counter()
            images += 1
            faces += len(prediction.result.faces)
    done = time.perf_counter()
    plan = getattr(rec._runner, "fast_plan", None)
    print(
        json.dumps(
            {
                "import_s": imported - START,
                "build_s": built - imported,
                "first_s": (first or done) - built,
                "run_s": done - built,
                "total_s": done - START,
                "images": images,
                "faces": faces,
                "runs_as": plan.summary() if plan is not None else "plain model",
            }
        )
    )


def calibrate_worker(args: argparse.Namespace) -> None:
    """Measure the fast path of the model on this machine (``calibrate``), saved for ``auto``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from glamor_zoo.fast import calibrate
    from glamor_zoo.inference.loading import load_model

    torch.set_num_threads(args.threads)
    loaded = load_model(args.model)
    spec = loaded.spec
    face = torch.rand(args.calibration_batch, spec.in_chans, *spec.face_size)
    inputs = (face,)
    if spec.uses_context:
        inputs = (face, torch.rand(args.calibration_batch, spec.in_chans, *spec.context_size))
    profile = calibrate(loaded.model, inputs, loaded.name)
    print(json.dumps({"setup_s": profile.setup_s, "speedup": profile.speedup}))


def run_child(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, *argv], env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - start
    return result


def large_folder(root: Path, count: int) -> Path:
    """``count`` photos: the scene photos over and over (symbolic links, distinct names)."""
    photos = sorted(p for p in SCENES.iterdir() if p.is_file())
    folder = root / f"large_{count}"
    folder.mkdir()
    for index in range(count):
        source = photos[index % len(photos)]
        (folder / f"{index:05d}_{source.name}").symlink_to(source)
    return folder


def crossover(small: dict[str, Any], large: dict[str, Any], n_small: int, n_large: int) -> str:
    """Job size from which ``on`` beats ``off``, from the two folders' totals (straight lines)."""
    slopes, set_ups = {}, {}
    for choice in ("off", "on"):
        slopes[choice] = (large[choice]["total_s"] - small[choice]["total_s"]) / (n_large - n_small)
        set_ups[choice] = small[choice]["total_s"] - slopes[choice] * n_small
    gain = slopes["off"] - slopes["on"]
    text = (
        f"seconds per image: off {slopes['off']:.4f}, on {slopes['on']:.4f}; fixed cost: off "
        f"{set_ups['off']:.1f} s, on {set_ups['on']:.1f} s (warm cache)"
    )
    if gain <= 0:
        return f"{text} → **the fast path does not pay at any job size here**"
    return f"{text} → **crossover ≈ {(set_ups['on'] - set_ups['off']) / gain:.0f} images**"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="default: the packaged model")
    parser.add_argument("--detector", default="mtcnn")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--large", type=int, default=200, help="photos in the large folder")
    parser.add_argument("--calibration-batch", type=int, default=16)
    parser.add_argument("--save-profile", action="store_true", help="keep it for this machine")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--calibrate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--first-call", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fast", choices=("auto", "on", "off"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    if args.calibrate:
        calibrate_worker(args)
        return 0

    sys.path.insert(0, str(Path(__file__).parent))
    from machine import machine_info

    info = machine_info()
    common = ["--detector", args.detector, "--threads", str(args.threads)]
    common += ["--model", args.model] if args.model else []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=str(root / "inductor"))
        if not args.save_profile:
            env["GLAMOR_ZOO_FAST_PROFILES"] = str(root / "profiles.json")
        calibration_env = dict(env, TORCHINDUCTOR_CACHE_DIR=str(root / "inductor_calibration"))
        profile = run_child(
            ["--calibrate", *common, "--calibration-batch", str(args.calibration_batch)],
            calibration_env,
        )
        folders = {"small": SCENES, "large": large_folder(root, args.large)}
        counts = {"small": sum(1 for p in SCENES.iterdir() if p.is_file()), "large": args.large}
        # (label, folder, fast, first call only); the first "on" run finds the cache cold.
        plan = [
            ("first call", "small", "off", True),
            ("first call", "small", "auto", True),
            ("first call, cold cache", "small", "on", True),
            ("first call, warm cache", "small", "on", True),
            ("small folder", "small", "off", False),
            ("small folder", "small", "auto", False),
            ("small folder, warm cache", "small", "on", False),
            ("large folder", "large", "off", False),
            ("large folder", "large", "auto", False),
            ("large folder, warm cache", "large", "on", False),
        ]
        rows, by = [], {"small": {}, "large": {}}
        for label, which, fast, first in plan:
            argv = ["--worker", *common, "--fast", fast, "--folder", str(folders[which])]
            result = run_child([*argv, "--first-call"] if first else argv, env)
            rows.append((label, which, fast, result))
            if not first:
                by[which][fast] = result
    print(
        f"Machine: {info['cpu']} ({', '.join(info['cpu_flags']) or 'flags n/a'}; torch's CPU "
        f"capability {info['cpu_capability']}), "
        f"{info['cores']} cores, torch threads {args.threads}, load average "
        f"{info['load_average']}, {info['date_utc']} UTC; detector {args.detector}, model "
        f"{args.model or 'packaged default'}.\n"
    )
    print(
        f"Calibration (glamor_zoo.fast.calibrate, batch {args.calibration_batch}, cold cache): "
        f"set-up {profile['setup_s']:.1f} s, fast ÷ eager model step {profile['speedup']:.2f}×.\n"
    )
    print(
        "| run | photos | fast | runs as (at the end) | import s | build s "
        "| to first result s | images/s (after build) | total s (process) |"
    )
    print("|---|---:|---|---|---:|---:|---:|---:|---:|")
    for label, _, fast, r in rows:
        print(
            f"| {label} | {r['images']} | {fast} | {r['runs_as']} | {r['import_s']:.1f} "
            f"| {r['build_s']:.1f} | {r['first_s']:.1f} | {r['images'] / r['run_s']:.2f} "
            f"| {r['total_s']:.1f} |"
        )
    print("\nEnd to end, warm cache: " + crossover(by["small"], by["large"], *counts.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
