"""Train Deep-Emotion on FER-2013 or CK+48 (subject-disjoint k-fold), as the paper does.

A compact, self-contained trainer for the 48×48 face-only model (the GLAMOR recipes use the
accelerate machinery in ``glamor_zoo.train``). The paper's recipe (Minaee & Abdolrashidi §4.2):
Adam at lr 0.005 with weight decay, cross-entropy plus an L2 penalty on the last two fully
connected layers, Gaussian(0, 0.05) initial weights, data augmentation.

Images are decoded once into a uint8 tensor cache (safetensors, under ``cache_dir``), so an epoch
costs only the network. Augmentation (random flip, rotation, scale, shift) is one batched
affine resampling.

Usage::

    python recipes/train_deep_emotion.py recipes/deep_emotion_fer2013.yaml
    python recipes/train_deep_emotion.py recipes/deep_emotion_ckplus.yaml
    python recipes/train_deep_emotion.py recipes/deep_emotion_fer2013.yaml --set epochs=2

FER-2013 mode trains on ``train/``, selects the best epoch on ``validation/`` and writes a model
folder (``model.safetensors`` + ``config.json`` with the metrics, ``history.json``) to
``output_dir``;
``--export`` also copies the best weights into the package as ``deep_emotion.fer2013``.
CK+ mode (``protocol: kfold``) trains one model per fold on the other folds and reports the mean
held-out accuracy (no epoch selection: the last epoch is scored).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import random
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import yaml

_logger = logging.getLogger("train_deep_emotion")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
CK_SUBJECT = re.compile(r"^(S\d+)_")


@dataclass
class RecipeConfig:
    """One training run (YAML keys of the same names)."""

    model: str = "deep_emotion"  # zoo entrypoint
    model_args: dict[str, Any] = field(default_factory=dict)  # extra constructor arguments
    dataset: str = "fer2013"  # "fer2013" (train/validation folders) or "ckplus" (class folders)
    data_dir: str = "../shared/data/fer2013"  # relative: to ``recipe_dir`` (the YAML's folder)
    train_split: str = "train"  # fer2013: sub-folder trained on
    val_split: str = "validation"  # fer2013: sub-folder used for epoch selection only
    classes: list[str] | None = None  # class folder names in output order (default: sorted)
    protocol: str = "holdout"  # "holdout" (fer2013) or "kfold" (subject-disjoint, ckplus)
    folds: int = 10  # kfold: number of subject-disjoint folds
    img_size: int = 48
    epochs: int = 50
    batch_size: int = 128
    lr: float = 0.005  # paper: Adam, 0.005
    weight_decay: float = 1e-4  # paper: "with weight decay" (value not given)
    l2_fc: float = 1e-3  # λ of the L2 term on the last two FC layers (tuned on validation)
    schedule: str = "cosine"  # "cosine" (to lr_min) or "constant"
    lr_min: float = 1e-5
    warmup_epochs: int = 1
    label_smoothing: float = 0.0
    hflip: float = 0.5  # augmentation: flip probability
    rotate_degrees: float = 10.0  # augmentation: uniform ±degrees
    scale: tuple[float, float] = (0.9, 1.1)  # augmentation: uniform zoom range
    translate: float = 0.1  # augmentation: uniform shift, fraction of the side
    seed: int = 0
    threads: int = 2
    channels_last: bool = True
    device: str = "cpu"  # "cuda" to train on a GPU (augmentation stays on the CPU)
    cache_dir: str = "~/.cache/glamor_zoo/datasets"
    output_dir: str = "output/deep_emotion_fer2013"
    log_every: int = 0  # batches between progress lines (0: once per epoch)
    time_budget_min: float = 0.0  # >0: cut the epochs (and the cosine) to fit this wall time
    recipe_dir: str = ""  # set by from_yaml: the folder relative data_dir paths start from

    @property
    def data_root(self) -> Path:
        """``data_dir`` as a path (a relative one taken from ``recipe_dir``)."""
        root = Path(self.data_dir).expanduser()
        return root if root.is_absolute() else (Path(self.recipe_dir or ".") / root).resolve()

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: Sequence[str] = ()) -> RecipeConfig:
        """Read a YAML recipe; ``overrides`` are ``key=value`` strings (YAML-typed values)."""
        path = Path(path)
        raw = yaml.safe_load(path.read_text()) or {}
        for item in overrides:
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--set expects key=value, got {item!r}")
            raw[key.strip()] = yaml.safe_load(value)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{path}: unknown recipe keys {unknown}; known keys: {sorted(known)}")
        cfg = cls(**raw)
        cfg.recipe_dir = str(path.parent.resolve())
        cfg.scale = tuple(cfg.scale)
        return cfg


# ---------------------------------------------------------------------------- data


def list_image_folder(
    root: str | Path, classes: Sequence[str] | None = None
) -> tuple[list[Path], list[int], list[str]]:
    """Images of a ``root/<class>/<image>`` folder: paths, class indices, class names.

    Raises:
        FileNotFoundError: ``root`` does not exist or holds no class folder with images.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    names = list(classes) if classes else sorted(p.name for p in root.iterdir() if p.is_dir())
    paths: list[Path] = []
    labels: list[int] = []
    for index, name in enumerate(names):
        folder = root / name
        if not folder.is_dir():
            raise FileNotFoundError(f"class folder {folder} does not exist (classes: {names})")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        paths += files
        labels += [index] * len(files)
    if not paths:
        raise FileNotFoundError(f"no images under {root} (expected {root}/<class>/<image>)")
    return paths, labels, names


