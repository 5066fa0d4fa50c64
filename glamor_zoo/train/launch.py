"""The training command line, shared by ``recipes/train.py`` and ``glamor-zoo train``."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from glamor_zoo_cli.train import add_train_arguments

__all__ = ["add_train_arguments", "main", "run_from_args"]

_LOGGER = logging.getLogger("glamor_zoo.train")


def summary_lines(result: Any, paper_accuracy: float | None) -> list[str]:
    """Human-readable end-of-run summary."""
    lines = [f"run directory: {result.run_dir}", f"final model:   {result.model_dir}"]
    for name, stage in result.metrics.get("stages", {}).items():
        best = stage.get("best_value")
        lines.append(
            f"stage {name}: {stage.get('epochs_run', len(stage.get('history', [])))} epoch(s), "
            f"{stage.get('global_step', '?')} steps, selected {stage.get('selected', '?')}"
            + (f" (epoch {stage['best_epoch'] + 1}, {best:.2f})" if best is not None else "")
        )
    for split, values in result.metrics.get("final", {}).items():
        lines.append(
            f"{split} ({values['split']}): top-1 {values['top1']:.2f}% on {values['num_samples']} images"
        )
    if paper_accuracy is not None:
        lines.append(f"paper: {paper_accuracy:.2f}%")
    lines.append(f"wall time: {result.wall_time_s / 60:.1f} min")
    return lines


def folds_summary_lines(result: Any, paper_accuracy: float | None) -> list[str]:
    """Human-readable end of a k-fold run: one line per fold, then mean ± std."""
    summary = result.summary
    lines = [f"run directory: {result.run_dir}"]
    for entry in summary.get("folds", []):
        lines.append(
            f"fold {entry['fold']} ({entry['run_dir']}): top-1 {entry['top1']:.2f}% on "
            f"{entry['num_samples']} {entry['split']} images"
        )
    if summary.get("mean_top1") is not None:
        lines.append(
            f"mean over {summary['completed_folds']} fold(s): top-1 {summary['mean_top1']:.2f}% "
            f"± {summary['std_top1']:.2f} -> {result.run_dir / 'summary.json'}"
        )
    if paper_accuracy is not None:
        lines.append(f"paper: {paper_accuracy:.2f}%")
    lines.append(f"wall time: {result.wall_time_s / 60:.1f} min")
    return lines


def run_from_args(args: argparse.Namespace, argv: Sequence[str] | None = None) -> int:
    """Load the recipe, train, and print the summary (main process). Returns an exit code."""
    from glamor_zoo.train.config import ConfigError, load_config
    from glamor_zoo.train.folds import train_folds
    from glamor_zoo.train.trainer import train

    overrides = list(args.overrides)
    if args.output_dir:
        overrides.append(f"run.output_dir={args.output_dir}")
    config = load_config(args.config, overrides)
    if argv is not None:
        command = shlex.join(["accelerate", "launch", "recipes/train.py", *argv])
    else:
        program = os.path.basename(sys.argv[0])
        if program == "glamor-zoo":
            prefix = ["glamor-zoo"]
        elif program == "__main__.py":
            prefix = ["accelerate", "launch", "-m", "glamor_zoo"]
        else:
            prefix = ["accelerate", "launch", os.path.relpath(sys.argv[0])]
        command = shlex.join([*prefix, *sys.argv[1:]])
    if config.data.folds is not None:
        if args.push_to_hub:
            raise ConfigError(
                "--push-to-hub with data.folds: a k-fold run makes one model per fold; push the "
                "one you want with glamor-zoo push RUN_DIR/fold_K/model ORG/NAME"
            )
        folds = train_folds(config, resume=args.resume, command=command)
        lines = folds_summary_lines(folds, config.paper_accuracy)
    else:
        result = train(config, resume=args.resume, push_to_hub=args.push_to_hub, command=command)
        lines = summary_lines(result, config.paper_accuracy)
    from accelerate import PartialState

    if PartialState().is_main_process:
        for line in lines:
            _LOGGER.info(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``recipes/train.py``: parse, train, report errors in one line."""
    from glamor_zoo.train.config import ConfigError

    parser = add_train_arguments(
        argparse.ArgumentParser(description="Train a glamor_zoo recipe with accelerate.")
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return run_from_args(args)
    except ConfigError as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return 2
