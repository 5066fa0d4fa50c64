"""Start-up cost: ``import glamor_zoo`` against ``import timm``, and ``glamor-zoo --help``.

Each measurement is a fresh interpreter; the commands are interleaved (timm, glamor_zoo, CLI,
timm, …) so that load on a shared machine hits them alike; the table shows medians. The CLI is
run as the ``glamor-zoo`` console script runs it (``glamor_zoo_cli:main``, here through
``python -m glamor_zoo_cli``), ``--help`` and every subcommand's ``--help``; its budget is 1 s.
Last, ``-X importtime`` of ``glamor-zoo predict --help`` lists the slowest imports (none of
torch, timm or glamor_zoo may be among them).

    python benchmarks/bench_startup.py --repeats 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

SUBCOMMANDS = ("predict", "eval", "train", "detect", "export", "convert-tf")
IMPORT = "import time; t = time.perf_counter(); import {mod}; print(time.perf_counter() - t)"


def import_seconds(module: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", IMPORT.format(mod=module)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def command_seconds(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    cli = [sys.executable, "-m", "glamor_zoo_cli"]
    measures: dict[str, list[float]] = {
        "import torch": [],
        "import timm": [],
        "import glamor_zoo": [],
        "python -c pass (wall)": [],
        "glamor-zoo --help (wall)": [],
    }
    commands = [f"glamor-zoo {c} --help (wall)" for c in SUBCOMMANDS]
    measures.update({name: [] for name in commands})
    for _ in range(args.repeats):
        measures["import torch"].append(import_seconds("torch"))
        measures["import timm"].append(import_seconds("timm"))
        measures["import glamor_zoo"].append(import_seconds("glamor_zoo"))
        measures["python -c pass (wall)"].append(command_seconds([sys.executable, "-c", "pass"]))
        measures["glamor-zoo --help (wall)"].append(command_seconds([*cli, "--help"]))
        for command, name in zip(SUBCOMMANDS, commands, strict=True):
            measures[name].append(command_seconds([*cli, command, "--help"]))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{args.repeats} fresh interpreters each, interleaved; load average {load}.\n")
    print("| what | median s | min s | max s |")
    print("|---|---:|---:|---:|")
    for name, values in measures.items():
        print(
            f"| {name} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |"
        )
    extra = statistics.median(
        g - t for g, t in zip(measures["import glamor_zoo"], measures["import timm"], strict=True)
    )
    print(f"\n`import glamor_zoo` − `import timm` (paired median): {extra:+.3f} s (budget +0.5 s)")
    worst = max(statistics.median(measures[n]) for n in ["glamor-zoo --help (wall)", *commands])
    print(f"slowest --help (median): {worst:.3f} s (budget 1 s)")
    print("\n-X importtime of `glamor-zoo predict --help`, slowest cumulative imports (µs):")
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "glamor_zoo_cli", "predict", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.split("|") for line in out.stderr.splitlines() if line.startswith("import time:")]
    timed = sorted(
        ((int(r[1]), r[2].strip()) for r in rows[1:] if r[1].strip().isdigit()), reverse=True
    )
    for cumulative, module in timed[:8]:
        print(f"  {cumulative:>8}  {module}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
