"""Issue 15: no face is scored that was not found, aligned faces, big photos, a CLI that never
surprises (generated images throughout)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import glamor_zoo
from glamor_zoo.data.detection import AdaptedDetector, Face, FaceDetector, create_detector
from glamor_zoo.serialization import save_pretrained
from glamor_zoo.spec import get_model_spec
from glamor_zoo_cli import main

ROOT = Path(__file__).resolve().parent.parent
FACES = sorted((ROOT / "tests" / "data").glob("deep_emotion_face_*.png"))


class BrightBox(FaceDetector):
    """The bounding box of the bright pixels, or no face; records the sizes it was given."""

    name = "bright-box"

    def __init__(self) -> None:
        super().__init__(threshold=0.0)
        self.sizes: list[tuple[int, int]] = []

    def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
        out = []
        for image in images:
            self.sizes.append(image.size)
            ys, xs = np.nonzero(np.asarray(image.convert("L")) > 128)
            if not xs.size:
                out.append([])
                continue
            box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
            out.append([Face(box, 1.0)])
        return out


def test_max_side_detects_on_a_bounded_copy_and_maps_boxes_back() -> None:
    image = Image.new("RGB", (4000, 3000))
    image.paste((255, 255, 255), (400, 1200, 1200, 2000))  # x 400..1200, y 1200..2000
    inner = BrightBox()
    (faces,) = AdaptedDetector(inner, max_side=1000, refine=False).detect([image])
    assert inner.sizes == [(1000, 750)]
    assert np.abs(np.subtract(faces[0].box, (400, 1200, 1200, 2000))).max() <= 1
    inner.sizes.clear()
    AdaptedDetector(inner, max_side=5000).detect([image])
    assert inner.sizes == [(4000, 3000)]  # never enlarged


def test_faces_found_on_the_copy_are_found_again_at_full_resolution() -> None:
    image = Image.new("RGB", (4000, 3000))
    image.paste((255, 255, 255), (403, 1201, 1203, 2002))  # not on the copy's 4-pixel grid
    exact = (403, 1201, 1203, 2002)
    inner = BrightBox()
    (coarse,) = AdaptedDetector(inner, max_side=1000, refine=False).detect([image])
    assert np.abs(np.subtract(coarse[0].box, exact)).max() >= 1  # the copy's rounding
    inner.sizes.clear()
    adapted = AdaptedDetector(inner, max_side=1000)
    (faces,) = adapted.detect([image])
    assert faces[0].box == exact  # the full-resolution box
    # The copy, then one crop of the original: twice the face's longer side, inside the image.
    assert inner.sizes[0] == (1000, 750) and len(inner.sizes) == 2
    assert 1600 <= inner.sizes[1][0] <= 1604 and 1600 <= inner.sizes[1][1] <= 1604
    assert adapted.settings()["refine"] is True
    # Part of the detection caches' key: faces cached before the cheaper search are not reused.
    assert adapted.settings()["refine_smallest_face"] == 0.5
    assert "refine" not in AdaptedDetector(inner, max_side=None).settings()


def test_refinement_searches_only_faces_of_at_least_half_the_face() -> None:
    class RecordsSearch(BrightBox):
        def searching_faces_from(self, pixels: float) -> FaceDetector:
            self.searched.append(pixels)
            return self

    image = Image.new("RGB", (4000, 3000))
    image.paste((255, 255, 255), (400, 1200, 1200, 2000))
    inner = RecordsSearch()
    inner.searched = []
    (faces,) = AdaptedDetector(inner, max_side=1000).detect([image])
    assert faces[0].box == (400, 1200, 1200, 2000)
    assert inner.searched == [pytest.approx(400, abs=2)]  # half of the 800-pixel face


def test_a_face_the_copy_made_up_is_dropped() -> None:
    class SeesThingsWhenSmall(BrightBox):
        """A face in the middle of small images; at full resolution, the bright box."""

        def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
            real = super()._detect_batch(images)
            return [
                [*faces, Face((450.0, 300.0, 550.0, 400.0), 0.9)] if image.width <= 1000 else faces
                for image, faces in zip(images, real, strict=True)
            ]

    image = Image.new("RGB", (4000, 3000))
    image.paste((255, 255, 255), (400, 400, 800, 800))
    (coarse,) = AdaptedDetector(SeesThingsWhenSmall(), max_side=1000, refine=False).detect([image])
    (refined,) = AdaptedDetector(SeesThingsWhenSmall(), max_side=1000).detect([image])
    assert len(coarse) == 2 and len(refined) == 1
    assert refined[0].box == (400, 400, 800, 800)


def test_predict_detects_on_a_bounded_copy_by_default(tmp_path: Path) -> None:
    from glamor_zoo.data.detection import DEFAULT_MAX_SIDE
    from glamor_zoo.inference import EmotionRecognizer

    def bound(model: str = "glamor_test", **kwargs: object) -> object:
        detector = EmotionRecognizer(model, fast=False, pretrained=False, **kwargs).detector
        return getattr(detector, "max_side", None)

    assert bound(detector=BrightBox()) == DEFAULT_MAX_SIDE == 1280
    assert bound(detector=BrightBox(), max_side=None) is None
    assert bound(detector=BrightBox(), max_side=640) == 640
    assert bound(detector=BrightBox(), preprocessing="official") is None
    assert bound("deep_emotion", detector="none") is None


def test_bgr_channel_order_swaps_what_the_detector_sees() -> None:
    seen: list[np.ndarray] = []

    class Spy(BrightBox):
        def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
            seen.extend(np.asarray(im) for im in images)
            return [[] for _ in images]

    image = Image.new("RGB", (8, 8), (200, 10, 30))
    AdaptedDetector(Spy(), channel_order="bgr").detect([image])
    assert tuple(seen[0][0, 0]) == (30, 10, 200)
    settings = create_detector("none", max_side=64, channel_order="bgr").settings()
    assert settings["max_side"] == 64 and settings["channel_order"] == "bgr"


def test_none_detector_centre_square_or_whole_image() -> None:
    portrait = Image.new("RGB", (143, 181))
    assert create_detector("none").detect_one(portrait)[0].box == (0.0, 19.0, 143.0, 162.0)
    full = create_detector("none", crop="full").detect_one(portrait)[0]
    assert full.box == (0.0, 0.0, 143.0, 181.0)
    with pytest.raises(ValueError, match="crop=full"):
        create_detector("none", crop="middle")


@pytest.fixture(scope="module")
def face_only_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    torch.manual_seed(0)
    model = glamor_zoo.create_model("deep_emotion_no_stn")
    return save_pretrained(
        model, tmp_path_factory.mktemp("m") / "face_only", label_names=glamor_zoo.PAPER_LABELS
    )


def _class_folders(root: Path) -> Path:
    """Happy: two bright faces and one dark image (no face); Sad: one face; Contempt: one."""
    for name, shades in {"happy": [255, 255, 0], "sad": [255], "contempt": [255]}.items():
        (root / name).mkdir(parents=True)
        for i, shade in enumerate(shades):
            image = Image.new("RGB", (64, 64))
            image.paste((shade,) * 3, (16, 16, 48, 48))
            image.save(root / name / f"{name}_{i}.png")
    return root


def test_eval_never_scores_a_missing_face(
    face_only_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from glamor_zoo.data.detection import DETECTORS

    DETECTORS.add("bright-box", BrightBox, overwrite=True)
    data = _class_folders(tmp_path / "data")
    out = tmp_path / "eval"
    args = ["eval", str(face_only_dir), str(data), "--split", "all", "--no-progress"]
    common = ["--detector", "bright-box", "-o", str(out)]
    assert main([*args, *common]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_samples"] == 5 and metrics["num_scored"] == 3
    assert metrics["coverage"] == pytest.approx(3 / 5)
    assert metrics["skipped"]["no_face"]["count"] == 1
    assert metrics["skipped"]["unknown_class"]["per_class"] == {"Contempt": 1}
    correct = sum(metrics["confusion_matrix"][i][i] for i in range(7))
    assert metrics["top1"] == pytest.approx(100 * correct / 5)
    assert metrics["top1_detected"] == pytest.approx(100 * correct / 3)
    skipped = list(csv.DictReader((out / "skipped.csv").open()))
    assert {(Path(r["path"]).name, r["reason"]) for r in skipped} == {
        ("happy_2.png", "no_face"),
        ("contempt_0.png", "unknown_class"),
    }
    assert len((out / "predictions.csv").read_text().splitlines()) == 1 + 3
    printed = capsys.readouterr().out
    assert "of all 5 labelled images" in printed and "coverage 60.0%" in printed
    assert main([*args, *common, "--headline", "top1_detected"]) == 0
    assert capsys.readouterr().out.startswith(f"top-1 {metrics['top1_detected']:.2f}% of the 3")


def test_eval_none_detector_refuses_context_models(tmp_path: Path, capsys) -> None:
    data = _class_folders(tmp_path / "data")
    assert main(["eval", "glamor_test", str(data), "--detector", "none", "--split", "all"]) == 2
    assert "has no scene" in capsys.readouterr().err


def test_random_weights_run_a_tag_that_is_not_published(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Without the flag an unpublished tag fails at once; with it every command runs the
    architecture untrained (no download is tried: the test runs offline)."""
    tag = "glamor_face_only.ncaer_s"
    data = _class_folders(tmp_path / "data")
    face = str(FACES[0])
    commands = {
        "predict": ["predict", face, "--model", tag, "--detector", "none", "--no-fast"],
        "eval": ["eval", tag, str(data), "--detector", "none", "--split", "all", "--no-progress"],
        "saliency": ["saliency", face, "--model", tag, "--window", "24", "--stride", "24"],
    }
    for name, argv in commands.items():
        out = ["--out-dir" if name == "saliency" else "-o", str(tmp_path / name)]
        assert main([*argv, *out]) == 2, name
        assert "--random-weights" in capsys.readouterr().err, name
        assert main([*argv, *out, "--random-weights"]) == 0, name
    assert len(list((tmp_path / "saliency").glob("*.png"))) == 1
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["num_samples"] == 5


