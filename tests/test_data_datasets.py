"""Dataset loaders: layouts, label vocabulary, reproducible augmentation, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from glamor_zoo.data.datasets import CaerDataset, build_dataset, class_vocabulary, read_box
from glamor_zoo.labels import PAPER_LABELS


def _png(path: Path, value: int, size: tuple[int, int] = (40, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)


def make_caer(root: Path, split: str = "train", classes=("Surprise", "Anger", "Happy")) -> Path:
    for c, name in enumerate(classes):
        for i in range(2):
            _png(root / "images" / split / name / f"{i:04d}.png", 10 * c + i)
            crop = root / "crop" / split / name / f"{i:04d}.txt"
            crop.parent.mkdir(parents=True, exist_ok=True)
            crop.write_text("5,4,25,24" if i == 0 else "0,0,0,0")
    return root


def test_vocabulary_merges_spellings_in_paper_order() -> None:
    assert class_vocabulary(["surprised", "angry", "Anger", "sadness", "contempt"]) == [
        "Anger",
        "Sad",
        "Surprise",
        "Contempt",
    ]
    assert class_vocabulary([s.lower() for s in PAPER_LABELS]) == list(PAPER_LABELS)


def test_caer_layout(tmp_path: Path) -> None:
    make_caer(tmp_path)
    ds = build_dataset("caer", tmp_path, split="train", train=False)
    assert isinstance(ds, CaerDataset)
    assert ds.classes == ["Anger", "Happy", "Surprise"]
    assert ds.targets == [0, 0, 1, 1, 2, 2]
    assert ds.samples[0].box == (5.0, 4.0, 25.0, 24.0) and ds.samples[1].box is None
    item = ds[0]
    assert set(item) == {"face", "context", "label", "path"}
    assert item["face"].shape == (3, 96, 96) and item["context"].shape == (3, 112, 112)
    assert item["path"].endswith("Anger/0000.png") and item["label"] == 0
    assert not ds[1]["face"].any()  # 0,0,0,0 → zero face
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch["face"].shape == (4, 3, 96, 96) and batch["label"].tolist() == [0, 0, 1, 1]


def test_fixed_vocabulary_and_face_only(tmp_path: Path) -> None:
    make_caer(tmp_path)
    ds = CaerDataset(tmp_path, "train", preprocess_cfg={"inputs": "face"}, classes=PAPER_LABELS)
    assert ds.classes == list(PAPER_LABELS)
    assert ds.targets == [0, 0, 3, 3, 6, 6]
    assert set(ds[2]) == {"face", "label", "path"}
    only = CaerDataset(tmp_path, "train", classes=["angry", "surprised"])
    assert only.classes == ["Anger", "Surprise"] and len(only) == 4


def test_augmentation_reproducible_per_seed_epoch_index(tmp_path: Path) -> None:
    make_caer(tmp_path)
    a = build_dataset("ncaer", tmp_path, split="train", seed=1)
    b = build_dataset("ncaer", tmp_path, split="train", seed=1)
    assert a.train
    assert torch.equal(a[0]["face"], b[0]["face"]) and torch.equal(a[0]["context"], b[0]["context"])
    epoch0 = a[0]["context"]
    a.set_epoch(1)
    assert not torch.equal(a[0]["context"], epoch0) or not torch.equal(a[0]["face"], b[0]["face"])
    b.set_epoch(1)
    assert torch.equal(a[0]["face"], b[0]["face"])  # resuming at epoch 1 replays epoch 1
    c = build_dataset("ncaer", tmp_path, split="train", seed=2)
    assert not torch.equal(c[0]["face"], b[0]["face"]) or not torch.equal(
        c[0]["context"], b[0]["context"]
    )


def test_caer_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no 'images/'"):
        CaerDataset(tmp_path)
    make_caer(tmp_path)
    with pytest.raises(FileNotFoundError, match="splits: \\['train'\\]"):
        CaerDataset(tmp_path, "test")
    (tmp_path / "crop/train/Happy/0001.txt").unlink()
    with pytest.raises(FileNotFoundError, match="glamor-zoo detect"):
        CaerDataset(tmp_path)
    assert CaerDataset(tmp_path, missing_box="none").samples[3].box is None
    (tmp_path / "crop/train/Happy/0001.txt").write_text("1,2,3")
    with pytest.raises(ValueError, match=r"0001\.txt"):
        CaerDataset(tmp_path)
    assert read_box(tmp_path / "crop/train/Anger/0000.txt") == (5.0, 4.0, 25.0, 24.0)


def test_bad_image_raises_or_is_substituted(tmp_path: Path) -> None:
    make_caer(tmp_path)
    (tmp_path / "images/train/Anger/0001.png").write_bytes(b"")
    with pytest.raises(ValueError, match="empty file"):
        CaerDataset(tmp_path)[1]
    ds = CaerDataset(tmp_path, on_error="substitute")
    assert ds[1]["path"].endswith("Happy/0000.png")
    assert ds.failed == {str(tmp_path / "images/train/Anger/0001.png")}


def test_hf_dataset_view(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    make_caer(tmp_path)
    hf = CaerDataset(tmp_path).to_hf_dataset()
    assert hf.features["label"].names == ["Anger", "Happy", "Surprise"]
    assert hf[0]["box"] == [5.0, 4.0, 25.0, 24.0] and hf[1]["box"] is None
