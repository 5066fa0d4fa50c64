"""glamor_original: the official TensorFlow 2 implementation vs the zoo, side by side in one run.

The official model (``tf_official.py``, verified against the checkpoint and outputs the
official code wrote) runs in a TensorFlow worker process; the zoo's model runs here. Rounds are
interleaved (TF graph, TF XLA, PyTorch eager fp32 NCHW, ``fast_inference`` with and without
its centred image convolutions — one static graph per batch size, as TensorFlow traces one per
shape —, ``fast_inference`` with a dynamic batch, and with ``--int8-float-layers`` int8), never
concurrent, so every variant sees the same machine; the table shows the median round and the
median of the per-round ratios to TensorFlow.

TensorFlow lives in its own environment (it is not a dependency of the zoo)::

    python -m venv ~/tfvenv && ~/tfvenv/bin/pip install tensorflow-cpu numpy
    python benchmarks/bench_vs_tf.py --tf-python ~/tfvenv/bin/python
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from machine import machine_info, matmul_peaks

import glamor_zoo

HERE = Path(__file__).resolve().parent
TF_OFFICIAL = HERE.parent / "tools" / "tf_official.py"  # the reference model (release tooling)
FIXTURE = HERE.parent.parent / "shared" / "fixtures" / "tf_official_tiny"


class TensorFlowWorker:
    """A ``tf_official.py --serve`` process answering timing requests."""

    def __init__(self, python: str, threads: int, xla: bool) -> None:
        command = [python, str(TF_OFFICIAL), "--serve", "--threads", str(threads)]
        if xla:
            command.append("--xla")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.hello = self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the TensorFlow worker exited (code {self.process.poll()})")
        return json.loads(line)

    def images_per_s(self, batch: int, seconds: float) -> float:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"batch": batch, "seconds": seconds}) + "\n")
        self.process.stdin.flush()
        return float(self._answer()["images_per_s"])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def verify_port(python: str) -> dict[str, Any]:
    """Run ``tf_official.py --verify`` on the official fixture: max |diff| per output."""
    out = subprocess.run(
        [python, str(TF_OFFICIAL), "--verify", str(FIXTURE)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def torch_rate(fn: Callable[..., Any], args: tuple[torch.Tensor, ...], seconds: float) -> float:
    runs, start = 0, time.perf_counter()
    while True:
        with torch.inference_mode():
            fn(*args)
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return args[0].shape[0] * runs / elapsed


def int8_graphs(
    model: torch.nn.Module, inputs: dict[int, tuple[torch.Tensor, ...]], float_layers: list[str]
) -> dict[int, Callable[..., Any]]:
    """``model`` quantised to int8 (calibrated on 256 real inputs: FER-2013 train faces, odd
    scene photos), compiled with frozen weights, one static graph per batch size."""
    import torch._inductor.config as inductor_config
    from real_inputs import TRAIN_FACE_ROOTS, batches, real_samples

    from glamor_zoo.fast import quantize_int8
    from glamor_zoo.spec import get_model_spec

    cfg = get_model_spec(model).preprocess_cfg()
    samples = real_samples(cfg, 256, seed=1, roots=TRAIN_FACE_ROOTS, scenes=slice(1, None, 2))
    graph = quantize_int8(model, list(batches(*samples, 32)), float_layers=float_layers).graph
    graphs: dict[int, Callable[..., Any]] = {}
    for b, args in inputs.items():
        compiled = torch.compile(graph, dynamic=False)
        with torch.no_grad(), inductor_config.patch(freezing=True):
            compiled(*args)

        def run(*call_args: torch.Tensor, compiled: Callable[..., Any] = compiled) -> Any:
            with inductor_config.patch(freezing=True):
                return compiled(*call_args)

        graphs[b] = run
    return graphs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tf-python",
        default=os.environ.get("GLAMOR_ZOO_TF_PYTHON", str(Path.home() / "tfvenv/bin/python")),
        help="the Python of an environment with TensorFlow",
    )
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 64])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=2.0, help="seconds per variant/round")
    parser.add_argument("--no-xla", action="store_true", help="leave out TF with XLA")
    parser.add_argument(
        "--int8-float-layers",
        nargs="*",
        default=None,
        help="also time int8 (quantize_int8, no agreement gate: bench_int8.py measures "
        "agreement) with these submodules in float32, e.g. face_encoder.blocks.0 "
        "context_encoder.blocks.0 (none given: everything int8)",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    torch.set_num_threads(args.threads)

    info = machine_info()
    verification = verify_port(args.tf_python)
    logging.info("official port vs the official outputs: %s", verification)
    workers = {"tf": TensorFlowWorker(args.tf_python, args.threads, xla=False)}
    if not args.no_xla:
        workers["tf_xla"] = TensorFlowWorker(args.tf_python, args.threads, xla=True)
    tf_version = workers["tf"].hello["tensorflow"]

    torch.manual_seed(0)
    eager = glamor_zoo.create_model("glamor_original").eval()
    inputs = {b: (torch.rand(b, 3, 96, 96), torch.rand(b, 3, 112, 112)) for b in args.batch_sizes}
    start = time.perf_counter()
    # TensorFlow traces one graph per input shape; so does "fast_inference" here (a static
    # graph per batch size). "fast, dynamic batch" is one wrapper called at every batch size:
    # after the second size Inductor recompiles with a dynamic batch (what predict gets).
    per_batch: dict[str, dict[int, Callable[..., Any]]] = {
        "fast_inference": {
            b: glamor_zoo.fast_inference(copy.deepcopy(eager), example_inputs=inputs[b])
            for b in args.batch_sizes
        },
        "fast, image convs not centred": {
            b: glamor_zoo.fast_inference(
                copy.deepcopy(eager), center_image_convs=False, example_inputs=inputs[b]
            )
            for b in args.batch_sizes
        },
    }
    dynamic = glamor_zoo.fast_inference(copy.deepcopy(eager))
    fast = per_batch["fast_inference"][args.batch_sizes[0]]
    fns: dict[str, Callable[..., Any]] = {"torch_eager": eager, "fast, dynamic batch": dynamic}
    if args.int8_float_layers is not None:
        per_batch["int8 (ungated)"] = int8_graphs(eager, inputs, args.int8_float_layers)
    for b in args.batch_sizes:
        dynamic(*inputs[b])  # compile for every batch size before timing
        for fn in (*fns.values(), *(graphs[b] for graphs in per_batch.values())):
            torch_rate(fn, inputs[b], 0.5)  # as timed (inference mode): no recompile in round 0
        for worker in workers.values():
            worker.images_per_s(b, 0.5)
    setup = time.perf_counter() - start
    logging.info("fast_inference plan %s; set up in %.1fs", fast.fast_plan.summary(), setup)
    peaks = matmul_peaks()

    names = (*workers, "torch_eager", *per_batch, "fast, dynamic batch")
    rates: dict[int, dict[str, list[float]]] = {
        b: {name: [] for name in names} for b in args.batch_sizes
    }
    for round_index in range(args.rounds):
        for b in args.batch_sizes:
            for name, worker in workers.items():
                rates[b][name].append(worker.images_per_s(b, args.min_time))
            for name, fn in fns.items():
                rates[b][name].append(torch_rate(fn, inputs[b], args.min_time))
            for name, graphs in per_batch.items():
                rates[b][name].append(torch_rate(graphs[b], inputs[b], args.min_time))
        logging.info(
            "round %d: %s",
            round_index,
            {b: {k: v[-1] for k, v in r.items()} for b, r in rates.items()},
        )
    for worker in workers.values():
        worker.close()
    info["load_average_end"] = machine_info()["load_average"]

    gflop = 0.743  # torch's FLOP counter on glamor_original (bench_inference.py measures it)
    # The fast path's own precision sets its roof (CPUs without native bf16 run it in fp32).
    precision = "bf16" if "bf16" in fast.fast_plan.summary() else "fp32"
    names = list(rates[args.batch_sizes[0]])
    int8_note = (
        f" int8 (ungated): float32 layers {args.int8_float_layers or 'none'}."
        if args.int8_float_layers is not None
        else ""
    )
    lines = [
        f"Machine: {info['cpu']} ({', '.join(info['cpu_flags'])}), {info['cores']} cores, "
        f"{args.threads} threads, load average {info['load_average']} → "
        f"{info['load_average_end']}, {info['date_utc']} UTC.",
        f"Versions: torch {info['torch']}, TensorFlow {tf_version}, glamor-zoo "
        f"{info['glamor-zoo']}. fast_inference: {fast.fast_plan.summary()}.{int8_note}",
        f"Official port check (tf_official.py on the official checkpoint fixture): "
        f"{verification['variables']} variables, max |diff| scores {verification['scores']:.1e},"
        f" face map {verification['face_map']:.1e}, context map {verification['context_map']:.1e}.",
        f"Matmul peaks (same run): fp32 {peaks['fp32']:.0f}, bf16 {peaks['bf16']:.0f} GFLOP/s.",
        "",
        "| batch | "
        + " | ".join(names)
        + f" | fast ÷ TF (median of rounds) | fast, % {precision} peak | TF, % fp32 peak |"
        + (" int8 ÷ TF |" if int8_note else ""),
        "|---:|" + "---:|" * (len(names) + 3 + bool(int8_note)),
    ]
    for b, per in rates.items():
        medians = {k: statistics.median(v) for k, v in per.items()}
        ratio = statistics.median(
            f / t for f, t in zip(per["fast_inference"], per["tf"], strict=True)
        )
        share = medians["fast_inference"] * gflop / peaks[precision]
        tf_share = medians["tf"] * gflop / peaks["fp32"]
        cells = " | ".join(f"{medians[k]:.1f}" for k in names)
        line = f"| {b} | {cells} | {ratio:.2f}× | {share:.0%} | {tf_share:.0%} |"
        if int8_note:
            int8_ratio = statistics.median(
                i / t for i, t in zip(per["int8 (ungated)"], per["tf"], strict=True)
            )
            line += f" {int8_ratio:.2f}× |"
        lines.append(line)
    print("\n".join(lines))
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": info, "verification": verification, "rates": rates, "peaks": peaks},
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