def test_pictures_of_same_named_inputs_never_overwrite(face_only_dir: Path, tmp_path: Path) -> None:
    for folder, shade in (("d1", 90), ("d2", 200)):
        (tmp_path / folder).mkdir()
        Image.new("RGB", (48, 48), (shade,) * 3).save(tmp_path / folder / "x.jpg")
    out = tmp_path / "out"
    argv = ["predict", str(tmp_path / "d1" / "x.jpg"), str(tmp_path / "d2" / "x.jpg")]
    opts = ["--model", str(face_only_dir), "--detector", "none", "--no-fast", "--no-progress"]
    assert main([*argv, *opts, "-o", str(out), "--draw"]) == 0
    drawn = sorted(p.name for p in (out / "annotated").iterdir())
    assert drawn == ["x.jpg", "x_2.jpg"]
    shades = {p.name: np.asarray(Image.open(p))[24, 24, 0] for p in (out / "annotated").iterdir()}
    assert abs(int(shades["x.jpg"]) - 90) < 10 and abs(int(shades["x_2.jpg"]) - 200) < 10
    records = json.loads((out / "predictions.json").read_text())
    assert [f["face"] for r in records for f in r["faces"]] == [1, 1]
    (out / "run.json").write_text(json.dumps({"model": "old"}))  # a journal of before
    assert main([*argv, *opts, "-o", str(out)]) == 2


