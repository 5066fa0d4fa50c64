"""int8's speed/agreement curve: which layers stay in float32, at what speed, agreeing how often.

For each model and each choice of layers kept in float32 (``quantize_int8(float_layers=…)``,
cumulative, from "everything int8" to "the layers that read images and the heads in float32",
each with the weights' bias correction, and "everything int8" also without it): images/s at batch 64 (Inductor, weights frozen, static shape) and top-1
agreement with the float32 eager model on 1,024 real inputs; beside them float32 eager and
``fast_inference``'s float plan.

The two sets share nothing: int8 is calibrated on 256 inputs whose faces are FER-2013 *train*
faces and whose contexts come from the odd-numbered scene photos; agreement is measured on
1,024 inputs from FER-2013 validation and CK+ faces and the even-numbered scene photos. The
models are ``real_inputs.standin_model``'s (packaged weights where they exist; the table says).

    python benchmarks/bench_int8.py --models glamor_original face_resnet18

Static shapes: an int8 graph compiled with a dynamic batch fails Inductor's stride check on
one-channel models (torch 2.14.1), so each batch size is its own compile here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from machine import machine_info
from real_inputs import (
    DEFAULT_FACE_ENCODER,
    TRAIN_FACE_ROOTS,
    batches,
    class_spread,
    real_samples,
    standin_model,
)

import glamor_zoo
from glamor_zoo.fast import quantize_int8
from glamor_zoo.spec import get_model_spec

# Cumulative choices of float32 layers per model: (label, names added to the previous choice).
# Every choice runs with quantize_int8's bias correction; "all int8" is also measured without.
CHOICES: dict[str, list[tuple[str, list[str]]]] = {
    "glamor_original": [
        ("all int8", []),
        ("face-reading conv float", ["face_encoder.blocks.0"]),
        ("+ context-reading conv float", ["context_encoder.blocks.0"]),
        ("+ attention, fusion, classifier float", ["attention", "fusion", "head"]),
    ],
    "face_resnet": [  # face_resnet18, face_resnet26 (any tag)
        ("all int8", []),
        ("image-reading conv float", ["conv1.0"]),
        ("+ classifier float", ["fc"]),
    ],
    "deep_emotion": [("all int8", [])],
}
BATCH = 64


def choices_for(name: str) -> list[tuple[str, list[str]]]:
    """The choices of ``name`` (an architecture or a tag): those of its architecture, or of the
    family its architecture's name starts with (``face_resnet26`` → ``face_resnet``)."""
    arch = name.split(".")[0]
    family = next((key for key in CHOICES if arch.startswith(key)), arch)
    return CHOICES.get(arch, CHOICES.get(family, [("all int8", [])]))


def rate(fn: Any, args: tuple[torch.Tensor, ...], rounds: int, min_time: float) -> float:
    """Median images/s over ``rounds`` rounds of at least ``min_time`` seconds."""
    rates = []
    for _ in range(rounds):
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < min_time:
            fn(*args)
            calls += 1
        rates.append(BATCH * calls / (time.perf_counter() - start))
    return statistics.median(rates)


def weights_sha256(model: torch.nn.Module) -> str:
    """sha256 of the model's state (names, shapes and float32 values, in order): the stand-in
    a table was measured on, recognisable when it is rebuilt."""
    digest = hashlib.sha256()
    for key, value in model.state_dict().items():
        digest.update(f"{key}{tuple(value.shape)}".encode())
        digest.update(value.detach().float().contiguous().numpy().tobytes())
    return digest.hexdigest()


def top1(fn: Any, batch_list: list[tuple[torch.Tensor, ...]]) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([fn(*args).argmax(-1) for args in batch_list])


