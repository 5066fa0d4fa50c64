"""Inference images/s of the zoo's models, every variant side by side in one run.

Variants (each on its own copy of the model):
  eager          float32, NCHW, eager (the baseline)
  channels_last  float32, channels-last, eager
  bf16           bfloat16 autocast, channels-last, eager
  compiled       float32, channels-last, torch.compile (Inductor defaults)
  compiled_bf16  bfloat16 autocast, channels-last, torch.compile (Inductor defaults)
  fast           glamor_zoo.fast_inference(model)                (what predict uses)
  fast_uncentred fast_inference(model, center_image_convs=False) (plain bf16 image convs)
  fast_int8      glamor_zoo.fast_inference(model, calibration=…) (int8 PT2E if it passes the
                 99% agreement gate, else the float plan; needs torchao)
  int8           the same int8 model without the gate (min_agreement=0): int8's own speed

Timing: all variants are built and warmed up (compiled) first, then timed in interleaved rounds
(each variant runs for --min-time seconds per round); the table shows the median round.
Agreement: top-1 agreement of each variant with the float32 eager model on real inputs
(FER-2013 / CK+ faces, scene contexts: see real_inputs.py), at the largest batch size. Each
model is the most trained stand-in available offline (``real_inputs.standin_model``): packaged
weights (Deep-Emotion); else a face encoder from a trained face-only GLAMOR-Net
(``--face-encoder-from``, default ``runs/glamor_face_only_fer2013/model``) fine-tuned end to
end on FER-2013 train faces with scene contexts; else random init with BatchNorm calibrated on
real inputs and the head fitted to the faces' labels. The table says which.

    python benchmarks/bench_inference.py --models glamor_original --batch-sizes 1 64
    python benchmarks/bench_inference.py            # every registered model (long)
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from machine import machine_info, matmul_peaks
from real_inputs import DEFAULT_FACE_ENCODER, batches, class_spread, real_samples, standin_model
from torch import nn

import glamor_zoo
from glamor_zoo.spec import get_model_spec

VARIANTS = (
    "eager",
    "channels_last",
    "bf16",
    "compiled",
    "compiled_bf16",
    "fast",
    "fast_uncentred",
    "fast_int8",
    "int8",
)
DEFAULT_MODELS = ("glamor_original", "glamor_mobilenetv2", "glamor_resnet18", "deep_emotion")


def flops_per_sample(model: nn.Module, args: tuple[torch.Tensor, ...]) -> float:
    """Forward FLOPs of one sample (multiply-add = 2 FLOPs), by torch's FLOP counter."""
    from torch.utils.flop_counter import FlopCounterMode

    one = tuple(a[:1] for a in args)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(*one)
    return float(counter.get_total_flops())


def _channels_last(args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return tuple(a.contiguous(memory_format=torch.channels_last) for a in args)


def build_variant(
    name: str, model: nn.Module, calibration: list[tuple[torch.Tensor, ...]]
) -> tuple[Callable[..., torch.Tensor], str]:
    """A callable for ``name`` (on its own copy of ``model``) and a short description."""
    m = copy.deepcopy(model).eval()
    if name == "eager":
        return m, "fp32 NCHW eager"
    if name in ("fast", "fast_uncentred", "fast_int8", "int8"):
        kwargs: dict[str, Any] = {}
        if name == "fast_uncentred":
            kwargs["center_image_convs"] = False
        elif name != "fast":
            kwargs["calibration"] = calibration
        if name == "int8":
            kwargs.update(precision="int8", min_agreement=0.0)
        fm = glamor_zoo.fast_inference(m, **kwargs)
        return fm, fm.fast_plan.summary()
    m = m.to(memory_format=torch.channels_last)
    bf16 = name in ("bf16", "compiled_bf16")
    runner = torch.compile(m) if name.startswith("compiled") else m
    device_type = next(m.parameters()).device.type

    def run(*args: torch.Tensor) -> torch.Tensor:
        args = _channels_last(args)
        with (
            torch.inference_mode(),
            torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16),
        ):
            return runner(*args).float()

    return (
        run,
        f"{'bf16' if bf16 else 'fp32'} channels_last {'compiled' if runner is not m else 'eager'}",
    )


def _call(fn: Callable[..., torch.Tensor], args: tuple[torch.Tensor, ...]) -> torch.Tensor:
    with torch.inference_mode():
        return fn(*args)


