"""Tiny stand-in datasets laid out as the real ones (random pixels), for recipe smoke tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

FER_CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
SFEW_CLASSES = ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")


def _images(
    folder: Path, names: list[str], size: tuple[int, int], rng: np.random.Generator
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / name)


def fer2013_standin(root: Path, train: int = 10, validation: int = 2, seed: int = 0) -> Path:
    """``root`` as FER-2013's folder layout: ``train`` and ``validation`` 48-px faces per class."""
    rng = np.random.default_rng(seed)
    for cls in FER_CLASSES:
        _images(root / "train" / cls, [f"Training_{i}.jpg" for i in range(train)], (48, 48), rng)
        names = [f"PublicTest_{i}.jpg" for i in range(validation)]
        _images(root / "validation" / cls, names, (48, 48), rng)
    return root


def sfew_standin(root: Path, films: int = 4, per_film: int = 2, seed: int = 1) -> Path:
    """``root`` as SFEW 2.0's ``Train/<Class>/<Film>_<n>_<n>.png`` layout (72×90 colour)."""
    rng = np.random.default_rng(seed)
    for cls in SFEW_CLASSES:
        names = [f"Film{f}_{f:09d}_{k:08d}.png" for f in range(films) for k in range(per_film)]
        _images(root / "Train" / cls, names, (72, 90), rng)
    return root


#: Overrides that make any recipe's run one step long, in float32, quiet and single-process.
ONE_STEP = [
    "run.max_steps=1",
    "run.epochs=1",
    "run.batch_size=16",
    "run.eval_batch_size=64",
    "run.compile=false",
    # bf16 would stay in accelerate's process-wide state for the tests that follow.
    "run.mixed_precision=no",
    "run.log_with=[]",
    "run.progress=false",
    "run.time_budget_min=0",
    "data.num_workers=0",
    "data.args={}",
]
