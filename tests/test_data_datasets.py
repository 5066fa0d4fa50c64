"""Dataset loaders: layouts, label vocabulary, reproducible augmentation, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from glamor_zoo.data.datasets import (
    CaerDataset,
    CKPlusDataset,
    Fer2013Dataset,
    FolderDataset,
    build_dataset,
    class_vocabulary,
    label_of,
    read_box,
    sample_generator,
)
from glamor_zoo.data.datasets.ckplus import subject_of
from glamor_zoo.data.detection import Face, FaceDetector
from glamor_zoo.data.detection.cache import DetectionCache
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


def test_validation_split_aliases(tmp_path: Path) -> None:
    make_caer(tmp_path, split="validation")
    assert len(CaerDataset(tmp_path, "val")) == len(CaerDataset(tmp_path, "validation")) == 6


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


def test_sample_generators_are_independent_and_stable() -> None:
    draws = {
        key: torch.rand(3, generator=sample_generator(*key)).tolist()
        for key in [(0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0), (-1, 0, 0), (2**40, 3, 5)]
    }
    assert len({tuple(v) for v in draws.values()}) == len(draws)
    assert torch.rand(3, generator=sample_generator(0, 1, 0)).tolist() == draws[0, 1, 0]


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


class CountingDetector(FaceDetector):
    """A deterministic stand-in detector that counts the images it is asked about."""

    name = "counting"

    def __init__(self, threshold: float = 0.5) -> None:
        super().__init__(threshold)
        self.seen = 0

    def _detect_batch(self, images):
        self.seen += len(images)
        return [[Face((2, 3, 12, 13), 0.9), Face((0, 0, 5, 5), 0.6)] for _ in images]


def test_folder_detects_once_and_caches(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    for i, name in enumerate(["happy", "sad", "angry"]):
        _png(root / "train" / name / f"{i}.jpg", i)
    (root / "train" / "sad" / "broken.png").write_bytes(b"garbage")
    cache = tmp_path / "cache.sqlite"
    detector = CountingDetector()
    ds = build_dataset(
        "folder", root, split="train", detector=detector, cache=cache, progress=False
    )
    assert detector.seen == 3 and ds.classes == ["Anger", "Happy", "Sad"]
    assert [s.box for s in ds.samples] == [(2, 3, 12, 13)] * 3  # the best face
    assert list(ds.failures) == [str(root / "train" / "sad" / "broken.png")]
    again = FolderDataset(root, "train", detector=detector, cache=cache, progress=False)
    assert detector.seen == 3, "the next run must not detect again"
    assert again.targets == ds.targets
    (root / "train" / "happy" / "0.jpg").rename(root / "train" / "happy" / "renamed.jpg")
    FolderDataset(root, "train", detector=detector, cache=cache, progress=False)
    assert detector.seen == 3, "the cache is keyed by content, not by name"
    looser = CountingDetector(threshold=0.7)
    FolderDataset(root, "train", detector=looser, cache=cache, progress=False)
    assert looser.seen == 3, "other detector settings are detected anew"
    stricter = CountingDetector(threshold=0.7)
    FolderDataset(root, "train", detector=stricter, cache=cache, progress=False)
    assert stricter.seen == 0 and len(DetectionCache(cache)) == 6  # 3 images × 2 settings
    with pytest.raises(FileNotFoundError, match="split 'val' not found"):
        FolderDataset(root, "val", detector=detector, cache=False)
    flat = FolderDataset(root / "train", None, detector=detector, cache=False, progress=False)
    assert len(flat) == 3 and detector.seen == 6


def test_fer2013_csv(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    lines = ["emotion,pixels,Usage"]
    for emotion, usage in [(0, "Training"), (6, "Training"), (3, "PublicTest"), (5, "PrivateTest")]:
        lines.append(f"{emotion},{' '.join(map(str, rng.integers(0, 256, 2304)))},{usage}")
    lines.append("4,1 2 3,Training")  # malformed: not a square image
    csv_path = tmp_path / "fer2013.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    cfg = {"inputs": "face", "in_chans": 1, "face_size": [48, 48]}
    train = build_dataset("fer2013", csv_path, split="train", preprocess_cfg=cfg, train=False)
    assert train.classes == list(PAPER_LABELS) and train.targets == [0, 4]  # Angry, Neutral
    assert list(train.failures) == [f"{csv_path}#6"]
    item = train[0]
    assert set(item) == {"face", "label", "path"} and item["face"].shape == (1, 48, 48)
    pixels = [int(v) for v in lines[1].split(",")[1].split()]
    assert torch.allclose(item["face"].flatten(), torch.tensor(pixels, dtype=torch.float32) / 255)
    assert build_dataset("fer2013", tmp_path, split="val", preprocess_cfg=cfg).targets == [3]
    assert build_dataset("fer2013", tmp_path, split="test", preprocess_cfg=cfg).targets == [6]
    with pytest.raises(ValueError, match="missing column"):
        bad = tmp_path / "bad.csv"
        bad.write_text("a,b\n1,2\n")
        Fer2013Dataset(bad)


FER_ROOT = Path(__file__).parents[1].parent / "shared/data/fer2013"
CK_ROOT = Path(__file__).parents[1].parent / "shared/data/ckplus48"


def test_fer2013_folders() -> None:
    if not FER_ROOT.is_dir():
        pytest.skip(f"FER-2013 (research-only, not in the repository) not found at {FER_ROOT}")
    cfg = {"inputs": "face", "in_chans": 1, "face_size": [48, 48]}
    val = build_dataset("fer2013", FER_ROOT, split="val", preprocess_cfg=cfg)
    assert val.classes == list(PAPER_LABELS) and len(val) == 3589
    item = val[len(val) // 2]
    assert item["face"].shape == (1, 48, 48) and "PublicTest" in item["path"]
    assert val.classes[item["label"]] == label_of(Path(item["path"]).parent.name)


def test_ckplus_subject_split() -> None:
    if not CK_ROOT.is_dir():
        pytest.skip(f"CK+48 (research-only, not in the repository) not found at {CK_ROOT}")
    cfg = {"inputs": "face", "in_chans": 1, "face_size": [48, 48]}
    full = build_dataset("ckplus", CK_ROOT, split="all", preprocess_cfg=cfg)
    assert full.classes == ["Anger", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Contempt"]
    seen: set[str] = set()
    for fold in range(5):
        train = build_dataset("ckplus", CK_ROOT, "train", cfg, fold=fold, num_folds=5, seed=3)
        test = build_dataset("ckplus", CK_ROOT, "test", cfg, fold=fold, num_folds=5, seed=3)
        assert not set(train.subjects) & set(test.subjects)
        assert len(train) + len(test) == len(full)
        assert not {subject_of(s.path) for s in train.samples} & set(test.subjects)
        seen |= set(test.subjects)
    assert seen == set(full.subjects)  # every subject is tested exactly once over the folds
    again = build_dataset("ckplus", CK_ROOT, "test", cfg, fold=2, num_folds=5, seed=3)
    other = build_dataset("ckplus", CK_ROOT, "test", cfg, fold=2, num_folds=5, seed=4)
    assert (
        again.subjects
        == build_dataset("ckplus", CK_ROOT, "test", cfg, fold=2, num_folds=5, seed=3).subjects
    )
    assert again.subjects != other.subjects
    assert full[0]["face"].shape == (1, 48, 48)


def test_ckplus_rejects_names_without_subject(tmp_path: Path) -> None:
    _png(tmp_path / "happy" / "S010_001_0001.png", 1)
    _png(tmp_path / "happy" / "frame.png", 2)
    with pytest.raises(ValueError, match=r"frame\.png"):
        CKPlusDataset(tmp_path, "all")
