"""EmotionRecognizer: records, batching, the shared-context mode, errors, model loading."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import glamor_zoo
from glamor_zoo.data.images import ImageLoadError
from glamor_zoo.data.transforms import GlamorTransform, to_uint8_tensor
from glamor_zoo.fast import auto
from glamor_zoo.fast.auto import FastProfile
from glamor_zoo.inference import EmotionRecognizer, ImageResult, ModelLoadError, load_model
from glamor_zoo.inference.shared_context import mask_faces, shared_context_features
from glamor_zoo.spec import get_model_spec

DATA = Path(__file__).parent / "data"
PHOTO = DATA / "inference_two_people.jpg"  # glamor-net sample 2 (MIT), downscaled
BOXES = [(215.0, 37.0, 252.0, 88.0), (106.0, 67.0, 136.0, 108.0)]  # its two faces (MTCNN)


class FixedDetector:
    """Returns the same boxes for every image (keeps tests off the real detector)."""

    def __init__(self, boxes: list[tuple[float, float, float, float]] = BOXES) -> None:
        self.boxes = boxes
        self.calls = 0

    def detect(self, images: list[Image.Image]) -> list[list[object]]:
        from glamor_zoo.data.detection import Face

        self.calls += 1
        return [[Face(box, 0.99) for box in self.boxes] for _ in images]


@pytest.fixture(scope="module")
def glamor_model() -> torch.nn.Module:
    torch.manual_seed(0)
    model = glamor_zoo.create_model("glamor_test").eval()
    # Non-trivial batch-norm statistics so that predictions differ between inputs.
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
        model.head.fc.weight.mul_(20)
    return model


def make(model: torch.nn.Module, **kwargs: object) -> EmotionRecognizer:
    kwargs.setdefault("detector", FixedDetector())
    return EmotionRecognizer(model, device="cpu", fast=False, **kwargs)


def test_records_of_a_context_model(glamor_model: torch.nn.Module) -> None:
    rec = make(glamor_model)
    result = rec(PHOTO)
    assert isinstance(result, ImageResult) and result.ok
    assert (result.width, result.height) == Image.open(PHOTO).size
    assert [f.box for f in result.faces] == BOXES
    for face in result.faces:
        assert face.score == pytest.approx(0.99)
        assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert list(face.probabilities) == list(glamor_zoo.PAPER_LABELS)
        assert face.label == max(face.probabilities, key=face.probabilities.get)
        assert face.confidence == pytest.approx(face.probabilities[face.label])
        assert face.attention is not None and face.attention.shape == (7, 7)
        assert face.attention.sum() == pytest.approx(1.0, abs=1e-5)
        assert face.fusion_weights is not None
        assert sum(face.fusion_weights.values()) == pytest.approx(1.0, abs=1e-5)
    as_dict = result.to_dict()
    assert as_dict["faces"][0]["label"] == result.faces[0].label
    assert len(as_dict["faces"][0]["attention"]) == 7


def test_matches_the_model_on_the_transform(glamor_model: torch.nn.Module) -> None:
    """Exact mode = GlamorTransform + model(face, context) for each face."""
    result = make(glamor_model)(PHOTO)
    transform = GlamorTransform(get_model_spec(glamor_model).preprocess_cfg(), train=False)
    image = Image.open(PHOTO).convert("RGB")
    for face, box in zip(result.faces, BOXES, strict=True):
        inputs = transform(image, box)
        with torch.no_grad():
            probs = torch.softmax(glamor_model(inputs["face"][None], inputs["context"][None]), 1)
        np.testing.assert_allclose(list(face.probabilities.values()), probs[0].numpy(), atol=1e-5)


def test_batch_size_does_not_change_results(glamor_model: torch.nn.Module) -> None:
    images = [PHOTO, PHOTO, Image.open(PHOTO).transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    for mode in ("exact", "shared"):
        big = make(glamor_model, mode=mode, batch_size=64)(images)
        small = make(glamor_model, mode=mode, batch_size=1, image_batch_size=2)(images)
        for a, b in zip(big, small, strict=True):
            for fa, fb in zip(a.faces, b.faces, strict=True):
                np.testing.assert_allclose(
                    list(fa.probabilities.values()), list(fb.probabilities.values()), atol=1e-5
                )


def test_faces_of_many_images_share_batches(glamor_model: torch.nn.Module) -> None:
    detector = FixedDetector()
    rec = make(glamor_model, detector=detector, batch_size=64, image_batch_size=4)
    calls = []
    hook = glamor_model.face_encoder.register_forward_hook(lambda m, i, o: calls.append(len(o)))
    try:
        rec([PHOTO] * 4)
    finally:
        hook.remove()
    assert detector.calls == 1  # one detection call for the chunk of 4 images
    assert calls == [8]  # 4 images × 2 faces in one forward pass


def test_shared_context_encodes_the_context_once_per_photo(glamor_model: torch.nn.Module) -> None:
    rec = make(glamor_model, mode="shared")
    sizes = []
    hook = glamor_model.context_encoder.register_forward_hook(lambda m, i, o: sizes.append(len(o)))
    try:
        results = rec([PHOTO, PHOTO, PHOTO])
    finally:
        hook.remove()
    assert sum(sizes) == 3  # one context per photo, not one per face
    assert all(len(r.faces) == 2 for r in results)
    exact = make(glamor_model)(PHOTO)
    # The faces differ (own v_f, own attention); with all faces masked the numbers move a bit.
    shared = results[0]
    assert shared.faces[0].probabilities != shared.faces[1].probabilities
    assert not np.allclose(shared.faces[0].attention, shared.faces[1].attention)
    assert shared.faces[0].probabilities != exact.faces[0].probabilities


def test_shared_equals_exact_with_one_face(glamor_model: torch.nn.Module) -> None:
    one = FixedDetector(BOXES[:1])
    exact = make(glamor_model, detector=one)(PHOTO).faces[0]
    shared = make(glamor_model, detector=one, mode="shared")(PHOTO).faces[0]
    np.testing.assert_allclose(
        list(exact.probabilities.values()), list(shared.probabilities.values()), atol=1e-6
    )
    np.testing.assert_allclose(exact.attention, shared.attention, atol=1e-6)


def test_shared_context_features_matches_forward_features(glamor_model: torch.nn.Module) -> None:
    faces, contexts = torch.rand(3, 3, 96, 96), torch.rand(2, 3, 112, 112)
    owners = torch.tensor([0, 1, 1])
    with torch.no_grad():
        shared = shared_context_features(glamor_model, faces, contexts, owners)
        exact = glamor_model.forward_features(faces, contexts[owners])
    torch.testing.assert_close(shared.fused, exact.fused)
    torch.testing.assert_close(shared.attention, exact.attention)
    with pytest.raises(ValueError, match="one entry per face"):
        shared_context_features(glamor_model, faces, contexts, torch.tensor([0, 1]))


def test_mask_faces_zeroes_every_box() -> None:
    image = to_uint8_tensor(Image.open(PHOTO))
    masked = mask_faces(image, BOXES)
    for x1, y1, x2, y2 in BOXES:
        assert masked[:, int(y1) : int(y2), int(x1) : int(x2)].max() == 0
    assert masked.sum() > 0 and image[:, 40:80, 220:250].sum() > 0  # the input is untouched


def test_face_only_model_gets_only_the_face() -> None:
    model = glamor_zoo.create_model("deep_emotion").eval()
    rec = make(model)
    assert not rec.uses_context
    seen = []
    hook = model.register_forward_pre_hook(lambda m, args: seen.append(args))
    try:
        result = rec(PHOTO)
    finally:
        hook.remove()
    (args,) = seen
    assert len(args) == 1 and args[0].shape == (2, 1, 48, 48)  # grey 48×48 faces only
    assert all(f.attention is None and f.fusion_weights is None for f in result.faces)


def test_no_detector_takes_the_centre_square_or_the_whole_image(
    glamor_model: torch.nn.Module,
) -> None:
    face_only = glamor_zoo.create_model("deep_emotion").eval()
    portrait = Image.new("RGB", (143, 181), (90, 120, 150))  # an SFEW-sized aligned face
    result = make(face_only, detector=None)(portrait)
    assert [f.box for f in result.faces] == [(0.0, 19.0, 143.0, 162.0)]
    full = make(face_only, detector="none", detector_args={"crop": "full"})(portrait)
    assert [f.box for f in full.faces] == [(0.0, 0.0, 143.0, 181.0)]
    with pytest.raises(ValueError, match="has no scene"):
        make(glamor_model, detector=None)


def test_inputs_of_every_kind(glamor_model: torch.nn.Module) -> None:
    rec = make(glamor_model)
    image = Image.open(PHOTO)
    array = np.asarray(image.convert("RGB"))
    results = rec([str(PHOTO), PHOTO, image, array, image.convert("L")])
    assert all(r.ok and len(r.faces) == 2 for r in results)
    np.testing.assert_allclose(
        list(results[0].faces[0].probabilities.values()),
        list(results[3].faces[0].probabilities.values()),
        atol=1e-6,
    )
    assert results[2].source == "<image 2>"


def test_failures_are_recorded_or_raised(glamor_model: torch.nn.Module, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    rec = make(glamor_model)
    results = rec([PHOTO, broken, tmp_path / "missing.png", PHOTO], errors="record")
    assert [r.ok for r in results] == [True, False, False, True]
    assert "ImageLoadError" in results[1].error and "broken.jpg" in results[1].error
    assert "no such file" in results[2].error
    assert len(results[3].faces) == 2
    with pytest.raises(ImageLoadError, match=r"broken\.jpg"):
        rec(broken)
    with pytest.raises(TypeError, match="expected a path"):
        rec(12345)


class FailingDetector(FixedDetector):
    def detect(self, images: list[Image.Image]) -> list[list[object]]:
        if any(image.width == 77 for image in images):
            raise RuntimeError("detector crashed")
        return super().detect(images)


def test_a_detector_failure_costs_only_its_image(glamor_model: torch.nn.Module) -> None:
    rec = make(glamor_model, detector=FailingDetector())
    odd = Image.new("RGB", (77, 60))
    results = rec([PHOTO, odd, PHOTO], errors="record")
    assert [r.ok for r in results] == [True, False, True]
    assert "detector crashed" in results[1].error


def test_fast_inference_is_used_when_available(
    glamor_model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    used = []

    def fake_fast(model: torch.nn.Module) -> torch.nn.Module:
        used.append(model)
        return model

    monkeypatch.setattr(glamor_zoo, "fast_inference", fake_fast, raising=False)
    face_only = glamor_zoo.create_model("deep_emotion_no_stn").eval()
    EmotionRecognizer(face_only, detector=FixedDetector(), device="cpu", fast=True)
    assert used == [face_only]
    EmotionRecognizer(face_only, detector=FixedDetector(), device="cpu", fast=False)
    assert used == [face_only]
    # Context models too: their forward_features is accelerated.
    EmotionRecognizer(glamor_model, detector=FixedDetector(), device="cpu", fast=True)
    assert used == [face_only, glamor_model]
    EmotionRecognizer(glamor_model, detector=FixedDetector(), device="cpu", fast=False)
    # The default, fast="auto", sets nothing up before it knows that it pays.
    EmotionRecognizer(glamor_model, detector=FixedDetector(), device="cpu")
    assert len(used) == 2


@pytest.mark.parametrize("mode", ["exact", "shared"])
def test_context_model_runs_the_fast_path(
    glamor_model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """fast=True gives the plain model's records, through FastInferenceModel.forward_features."""
    from glamor_zoo.fast import FastInferenceModel, fast_inference

    model = copy.deepcopy(glamor_model)  # fast_inference makes the weights channels-last
    monkeypatch.setattr(
        glamor_zoo, "fast_inference", lambda m: fast_inference(m, precision="fp32", compile=False)
    )
    fast_rec = EmotionRecognizer(
        model, detector=FixedDetector(), device="cpu", mode=mode, fast=True
    )
    assert isinstance(fast_rec._runner, FastInferenceModel)
    seen = []

    def features(*args: torch.Tensor, **kwargs: torch.Tensor | None) -> object:
        seen.append(kwargs.get("context_index"))
        return model.forward_features(*args, **kwargs)

    fast_rec._runner._features_runner = features
    images = [PHOTO, Image.open(PHOTO).transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    fast_results = fast_rec(images)
    plain_results = make(glamor_model, mode=mode)(images)
    assert len(seen) == 1 and (seen[0] is None) == (mode == "exact")
    for got, want in zip(fast_results, plain_results, strict=True):
        for fg, fw in zip(got.faces, want.faces, strict=True):
            assert fg.label == fw.label
            np.testing.assert_allclose(
                list(fg.probabilities.values()), list(fw.probabilities.values()), atol=1e-5
            )
            np.testing.assert_allclose(fg.attention, fw.attention, atol=1e-6)
            assert fg.fusion_weights == pytest.approx(fw.fusion_weights, abs=1e-5)


def test_a_failing_fast_path_falls_back_to_the_plain_model(
    glamor_model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(torch.nn.Module):
        def forward_features(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("fast path broke")

    monkeypatch.setattr(glamor_zoo, "fast_inference", lambda m: Broken(), raising=False)
    rec = EmotionRecognizer(glamor_model, detector=FixedDetector(), device="cpu", fast=True)
    result = rec(PHOTO)
    assert rec._runner is rec.model
    want = make(glamor_model)(PHOTO)
    for got, expected in zip(result.faces, want.faces, strict=True):
        assert got.probabilities == pytest.approx(expected.probabilities, abs=1e-6)


@pytest.fixture
def set_ups(monkeypatch: pytest.MonkeyPatch) -> list[torch.nn.Module]:
    """Every fast_inference set-up the recogniser asks for (uncompiled in tests)."""
    from glamor_zoo.fast import fast_inference

    used: list[torch.nn.Module] = []

    def fake_fast(model: torch.nn.Module) -> torch.nn.Module:
        used.append(model)
        return fast_inference(model, precision="fp32", compile=False)

    monkeypatch.setattr(glamor_zoo, "fast_inference", fake_fast, raising=False)
    return used


def auto_recognizer(
    model: torch.nn.Module,
    monkeypatch: pytest.MonkeyPatch,
    profile: FastProfile | None,
    **kwargs: object,
) -> EmotionRecognizer:
    monkeypatch.setattr(auto, "fast_profile", lambda device, name: profile)
    return EmotionRecognizer(model, detector=FixedDetector(), device="cpu", **kwargs)


def test_auto_never_sets_up_the_fast_path_for_a_small_job(
    glamor_model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch, set_ups: list[torch.nn.Module]
) -> None:
    """A cold first predict on a small folder must not pay the compile: 11 photos, set-up 20 s."""
    profile = FastProfile(setup_s=20.0, speedup=5.0, source="test")
    rec = auto_recognizer(glamor_model, monkeypatch, profile, job_size=11)
    rec([PHOTO] * 11)
    assert set_ups == [] and rec._runner is rec.model


def test_auto_stays_eager_where_the_fast_path_is_unmeasured(
    glamor_model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch, set_ups: list[torch.nn.Module]
) -> None:
    rec = auto_recognizer(glamor_model, monkeypatch, None, job_size=10**9)
    rec([PHOTO] * 3)
    assert set_ups == [] and rec._runner is rec.model


@pytest.mark.parametrize("size", [10**9, None])
def test_auto_switches_once_the_fast_path_pays(
    glamor_model: torch.nn.Module,
    monkeypatch: pytest.MonkeyPatch,
    set_ups: list[torch.nn.Module],
    size: int | None,
) -> None:
    """Known big job: after the first timed chunk (the second: the first warms the eager model
    up); unknown size: once the work done pays the set-up (here 1 µs: then too). The third chunk
    runs fast; same records either way."""
    from glamor_zoo.fast import FastInferenceModel

    model = copy.deepcopy(glamor_model)  # fast_inference makes the weights channels-last
    profile = FastProfile(setup_s=1e-6, speedup=5.0, source="test")
    rec = auto_recognizer(model, monkeypatch, profile, job_size=size, image_batch_size=2)
    images = [PHOTO, Image.open(PHOTO).transpose(Image.Transpose.FLIP_LEFT_RIGHT)] * 3
    results = rec(images)
    assert set_ups == [model] and isinstance(rec._runner, FastInferenceModel)
    for got, want in zip(results, make(glamor_model)(images), strict=True):
        for fg, fw in zip(got.faces, want.faces, strict=True):
            assert fg.probabilities == pytest.approx(fw.probabilities, abs=1e-5)


def test_auto_without_a_job_size_waits_until_the_work_done_pays(
    glamor_model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch, set_ups: list[torch.nn.Module]
) -> None:
    profile = FastProfile(setup_s=1e6, speedup=5.0, source="test")
    rec = auto_recognizer(glamor_model, monkeypatch, profile)
    rec([PHOTO] * 3)
    assert set_ups == [] and rec._auto is not None and rec._auto.images == 3


def test_bad_fast_option(glamor_model: torch.nn.Module) -> None:
    with pytest.raises(ValueError, match="fast must be"):
        EmotionRecognizer(glamor_model, detector=FixedDetector(), fast="sometimes")  # type: ignore[arg-type]


def test_top_level_export() -> None:
    assert glamor_zoo.EmotionRecognizer is EmotionRecognizer


def test_model_from_a_folder(glamor_model: torch.nn.Module, tmp_path: Path) -> None:
    from glamor_zoo.serialization import save_pretrained

    save_pretrained(glamor_model, tmp_path / "model")
    rec = EmotionRecognizer(f"local-dir:{tmp_path / 'model'}", detector=FixedDetector(), fast=False)
    assert rec.loaded.source == "local-dir"
    expected = make(glamor_model)(PHOTO)
    got = rec(PHOTO)
    np.testing.assert_allclose(
        list(got.faces[0].probabilities.values()),
        list(expected.faces[0].probabilities.values()),
        atol=1e-6,
    )


def test_a_download_that_cannot_happen_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache
    with pytest.raises(ModelLoadError, match=r"not published yet.*convert-tf"):
        load_model("glamor_original.caer_s")
    from glamor_zoo.models import _factory  # once published, a failed download says so

    monkeypatch.setattr(_factory, "_UNPUBLISHED", set())
    with pytest.raises(ModelLoadError) as info:
        load_model("glamor_original.caer_s")
    message = str(info.value)
    assert "glamor_original.caer_s" in message and "download" in message
    assert "local-dir:" in message and "face_resnet26.fer2013" in message


def test_unknown_model_names_the_way_out(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="glamor-zoo models"):
        load_model("no_such_model_xyz")
    with pytest.raises(ModelLoadError, match=r"config\.json"):
        load_model(f"local-dir:{tmp_path / 'nothing'}")


def test_random_weights_are_reported(caplog: pytest.LogCaptureFixture) -> None:
    loaded = load_model("glamor_test")
    assert loaded.source == "random" and "random" in loaded.describe().lower()
    assert "without pretrained weights" in caplog.text


def test_default_model_is_packaged_and_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    rec = EmotionRecognizer(detector="mtcnn", fast=False)
    assert rec.loaded.source == "packaged" and rec.model_name == "face_resnet26.fer2013_sfew_hardfer"
    from glamor_zoo.inference.demo import demo_image_path

    result = rec(demo_image_path())
    assert len(result.faces) >= 4  # five people, one cut by the top edge
    assert all(0 <= f.confidence <= 1 and f.score >= 0.9 for f in result.faces)


@pytest.mark.parametrize(
    "variant",
    [
        {"inputs": "context", "attention": "context"},
        {"inputs": "context", "attention": "gla"},
        {"attention": "none", "fusion": "concat"},
        {"inputs": "face"},
    ],
    ids=["context-only-caer", "context-only-gla", "no-attention-concat", "face-only"],
)
def test_every_input_setting_in_both_modes(variant: dict) -> None:
    model = glamor_zoo.create_model("glamor_test", **variant).eval()
    exact = make(model)(PHOTO)
    shared = make(model, mode="shared")(PHOTO)
    for a, b in zip(exact.faces, shared.faces, strict=True):
        assert sum(a.probabilities.values()) == pytest.approx(1, abs=1e-5)
        assert sum(b.probabilities.values()) == pytest.approx(1, abs=1e-5)
        assert (a.attention is None) == (variant.get("inputs") == "face")
        adaptive = variant.get("inputs", "both") == "both" and "fusion" not in variant
        assert (a.fusion_weights is not None) == adaptive