def decode_images(paths: Sequence[Path], size: int) -> tuple[torch.Tensor, list[int]]:
    """Decode images to a (N, size, size) uint8 grayscale tensor; unreadable files are skipped.

    Returns the tensor and the indices (into ``paths``) of the images that failed.
    """
    from PIL import Image

    out = torch.empty((len(paths), size, size), dtype=torch.uint8)
    failed: list[int] = []
    kept = 0
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as image:
                gray = image.convert("L")
                if gray.size != (size, size):
                    gray = gray.resize((size, size), Image.BILINEAR)
                out[kept] = torch.frombuffer(bytearray(gray.tobytes()), dtype=torch.uint8).view(
                    size, size
                )
            kept += 1
        except (OSError, ValueError) as exc:
            _logger.warning("skipping unreadable image %s: %s", path, exc)
            failed.append(i)
    return out[:kept], failed


def load_cached_folder(
    root: str | Path, size: int, cache_dir: str | Path, classes: Sequence[str] | None = None
) -> tuple[torch.Tensor, torch.Tensor, list[str], list[str]]:
    """A class-folder dataset as uint8 images (N, H, W), int64 labels, class names, file names.

    The decoded arrays are cached as safetensors under ``cache_dir``, keyed by the folder, the
    size and the list of files, so a changed folder is decoded again.
    """
    from safetensors.torch import load_file, save_file

    paths, labels, names = list_image_folder(root, classes)
    rel = [str(p.relative_to(root)) for p in paths]
    key = hashlib.sha256(
        "\n".join([str(Path(root).resolve()), str(size), *rel]).encode()
    ).hexdigest()[:16]
    cache = Path(cache_dir).expanduser() / f"{Path(root).name}_{size}_{key}.safetensors"
    meta_path = cache.with_suffix(".json")
    if cache.exists() and meta_path.exists():
        arrays = load_file(cache)
        meta = json.loads(meta_path.read_text())
        return arrays["images"], arrays["labels"], meta["classes"], meta["files"]
    _logger.info("decoding %d images from %s (cached to %s)", len(paths), root, cache)
    images, failed = decode_images(paths, size)
    bad = set(failed)
    kept_labels = torch.tensor([y for i, y in enumerate(labels) if i not in bad], dtype=torch.int64)
    kept_files = [f for i, f in enumerate(rel) if i not in bad]
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    save_file({"images": images.contiguous(), "labels": kept_labels}, str(tmp))
    tmp.replace(cache)
    meta_tmp = meta_path.with_suffix(".jsontmp")
    meta_tmp.write_text(
        json.dumps({"classes": names, "files": kept_files, "failed": [rel[i] for i in failed]})
    )
    meta_tmp.replace(meta_path)
    return images, kept_labels, names, kept_files


def ck_subject(file_name: str) -> str:
    """The CK+ subject (``S010``) of a file name ``S010_004_00000017.png`` (with or without folder).

    Raises:
        ValueError: the name does not start with ``S<digits>_``.
    """
    match = CK_SUBJECT.match(Path(file_name).name)
    if not match:
        raise ValueError(f"{file_name!r} is not a CK+ file name (S<subject>_<sequence>_<frame>)")
    return match.group(1)


