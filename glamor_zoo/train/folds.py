"""k-fold cross-validation: one complete run per fold, and the mean ± std of their accuracies.

A recipe with ``data.folds`` (``all``, or a list of fold indices) is trained fold by fold. Fold
``k`` is an ordinary run (stages, checkpoints, ``--resume``, model folder, evaluation) in
``<run.output_dir>/fold_<k>/`` with ``data.args.fold=k``: for ``ckplus`` it trains on the other
folds' subjects and is scored on fold ``k`` (``data.test_split``), so every subject is tested
exactly once over ``folds: all``. ``<run.output_dir>/summary.json`` holds each fold's top-1
accuracy and their mean and standard deviation; it is rewritten after every fold, so an
interrupted run still reports the folds it finished, and ``--resume`` continues the unfinished
fold and reuses the finished ones.

Run directory::

    config.yaml        the resolved recipe
    summary.json       per-fold accuracies, mean ± std (sample standard deviation, n - 1)
    fold_<k>/          fold k's run (see :mod:`glamor_zoo.train.trainer`)
"""

from __future__ import annotations

import copy
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from accelerate.logging import get_logger

from glamor_zoo.serialization import atomic_write_text
from glamor_zoo.train.config import ConfigError, DataConfig, TrainConfig

__all__ = ["FoldsResult", "fold_config", "fold_indices", "train_folds"]

_LOGGER = get_logger(__name__)  # logs once, from the main process
SUMMARY_NAME = "summary.json"


@dataclass
class FoldsResult:
    """What a cross-validation produced.

    Attributes:
        run_dir: The parent run directory.
        summary: The content of ``summary.json``.
        wall_time_s: Wall time of this invocation.
    """

    run_dir: Path
    summary: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float = 0.0


def fold_indices(data: DataConfig) -> list[int]:
    """The folds ``data.folds`` asks for (``all`` → ``0 … data.args.num_folds - 1``)."""
    if data.folds == "all":
        return list(range(int(data.args["num_folds"])))
    return [int(k) for k in data.folds or ()]


def fold_config(config: TrainConfig, fold: int) -> TrainConfig:
    """The single-run config of fold ``fold``: ``data.args.fold=fold``, its own output folder."""
    out = copy.deepcopy(config)
    out.data.folds = None
    out.data.args = {**out.data.args, "fold": fold}
    out.run.output_dir = str(Path(config.run.output_dir).expanduser() / f"fold_{fold}")
    return out


def _finished(run_dir: Path) -> dict[str, Any] | None:
    metrics_path = run_dir / "metrics.json"
    if not (run_dir / "model" / "model.safetensors").is_file() or not metrics_path.is_file():
        return None
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    return metrics if "final" in metrics else None