def _sync(args: tuple[torch.Tensor, ...]) -> None:
    if args[0].is_cuda:
        torch.cuda.synchronize()


def time_variants(
    fns: dict[str, Callable[..., torch.Tensor]],
    args: tuple[torch.Tensor, ...],
    rounds: int,
    min_time: float,
) -> dict[str, float]:
    """Median images/s of each function over interleaved rounds."""
    batch = args[0].shape[0]
    rates: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            _sync(args)
            runs, start = 0, time.perf_counter()
            while True:
                _call(fn, args)
                runs += 1
                _sync(args)
                elapsed = time.perf_counter() - start
                if elapsed >= min_time:
                    break
            rates[name].append(batch * runs / elapsed)
    return {name: statistics.median(r) for name, r in rates.items()}


def predictions(
    fn: Callable[..., torch.Tensor], batch_list: list[tuple[torch.Tensor, ...]]
) -> torch.Tensor:
    """Top-1 class of every sample."""
    return torch.cat([_call(fn, args).argmax(-1).cpu() for args in batch_list])


def _to(
    pair: tuple[torch.Tensor, torch.Tensor | None], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor | None]:
    return pair[0].to(device), None if pair[1] is None else pair[1].to(device)


def bench_model(name: str, args: argparse.Namespace, peaks: dict[str, float]) -> dict[str, Any]:
    device = torch.device(args.device)
    model, standin = standin_model(name, device, args.face_encoder_from, args.standin_steps)
    logging.info("%s stand-in: %s", name, standin)
    cfg = get_model_spec(model).preprocess_cfg()
    cal_faces, cal_contexts = _to(
        real_samples(cfg, max(args.calibration_samples, 1), seed=1), device
    )
    cal_batches = list(batches(cal_faces, cal_contexts, 32))
    faces, contexts = _to(real_samples(cfg, args.agreement_samples, seed=2), device)
    eval_batches = list(batches(faces, contexts, max(args.batch_sizes)))
    spread = class_spread(model, eval_batches)
    example = next(iter(batches(faces, contexts, max(args.batch_sizes))))
    gflop = flops_per_sample(model, example) / 1e9

    fns: dict[str, Callable[..., torch.Tensor]] = {}
    result: dict[str, Any] = {
        "model": name,
        "gflop_per_sample": gflop,
        "class_spread": spread,
        "standin": standin,
        "plans": {},
        "setup_s": {},
        "agreement": {},
        "images_per_s": {},
        "errors": {},
    }
    for variant in args.variants:
        start = time.perf_counter()
        try:
            fn, plan = build_variant(variant, model, cal_batches)
            _call(fn, example)  # compile / warm up at the largest batch
            if hasattr(fn, "fast_plan"):  # a failed compile may have changed the plan
                plan = fn.fast_plan.summary()
        except Exception as exc:
            result["errors"][variant] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
            logging.warning("%s %s failed: %s", name, variant, result["errors"][variant])
            continue
        result["setup_s"][variant] = time.perf_counter() - start
        result["plans"][variant] = plan
        fns[variant] = fn
        logging.info("%s %-13s ready in %.1fs: %s", name, variant, result["setup_s"][variant], plan)

    if "eager" in fns:
        reference = predictions(fns["eager"], eval_batches)
        for variant, fn in fns.items():
            if variant != "eager":
                same = predictions(fn, eval_batches) == reference
                result["agreement"][variant] = float(same.float().mean())
        logging.info("%s agreement with fp32: %s", name, result["agreement"])
    for batch_size in args.batch_sizes:
        batch_args = tuple(a[:batch_size] for a in example)
        for fn in fns.values():
            _call(fn, batch_args)  # compile for this batch size before timing
        result["images_per_s"][batch_size] = time_variants(
            fns, batch_args, args.rounds, args.min_time
        )
        logging.info("%s batch %d: %s", name, batch_size, result["images_per_s"][batch_size])
    result["peak_fraction"] = {
        variant: rate * gflop / peaks[precision]
        for variant, precision in (("fast", "bf16"), ("int8", "int8"), ("eager", "fp32"))
        if variant in fns
        for rate in [result["images_per_s"][max(args.batch_sizes)][variant]]
        if peaks.get(precision)
    }
    return result