def subject_folds(files: Sequence[str], folds: int, seed: int = 0) -> list[list[int]]:
    """Split items into ``folds`` subject-disjoint folds (subject = CK+ ``S###`` prefix).

    Subjects are shuffled with ``seed`` and dealt out greedily, largest first, to the fold with
    the fewest images, so folds are balanced in size and no subject is in two folds.

    Returns:
        ``folds`` lists of item indices.
    """
    by_subject: dict[str, list[int]] = {}
    for i, name in enumerate(files):
        by_subject.setdefault(ck_subject(name), []).append(i)
    if len(by_subject) < folds:
        raise ValueError(f"{len(by_subject)} subjects cannot fill {folds} subject-disjoint folds")
    subjects = sorted(by_subject)
    random.Random(seed).shuffle(subjects)
    subjects.sort(key=lambda s: -len(by_subject[s]))  # stable: ties keep the shuffled order
    out: list[list[int]] = [[] for _ in range(folds)]
    for subject in subjects:
        min(out, key=len).extend(by_subject[subject])
    return [sorted(fold) for fold in out]


# ---------------------------------------------------------------------------- training


def augment(x: torch.Tensor, cfg: RecipeConfig, generator: torch.Generator) -> torch.Tensor:
    """Random flip, rotation, zoom and shift of a batch (B, C, H, W), one affine resampling."""
    b = x.shape[0]

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(b, generator=generator) * (hi - lo) + lo

    angle = uniform(-cfg.rotate_degrees, cfg.rotate_degrees) * math.pi / 180
    scale = uniform(*cfg.scale)
    flip = torch.where(torch.rand(b, generator=generator) < cfg.hflip, -1.0, 1.0)
    tx, ty = (
        uniform(-2 * cfg.translate, 2 * cfg.translate),
        uniform(-2 * cfg.translate, 2 * cfg.translate),
    )
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1
    ).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


def to_input(
    images: torch.Tensor, mean: Sequence[float], std: Sequence[float], in_chans: int
) -> torch.Tensor:
    """uint8 (B, H, W) → normalised float (B, in_chans, H, W)."""
    x = images.unsqueeze(1).float().div_(255)
    if in_chans != 1:
        x = x.expand(-1, in_chans, -1, -1)
    m = torch.tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
    return (x - m) / s


def lr_at(cfg: RecipeConfig, step: int, total: int, steps_per_epoch: int) -> float:
    warmup = cfg.warmup_epochs * steps_per_epoch
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    if cfg.schedule == "constant":
        return cfg.lr
    progress = (step - warmup) / max(1, total - warmup)
    return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def evaluate(
    model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, cfg: RecipeConfig
) -> dict[str, Any]:
    """Top-1 accuracy, mean loss and the confusion matrix of ``model`` on a uint8 set."""
    model.eval()
    pcfg = model.preprocess_cfg()
    n_cls = model.num_classes
    device = next(model.parameters()).device
    confusion = torch.zeros(n_cls, n_cls, dtype=torch.int64)
    loss_sum = 0.0
    for start in range(0, len(images), 512):
        x = to_input(
            images[start : start + 512], pcfg["face_mean"], pcfg["face_std"], model.in_chans
        )
        x = x.to(device)
        if cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = labels[start : start + 512]
        logits = model(x).float().cpu()
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        confusion += torch.bincount(y * n_cls + logits.argmax(1), minlength=n_cls * n_cls).view(
            n_cls, n_cls
        )
    correct = confusion.diag().sum().item()
    return {
        "accuracy": correct / max(1, len(images)),
        "loss": loss_sum / max(1, len(images)),
        "confusion": confusion.tolist(),
    }