def bench_model(name: str, args: argparse.Namespace) -> dict[str, Any]:
    import torch._inductor.config as inductor_config

    model, standin = standin_model(name, torch.device("cpu"), args.face_encoder_from)
    cfg = get_model_spec(model).preprocess_cfg()
    calibration = list(
        batches(
            *real_samples(
                cfg,
                args.calibration_samples,
                seed=1,
                roots=TRAIN_FACE_ROOTS,
                scenes=slice(1, None, 2),
            ),
            32,
        )
    )
    agreement_set = list(batches(*real_samples(cfg, 1024, seed=2, scenes=slice(0, None, 2)), BATCH))
    reference = top1(model, agreement_set)
    example = agreement_set[0]
    result: dict[str, Any] = {
        "model": name,
        "standin": standin,
        "weights_sha256": weights_sha256(model),
        "class_spread": class_spread(model, agreement_set),
        "float": {},
        "choices": [],
    }
    with torch.no_grad():
        result["float"]["eager fp32"] = rate(model, example, args.rounds, args.min_time)
        start = time.perf_counter()
        fast = glamor_zoo.fast_inference(model, example_inputs=example)
        fast(*example)
        result["float"]["fast_inference (float plan)"] = rate(
            fast, example, args.rounds, args.min_time
        )
        result["float_plan"] = fast.fast_plan.summary()
        result["float_setup_s"] = time.perf_counter() - start
    runs: list[tuple[str, list[str], bool]] = [("all int8, no bias correction", [], False)]
    float_layers: list[str] = []
    for label, added in choices_for(name):
        float_layers = [*float_layers, *added]
        runs.append((label, list(float_layers), True))
    for label, kept_float, correct_bias in runs:
        row: dict[str, Any] = {
            "choice": label,
            "float_layers": kept_float,
            "bias_correction": correct_bias,
        }
        start = time.perf_counter()
        try:
            graph = quantize_int8(
                model, calibration, float_layers=kept_float, correct_bias=correct_bias
            ).graph
            with torch.no_grad(), inductor_config.patch(freezing=True):
                compiled = torch.compile(graph, dynamic=False)
                compiled(*example)
                row["setup_s"] = time.perf_counter() - start
                row["agreement"] = float(
                    (top1(compiled, agreement_set) == reference).float().mean()
                )
                row["images_per_s"] = rate(compiled, example, args.rounds, args.min_time)
        except Exception as exc:  # one choice's failure must not lose the others
            row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            logging.exception("%s %s failed", name, label)
        logging.info("%s %s: %s", name, label, row)
        result["choices"].append(row)
        torch._dynamo.reset()
    return result


def markdown(results: list[dict[str, Any]], info: dict[str, Any], tf: float | None) -> str:
    lines = [
        f"Machine: {info['cpu']}, {info['cores']} cores, torch {info.get('torch')}, "
        f"capability {info['cpu_capability']}, load average {info['load_average']} → "
        f"{info.get('load_average_end')}, {info['date_utc']} UTC. Batch {BATCH}, images/s "
        "(median of rounds); agreement: top-1 with float32 eager on 1,024 real inputs "
        f"(calibration: {info['calibration_samples']} others, no face or scene in common).",
        "",
    ]
    for r in results:
        lines.append(
            f"**{r['model']}** ({r['standin']}; weights sha256 {r['weights_sha256'][:16]}…; "
            f"class spread {r['class_spread']}): "
        )
        floats = ", ".join(f"{k} {v:.1f}" for k, v in r["float"].items())
        lines.append(f"float32: {floats} images/s ({r['float_plan']}).")
        lines.append("")
        header = "| float32 layers | images/s | × fast float | agreement |"
        rule = "|---|---:|---:|---:|"
        if tf:
            header += " × TF |"
            rule += "---:|"
        lines += [header, rule]
        fast = r["float"]["fast_inference (float plan)"]
        for row in r["choices"]:
            if "error" in row:
                lines.append(f"| {row['choice']} | failed: {row['error']} | | |")
                continue
            line = (
                f"| {row['choice']} | {row['images_per_s']:.1f} | "
                f"{row['images_per_s'] / fast:.2f} | {row['agreement']:.2%} |"
            )
            if tf:
                line += f" {row['images_per_s'] / tf:.2f} |"
            lines.append(line)
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["glamor_original", "face_resnet18"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calibration-samples", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=2.0)
    parser.add_argument(
        "--tf-images-per-s",
        type=float,
        default=None,
        help="the official TF2 model's batch-64 images/s on this machine (bench_vs_tf.py), "
        "for a × TF column (glamor_original)",
    )
    parser.add_argument("--face-encoder-from", type=Path, default=DEFAULT_FACE_ENCODER)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    torch.set_num_threads(args.threads)
    info = machine_info()
    info["calibration_samples"] = args.calibration_samples
    results = [bench_model(name, args) for name in args.models]
    info["load_average_end"] = machine_info()["load_average"]
    print(markdown(results, info, args.tf_images_per_s))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
