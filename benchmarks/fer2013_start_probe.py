"""Why does the full-resolution ``face_resnet18`` learn so slowly from scratch? A short probe.

    python benchmarks/fer2013_start_probe.py --steps 250

Every from-scratch run of the full-resolution network (stem stride 1) stayed near FER-2013's
majority class (25 %) for its first epochs, while phase 1 (stem stride 2, flip + erasing only)
learned (docs/weights.md). This trains each variant below for ``--steps`` SGD steps from the
same random start and the same batches (the recipe's optimiser: momentum 0.9, weight decay
5e-4, label smoothing 0.1, lr warming up linearly to ``--lr``; bf16 autocast + channels-last on
a CPU with native bf16, else fp32), then prints the training accuracy of the last 50 steps and
the top-1 on the recipe's hold-out (the stratified 10 % of train that every FER-2013 choice is
made on; validation is never read):

- ``stride2``: stem stride 2 (phase 1's network);
- ``stride1``: stem stride 1 (the shipped network);
- ``stride1-bn1``: stride 1 without timm's zero-initialised last BatchNorm of each block;
- ``stride1-avgdown``: stride 1 with timm's ``avg_down`` shortcuts (average-pool, then a 1×1
  convolution) instead of stride-2 1×1 convolutions, which keep one pixel in four;

each with the recipe's augmentation (``--augment recipe``) or flip + erasing only (``mild``).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

import glamor_zoo
from glamor_zoo.spec import get_model_spec
from glamor_zoo.train.config import load_config
from glamor_zoo.train.data import HOLDOUT_SPLIT, build_split

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from machine import cpu_flags  # noqa: E402

MILD_AUGMENT = {"hflip": 0.5, "erase": 0.25}


def _unit_last_norms(model: nn.Module) -> None:
    """Set each BasicBlock's last BatchNorm scale to 1 (timm initialises it to 0)."""
    from timm.models.resnet import BasicBlock

    for block in model.modules():
        if isinstance(block, BasicBlock):
            nn.init.ones_(block.bn2.weight)


def _average_down(model: nn.Module) -> None:
    """Replace the stride-2 1×1 shortcut convolutions by timm's ``avg_down`` shortcuts."""
    from timm.models.resnet import BasicBlock, downsample_avg

    for block in model.modules():
        if isinstance(block, BasicBlock) and block.downsample is not None:
            conv = block.downsample[0]
            if conv.stride != (1, 1):
                block.downsample = downsample_avg(
                    conv.in_channels, conv.out_channels, 1, stride=conv.stride[0]
                )


VARIANTS: dict[str, tuple[int, Callable[[nn.Module], None] | None]] = {
    "stride2": (2, None),
    "stride1": (1, None),
    "stride1-bn1": (1, _unit_last_norms),
    "stride1-avgdown": (1, _average_down),
}


def build(variant: str) -> nn.Module:
    """``variant`` of the untrained ``face_resnet18``, from torch seed 0."""
    stride, change = VARIANTS[variant]
    torch.manual_seed(0)
    model = glamor_zoo.create_model("face_resnet18", stem_stride=stride)
    if change is not None:
        change(model)
    return model


def splits(augment: dict, recipe: Path) -> tuple[Dataset, Dataset]:
    """The recipe's training split (augmented by ``augment``) and its hold-out."""
    data = load_config(recipe).data
    preprocess = {**get_model_spec(build("stride1")).preprocess_cfg(), "face_augment": augment}
    train = build_split(data, data.train_split, preprocess, train=True, seed=0)
    return train, build_split(data, HOLDOUT_SPLIT, preprocess, train=False, seed=0)


def probe(
    variant: str, train: Dataset, holdout: Dataset, args: argparse.Namespace
) -> dict[str, float]:
    """Train ``variant`` for ``args.steps`` steps; its training and hold-out accuracy."""
    model = build(variant)
    bf16 = "avx512_bf16" in cpu_flags() or "amx_bf16" in cpu_flags()
    model = model.to(memory_format=torch.channels_last).train()
    decay = [p for p in model.parameters() if p.ndim > 1]
    rest = [p for p in model.parameters() if p.ndim <= 1]
    optimiser = torch.optim.SGD(
        [{"params": decay, "weight_decay": 5e-4}, {"params": rest, "weight_decay": 0.0}],
        lr=args.lr,
        momentum=0.9,
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    order = torch.Generator().manual_seed(0)
    torch.manual_seed(0)  # the augmentation's draws
    loader = torch.utils.data.DataLoader(train, batch_size=128, shuffle=True, generator=order)
    hits, seen, losses, started = 0, 0, [], time.perf_counter()
    for step, batch in enumerate(itertools.islice(itertools.cycle(loader), args.steps)):
        for group in optimiser.param_groups:
            group["lr"] = args.lr * (step + 1) / args.steps
        face = batch["face"].to(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(face)
            loss = loss_fn(logits.float(), batch["label"])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if step >= args.steps - 50:
            hits += int((logits.argmax(1) == batch["label"]).sum())
            seen += len(batch["label"])
            losses.append(float(loss))
    minutes = (time.perf_counter() - started) / 60
    model.eval()
    right = total = 0
    with torch.inference_mode():
        for batch in torch.utils.data.DataLoader(holdout, batch_size=512):
            right += int((model(batch["face"]).argmax(1) == batch["label"]).sum())
            total += len(batch["label"])
    return {
        "train_acc_last50": 100.0 * hits / seen,
        "train_loss_last50": sum(losses) / len(losses),
        "holdout_top1": 100.0 * right / total,
        "minutes": minutes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--augment", nargs="+", choices=("recipe", "mild"), default=["recipe"])
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument(
        "--recipe", type=Path, default=REPO / "recipes" / "face_resnet18_fer2013_mixup.yaml"
    )
    args = parser.parse_args()
    recipe_augment = load_config(args.recipe).data.preprocess["face_augment"]
    print(f"{args.steps} steps of 128 faces, lr warming up to {args.lr}; recipe {args.recipe.name}")
    print(
        "| variant | augmentation | train acc., last 50 steps | train loss | hold-out top-1 | min |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for augment_name in args.augment:
        augment = recipe_augment if augment_name == "recipe" else MILD_AUGMENT
        train, holdout = splits(augment, args.recipe)
        for variant in args.variants:
            r = probe(variant, train, holdout, args)
            print(
                f"| {variant} | {augment_name} | {r['train_acc_last50']:.1f} | "
                f"{r['train_loss_last50']:.3f} | {r['holdout_top1']:.1f} | {r['minutes']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