def train_one(
    cfg: RecipeConfig,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor] | None,
    num_classes: int,
    tag: str = "",
    on_best: Callable[[torch.nn.Module, dict[str, Any]], None] | None = None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train one model; with ``val``, keep the weights of the best validation epoch.

    With ``cfg.time_budget_min``, the epoch time measured so far decides how many of
    ``cfg.epochs`` fit in the budget, and the cosine schedule is shortened to end there.
    ``on_best(model, best)`` is called whenever the validation accuracy improves.

    Returns:
        The model (best-epoch weights when ``val`` is given, else last epoch) and the history.
    """
    import glamor_zoo

    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    model = glamor_zoo.create_model(
        cfg.model, num_classes=num_classes, img_size=cfg.img_size, **cfg.model_args
    )
    model = model.to(cfg.device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    pcfg = model.preprocess_cfg()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    images, labels = train
    steps_per_epoch = math.ceil(len(images) / cfg.batch_size)
    planned = cfg.epochs
    total = planned * steps_per_epoch
    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"accuracy": -1.0}
    best_state: dict[str, torch.Tensor] | None = None
    step = 0
    start_time = time.time()
    epoch = 0
    while epoch < planned:
        model.train()
        order = torch.randperm(len(images), generator=generator)
        loss_sum, correct, seen = 0.0, 0, 0
        for start in range(0, len(images), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            x = augment(
                to_input(images[idx], pcfg["face_mean"], pcfg["face_std"], model.in_chans),
                cfg,
                generator,
            )
            x = x.to(cfg.device, non_blocking=True)
            if cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            y = labels[idx].to(cfg.device, non_blocking=True)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(cfg, step, total, steps_per_epoch)
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
            total_loss = loss + cfg.l2_fc * model.l2_penalty()
            optimizer.zero_grad(set_to_none=True)
            total_loss.backward()
            optimizer.step()
            step += 1
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(idx)
            if cfg.log_every and step % cfg.log_every == 0:
                _logger.info("%s epoch %d step %d loss %.4f", tag, epoch + 1, step, loss.item())
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "train_loss": loss_sum / seen,
            "train_accuracy": correct / seen,
            "lr": optimizer.param_groups[0]["lr"],
            "elapsed_s": round(time.time() - start_time, 1),
        }
        if val is not None:
            result = evaluate(model, *val, cfg)
            record.update(val_accuracy=result["accuracy"], val_loss=result["loss"])
            if result["accuracy"] > best["accuracy"]:
                best = {**result, "epoch": epoch + 1}
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                if on_best is not None:
                    on_best(model, best)
        history.append(record)
        _logger.info(
            "%s %s",
            tag,
            json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()}),
        )
        epoch += 1
        if cfg.time_budget_min > 0:
            per_epoch = (time.time() - start_time) / epoch
            fit = max(epoch, int(cfg.time_budget_min * 60 // per_epoch))
            if fit < planned:
                _logger.info("%s time budget: %d epochs fit, was %d", tag, fit, planned)
                planned, total = fit, fit * steps_per_epoch
    if best_state is not None:
        model.load_state_dict(best_state)
    model = model.to("cpu", memory_format=torch.contiguous_format)
    return model, {
        "history": history,
        "best": best,
        "epochs": epoch,
        "wall_s": round(time.time() - start_time, 1),
    }


def run_holdout(
    cfg: RecipeConfig, export: bool, provenance: dict[str, Any] | None = None
) -> dict[str, Any]:
    """FER-2013: train on ``train_split``, select on ``val_split``, save the best model folder.

    ``provenance`` (``recipe``, ``command``) goes into ``config.json`` for the model card.
    """
    from glamor_zoo.labels import canonical_label
    from glamor_zoo.serialization import atomic_write_text, save_pretrained

    root = cfg.data_root
    train_x, train_y, names, _ = load_cached_folder(
        root / cfg.train_split, cfg.img_size, cfg.cache_dir, cfg.classes
    )
    val_x, val_y, _, _ = load_cached_folder(
        root / cfg.val_split, cfg.img_size, cfg.cache_dir, names
    )
    _logger.info("train %d images, validation %d, classes %s", len(train_x), len(val_x), names)
    labels = [canonical_label(n) for n in names]
    out = Path(cfg.output_dir)

    def metrics_of(best: dict[str, Any], epochs: int, wall_s: float) -> dict[str, Any]:
        return {
            "dataset": cfg.dataset,
            "val_accuracy": best["accuracy"],
            "val_loss": best["loss"],
            "best_epoch": best["epoch"],
            "epochs": epochs,
            "wall_s": round(wall_s, 1),
            "confusion": best["confusion"],
            "train_images": len(train_x),
            "val_images": len(val_x),
        }

    extra = {"dataset": cfg.dataset, "recipe": {"config": _jsonable_cfg(cfg)}, **(provenance or {})}
    if provenance and "recipe_path" in provenance:
        extra["recipe"]["path"] = extra.pop("recipe_path")
    start = time.time()

    def save_best(model: torch.nn.Module, best: dict[str, Any]) -> None:
        # The best model so far is on disk at every moment: an interrupted run keeps it.
        metrics = metrics_of(best, best["epoch"], time.time() - start)
        save_pretrained(model, out, label_names=labels, metrics=metrics, **extra)

    model, result = train_one(
        cfg, (train_x, train_y), (val_x, val_y), len(names), tag="fer", on_best=save_best
    )
    metrics = metrics_of(result["best"], result["epochs"], result["wall_s"])
    save_pretrained(model, out, label_names=labels, metrics=metrics, **extra)
    atomic_write_text(out / "history.json", json.dumps(result["history"], indent=1) + "\n")
    if export:
        export_packaged(out)
    return metrics


def run_kfold(cfg: RecipeConfig) -> dict[str, Any]:
    """CK+: subject-disjoint k-fold; each fold trains on the others, scores the last epoch."""
    from glamor_zoo.serialization import atomic_write_text

    images, labels, names, files = load_cached_folder(
        cfg.data_root, cfg.img_size, cfg.cache_dir, cfg.classes
    )
    folds = subject_folds(files, cfg.folds, cfg.seed)
    _logger.info(
        "%d images, %d subjects, %d folds, classes %s",
        len(images),
        len({ck_subject(f) for f in files}),
        cfg.folds,
        names,
    )
    per_fold: list[dict[str, Any]] = []
    start = time.time()
    out = Path(cfg.output_dir)

    def summary() -> dict[str, Any]:
        accs = torch.tensor([f["accuracy"] for f in per_fold], dtype=torch.float64)
        return {
            "dataset": cfg.dataset,
            "protocol": f"{cfg.folds}-fold subject-disjoint",
            "mean_accuracy": accs.mean().item(),
            "std_accuracy": accs.std().item() if len(accs) > 1 else 0.0,
            "completed_folds": len(per_fold),
            "folds": per_fold,
            "epochs": cfg.epochs,
            "wall_s": round(time.time() - start, 1),
            "classes": names,
        }

    for k, test_idx in enumerate(folds):
        test = torch.tensor(test_idx)
        mask = torch.ones(len(images), dtype=torch.bool)
        mask[test] = False
        model, _ = train_one(
            cfg, (images[mask], labels[mask]), None, len(names), tag=f"fold{k + 1}"
        )
        result = evaluate(model, images[test], labels[test], cfg)
        per_fold.append(
            {"fold": k + 1, "test_images": len(test_idx), "accuracy": result["accuracy"]}
        )
        _logger.info(
            "fold %d/%d: accuracy %.4f on %d images",
            k + 1,
            cfg.folds,
            result["accuracy"],
            len(test_idx),
        )
        # Written after every fold, so an interrupted run still reports the folds it finished.
        atomic_write_text(out / "metrics.json", json.dumps(summary(), indent=1) + "\n")
    return summary()


def export_packaged(model_dir: Path) -> Path:
    """Copy a trained model folder into the package as ``deep_emotion.fer2013``'s weights."""
    import glamor_zoo.models.deep_emotion as de

    weights = de.packaged_weights("deep_emotion_fer2013.safetensors")
    weights.parent.mkdir(parents=True, exist_ok=True)
    for src, dst in (
        (model_dir / "model.safetensors", weights),
        (model_dir / "config.json", weights.with_suffix(".json")),
    ):
        tmp = dst.with_name(f".{dst.name}.tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)
    return weights


def _jsonable_cfg(cfg: RecipeConfig) -> dict[str, Any]:
    data = asdict(cfg)
    data["scale"] = list(cfg.scale)
    data.pop("cache_dir")
    data.pop("recipe_dir")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe", help="YAML recipe (recipes/deep_emotion_*.yaml)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key"
    )
    parser.add_argument(
        "--export", action="store_true", help="copy the best FER-2013 weights into the package"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = RecipeConfig.from_yaml(args.recipe, args.set)
    torch.set_num_threads(cfg.threads)
    if cfg.protocol == "kfold":
        metrics = run_kfold(cfg)
    elif cfg.protocol == "holdout":
        command = " ".join(["python", "recipes/train_deep_emotion.py", *(argv or sys.argv[1:])])
        provenance = {"recipe_path": f"recipes/{Path(args.recipe).name}", "command": command}
        metrics = run_holdout(cfg, export=args.export, provenance=provenance)
    else:
        raise SystemExit(f"unknown protocol {cfg.protocol!r}: use 'holdout' or 'kfold'")
    summary = {k: v for k, v in metrics.items() if k not in ("confusion", "folds")}
    _logger.info("done: %s", json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