def markdown(results: list[dict[str, Any]], info: dict[str, Any], peaks: dict[str, float]) -> str:
    variants = [v for v in VARIANTS if any(v in r["plans"] for r in results)]
    lines = [
        f"Machine: {info['cpu']} ({', '.join(info['cpu_flags'])}), {info['cores']} cores, "
        f"torch threads {info['torch_threads']}, load average {info['load_average']} → "
        f"{info.get('load_average_end', '?')}, {info['date_utc']} UTC.",
        f"Versions: python {info['python']}, torch {info['torch']}, timm {info['timm']}, "
        f"torchao {info['torchao']}, glamor-zoo {info['glamor-zoo']}.",
        f"Matmul peaks (2048³, same run): fp32 {peaks['fp32']:.0f} GFLOP/s, "
        f"bf16 {peaks['bf16']:.0f} GFLOP/s, int8 {peaks['int8']:.0f} GOP/s.",
        "",
        "Images/s (median of interleaved rounds):",
        "",
        "| model | batch | " + " | ".join(variants) + " | fast ÷ eager |",
        "|---|---:|" + "---:|" * len(variants) + "---:|",
    ]
    for r in results:
        for batch, rates in r["images_per_s"].items():
            cells = [f"{rates[v]:.1f}" if v in rates else "–" for v in variants]
            speedup = (
                f"{rates['fast'] / rates['eager']:.1f}×"
                if "fast" in rates and "eager" in rates
                else "–"
            )
            lines.append(f"| {r['model']} | {batch} | " + " | ".join(cells) + f" | {speedup} |")
    lines += [
        "",
        "Top-1 agreement with fp32 eager on real inputs, GFLOP/sample, share of the matmul peak "
        "reached at the largest batch (fast: of bf16, int8: of int8), setup (compile) time:",
        "",
        "| model | GFLOP | class spread | "
        + " | ".join(f"agree {v}" for v in variants if v != "eager")
        + " | fast % bf16 peak | int8 % int8 peak | setup fast / int8 (s) |",
        "|---|---:|---|" + "---:|" * (len([v for v in variants if v != "eager"]) + 3),
    ]
    for r in results:
        agree = [
            f"{r['agreement'][v]:.2%}" if v in r["agreement"] else "–"
            for v in variants
            if v != "eager"
        ]
        frac = r.get("peak_fraction", {})
        setup = r["setup_s"]
        lines.append(
            f"| {r['model']} | {r['gflop_per_sample']:.3f} | {r['class_spread']} | "
            + " | ".join(agree)
            + f" | {frac.get('fast', float('nan')):.0%} | {frac.get('int8', float('nan')):.0%}"
            + f" | {setup.get('fast', float('nan')):.0f} / {setup.get('int8', float('nan')):.0f} |"
        )
    lines += ["", "Models and plans:", ""]
    for r in results:
        lines.append(f"- {r['model']}: {r['standin']}")
        for v, plan in r["plans"].items():
            lines.append(f"- {r['model']} `{v}`: {plan}")
        for v, err in r["errors"].items():
            lines.append(f"- {r['model']} `{v}`: FAILED {err}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=None, help="default: every registered model")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 64])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the GPU plan)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=2.0, help="seconds per variant per round")
    parser.add_argument("--agreement-samples", type=int, default=512)
    parser.add_argument("--calibration-samples", type=int, default=256)
    parser.add_argument(
        "--face-encoder-from",
        type=Path,
        default=DEFAULT_FACE_ENCODER,
        help="trained face-only GLAMOR-Net folder whose face encoder seeds the stand-in models",
    )
    parser.add_argument("--standin-steps", type=int, default=150)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    torch.set_num_threads(args.threads)
    models = args.models or [m for m in glamor_zoo.list_models() if not m.endswith("_test")]

    info = machine_info()
    peaks = matmul_peaks(device=args.device)
    logging.info("machine %s; peaks %s", info, peaks)
    results = []
    for name in models:
        try:
            results.append(bench_model(name, args, peaks))
        except Exception as exc:  # one model's failure must not lose the others' numbers
            logging.exception("%s failed: %s", name, exc)
    info["load_average_end"] = machine_info()["load_average"]
    table = markdown(results, info, peaks)
    print(table)
    if args.json:
        args.json.write_text(
            json.dumps({"machine": info, "peaks": peaks, "results": results}, indent=1)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
