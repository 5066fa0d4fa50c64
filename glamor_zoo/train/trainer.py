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
from timm.utils import ModelEmaV3
from torch import nn
from torch.utils.data import DataLoader

from glamor_zoo.labels import PAPER_LABELS
from glamor_zoo.serialization import atomic_write_text, save_pretrained
from glamor_zoo.train.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    load_ema_state,
    prune_checkpoints,
    replace_dir,
    save_checkpoint,
)
from glamor_zoo.train.config import ConfigError, StageConfig, TrainConfig
from glamor_zoo.train.data import (
    MixedDataset,
    apply_recipe_spec,
    build_holdouts,
    build_split,
    build_training_set,
    preprocess_for,
)
from glamor_zoo.train.distill import Distillation
from glamor_zoo.train.evaluate import collate_samples, forward_batch, predict, write_evaluation
from glamor_zoo.train.init import copy_weights, init_from_pretrained
from glamor_zoo.train.regularization import L2Penalty, smoothed_cross_entropy
from glamor_zoo.train.sampler import EpochShuffleSampler, WeightedEpochSampler
from glamor_zoo.train.schedule import lr_at_step

__all__ = ["TrainResult", "train"]

# Logs once, from the main process (accelerate's adapter over the ``logging`` logger).
_LOGGER = get_logger(__name__)
RESULT_NAME = "result.json"
#: What a run writes into its run directory (claimed in its manifest before it starts).
RUN_OUTPUTS = ("config.yaml", "metrics.json", "stages", "model", "eval", "plots", "logs")
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


def _make_mixup(config: TrainConfig, num_classes: int, model: nn.Module) -> Any:
    """timm's ``Mixup`` for ``optim.mixup_alpha`` / ``cutmix_alpha`` (``None`` when both are 0).

    Raises:
        ConfigError: the model reads a context image too (only the face would be mixed).
    """
    o = config.optim
    if not (o.mixup_alpha or o.cutmix_alpha):
        return None
    from timm.data import Mixup

    from glamor_zoo.spec import get_model_spec

    if get_model_spec(model).uses_context:
        raise ConfigError(
            "optim.mixup_alpha / cutmix_alpha mix the face images only: use them with face-only "
            "models (this one also reads a context image)"
        )
    return Mixup(
        mixup_alpha=o.mixup_alpha,
        cutmix_alpha=o.cutmix_alpha,
        prob=o.mix_prob,
        switch_prob=o.mix_switch_prob,
        mode="batch",
        label_smoothing=o.label_smoothing,
        num_classes=num_classes,
    )


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
        """Train one stage (or return its result if a previous invocation finished it)."""
        done = self.run_dir / "stages" / name / "model" / RESULT_NAME
        if done.is_file():
            result = json.loads(done.read_text(encoding="utf-8"))
            _LOGGER.info(
                "stage %s: already finished (best %s), skipped", name, result.get("best_value")
            )
            return result
        loop = _StageLoop(self, index, name, stage)
        loop.log_plan()
        loop.train()
        result = loop.finish()
        self.tracker_step += loop.state["global_step"]
        self.accelerator.free_memory()
        return result


def _initial_state(name: str) -> dict[str, Any]:
    """A stage's loop position before its first batch (what a checkpoint saves)."""
    return {
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
        "data_wait_s": 0.0,
        "step_s": 0.0,
    }