def _fold_entry(fold: int, run_dir: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    test = metrics["final"]["test"]
    stages = metrics.get("stages", {})
    return {
        "fold": fold,
        "run_dir": run_dir.name,
        "split": test["split"],
        "top1": test["top1"],
        "mean_class_accuracy": test["mean_class_accuracy"],
        "num_samples": test["num_samples"],
        "epochs_run": {name: s.get("epochs_run") for name, s in stages.items()},
        "wall_time_s": metrics.get("wall_time_s"),
    }


def _summary(
    config: TrainConfig, folds: list[int], entries: list[dict[str, Any]], command: str | None
) -> dict[str, Any]:
    accuracies = [e["top1"] for e in entries]
    num_folds = int(config.data.args["num_folds"])
    return {
        "name": config.name,
        "description": config.description,
        "dataset": config.data.name or config.data.kind,
        "protocol": f"{num_folds}-fold cross-validation (data.args: "
        + ", ".join(f"{k}={v}" for k, v in config.data.args.items())
        + f"); each fold's model scored on its {config.data.test_split!r} split",
        "metric": "top1",
        "num_folds": num_folds,
        "folds_requested": folds,
        "completed_folds": len(entries),
        "mean_top1": statistics.fmean(accuracies) if accuracies else None,
        "std_top1": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
        "folds": entries,
        "paper_accuracy": config.paper_accuracy,
        "wall_time_s": sum(e["wall_time_s"] or 0.0 for e in entries),
        **({"command": command} if command else {}),
    }


def train_folds(
    config: TrainConfig, resume: bool = False, command: str | None = None, overwrite: bool = False
) -> FoldsResult:
    """Train and score every fold of ``config.data.folds`` (see the module docs).

    Call it in each process of an ``accelerate launch``, like :func:`~glamor_zoo.train.train`:
    every fold is one data-parallel run over all the processes (one process group for all folds).

    Args:
        config: The resolved recipe, with ``data.folds`` set.
        resume: Reuse finished folds and resume the unfinished one from its checkpoints.
        command: The command line that started the run (recorded in the summary).
        overwrite: Replace files of the run's names that no run wrote (see
            :func:`~glamor_zoo.train.train`).

    Returns:
        The parent run directory and the summary (on every process).

    Raises:
        ConfigError: no ``data.folds``, or fold runs already there without ``resume``.
    """
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    from glamor_zoo.train.trainer import train

    if config.data.folds is None:
        raise ConfigError("train_folds needs data.folds (all, or a list of fold indices)")
    start = time.perf_counter()
    run_dir = Path(config.run.output_dir).expanduser().resolve()
    folds = fold_indices(config.data)
    if not resume:
        taken = [f"fold_{k}" for k in folds if (run_dir / f"fold_{k}" / "stages").exists()]
        if taken:
            raise ConfigError(
                f"run directory {str(run_dir)!r} already holds fold runs ({', '.join(taken)}): "
                "pass --resume to continue them, or choose another run.output_dir"
            )
    # NOTE: the process state is created once per process and shared by every Accelerator after
    # it. Accelerator honours ACCELERATE_USE_CPU (2 CPU processes: gloo, data-parallel); a bare
    # PartialState() would not, and each process would then train every fold on all the data.
    state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
    if state.is_main_process:
        from glamor_zoo.outputs import OutputFolderError, claim_outputs

        names = ["config.yaml", SUMMARY_NAME, *(f"fold_{k}" for k in folds)]
        try:  # a resumed run's files are its own
            claim_outputs(run_dir, names, overwrite or resume)
        except OutputFolderError as exc:
            raise ConfigError(f"run.output_dir: {exc}") from None
        atomic_write_text(
            run_dir / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False)
        )
    entries: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for fold in folds:
        fold_cfg = fold_config(config, fold)
        fold_dir = run_dir / f"fold_{fold}"
        metrics = _finished(fold_dir) if resume else None
        if metrics is not None:
            _LOGGER.info("fold %d: already finished, reused", fold)
        else:
            train(
                fold_cfg,
                resume=resume and (fold_dir / "config.yaml").is_file(),
                command=command,
                keep_process_group=True,
                overwrite=overwrite,
            )
            state.wait_for_everyone()
            metrics = json.loads((fold_dir / "metrics.json").read_text(encoding="utf-8"))
        entries.append(_fold_entry(fold, fold_dir, metrics))
        summary = _summary(config, folds, entries, command)
        _LOGGER.info(
            "fold %d: top-1 %.2f%% on %d images; %d of %d folds done, mean %.2f%% ± %.2f",
            fold,
            entries[-1]["top1"],
            entries[-1]["num_samples"],
            len(entries),
            len(folds),
            summary["mean_top1"],
            summary["std_top1"],
        )
        if state.is_main_process:
            atomic_write_text(run_dir / SUMMARY_NAME, json.dumps(summary, indent=2) + "\n")
        state.wait_for_everyone()
    state.destroy_process_group()
    return FoldsResult(run_dir=run_dir, summary=summary, wall_time_s=time.perf_counter() - start)
