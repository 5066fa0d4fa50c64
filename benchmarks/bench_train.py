"""Training throughput on CPU: the model step, the data pipeline, and where the time goes.

For each model: images/s of a full training step (forward, cross-entropy, backward, SGD with
momentum, as the recipes train) at the recipe batch size (4, the official code's) and at a larger
batch, in float32 and in bf16 autocast + channels-last; the input pipeline's images/s per worker
(decode a real photo, crop the face, mask/resize/crop the context, augment: the zoo's
GlamorTransform in training mode); and a profile summary of one step (the top operators by
self CPU time). The pipeline starves the model when workers × pipeline rate < step rate.

    python benchmarks/bench_train.py --models glamor_original --batch-sizes 4 64

``--recipe RECIPE`` measures instead one recipe as the trainer runs it (its model, data with
augmentation, batch size, loader workers, precision, channels-last and compile settings):
images/s of the loader alone, of forward, backward and the optimiser step apart, of the whole
step, the share of a step the loader would add if it did not keep up, and the epoch time.

    python benchmarks/bench_train.py --recipe recipes/face_resnet18_fer2013_phase5.yaml
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import sys
import time
from pathlib import Path

import torch
from machine import machine_info
from real_inputs import DATA, real_samples
from torch import nn

import glamor_zoo
from glamor_zoo.data.images import list_images, load_image
from glamor_zoo.data.transforms import GlamorTransform, to_uint8_tensor
from glamor_zoo.spec import get_model_spec

NCAER_S_TRAIN = 18_555  # NCAER-S training images (paper Table 1)


def step_fn(model: nn.Module, bf16: bool, channels_last: bool, compile: bool = False):
    model = copy.deepcopy(model).train()
    device_type = next(model.parameters()).device.type
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=5e-4, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    forward = torch.compile(model) if compile else model

    def step(args: tuple[torch.Tensor, ...], target: torch.Tensor) -> None:
        if channels_last:
            args = tuple(a.contiguous(memory_format=torch.channels_last) for a in args)
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(forward(*args).float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device_type == "cuda":
            torch.cuda.synchronize()

    return step


def step_rate(step, args, target, min_time: float, rounds: int) -> float:
    step(args, target)
    rates = []
    for _ in range(rounds):
        runs, start = 0, time.perf_counter()
        while time.perf_counter() - start < min_time:
            step(args, target)
            runs += 1
        rates.append(len(target) * runs / (time.perf_counter() - start))
    return statistics.median(rates)


def pipeline_rate(preprocess_cfg: dict, seconds: float, decoded: bool) -> float:
    """Samples/s of one worker: a CAER-S-sized frame (the glamor-net samples, 712×400) and its
    box → face + masked context, with training augmentation. ``decoded=True`` starts from
    frames already decoded in memory (what a decoded-image cache would give)."""
    transform = GlamorTransform(preprocess_cfg, train=True)
    paths = sorted((DATA / "scenes").glob("glamor_sample_*.jpg")) or list_images(DATA / "scenes")
    frames = [to_uint8_tensor(load_image(p)) for p in paths] if decoded else None
    rng = random.Random(0)
    gen = torch.Generator().manual_seed(0)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        i = count % len(paths)
        pixels = frames[i] if frames is not None else to_uint8_tensor(load_image(paths[i]))
        _, h, w = pixels.shape
        side = int(min(h, w) * 0.25)
        x, y = rng.randrange(w - side), rng.randrange(h - side)
        transform(pixels, (x, y, x + side, y + side), gen)
        count += 1
    return count / (time.perf_counter() - start)


def profile_summary(step, args, target, rows: int) -> str:
    from torch.profiler import ProfilerActivity, profile

    step(args, target)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            step(args, target)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


def recipe_throughput(path: Path, steps: int, threads: int) -> None:
    """Per-stage images/s of a recipe's training step and loader (see the module docstring)."""
    from torch.utils.data import DataLoader

    from glamor_zoo.train.config import load_config
    from glamor_zoo.train.data import apply_recipe_spec, build_split
    from glamor_zoo.train.evaluate import collate_samples, forward_batch
    from glamor_zoo.train.sampler import EpochShuffleSampler

    config = load_config(path)
    torch.manual_seed(0)
    model = glamor_zoo.create_model(config.model.name, **config.model.args)
    train = build_split(
        config.data,
        config.data.train_split,
        apply_recipe_spec(model, config.data).preprocess_cfg(),
        train=True,
        seed=0,
    )
    batch = config.run.batch_size
    loader = DataLoader(
        train,
        batch_size=batch,
        sampler=EpochShuffleSampler(len(train), seed=0),
        num_workers=config.data.workers(),
        collate_fn=collate_samples,
    )
    batches = iter(loader)
    next(batches)  # workers started, first batch made
    start = time.perf_counter()
    held = [next(batches) for _ in range(steps)]
    loader_rate = steps * batch / (time.perf_counter() - start)
    del batches

    if config.run.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if config.run.compile:
        model.compile()
    model.train()
    o = config.optim
    optimizer = torch.optim.SGD(
        model.parameters(), lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay
    )
    bf16 = config.run.mixed_precision == "bf16"
    spent = {"forward": 0.0, "backward": 0.0, "optimiser": 0.0}
    start = time.perf_counter()
    for index, sample in enumerate([held[0], *held]):  # the first step compiles: not counted
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = forward_batch(model, sample)
            loss = nn.functional.cross_entropy(
                logits.float(), sample["label"], label_smoothing=o.label_smoothing
            )
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        if index == 0:
            first_step = t3 - start
            continue
        spent["forward"] += t1 - t0
        spent["backward"] += t2 - t1
        spent["optimiser"] += t3 - t2
    step_s = sum(spent.values()) / steps
    step_rate = batch / step_s
    wait_share = max(0.0, 1 / loader_rate - 1 / step_rate) / (1 / step_rate) * 100
    epoch_steps = -(-len(train) // batch)
    info = machine_info()
    print(
        f"Machine: {info['cpu']}, {info['cores']} cores, torch threads {threads}, load average "
        f"{info['load_average']}, {info['date_utc']} UTC; torch {info['torch']}. Recipe "
        f"{path}: {config.model.name} {config.model.args}, batch {batch}, "
        f"{config.data.workers()} loader worker(s), precision {config.run.mixed_precision}, "
        f"channels-last {config.run.channels_last}, compile {config.run.compile}; "
        f"{steps} steps after one (which took {first_step:.1f} s: compilation).\n"
    )
    print("| stage | s per step | images/s | share of the step |")
    print("|---|---:|---:|---:|")
    print(f"| loader alone ({config.data.workers()} worker) | {batch / loader_rate:.3f} "
          f"| {loader_rate:.1f} | (in parallel) |")  # fmt: skip
    for name, seconds in spent.items():
        print(
            f"| {name} | {seconds / steps:.3f} | {batch * steps / seconds:.1f} "
            f"| {100 * seconds / steps / step_s:.0f} % |"
        )
    print(f"| whole step | {step_s:.3f} | {step_rate:.1f} | 100 % |")
    print(
        f"\nThe loader keeps up: a step would wait {wait_share:.0f} % longer for data. Epoch: "
        f"{len(train)} images = {epoch_steps} steps ≈ {epoch_steps * step_s / 60:.1f} min of "
        "training at this rate (plus the hold-out evaluation)."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["glamor_original"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[4, 64])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the GPU plan)")
    parser.add_argument(
        "--compile", action="store_true", help="add a bf16+CL+torch.compile step (slow to build)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=3.0)
    parser.add_argument("--profile-rows", type=int, default=12)
    parser.add_argument("--profile-out", type=Path, help="write the profile tables here")
    parser.add_argument("--recipe", type=Path, help="measure this recipe as the trainer runs it")
    parser.add_argument("--steps", type=int, default=10, help="with --recipe")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.recipe:
        recipe_throughput(args.recipe, args.steps, args.threads)
        return 0
    info = machine_info()
    rows, profiles = [], []
    for name in args.models:
        torch.manual_seed(0)
        device = torch.device(args.device)
        model = glamor_zoo.create_model(name).to(device)
        cfg = get_model_spec(model).preprocess_cfg()
        faces, contexts = real_samples(cfg, max(args.batch_sizes), seed=3)
        faces = faces.to(device)
        contexts = None if contexts is None else contexts.to(device)
        target = torch.randint(0, model.num_classes, (len(faces),), device=device)
        with torch.autocast("cpu", enabled=False):
            torch.set_num_threads(1)  # a DataLoader worker runs single-threaded
            pipe = pipeline_rate(cfg, args.min_time, decoded=False)
            pipe_cached = pipeline_rate(cfg, args.min_time, decoded=True)
            torch.set_num_threads(args.threads)
        for batch in args.batch_sizes:
            batch_args = (faces[:batch],) if contexts is None else (faces[:batch], contexts[:batch])
            rates = {}
            setups = [("fp32", False, False, False), ("bf16+CL", True, True, False)]
            if args.compile:
                setups.append(("bf16+CL+compile", True, True, True))
            for label, bf16, cl, compiled in setups:
                step = step_fn(model, bf16, cl, compiled)
                rates[label] = step_rate(
                    step, batch_args, target[:batch], args.min_time, args.rounds
                )
                if batch == max(args.batch_sizes):
                    profiles.append(
                        f"### {name}, batch {batch}, {label}\n\n```\n"
                        + profile_summary(step, batch_args, target[:batch], args.profile_rows)
                        + "```\n"
                    )
            best = max(rates.values())
            rows.append(
                f"| {name} | {batch} | "
                + ", ".join(f"{label} {rate:.1f}" for label, rate in rates.items())
                + f" | {pipe:.1f} | {pipe_cached:.1f} | {best / pipe:.1f} | {NCAER_S_TRAIN / best:.0f} |"
            )
        print(f"{name}: pipeline {pipe:.1f} / {pipe_cached:.1f} samples/s", file=sys.stderr)
    print(
        f"Machine: {info['cpu']}, {info['cores']} cores, torch threads {info['torch_threads']}, "
        f"load average {info['load_average']}, {info['date_utc']} UTC; torch {info['torch']}.\n"
    )
    print(
        "| model | batch | train step (img/s) | input pipeline per worker (img/s) | "
        "same from decoded frames (img/s) | workers needed | NCAER-S epoch at best (s) |"
    )
    print("|---|---:|---|---:|---:|---:|---:|")
    print("\n".join(rows))
    text = "\n".join(profiles)
    if args.profile_out:
        args.profile_out.write_text(text)
    else:
        print("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