class _StageLoop:
    """One stage of a run: its model, data and optimiser, and the epoch loop over them.

    Built in order: the model (its spec, with the recipe's ``data.preprocess``, drives the
    data), the datasets, the initial weights, the optimiser, the checkpoint to resume from, then
    accelerate's wrapping. ``state`` is the loop position, which checkpoints save.

    Args:
        run: The run the stage belongs to.
        index: The stage's position in the recipe (seeds depend on it).
        name: The stage's name.
        stage: Its recipe entry.
    """

    def __init__(self, run: _Run, index: int, name: str, stage: StageConfig) -> None:
        config = run.config
        self.run, self.config, self.acc = run, config, run.accelerator
        self.index, self.name, self.seed = index, name, config.run.seed
        self.dir = run.run_dir / "stages" / name
        self.ckpt_dir = self.dir / "checkpoints"
        self.epochs = stage.epochs or config.run.epochs
        self.base_lr = stage.lr if stage.lr is not None else config.optim.lr
        self.state = _initial_state(name)
        self._build(stage)
        self._resume()
        self._prepare()
        self.clock_start, self.time_before = _clock(), self.state["train_time_s"]

    # ------------------------------------------------------------------ set-up

    def _build(self, stage: StageConfig) -> None:
        """The model, the train / validation splits, the initial weights and the optimiser."""
        config = self.config
        torch.manual_seed(_step_seed(self.seed, self.index, 0x5EED))
        model = _build_model(config, stage, config.model.num_classes or len(PAPER_LABELS))
        preprocess = apply_recipe_spec(model, config.data).preprocess_cfg()
        self.train_ds = build_training_set(config.data, preprocess, seed=self.seed)
        self.classes = [str(c) for c in self.train_ds.classes]
        # The splits that select the epoch: the main one and, with data.sources, theirs.
        self.val_sets = build_holdouts(config.data, preprocess, self.seed, self.classes)
        self.val_ds = self.val_sets[0].dataset if self.val_sets else None
        # The classifier fits the dataset's classes unless the recipe fixes model.num_classes.
        self.num_classes = config.model.num_classes or len(self.classes)
        if self.num_classes != model.num_classes:
            model.reset_classifier(self.num_classes)
        if config.model.init_from:
            self._log_init(init_from_pretrained(model, config.model.init_from))
        if stage.init_from:
            self._log_init(_init_from(model, self.run.run_dir, self.name, stage))
        if config.run.channels_last:
            model = model.to(memory_format=torch.channels_last)
        # The weight average is copied before compilation (it runs eager: evaluation only).
        self.ema = (
            ModelEmaV3(model, decay=config.optim.ema_decay) if config.optim.ema_decay else None
        )
        if config.run.compile:
            model.compile()
        self.model = model
        self.optimizer = _make_optimizer(config, model, self.base_lr)

    def _log_init(self, copied: dict[str, int]) -> None:
        _LOGGER.info(
            "stage %s: initialised %s",
            self.name,
            ", ".join(f"{k} ({n} tensors)" for k, n in copied.items()),
        )

    def _resume(self) -> None:
        """Continue from the stage's last checkpoint (resumed runs), else start it afresh."""
        latest = latest_checkpoint(self.ckpt_dir) if self.run.resume else None
        if latest is not None:
            model_state, optim_state, saved = load_checkpoint(latest)
            self.model.load_state_dict(model_state)
            self.optimizer.load_state_dict(optim_state)
            if self.ema is not None:
                average = load_ema_state(latest)
                # A checkpoint written without the average: it restarts from the weights.
                self.ema.module.load_state_dict(average if average is not None else model_state)
            self.state.update(saved)
            self.state.update(_own_totals(saved, self.acc.process_index, self.acc.num_processes))
            _LOGGER.info(
                "stage %s: resumed from %s (epoch %d, batch %d)",
                self.name,
                latest.name,
                self.state["epoch"] + 1,
                self.state["batches_done"],
            )
        elif self.run.main and self.dir.exists():
            prune_checkpoints(self.ckpt_dir, keep_last=0)

    def _prepare(self) -> None:
        """The training loader, accelerate's wrapping and the L2 term."""
        config, acc = self.config, self.acc
        self.sampler: EpochShuffleSampler | WeightedEpochSampler = (
            WeightedEpochSampler(
                self.train_ds.sizes, self.train_ds.weights, seed=self.seed + self.index
            )
            if isinstance(self.train_ds, MixedDataset)
            else EpochShuffleSampler(len(self.train_ds), seed=self.seed + self.index)
        )
        loader = DataLoader(
            self.train_ds,
            batch_size=config.run.batch_size,
            sampler=self.sampler,
            num_workers=config.data.workers(),
            collate_fn=collate_samples,
        )
        self.model, self.optimizer, self.loader = acc.prepare(self.model, self.optimizer, loader)
        if self.ema is not None:
            self.ema.module.to(acc.device)
        self.l2 = (
            L2Penalty(acc.unwrap_model(self.model), config.optim.l2_modules, config.optim.l2_weight)
            if config.optim.l2_weight
            else None
        )
        self.steps_per_epoch = math.ceil(len(self.loader) / config.run.grad_accum_steps)
        self.mixup = _make_mixup(config, self.num_classes, acc.unwrap_model(self.model))
        self.distill = (
            Distillation(
                config.optim.distill_from,
                self.classes,
                acc.device,
                config.run.channels_last,
                sources=self._distilled_sources(),
            )
            if config.optim.distill_from
            else None
        )
        self.part_smoothing = self._smoothing_by_part()

    def _smoothing_by_part(self) -> torch.Tensor | None:
        """Label smoothing of each part of the training set, where a source sets its own
        (``data.sources[].label_smoothing``); ``None``: the recipe's one for every image."""
        default = self.config.optim.label_smoothing
        own = [s.label_smoothing for s in self.config.data.sources]
        if not isinstance(self.train_ds, MixedDataset) or all(v is None for v in own):
            return None
        values = [default, *(default if v is None else v for v in own)]
        return torch.tensor(values, dtype=torch.float32, device=self.acc.device)

    def _distilled_sources(self) -> list[int] | None:
        """Indices of the training set's parts that are distilled (``None``: every image)."""
        names = self.config.optim.distill_sources
        if not names or not isinstance(self.train_ds, MixedDataset):
            return None
        return [i for i, name in enumerate(self.train_ds.names) if name in names]

    def selected_weights(self) -> nn.Module:
        """The weights the stage evaluates, selects and saves: the average (``optim.ema_decay``)
        else the model itself, unwrapped."""
        return self.ema.module if self.ema is not None else self.acc.unwrap_model(self.model)

    # ------------------------------------------------------------------ schedule and state

    def planned(self) -> int:
        """Epochs to run: the recipe's, or fewer once the time budget has cut them."""
        cut = self.state["budget_epochs"]
        return self.epochs if cut is None else min(self.epochs, cut)

    def lr_of(self, epoch: int, batch_index: int) -> float:
        """The learning rate of the optimiser step that ``batch_index`` of ``epoch`` belongs to."""
        step = epoch * self.steps_per_epoch + batch_index // self.config.run.grad_accum_steps
        return lr_at_step(
            step,
            self.steps_per_epoch,
            self.planned(),
            self.base_lr,
            **self.config.optim.schedule_args(),
        )

    def checkpoint(self) -> None:
        """Save the weights, the optimiser and ``state`` (with the stage's training time and
        each process's partial-epoch sums), keeping the last ``run.keep_last`` checkpoints."""
        acc, state = self.acc, self.state
        state["train_time_s"] = self.time_before + _clock() - self.clock_start
        totals = acc.gather(
            torch.tensor(
                [[state["loss_sum"], state["correct"], state["count"]]],
                dtype=torch.float64,
                device=acc.device,
            )
        )
        if self.run.main:
            payload = {k: v for k, v in state.items() if k != "global_step"}
            payload["rank_totals"] = totals.tolist()  # each process's partial-epoch sums
            save_checkpoint(
                self.ckpt_dir,
                state["global_step"],
                acc.unwrap_model(self.model).state_dict(),
                self.optimizer.state_dict(),
                payload,
                ema_state=self.ema.module.state_dict() if self.ema is not None else None,
            )
            prune_checkpoints(self.ckpt_dir, self.config.run.keep_last)
        self.run.write_metrics()
        acc.wait_for_everyone()

    def log_plan(self) -> None:
        acc, l2 = self.acc, self.l2
        _LOGGER.info(
            "stage %s: %d train / %s val images, %d classes, %d epochs × %d steps, %d process(es), "
            "mixed precision %s, %s lr schedule%s%s%s",
            self.name,
            len(self.train_ds),
            " + ".join(str(len(v.dataset)) for v in self.val_sets) or "no",
            self.num_classes,
            self.planned(),
            self.steps_per_epoch,
            acc.num_processes,
            acc.mixed_precision,
            self.config.optim.schedule,
            f", loss + {l2.weight:g}·L2({', '.join(l2.modules)})" if l2 is not None else "",
            f", distilled from {self.distill.source} (α {self.config.optim.distill_weight:g}, "
            f"T {self.config.optim.distill_temperature:g})"
            if self.distill is not None
            else "",
            f", mixup α {self.config.optim.mixup_alpha:g} / cutmix α "
            f"{self.config.optim.cutmix_alpha:g} (p {self.config.optim.mix_prob:g})"
            if self.mixup is not None
            else "",
        )

    # ------------------------------------------------------------------ the loop

    def train(self) -> None:
        """Epochs until the planned ones are done or ``run.max_steps`` is reached."""
        while self.state["epoch"] < self.planned():
            epoch = self.state["epoch"]
            lr, stop = self._train_epoch(epoch)
            record = self._epoch_record(epoch, lr)
            self._keep_if_best(epoch, record)
            self._log_epoch(epoch, record)
            self._close_epoch(epoch, record)
            if stop:
                break

    def _epoch_loader(self, epoch: int) -> Any:
        """The epoch's batches, without those a resumed checkpoint has already trained on."""
        self.sampler.set_epoch(epoch)
        if hasattr(self.train_ds, "set_epoch"):
            self.train_ds.set_epoch(epoch)
        self.loader.set_epoch(epoch)
        skip = self.state["batches_done"]
        if not skip:
            return self.loader
        epoch_loader = self.acc.skip_first_batches(self.loader, skip)
        epoch_loader.set_epoch(epoch)
        return epoch_loader

    def _train_epoch(self, epoch: int) -> tuple[float, bool]:
        """Train on one epoch's batches.

        Returns:
            The last learning rate, and whether ``run.max_steps`` stopped the epoch.
        """
        from tqdm.auto import tqdm

        acc, skip = self.acc, self.state["batches_done"]
        lr = self.lr_of(epoch, skip)
        epoch_loader = self._epoch_loader(epoch)
        acc.step = 0
        self.model.train()
        bar = tqdm(
            total=len(self.loader),
            initial=skip,
            desc=f"{self.name} {epoch + 1}/{self.planned()}",
            disable=not (self.config.run.progress and self.run.main),
            leave=False,
            dynamic_ncols=True,
        )
        stop, batch_index = False, skip
        batches = iter(epoch_loader)
        while True:
            waited = _clock()
            batch = next(batches, None)
            if batch is None:
                break
            started = _clock()
            lr, loss = self._train_batch(batch, epoch, batch_index)
            self.state["data_wait_s"] += started - waited
            self.state["step_s"] += _clock() - started
            batch_index += 1
            bar.update(1)
            if not acc.sync_gradients:
                continue
            bar.set_postfix(
                loss=f"{self.state['loss_sum'] / max(self.state['count'], 1):.4f}", lr=f"{lr:.1e}"
            )
            if self._after_optimizer_step(epoch, batch_index, lr, loss):
                stop = True
                break
        bar.close()
        return lr, stop

    def _train_batch(
        self, batch: dict[str, Any], epoch: int, batch_index: int
    ) -> tuple[float, torch.Tensor]:
        """Forward, backward and (every ``grad_accum_steps`` batches) an optimiser step.

        Dropout is reseeded from (seed, stage, epoch, batch, rank), so a resumed run repeats it.

        With ``optim.mixup_alpha`` / ``cutmix_alpha`` an even-sized batch of faces is mixed
        (timm's ``Mixup``) and the cross-entropy is taken against the mixed soft labels; the
        training accuracy still counts the unmixed labels. With ``optim.distill_from`` the
        objective is ``(1 - α)·CE + α·distillation``; the loss
        returned and logged stays the cross-entropy, comparable across recipes.

        Returns:
            The learning rate used and the batch's cross-entropy loss.
        """
        acc, o = self.acc, self.config.optim
        torch.manual_seed(_step_seed(self.seed, self.index, epoch, batch_index, acc.process_index))
        if self.config.run.channels_last:
            batch = {
                k: v.contiguous(memory_format=torch.channels_last)
                if isinstance(v, torch.Tensor) and v.ndim == 4
                else v
                for k, v in batch.items()
            }
        lr = self.lr_of(epoch, batch_index)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        target, smoothing = batch["label"], o.label_smoothing
        if self.mixup is not None and len(target) % 2 == 0:
            # timm's Mixup draws from numpy's global generator: seeded per step, so a resumed
            # run mixes as the first did, and restored after, so the caller's draws are
            # untouched. It smooths the mixed targets itself.
            caller_state = np.random.get_state()
            np.random.seed(
                _step_seed(self.seed, self.index, epoch, batch_index, acc.process_index) % 2**32
            )
            try:
                face, target = self.mixup(batch["face"], batch["label"])
            finally:
                np.random.set_state(caller_state)
            batch, smoothing = {**batch, "face": face}, 0.0
        with acc.accumulate(self.model), acc.autocast():
            logits = forward_batch(self.model, batch)
            if self.part_smoothing is not None and self.mixup is None:
                smoothing_of = self.part_smoothing[batch["source"].to(self.part_smoothing.device)]
                loss = smoothed_cross_entropy(logits, target, smoothing_of)
            else:
                loss = nn.functional.cross_entropy(
                    logits.float(), target, label_smoothing=smoothing
                )
            objective = loss
            soft = (
                self.distill.loss(batch, logits, o.distill_temperature)
                if self.distill is not None
                else None
            )
            if soft is not None:
                alpha = o.distill_weight
                objective = (1 - alpha) * loss + alpha * soft
            acc.backward(objective + self.l2() if self.l2 is not None else objective)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        n = batch["label"].numel()
        self.state["loss_sum"] += float(loss.detach()) * n
        self.state["correct"] += int((logits.detach().argmax(1) == batch["label"]).sum())
        self.state["count"] += n
        return lr, loss

    def _after_optimizer_step(
        self, epoch: int, batch_index: int, lr: float, loss: torch.Tensor
    ) -> bool:
        """Count the step, log it, checkpoint every ``run.checkpoint_every`` steps.

        Returns:
            Whether ``run.max_steps`` is reached.
        """
        run_cfg, state = self.config.run, self.state
        state["global_step"] += 1
        step = state["global_step"]
        if self.ema is not None:
            self.ema.update(self.acc.unwrap_model(self.model), step=step)
        if step % run_cfg.log_every == 0:
            self.run.log(
                {f"{self.name}/train_loss": float(loss.detach()), f"{self.name}/lr": lr},
                step=self.run.tracker_step + step,
            )
        state["epoch"], state["batches_done"] = epoch, batch_index
        if (
            run_cfg.checkpoint_every
            and step % run_cfg.checkpoint_every == 0
            and batch_index < len(self.loader)
        ):
            self.checkpoint()
        return bool(run_cfg.max_steps and step >= run_cfg.max_steps)

    def _epoch_record(self, epoch: int, lr: float) -> dict[str, Any]:
        """The epoch's history entry: training loss and accuracy over every process's shard,
        validation loss and accuracy over the whole split, and the stage's time so far."""
        acc, state = self.acc, self.state
        loss_sum, correct, count = acc.reduce(
            torch.tensor(
                [state["loss_sum"], state["correct"], state["count"]],
                dtype=torch.float64,
                device=acc.device,
            ),
            reduction="sum",
        ).tolist()
        record: dict[str, Any] = {
            "stage": self.name,
            "epoch": epoch,
            "lr": lr,
            "step": state["global_step"],
            "train_loss": loss_sum / max(count, 1),
            "train_acc": 100.0 * correct / max(count, 1),
            "train_samples": int(count),  # over every process's shard
            # The main process's time waiting for batches and computing them (profiling).
            "data_wait_s": state["data_wait_s"],
            "step_s": state["step_s"],
        }
        scores = []
        for split in self.val_sets:
            pred = predict(
                self.ema.module if self.ema is not None else self.model,
                split.dataset,
                batch_size=self.config.run.eval_batch_size,
                num_workers=self.config.data.workers(),
                accelerator=acc,
                progress=self.config.run.progress,
                description=f"{self.name} val {split.name}",
            )
            scores.append((pred.loss, 100.0 * float((pred.predictions == pred.targets).mean())))
            if len(self.val_sets) > 1:
                record[f"val_{split.name}_loss"], record[f"val_{split.name}_acc"] = scores[-1]
        if scores:
            # Several hold-outs select together: each counts once, whatever its size.
            record["val_loss"] = float(np.mean([loss for loss, _ in scores]))
            record["val_acc"] = float(np.mean([top1 for _, top1 in scores]))
        record["elapsed_s"] = self.time_before + _clock() - self.clock_start
        state["history"].append(record)
        return record

    def _keep_if_best(self, epoch: int, record: dict[str, Any]) -> None:
        """Save the weights to ``best/`` when the epoch improves ``run.best_metric``."""
        metric, state = self.config.run.best_metric, self.state
        value = record.get(metric)
        if value is None or not _is_better(value, state["best_value"], metric):
            return
        state["best_value"], state["best_epoch"] = value, epoch
        if self.run.main:
            _save_model_folder(
                self.selected_weights(),
                self.dir / "best",
                self.classes,
                stage=self.name,
                epoch=epoch,
                metrics={metric: value},
            )

    def _log_epoch(self, epoch: int, record: dict[str, Any]) -> None:
        self.run.log(
            {f"{self.name}/{k}": v for k, v in record.items() if k.endswith(("_loss", "_acc"))},
            step=self.run.tracker_step + self.state["global_step"],
        )
        _LOGGER.info(
            "stage %s epoch %d/%d: lr %.1e, train loss %.4f acc %.2f%%%s; "
            "%.1f images/s (%.0f%% of it waiting for data)",
            self.name,
            epoch + 1,
            self.planned(),
            record["lr"],
            record["train_loss"],
            record["train_acc"],
            f", val loss {record['val_loss']:.4f} acc {record['val_acc']:.2f}%"
            + "".join(
                f" ({v.name} {record[f'val_{v.name}_acc']:.2f}%)"
                for v in self.val_sets
                if f"val_{v.name}_acc" in record
            )
            if self.val_sets
            else "",
            record["train_samples"] / max(record["step_s"] + record["data_wait_s"], 1e-9),
            100.0 * record["data_wait_s"] / max(record["step_s"] + record["data_wait_s"], 1e-9),
        )

    def _close_epoch(self, epoch: int, record: dict[str, Any]) -> None:
        """Move to the next epoch: fit the time budget, checkpoint, write metrics and plots."""
        state = self.state
        state.update(
            epoch=epoch + 1,
            batches_done=0,
            loss_sum=0.0,
            correct=0,
            count=0,
            data_wait_s=0.0,
            step_s=0.0,
        )
        if self.config.run.time_budget_min:
            self._fit_time_budget(record["elapsed_s"])
        self.checkpoint()
        self.run.metrics["stages"][self.name] = {
            "history": state["history"],
            "best_value": state["best_value"],
            "best_epoch": state["best_epoch"],
        }
        self.run.write_metrics()
        self.run.plot()

    def _fit_time_budget(self, elapsed_s: float) -> None:
        """Cut the planned epochs to those that fit ``run.time_budget_min`` (at least the ones
        done; ``state["budget_epochs"]``, which the cosine schedule follows), from the pace of
        the epochs after the first.

        NOTE: the first epoch also pays one-off costs (``torch.compile``, caches, data decoding)
        and can take twice as long as the others: no cut is made on it alone."""
        from accelerate.utils import broadcast_object_list

        state, planned = self.state, self.planned()
        # Every process must cut at the same epoch: the main process's clock decides.
        elapsed_s = broadcast_object_list([elapsed_s])[0]
        budget_s = 60.0 * self.config.run.time_budget_min
        done = state["epoch"]
        if done < 2:
            return
        first_end = state["history"][0]["elapsed_s"]
        per_epoch = max((elapsed_s - first_end) / (done - 1), 1e-9)
        fit = max(done, done + int((budget_s - elapsed_s) // per_epoch))
        if fit < planned and self.run.main:
            _LOGGER.info(
                "stage %s: time budget %g min: %d epoch(s) of %d fit (%.1f s per epoch)",
                self.name,
                self.config.run.time_budget_min,
                fit,
                planned,
                per_epoch,
            )
        if fit < planned:
            state["budget_epochs"] = fit

    # ------------------------------------------------------------------ the result

    def finish(self) -> dict[str, Any]:
        """The stage's result: ``model/`` holds the best weights on validation (else the last)
        and ``result.json``; the run's metrics get the stage's summary."""
        acc, state, best = self.acc, self.state, self.dir / "best"
        selected = (
            "best"
            if state["best_value"] is not None and (best / "model.safetensors").is_file()
            else "last"
        )
        result = {
            "stage": self.name,
            "selected": selected,
            "best_value": state["best_value"],
            "best_epoch": state["best_epoch"],
            "epochs_run": len(state["history"]),
            "epochs_planned": self.epochs,
            "train_time_s": state["train_time_s"],
            "global_step": state["global_step"],
            "classes": self.classes,
        }
        if self.run.main:
            target = self.dir / "model"
            if selected == "best":
                tmp = target.with_name(f".tmp-model-{time.time_ns()}")
                shutil.copytree(best, tmp)
                replace_dir(tmp, target)
            else:
                _save_model_folder(self.selected_weights(), target, self.classes, stage=self.name)
            atomic_write_text(target / RESULT_NAME, json.dumps(result, indent=2) + "\n")
        acc.wait_for_everyone()
        metrics = self.run.metrics["stages"]
        metrics[self.name] = {**metrics.get(self.name, {}), **result, "history": state["history"]}
        self.run.write_metrics()
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


def _prepare_run_dir(config: TrainConfig, run_dir: Path, resume: bool, overwrite: bool) -> None:
    from glamor_zoo.outputs import OutputFolderError, claim_outputs

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
    try:  # a resumed run's files are its own
        claim_outputs(run_dir, RUN_OUTPUTS, overwrite or resume)
    except OutputFolderError as exc:
        raise ConfigError(f"run.output_dir: {exc}") from None
    atomic_write_text(config_path, yaml.safe_dump(config.to_dict(), sort_keys=False))


def train(
    config: TrainConfig,
    resume: bool = False,
    push_to_hub: str | None = None,
    command: str | None = None,
    keep_process_group: bool = False,
    overwrite: bool = False,
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
        overwrite: Start even when ``run.output_dir`` holds files of a run's names (``model/``,
            ``metrics.json``…) that no run wrote; by default they are refused, never replaced.

    Returns:
        Where the run lives and its final metrics (on every process).

    Raises:
        ConfigError: bad recipe values, a run directory clash (an earlier run, someone else's
            files), a run directory that cannot be written, or a resume that does not match.
    """
    start = time.perf_counter()
    run_dir = Path(config.run.output_dir).expanduser().resolve()
    accelerator = _make_accelerator(config, run_dir)
    if accelerator.is_main_process:
        _prepare_run_dir(config, run_dir, resume, overwrite)
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
    final_sets: list[tuple[str, str, Any]] = [
        (key, split.name, split.dataset)
        for key, split in zip(
            ["val"] + [f"val_{s.name}" for s in config.data.sources],
            build_holdouts(config.data, preprocess, config.run.seed, classes),
            strict=False,
        )
    ]
    if config.data.test_split:
        final_sets.append(
            (
                "test",
                config.data.name,
                build_split(
                    config.data,
                    config.data.test_split,
                    preprocess,
                    train=False,
                    seed=config.run.seed,
                    classes=classes,
                ),
            )
        )
    for key, dataset_name, dataset in final_sets:
        split = config.data.val_split if key.startswith("val") else config.data.test_split
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
            folder = split if key in ("val", "test") else f"{split}_{dataset_name}"
            metrics = write_evaluation(
                pred, run_dir / "eval" / folder, title=f"{config.name} — {folder}"
            )
            final[key] = {
                **({"dataset": dataset_name} if dataset_name else {}),
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
