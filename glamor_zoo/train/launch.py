"""Training a recipe from a command: what ``glamor-zoo train`` and ``recipes/train.py`` run once
they have resolved the recipe (:func:`train_recipe`, which takes a plain config).

Under a launcher (``accelerate launch``, ``torchrun``) each training process is a child of the
launcher process. Two things are read from that parent (Linux ``/proc``; elsewhere neither
applies): the launcher's own command line, recorded as the run's command with its flags, and its
life: a worker exits when the launcher dies (``PR_SET_PDEATHSIG``), so killing the launcher
(``kill -9``, a lost terminal) never leaves workers training or holding a port.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shlex
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from glamor_zoo.train.config import ConfigError, TrainConfig

__all__ = ["command_line", "exit_with_launcher", "launcher_command", "train_recipe"]

_LOGGER = logging.getLogger("glamor_zoo.train")
_LAUNCHERS = ("accelerate", "torchrun")
# Switches of the launcher's environment that change what a run does; recorded with its command.
_RECORDED_ENV = ("ACCELERATE_USE_CPU", "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES")
_PR_SET_PDEATHSIG = 1  # prctl(2)


def _read_proc(pid: int, name: str) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def launcher_command(pid: int | None = None, argv: Sequence[str] | None = None) -> str | None:
    """The launcher command line that started this process, or ``None`` if no launcher did.

    Args:
        pid: The parent process (default: this process's parent).
        argv: This process's arguments after the program (default: ``sys.argv[1:]``).

    Returns:
        E.g. ``ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2
        recipes/train.py --config ...``: the parent's command line with the interpreter dropped,
        the launcher by its name, and the recorded environment switches it ran with.
    """
    pid = os.getppid() if pid is None else pid
    argv = list(sys.argv[1:] if argv is None else argv)
    parent = _read_proc(pid, "cmdline")
    names = [os.path.basename(part) for part in parent]
    if argv and parent[-len(argv) :] != argv:
        return None
    if (
        names[:1]
        and names[0].startswith("python")
        and names[1:3] == ["-m", "torch.distributed.run"]
    ):
        command = ["python", *parent[1:]]
    else:
        start = next((i for i, name in enumerate(names[:2]) if name in _LAUNCHERS), None)
        if start is None:
            return None
        command = [names[start], *parent[start + 1 :]]
    env = dict(part.split("=", 1) for part in _read_proc(pid, "environ") if "=" in part)
    switches = [f"{key}={shlex.quote(env[key])}" for key in _RECORDED_ENV if key in env]
    return " ".join([*switches, shlex.join(command)])


def exit_with_launcher() -> None:
    """Make the kernel stop this process (SIGTERM) when its parent, the launcher, dies."""
    launcher = os.getppid()
    if launcher_command(launcher) is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        _LOGGER.warning("prctl(PR_SET_PDEATHSIG) failed (errno %d)", ctypes.get_errno())
    elif os.getppid() != launcher:  # the launcher died before the request: no signal will come
        os.kill(os.getpid(), signal.SIGTERM)


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


def command_line() -> str:
    """The command that started this run, as it would be typed again: the launcher's own command
    line with its flags (under ``accelerate launch`` or ``torchrun``), else this process's."""
    launched = launcher_command()
    if launched is not None:
        return launched
    program = os.path.basename(sys.argv[0])
    if program == "glamor-zoo":
        prefix = ["glamor-zoo"]
    elif program == "__main__.py":
        prefix = ["accelerate", "launch", "-m", "glamor_zoo"]
    else:
        prefix = ["accelerate", "launch", os.path.relpath(sys.argv[0])]
    return shlex.join([*prefix, *sys.argv[1:]])


def train_recipe(
    config: TrainConfig,
    resume: bool = False,
    push_to_hub: str | None = None,
    command: str | None = None,
    overwrite: bool = False,
) -> Any:
    """Train ``config`` (every fold of ``data.folds`` when it names folds), then log the summary
    from the main process. Returns :func:`~glamor_zoo.train.train`'s ``TrainResult``, or
    :func:`~glamor_zoo.train.folds.train_folds`' ``FoldsResult``.

    Args:
        config: The resolved recipe (:func:`~glamor_zoo.train.config.load_config`).
        resume: Continue the run in ``run.output_dir`` from its last checkpoints.
        push_to_hub: ``org/name``: upload the final model folder (not with folds).
        command: The command line that started the run (see :func:`command_line`).
        overwrite: Replace files in ``run.output_dir`` that no run wrote.

    Raises:
        ConfigError: ``push_to_hub`` with folds, and :func:`~glamor_zoo.train.train`'s errors.
    """
    from accelerate import PartialState

    from glamor_zoo.train.folds import train_folds
    from glamor_zoo.train.trainer import train

    if config.data.folds is not None:
        if push_to_hub:
            raise ConfigError(
                "--push-to-hub with data.folds: a k-fold run makes one model per fold; push the "
                "one you want with glamor-zoo push RUN_DIR/fold_K/model ORG/NAME"
            )
        result = train_folds(config, resume=resume, command=command, overwrite=overwrite)
        lines = folds_summary_lines(result, config.paper_accuracy)
    else:
        result = train(
            config, resume=resume, push_to_hub=push_to_hub, command=command, overwrite=overwrite
        )
        lines = summary_lines(result, config.paper_accuracy)
    if PartialState().is_main_process:
        for line in lines:
            _LOGGER.info(line)
    return result