def test_one_line_errors_before_the_model_loads(tmp_path: Path, capsys) -> None:
    photo = str(FACES[0])
    cases = {
        ("predict", photo, "--model", "deep_emotion.fer2014"): "glamor-zoo models deep_emotion",
        ("predict", photo, "--device", "gpu"): "not a torch device",
        ("predict", photo, "--device", "cuda:99"): "--device cuda:99",
        ("predict", photo, "--detector", "dlib-mmod"): "--detector-arg model_path=",
        ("predict", str(tmp_path / "missing.jpg")): "nothing to read",
        ("predict", photo, "--max-side", "-1"): "must be at least 0",
        ("eval", photo, "--max-side", "0"): "must be at least 1",
        ("predict", photo, "--max-side", "9", "--preprocessing", "official"): "drop one",
        ("export", str(tmp_path), str(tmp_path / "x.onnx")): "config.json",
    }
    for argv, message in cases.items():
        assert main(list(argv)) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)
        assert len(err.strip().splitlines()) == 1, err


def test_a_bare_folder_works_as_a_model(face_only_dir: Path, capsys) -> None:
    opts = ["--detector", "none", "--no-fast", "--no-progress", "--format", "json"]
    assert main(["predict", str(FACES[0]), "--model", str(face_only_dir), *opts]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    probabilities = record["faces"][0]["probabilities"]
    assert sum(probabilities.values()) == pytest.approx(1, abs=1e-6)
    assert any(len(repr(p)) > 10 for p in probabilities.values())  # not rounded to 6 digits


def test_help_never_imports_the_package() -> None:
    code = (
        "import sys, glamor_zoo_cli; glamor_zoo_cli.build_parser(); "
        "print(sorted(m for m in ('torch', 'timm', 'glamor_zoo', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    for argv in (["--help"], ["predict", "--help"], ["eval", "--help"], ["train", "--help"]):
        assert main(argv) == 0


def test_converted_checkpoints_ask_for_the_official_pipeline(tmp_path: Path) -> None:
    from glamor_zoo.convert import convert_tf_checkpoint
    from glamor_zoo.inference.loading import load_model

    out = convert_tf_checkpoint(
        ROOT / "tests" / "fixtures" / "tf_official_tiny" / "Model", tmp_path
    )
    trained_with = json.loads((out / "config.json").read_text())["spec"]["trained_with"]
    assert trained_with == {"detector": "dlib-mmod", "channel_order": "bgr", "context_jpeg": True}
    assert load_model(str(out)).preprocessing == "official"  # a bare folder, read back
    # A 0.1.0 folder says it with a top-level entry and no spec: it loads the same.
    config = json.loads((out / "config.json").read_text())
    del config["spec"]
    (out / "config.json").write_text(json.dumps({**config, "preprocessing": "official"}))
    assert load_model(str(out)).spec.trained_with.official


def test_num_workers_auto_in_recipes(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from glamor_zoo.train.config import ConfigError, load_config

    recipe = ROOT / "recipes" / "glamor_original_ncaer_s.yaml"
    config = load_config(recipe, ["data.root=/data"])
    assert config.data.num_workers == "auto"
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert config.data.workers() == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert config.data.workers() == 4
    with pytest.raises(ConfigError, match="num_workers"):
        load_config(recipe, ["data.root=/data", "data.num_workers=many"])


def test_face_only_models_cut_faces_from_the_photo_alone() -> None:
    from glamor_zoo.data.transforms import GlamorTransform, to_uint8_tensor
    from glamor_zoo.inference.recognizer import _face_from_region

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (90, 120, 3), dtype=np.uint8))
    transform = GlamorTransform(
        get_model_spec(glamor_zoo.create_model("deep_emotion")).preprocess_cfg()
    )
    for box in [(10.4, 5.6, 70.2, 80.9), (-5.0, 60.0, 130.0, 100.0), (50.0, 50.0, 50.0, 50.0)]:
        expected = transform.face(to_uint8_tensor(image), box)
        assert np.array_equal(_face_from_region(transform, image, box), expected), box


def test_images_and_refinement_crops_are_detected_in_parallel_threads() -> None:
    import threading

    both_waiting = threading.Barrier(2, timeout=20)

    class WaitsForAnother(BrightBox):
        """Each call waits until a second call is under way: one thread at a time deadlocks."""

        thread_safe = True

        def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
            both_waiting.wait()
            return super()._detect_batch(images)

    image = Image.new("RGB", (4000, 3000))
    image.paste((255, 255, 255), (400, 1200, 1200, 2000))
    other = Image.new("RGB", (4000, 3000))
    other.paste((255, 255, 255), (2000, 400, 2400, 800))
    # Two copies at once, then the two refinement crops at once.
    found = AdaptedDetector(WaitsForAnother(), max_side=1000, workers=2).detect([image, other])
    assert [f[0].box for f in found] == [(400, 1200, 1200, 2000), (2000, 400, 2400, 800)]
    with pytest.raises(ValueError, match="workers must be at least 1"):
        AdaptedDetector(BrightBox(), workers=0)
    # At full resolution too (eval, detect, build-ncaer, predict --max-side 0): the images of a
    # call in two threads, the detector's own settings (and so its cache keys).
    full_size = create_detector(WaitsForAnother)
    assert type(full_size) is WaitsForAnother and full_size.workers == 2
    assert full_size.detect([image, other]) == BrightBox().detect([image, other])
    with pytest.raises(ValueError, match="workers must be at least 1"):
        create_detector(BrightBox, workers=0)


def test_the_largest_images_start_first_and_refinement_waits_for_no_other_image() -> None:
    import threading

    started: list[tuple[int, int]] = []

    class RecordsStarts(BrightBox):
        thread_safe = True

        def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
            started.extend(image.size for image in images)
            return super()._detect_batch(images)

    sizes = [(300, 200), (4000, 3000), (1500, 1000)]
    images = [Image.new("RGB", size) for size in sizes]
    create_detector(RecordsStarts, workers=2).detect(images)
    # Two threads take the two largest photos; the smallest waits for one of them.
    assert set(started[:2]) == {(4000, 3000), (1500, 1000)} and started[2] == (300, 200)

    # A face's refinement is queued as soon as its own image's copy is done: here the second
    # image's copy can only finish once the first image's face has been refined.
    refined = threading.Event()

    class RefinesEarly(BrightBox):
        thread_safe = True

        def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
            if images[0].size == (1000, 1000):  # the second image's copy
                assert refined.wait(20), "a refinement waited for another image's copy"
            elif images[0].size != (1000, 750):  # not the first image's copy: a crop
                refined.set()
            return super()._detect_batch(images)

    first = Image.new("RGB", (4000, 3000))
    first.paste((255, 255, 255), (400, 1200, 1200, 2000))
    second = Image.new("RGB", (3000, 3000))
    second.paste((255, 255, 255), (1000, 1000, 1400, 1400))
    found = AdaptedDetector(RefinesEarly(), max_side=1000, workers=2).detect([first, second])
    assert [f[0].box for f in found] == [(400, 1200, 1200, 2000), (1000, 1000, 1400, 1400)]


def test_detection_threads_share_torchs_threads_and_give_the_setting_back() -> None:
    import threading

    import torch

    from glamor_zoo.data.detection.base import detection_threads

    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with detection_threads(2) as pool:  # two workers on two threads: one each
            inside = list(pool.map(lambda _: torch.get_num_threads(), range(4)))
        assert inside == [1, 1, 1, 1]
        later: list[int] = []  # a thread that starts using torch afterwards gets two again
        thread = threading.Thread(target=lambda: later.append(torch.get_num_threads()))
        thread.start()
        thread.join()
        assert torch.get_num_threads() == 2 and later == [2]
    finally:
        torch.set_num_threads(saved)


def test_a_detector_not_marked_thread_safe_is_called_from_one_thread_only() -> None:
    import threading

    class RecordsThreads(BrightBox):  # thread_safe stays False, as for dlib's CNN
        def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
            self.threads.add(threading.get_ident())
            return super()._detect_batch(images)

    inner = RecordsThreads()
    inner.threads = set()
    images = []
    for x in (400, 1600, 2800):
        image = Image.new("RGB", (4000, 3000))
        image.paste((255, 255, 255), (x, 1200, x + 800, 2000))
        images.append(image)
    found = AdaptedDetector(inner, max_side=1000, workers=2).detect(images)
    assert [f[0].box[0] for f in found] == [400, 1600, 2800]
    assert inner.threads == {threading.get_ident()}
    full_size = create_detector(RecordsThreads, workers=2)  # at full resolution
    full_size.threads = set()
    assert [f[0].box[0] for f in full_size.detect(images)] == [400, 1600, 2800]
    assert full_size.threads == {threading.get_ident()}
    assert create_detector("mtcnn").thread_safe and not FaceDetector.thread_safe
