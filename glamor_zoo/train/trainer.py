"""The training loop on accelerate: stages, exact resume, checkpoints, metrics, final model.

Run directory (``run.output_dir``)::

    config.yaml                 the resolved recipe
    metrics.json                per-stage epoch history, best epochs, final metrics
    stages/<stage>/checkpoints/step-XXXXXXXX/   last ``run.keep_last`` checkpoints
    stages/<stage>/best/        best weights on validation (a model folder)
    stages/<stage>/model/       the stage's selected weights (best, else last) + result.json
    model/                      the final model folder (save_pretrained: config.json + safetensors)
    eval/<split>/               metrics.json, confusion_matrix.{json,png}, predictions.csv
    plots/curves.png            loss and accuracy curves
    logs/                       tracker output (tensorboard by default)

Exact resume: the data order depends only on (seed, epoch) (:class:`EpochShuffleSampler`),
augmentation on (seed, epoch, index) (the datasets' ``set_epoch``), dropout is reseeded from
(seed, stage, epoch, batch, rank) before every batch, the learning rate is a function of the
optimiser step, and checkpoints hold the weights, the optimiser state and the loop position. A run killed
at any point and resumed from its last checkpoint ends with the same weights, bit for bit, as an
uninterrupted run on the same hardware. (A ``run.time_budget_min`` cut depends on the wall clock;
the cut, once made, is part of the checkpointed state.)

With several processes, validation and test metrics cover the whole split (gathered), and the
per-epoch ``train_loss`` / ``train_acc`` in the history are summed over every process's shard
(checkpoints keep each process's partial-epoch totals, so a resumed run continues them). Files
and log lines come from the main process only. ``wall_time_s`` in metrics.json adds up every
invocation of the run (each up to its last checkpoint or metrics write).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from accelerate.logging import get_logger
from torch import nn
from torch.utils.data import DataLoader

from glamor_zoo.labels import PAPER_LABELS
from glamor_zoo.serialization import atomic_write_text, save_pretrained
from glamor_zoo.train.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    replace_dir,
    save_checkpoint,
)
from glamor_zoo.train.config import ConfigError, StageConfig, TrainConfig
from glamor_zoo.train.data import apply_recipe_spec, build_split, preprocess_for
from glamor_zoo.train.evaluate import collate_samples, forward_batch, predict, write_evaluation
from glamor_zoo.train.init import copy_weights, init_from_pretrained
from glamor_zoo.train.regularization import L2Penalty
from glamor_zoo.train.sampler import EpochShuffleSampler
from glamor_zoo.train.schedule import lr_at_step

__all__ = ["TrainResult", "train"]

# Logs once, from the main process (accelerate's adapter over the ``logging`` logger).
_LOGGER = get_logger(__name__)
RESULT_NAME = "result.json"
_clock = time.monotonic  # the time budget's clock (tests replace it)


@dataclass
class TrainResult:
    """What a finished run produced.

    Attributes:
        run_dir: The run directory.
        model_dir: The final model folder (``local-dir:`` loadable).
        metrics: Final metrics: ``val`` / ``test`` top-1 etc. of the final model, per stage results.
        wall_time_s: Wall time of the run over all its invocations (a resumed run includes the
            time before the interruption, up to the last checkpoint).
    """

    run_dir: Path
    model_dir: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float = 0.0


def _step_seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def _hparams(config: TrainConfig) -> dict[str, Any]:
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}{k}.", v)
        elif isinstance(value, (int, float, str, bool)):
            flat[prefix[:-1]] = value
        elif value is not None:
            flat[prefix[:-1]] = json.dumps(value)

    walk("", config.to_dict())
    return flat


def _build_model(config: TrainConfig, stage: StageConfig, num_classes: int) -> nn.Module:
    from glamor_zoo.models import create_model

    args = {**config.model.args, **stage.model_args, "num_classes": num_classes}
    try:
        return create_model(config.model.name, pretrained=config.model.pretrained, **args)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"cannot build model {config.model.name!r} with {args}: {exc}") from exc


def _init_from(
    model: nn.Module, run_dir: Path, stage_name: str, stage: StageConfig
) -> dict[str, int]:
    from safetensors.torch import load_file

    copied: dict[str, int] = {}
    for source, prefixes in stage.init_from.items():
        weights = load_file(str(run_dir / "stages" / source / "model" / "model.safetensors"))
        where = f"stages.{stage_name}.init_from[{source!r}]"
        for prefix, count in copy_weights(model, weights, prefixes, where).items():
            copied[f"{source}:{prefix}"] = count
    return copied


def _make_optimizer(config: TrainConfig, model: nn.Module, lr: float) -> torch.optim.Optimizer:
    o = config.optim
    if o.name == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=lr, momentum=o.momentum, weight_decay=o.weight_decay
        )
    cls = torch.optim.Adam if o.name == "adam" else torch.optim.AdamW
    return cls(model.parameters(), lr=lr, weight_decay=o.weight_decay)


def _save_model_folder(
    model: nn.Module, folder: Path, label_names: list[str], **extra: Any
) -> None:
    tmp = folder.with_name(f".tmp-{folder.name}-{time.time_ns()}")
    save_pretrained(model, tmp, label_names=label_names, **extra)
    replace_dir(tmp, folder)


def _is_better(value: float, best: float | None, metric: str) -> bool:
    if best is None:
        return True
    return value > best if metric == "val_acc" else value < best


class _Run:
    """State shared by the stages of one ``train`` call (one per process)."""

    def __init__(
        self, config: TrainConfig, accelerator: Any, run_dir: Path, resume: bool, started: float
    ) -> None:
        self.config = config
        self.accelerator = accelerator
        self.run_dir = run_dir
        self.resume = resume
        self.main = accelerator.is_main_process
        self.metrics: dict[str, Any] = {"name": config.name, "stages": {}}
        self.tracker_step = 0
        self.started = started  # time.perf_counter() when this invocation began
        self.wall_before = 0.0  # wall time of earlier invocations (a resumed run)

    # ------------------------------------------------------------------ helpers

    def log(self, values: dict[str, float], step: int) -> None:
        if self.config.run.log_with:
            self.accelerator.log(values, step=step)

    def wall_time(self) -> float:
        return self.wall_before + time.perf_counter() - self.started

    def write_metrics(self) -> None:
        self.metrics["wall_time_s"] = self.wall_time()
        if self.main:
            atomic_write_text(
                self.run_dir / "metrics.json", json.dumps(self.metrics, indent=2) + "\n"
            )

    def plot(self) -> None:
        if not self.main:
            return
        history = [h for s in self.metrics["stages"].values() for h in s.get("history", [])]
        if history:
            from glamor_zoo.train.plots import plot_curves

            plot_curves(history, self.run_dir / "plots" / "curves.png", title=self.config.name)

    # ------------------------------------------------------------------ stages

    def run_stage(self, index: int, name: str, stage: StageConfig) -> dict[str, Any]:
        config, acc = self.config, self.accelerator
        stage_dir = self.run_dir / "stages" / name
        done = stage_dir / "model" / RESULT_NAME
        if done.is_file():
            result = json.loads(done.read_text(encoding="utf-8"))
            _LOGGER.info(
                "stage %s: already finished (best %s), skipped", name, result.get("best_value")
            )
            return result

        seed = config.run.seed
        epochs = stage.epochs or config.run.epochs
        base_lr = stage.lr if stage.lr is not None else config.optim.lr
        # The model first (its spec, with the recipe's data.preprocess, drives the data); the
        # classifier is resized to the dataset's classes afterwards unless the recipe fixes
        # model.num_classes.
        torch.manual_seed(_step_seed(seed, index, 0x5EED))
        model = _build_model(config, stage, config.model.num_classes or len(PAPER_LABELS))
        preprocess = apply_recipe_spec(model, config.data).preprocess_cfg()
        train_ds = build_split(
            config.data, config.data.train_split, preprocess, train=True, seed=seed
        )
        classes = [str(c) for c in train_ds.classes]
        val_ds = (
            build_split(
                config.data,
                config.data.val_split,
                preprocess,
                train=False,
                seed=seed,
                classes=classes,
            )
            if config.data.val_split
            else None
        )
        num_classes = config.model.num_classes or len(classes)
        if num_classes != model.num_classes:
            model.reset_classifier(num_classes)
        if config.model.init_from:
            copied = init_from_pretrained(model, config.model.init_from)
            _LOGGER.info(
                "stage %s: initialised %s",
                name,
                ", ".join(f"{k} ({n} tensors)" for k, n in copied.items()),
            )
        if stage.init_from:
            copied = _init_from(model, self.run_dir, name, stage)
            _LOGGER.info(
                "stage %s: initialised %s",
                name,
                ", ".join(f"{k} ({n} tensors)" for k, n in copied.items()),
            )
        if config.run.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if config.run.compile:
            model.compile()
        optimizer = _make_optimizer(config, model, base_lr)

        state: dict[str, Any] = {
            "stage": name,
            "epoch": 0,
            "budget_epochs": None,
            "train_time_s": 0.0,
            "batches_done": 0,
            "global_step": 0,
            "best_value": None,
            "best_epoch": None,
            "history": [],
            "loss_sum": 0.0,
            "correct": 0,
            "count": 0,
        }
        ckpt_dir = stage_dir / "checkpoints"
        latest = latest_checkpoint(ckpt_dir) if self.resume else None
        if latest is not None:
            model_state, optim_state, saved = load_checkpoint(latest)
            model.load_state_dict(model_state)
            optimizer.load_state_dict(optim_state)
            state.update(saved)
            state.update(_own_totals(saved, acc.process_index, acc.num_processes))
            _LOGGER.info(
                "stage %s: resumed from %s (epoch %d, batch %d)",
                name,
                latest.name,
                state["epoch"] + 1,
                state["batches_done"],
            )
        elif self.main and stage_dir.exists():
            prune_checkpoints(ckpt_dir, keep_last=0)

        sampler = EpochShuffleSampler(len(train_ds), seed=seed + index)
        loader = DataLoader(
            train_ds,
            batch_size=config.run.batch_size,
            sampler=sampler,
            num_workers=config.data.workers(),
            collate_fn=collate_samples,
        )
        model, optimizer, loader = acc.prepare(model, optimizer, loader)
        l2 = (
            L2Penalty(acc.unwrap_model(model), config.optim.l2_modules, config.optim.l2_weight)
            if config.optim.l2_weight
            else None
        )
        steps_per_epoch = math.ceil(len(loader) / config.run.grad_accum_steps)
        o = config.optim

        def planned() -> int:
            cut = state["budget_epochs"]
            return epochs if cut is None else min(epochs, cut)

        def lr_of(epoch: int, batch_index: int) -> float:
            step = epoch * steps_per_epoch + batch_index // config.run.grad_accum_steps
            return lr_at_step(
                step,
                steps_per_epoch,
                planned(),
                base_lr,
                schedule=o.schedule,
                warmup_epochs=o.warmup_epochs,
                milestones=o.milestones,
                gamma=o.gamma,
                min_lr=o.min_lr,
            )

        clock_start, time_before = _clock(), state["train_time_s"]

        def checkpoint() -> None:
            state["train_time_s"] = time_before + _clock() - clock_start
            self._checkpoint(model, optimizer, ckpt_dir, state)

        _LOGGER.info(
            "stage %s: %d train / %s val images, %d classes, %d epochs × %d steps, %d process(es), "
            "mixed precision %s, %s lr schedule%s",
            name,
            len(train_ds),
            len(val_ds) if val_ds is not None else "no",
            num_classes,
            planned(),
            steps_per_epoch,
            acc.num_processes,
            acc.mixed_precision,
            o.schedule,
            f", loss + {l2.weight:g}·L2({', '.join(l2.modules)})" if l2 is not None else "",
        )
        from tqdm.auto import tqdm

        stop = False
        while state["epoch"] < planned():
            epoch = state["epoch"]
            lr = lr_of(epoch, state["batches_done"])
            sampler.set_epoch(epoch)
            if hasattr(train_ds, "set_epoch"):
                train_ds.set_epoch(epoch)
            loader.set_epoch(epoch)
            skip = state["batches_done"]
            epoch_loader = acc.skip_first_batches(loader, skip) if skip else loader
            if skip:
                epoch_loader.set_epoch(epoch)
            acc.step = 0
            model.train()
            bar = tqdm(
                total=len(loader),
                initial=skip,
                desc=f"{name} {epoch + 1}/{planned()}",
                disable=not (config.run.progress and self.main),
                leave=False,
                dynamic_ncols=True,
            )
            batch_index = skip
            for batch in epoch_loader:
                torch.manual_seed(_step_seed(seed, index, epoch, batch_index, acc.process_index))
                if config.run.channels_last:
                    batch = {
                        k: v.contiguous(memory_format=torch.channels_last)
                        if isinstance(v, torch.Tensor) and v.ndim == 4
                        else v
                        for k, v in batch.items()
                    }
                lr = lr_of(epoch, batch_index)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                with acc.accumulate(model), acc.autocast():
                    logits = forward_batch(model, batch)
                    loss = nn.functional.cross_entropy(
                        logits.float(), batch["label"], label_smoothing=o.label_smoothing
                    )
                    acc.backward(loss + l2() if l2 is not None else loss)
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                batch_index += 1
                n = batch["label"].numel()
                state["loss_sum"] += float(loss.detach()) * n
                state["correct"] += int((logits.detach().argmax(1) == batch["label"]).sum())
                state["count"] += n
                bar.update(1)
                if not acc.sync_gradients:
                    continue
                state["global_step"] += 1
                step = state["global_step"]
                bar.set_postfix(
                    loss=f"{state['loss_sum'] / max(state['count'], 1):.4f}", lr=f"{lr:.1e}"
                )
                if step % config.run.log_every == 0:
                    self.log(
                        {f"{name}/train_loss": float(loss.detach()), f"{name}/lr": lr},
                        step=self.tracker_step + step,
                    )
                state["epoch"], state["batches_done"] = epoch, batch_index
                if (
                    config.run.checkpoint_every
                    and step % config.run.checkpoint_every == 0
                    and batch_index < len(loader)
                ):
                    checkpoint()
                if config.run.max_steps and step >= config.run.max_steps:
                    stop = True
                    break
            bar.close()
            loss_sum, correct, count = acc.reduce(
                torch.tensor(
                    [state["loss_sum"], state["correct"], state["count"]],
                    dtype=torch.float64,
                    device=acc.device,
                ),
                reduction="sum",
            ).tolist()
            train_loss = loss_sum / max(count, 1)
            train_acc = 100.0 * correct / max(count, 1)
            record: dict[str, Any] = {
                "stage": name,
                "epoch": epoch,
                "lr": lr,
                "step": state["global_step"],
                "train_loss": train_loss,
                "train_acc": train_acc,
                "train_samples": int(count),  # over every process's shard
            }
            if val_ds is not None:
                pred = predict(
                    model,
                    val_ds,
                    batch_size=config.run.eval_batch_size,
                    num_workers=config.data.workers(),
                    accelerator=acc,
                    progress=config.run.progress,
                    description=f"{name} val",
                )
                record["val_loss"] = pred.loss
                record["val_acc"] = 100.0 * float((pred.predictions == pred.targets).mean())
            record["elapsed_s"] = time_before + _clock() - clock_start
            state["history"].append(record)
            value = record.get(config.run.best_metric)
            if value is not None and _is_better(value, state["best_value"], config.run.best_metric):
                state["best_value"], state["best_epoch"] = value, epoch
                if self.main:
                    _save_model_folder(
                        acc.unwrap_model(model),
                        stage_dir / "best",
                        classes,
                        stage=name,
                        epoch=epoch,
                        metrics={config.run.best_metric: value},
                    )
            self.log(
                {f"{name}/{k}": v for k, v in record.items() if k.endswith(("_loss", "_acc"))},
                step=self.tracker_step + state["global_step"],
            )
            _LOGGER.info(
                "stage %s epoch %d/%d: lr %.1e, train loss %.4f acc %.2f%%%s",
                name,
                epoch + 1,
                planned(),
                lr,
                train_loss,
                train_acc,
                f", val loss {record['val_loss']:.4f} acc {record['val_acc']:.2f}%"
                if val_ds is not None
                else "",
            )
            state.update(epoch=epoch + 1, batches_done=0, loss_sum=0.0, correct=0, count=0)
            if config.run.time_budget_min:
                self._fit_time_budget(name, state, planned(), record["elapsed_s"])
            checkpoint()
            self.metrics["stages"][name] = {
                "history": state["history"],
                "best_value": state["best_value"],
                "best_epoch": state["best_epoch"],
            }
            self.write_metrics()
            self.plot()
            if stop:
                break

        result = self._finish_stage(name, stage_dir, model, classes, state, epochs)
        self.tracker_step += state["global_step"]
        acc.free_memory()
        return result

    def _fit_time_budget(
        self, name: str, state: dict[str, Any], planned: int, elapsed_s: float
    ) -> None:
        """Cut the stage's ``planned`` epochs to those that fit ``run.time_budget_min`` (at least
        the ones done; ``state["budget_epochs"]``, which the cosine schedule follows), from the
        pace of the epochs after the first.

        NOTE: the first epoch also pays one-off costs (``torch.compile``, caches, data decoding)
        and can take twice as long as the others: no cut is made on it alone."""
        from accelerate.utils import broadcast_object_list

        # Every process must cut at the same epoch: the main process's clock decides.
        elapsed_s = broadcast_object_list([elapsed_s])[0]
        budget_s = 60.0 * self.config.run.time_budget_min
        done = state["epoch"]
        if done < 2:
            return
        first_end = state["history"][0]["elapsed_s"]
        per_epoch = max((elapsed_s - first_end) / (done - 1), 1e-9)
        fit = max(done, done + int((budget_s - elapsed_s) // per_epoch))
        if fit < planned and self.main:
            _LOGGER.info(
                "stage %s: time budget %g min: %d epoch(s) of %d fit (%.1f s per epoch)",
                name,
                self.config.run.time_budget_min,
                fit,
                planned,
                per_epoch,
            )
        if fit < planned:
            state["budget_epochs"] = fit

    def _checkpoint(
        self, model: nn.Module, optimizer: Any, ckpt_dir: Path, state: dict[str, Any]
    ) -> None:
        acc = self.accelerator
        totals = acc.gather(
            torch.tensor(
                [[state["loss_sum"], state["correct"], state["count"]]],
                dtype=torch.float64,
                device=acc.device,
            )
        )
        if self.main:
            payload = {k: v for k, v in state.items() if k != "global_step"}
            payload["rank_totals"] = totals.tolist()  # each process's partial-epoch sums
            save_checkpoint(
                ckpt_dir,
                state["global_step"],
                acc.unwrap_model(model).state_dict(),
                optimizer.state_dict(),
                payload,
            )
            prune_checkpoints(ckpt_dir, self.config.run.keep_last)
        self.write_metrics()
        acc.wait_for_everyone()

    def _finish_stage(
        self,
        name: str,
        stage_dir: Path,
        model: nn.Module,
        classes: list[str],
        state: dict[str, Any],
        epochs_planned: int,
    ) -> dict[str, Any]:
        acc = self.accelerator
        best = stage_dir / "best"
        selected = (
            "best"
            if state["best_value"] is not None and (best / "model.safetensors").is_file()
            else "last"
        )
        result = {
            "stage": name,
            "selected": selected,
            "best_value": state["best_value"],
            "best_epoch": state["best_epoch"],
            "epochs_run": len(state["history"]),
            "epochs_planned": epochs_planned,
            "train_time_s": state["train_time_s"],
            "global_step": state["global_step"],
            "classes": classes,
        }
        if self.main:
            target = stage_dir / "model"
            if selected == "best":
                tmp = target.with_name(f".tmp-model-{time.time_ns()}")
                shutil.copytree(best, tmp)
                replace_dir(tmp, target)
            else:
                _save_model_folder(acc.unwrap_model(model), target, classes, stage=name)
            atomic_write_text(target / RESULT_NAME, json.dumps(result, indent=2) + "\n")
        acc.wait_for_everyone()
        self.metrics["stages"][name] = {
            **self.metrics["stages"].get(name, {}),
            **result,
            "history": state["history"],
        }
        self.write_metrics()
        return result


def _own_totals(saved: dict[str, Any], rank: int, world_size: int) -> dict[str, Any]:
    """This process's partial-epoch ``loss_sum`` / ``correct`` / ``count`` from a checkpoint.

    A checkpoint holds every process's sums (``rank_totals``); resumed with another number of
    processes (or from a checkpoint without them), the main process carries the run's sums.
    """
    totals = saved.get("rank_totals")
    if totals is not None and len(totals) == world_size:
        loss_sum, correct, count = totals[rank]
    elif rank == 0:
        loss_sum, correct, count = (
            [sum(column) for column in zip(*totals, strict=True)]
            if totals
            else (saved.get("loss_sum", 0.0), saved.get("correct", 0), saved.get("count", 0))
        )
    else:
        loss_sum, correct, count = 0.0, 0, 0
    return {"loss_sum": float(loss_sum), "correct": int(correct), "count": int(count)}


def _make_accelerator(config: TrainConfig, run_dir: Path) -> Any:
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration

    log_with = config.run.log_with
    if isinstance(log_with, str):
        log_with = [log_with] if log_with else []
    config.run.log_with = list(log_with)
    if "tensorboard" in log_with:
        from accelerate.utils import is_tensorboard_available

        if not is_tensorboard_available():
            raise ConfigError(
                "run.log_with includes tensorboard, which is not installed: "
                "pip install 'glamor-zoo[tensorboard]', or pass run.log_with=[] (or another tracker)"
            )
    return Accelerator(
        mixed_precision=config.run.mixed_precision,
        gradient_accumulation_steps=config.run.grad_accum_steps,
        log_with=log_with or None,
        project_config=ProjectConfiguration(
            project_dir=str(run_dir), logging_dir=str(run_dir / "logs")
        ),
        rng_types=[],
    )


def _prepare_run_dir(config: TrainConfig, run_dir: Path, resume: bool) -> None:
    config_path = run_dir / "config.yaml"
    if resume:
        if not config_path.is_file():
            raise ConfigError(f"--resume: {str(run_dir)!r} holds no run (no config.yaml) to resume")
        saved = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        for key in ("model", "data", "optim", "stages"):
            if saved.get(key) != config.to_dict().get(key):
                raise ConfigError(
                    f"--resume: the {key} section differs from the run's config.yaml in {str(run_dir)!r}; "
                    "resume with the same recipe and overrides"
                )
    elif (run_dir / "stages").exists():
        raise ConfigError(
            f"run directory {str(run_dir)!r} already holds a run: pass --resume to continue it, or "
            "choose another run.output_dir"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(config_path, yaml.safe_dump(config.to_dict(), sort_keys=False))


def train(
    config: TrainConfig,
    resume: bool = False,
    push_to_hub: str | None = None,
    command: str | None = None,
    keep_process_group: bool = False,
) -> TrainResult:
    """Train every stage of ``config``, select the final weights, evaluate and save them.

    Call it in each process of an ``accelerate launch`` / ``torchrun``; accelerate handles
    devices, data parallelism, mixed precision, gradient accumulation and trackers.

    Args:
        config: The resolved recipe.
        resume: Continue the run in ``config.run.output_dir`` from its last checkpoints.
        push_to_hub: ``org/name``: upload the final model folder with its metrics at the end.
        command: The command line that started the run (recorded in metrics and the model card).
        keep_process_group: Leave the distributed process group up for more runs in this
            process (the k-fold driver); by default the run ends it (``end_training``).

    Returns:
        Where the run lives and its final metrics (on every process).

    Raises:
        ConfigError: bad recipe values, a run directory clash, or a resume that does not match.
    """
    start = time.perf_counter()
    run_dir = Path(config.run.output_dir).expanduser().resolve()
    accelerator = _make_accelerator(config, run_dir)
    if accelerator.is_main_process:
        _prepare_run_dir(config, run_dir, resume)
    accelerator.wait_for_everyone()
    if config.run.log_with:
        accelerator.init_trackers(config.name.replace("/", "_"), config=_hparams(config))
    run = _Run(config, accelerator, run_dir, resume, started=start)
    if resume and (run_dir / "metrics.json").is_file():
        run.metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
        run.metrics.setdefault("stages", {})
        run.wall_before = float(run.metrics.get("wall_time_s", 0.0))
    stages = config.stage_list()
    for index, (name, stage) in enumerate(stages):
        run.run_stage(index, name, stage)

    # The final model: the last stage's selected weights, evaluated on val and test.
    from glamor_zoo.models import create_model

    last_name = stages[-1][0]
    last_model_dir = run_dir / "stages" / last_name / "model"
    model = create_model(f"local-dir:{last_model_dir}")
    result_info = json.loads((last_model_dir / RESULT_NAME).read_text(encoding="utf-8"))
    classes = result_info["classes"]
    model = accelerator.prepare_model(model, evaluation_mode=True)
    final: dict[str, Any] = {}
    preprocess = preprocess_for(accelerator.unwrap_model(model), config.data)
    for split_key in ("val_split", "test_split"):
        split = getattr(config.data, split_key)
        if not split:
            continue
        dataset = build_split(
            config.data, split, preprocess, train=False, seed=config.run.seed, classes=classes
        )
        pred = predict(
            model,
            dataset,
            batch_size=config.run.eval_batch_size,
            num_workers=config.data.workers(),
            accelerator=accelerator,
            progress=config.run.progress,
            description=f"final {split}",
        )
        if accelerator.is_main_process:
            metrics = write_evaluation(
                pred, run_dir / "eval" / split, title=f"{config.name} — {split}"
            )
            final[split_key.removesuffix("_split")] = {
                **({"dataset": config.data.name} if config.data.name else {}),
                "split": split,
                "top1": metrics["top1"],
                "mean_class_accuracy": metrics["mean_class_accuracy"],
                "per_class_accuracy": metrics["per_class_accuracy"],
                "loss": metrics["loss"],
                "num_samples": metrics["num_samples"],
            }
    run.metrics["final"] = final
    run.metrics["paper_accuracy"] = config.paper_accuracy
    if command:
        run.metrics["command"] = command
    model_dir = run_dir / "model"
    if accelerator.is_main_process:
        _save_model_folder(
            accelerator.unwrap_model(model),
            model_dir,
            classes,
            metrics=final,
            recipe=config.name,
            dataset={"name": config.data.name, "kind": config.data.kind, "root": config.data.root},
            training=config.to_dict(),
        )
    run.write_metrics()
    run.plot()
    accelerator.wait_for_everyone()
    if config.run.log_with:
        flat = {f"final/{k}_top1": v["top1"] for k, v in final.items()}
        if flat:
            accelerator.log(flat, step=run.tracker_step)
    if push_to_hub and accelerator.is_main_process:
        import glamor_zoo

        glamor_zoo.push_to_hub(
            str(model_dir),
            push_to_hub,
            metrics=final,
            recipe=config.to_dict(),
            command=command,
            dataset=config.data.name or None,
        )
    accelerator.wait_for_everyone()
    # Last: accelerate's end_training also destroys the process group, after which no
    # collective (wait_for_everyone, gather) works.
    if keep_process_group:
        for tracker in accelerator.trackers:
            tracker.finish()
    else:
        accelerator.end_training()
    return TrainResult(
        run_dir=run_dir,
        model_dir=model_dir,
        metrics=run.metrics,
        wall_time_s=run.metrics["wall_time_s"],
    )
