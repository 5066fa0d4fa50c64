"""fast_inference: its output agrees with float32 eager, it keeps the model's interface, and
every feature falls back cleanly where it is unavailable. Correctness only, no timing."""

from __future__ import annotations

import importlib.util

import pytest
import torch

import glamor_zoo
from glamor_zoo import fast
from glamor_zoo.fast import FastInferenceModel, fast_inference
from glamor_zoo.fast import wrapper as fast_wrapper
from glamor_zoo.inference.onnx_export import example_inputs
from glamor_zoo.spec import get_model_spec

# Real-sized timm backbones are slow on CPU: every registered model is tested at small sizes.
BIG_MODELS = ("glamor_mobilenetv2", "glamor_resnet18")
REGISTERED = [
    pytest.param(name, marks=pytest.mark.slow) if name in BIG_MODELS else name
    for name in glamor_zoo.list_models()
]


def small_registered_model(name: str) -> torch.nn.Module:
    """``name`` with random weights, at most 48-px inputs, in eval mode."""
    torch.manual_seed(0)
    model = glamor_zoo.create_model(name)
    if max(get_model_spec(model).face_size) > 48:
        model = glamor_zoo.create_model(name, face_size=(48, 48), context_size=(48, 48))
    return model.eval()


@pytest.mark.parametrize("name", REGISTERED)
def test_every_registered_model_runs_fast_and_agrees(name: str) -> None:
    model = small_registered_model(name)
    inputs = example_inputs(model, batch_size=3)
    fm = fast_inference(model, precision="fp32", compile=False)
    assert get_model_spec(fm) == get_model_spec(model)
    torch.testing.assert_close(fm(*inputs), _reference(model, *inputs), rtol=1e-5, atol=1e-5)


def _tiny_glamor(**kwargs) -> torch.nn.Module:
    # Two encoder blocks: the smallest GLAMOR-Net, so that compiling it stays quick.
    torch.manual_seed(0)
    return glamor_zoo.create_model(
        "glamor", encoder_widths=(4, 8), hidden_dim=8, drop_rate=0.0, **kwargs
    ).eval()


def _inputs(batch: int = 4, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(batch, 3, size, size, generator=gen), torch.rand(
        batch, 3, size, size, generator=gen
    )


def _reference(model: torch.nn.Module, *args: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(*args)


def test_fp32_eager_channels_last_matches_plain_model() -> None:
    model = _tiny_glamor()
    face, context = _inputs()
    ref = _reference(model, face, context)
    fm = fast_inference(model, precision="fp32", compile=False)
    assert isinstance(fm, FastInferenceModel)
    assert fm.fast_plan.precision == "fp32" and fm.fast_plan.channels_last
    assert not fm.fast_plan.compiled
    torch.testing.assert_close(fm(face, context), ref, rtol=1e-5, atol=1e-5)


def test_keeps_call_signature_and_attributes() -> None:
    model = glamor_zoo.create_model("glamor_test").eval()
    fm = fast_inference(model, compile=False)
    face, context = torch.rand(2, 3, 96, 96), torch.rand(2, 3, 112, 112)
    out = fm(face, context)
    assert out.shape == (2, 7) and out.dtype == torch.float32
    assert fm(face=face, context=context).shape == (2, 7)
    assert fm.num_classes == 7
    assert fm.pretrained_cfg == model.pretrained_cfg
    assert get_model_spec(fm) == get_model_spec(model)
    assert fm.model is model
    assert "plan=" in repr(fm)
    with pytest.raises(RuntimeError, match="inference only"):
        fm.train()
    # A second call on the wrapper unwraps it instead of wrapping twice.
    assert fast_inference(fm, compile=False).model is model


@pytest.mark.skipif(not fast.bf16_supported("cpu"), reason="this CPU has no native bf16")
def test_bf16_eager_agrees_with_fp32() -> None:
    model = glamor_zoo.create_model("glamor_test").eval()
    face, context = torch.rand(8, 3, 96, 96), torch.rand(8, 3, 112, 112)
    ref = _reference(model, face, context)
    fm = fast_inference(model, precision="bf16", compile=False)
    assert fm.fast_plan.precision == "bf16"
    out = fm(face, context)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, rtol=0.05, atol=0.05 * float(ref.abs().max()))


def test_face_only_model_takes_one_input() -> None:
    model = _tiny_glamor(inputs="face")
    face, _ = _inputs()
    ref = _reference(model, face)
    fm = fast_inference(model, precision="fp32", compile=False)
    torch.testing.assert_close(fm(face), ref, rtol=1e-5, atol=1e-5)


def test_deep_emotion() -> None:
    torch.manual_seed(0)
    model = glamor_zoo.create_model("deep_emotion").eval()
    faces = torch.rand(4, 1, 48, 48)
    ref = _reference(model, faces)
    fm = fast_inference(model, precision="fp32", compile=False)
    torch.testing.assert_close(fm(faces), ref, rtol=1e-5, atol=1e-5)


def test_no_bf16_hardware_falls_back_to_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_wrapper, "bf16_supported", lambda device="cpu": False)
    model = _tiny_glamor()
    face, context = _inputs()
    auto = fast_inference(model, compile=False)
    assert auto.fast_plan.precision == "fp32" and not auto.fast_plan.notes
    forced = fast_inference(model, precision="bf16", compile=False)
    assert forced.fast_plan.precision == "fp32"
    assert "no native bfloat16" in forced.fast_plan.notes[0]
    torch.testing.assert_close(forced(face, context), _reference(model, face, context))


def test_no_compiler_falls_back_to_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        fast_wrapper, "compiler_available", lambda device="cpu": (False, "no g++ here")
    )
    fm = fast_inference(_tiny_glamor(), precision="fp32")
    assert not fm.fast_plan.compiled
    assert fm.fast_plan.notes == ("no g++ here",)


def test_failed_compile_runs_eagerly_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_compile(model, **kwargs):
        def run(*args, **kw):
            raise RuntimeError("inductor exploded")

        return run

    monkeypatch.setattr(fast_wrapper, "compiler_available", lambda device="cpu": (True, ""))
    monkeypatch.setattr(torch, "compile", broken_compile)
    model = _tiny_glamor()
    face, context = _inputs()
    fm = fast_inference(model, precision="fp32")
    assert fm.fast_plan.compiled
    torch.testing.assert_close(fm(face, context), _reference(model, face, context))
    assert not fm.fast_plan.compiled
    assert "inductor exploded" in fm.fast_plan.notes[-1]
    # Input errors are the user's: they raise (from the eager model), they are not swallowed.
    with pytest.raises(RuntimeError):
        fm(face[:, :2], context)


def test_bad_arguments() -> None:
    model = _tiny_glamor()
    with pytest.raises(ValueError, match="precision must be one of"):
        fast_inference(model, precision="fp16")
    with pytest.raises(ValueError, match="needs calibration"):
        fast_inference(model, precision="int8")


def test_int8_without_torchao_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_torchao(model, calibration, float_layers=()):
        raise ImportError("int8 inference needs torchao: pip install 'glamor-zoo[fast]'")

    monkeypatch.setattr(fast_wrapper, "quantize_int8", no_torchao)
    monkeypatch.setattr(fast_wrapper, "compiler_available", lambda device="cpu": (True, ""))
    monkeypatch.setattr(fast_wrapper, "_agreement", lambda model, fast_model, samples: 1.0)
    face, context = _inputs()
    fm = fast_inference(_tiny_glamor(), precision="int8", calibration=[(face, context)])
    assert fm.fast_plan.precision in ("bf16", "fp32")
    assert any("torchao" in note for note in fm.fast_plan.notes)


def test_bf16_must_agree_when_real_inputs_are_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_wrapper, "bf16_supported", lambda device="cpu": True)
    face, context = _inputs(batch=8)
    batches = [(face[i : i + 2], context[i : i + 2]) for i in range(0, 8, 2)]
    seen = []

    def agreement(model, fast_model, samples):
        seen.append(samples)
        return 0.5

    monkeypatch.setattr(fast_wrapper, "_agreement", agreement)
    fm = fast_inference(_tiny_glamor(), calibration=batches, compile=False)
    assert fm.fast_plan.precision == "fp32"
    assert "bf16 top-1 agreement 50.00% on 2 held-out inputs < 99%: float32" in fm.fast_plan.notes
    assert any("int8 needs torch.compile" in note for note in fm.fast_plan.notes)
    assert len(seen) == 1 and len(seen[0]) == 1  # checked on the held-out fourth batch
    # Forcing bf16 skips the check.
    assert (
        fast_inference(_tiny_glamor(), precision="bf16", compile=False).fast_plan.precision
        == "bf16"
    )


def test_compiled_bf16_agrees_with_fp32_eager() -> None:
    model = _tiny_glamor()
    face, context = _inputs(batch=8)
    ref = _reference(model, face, context)
    fm = fast_inference(model, example_inputs=(face, context))
    assert fm.fast_plan.compiled and fm.fast_plan.freezing, fm.fast_plan
    out = fm(face, context)
    assert out.dtype == torch.float32
    tol = 0.05 * float(ref.abs().max()) if fm.fast_plan.precision == "bf16" else 1e-4
    torch.testing.assert_close(out, ref, rtol=0.05, atol=tol)
    # Another batch size (recompiles with a dynamic batch) still agrees.
    torch.testing.assert_close(fm(face[:3], context[:3]), ref[:3], rtol=0.05, atol=tol)


@pytest.mark.skipif(
    importlib.util.find_spec("torchao") is None, reason="needs torchao (extra: fast)"
)
def test_int8_agrees_with_fp32_hands_over_on_failure_and_is_gated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = _tiny_glamor()
    face, context = _inputs(batch=8)
    ref = _reference(model, face, context)
    calibration = [(face[:4], context[:4]), (face[4:], context[4:])]
    fm = fast_inference(model, precision="int8", calibration=calibration, min_agreement=0.0)
    assert fm.fast_plan.precision == "int8", fm.fast_plan
    assert fm.fast_plan.agreement is not None
    out = fm(face, context)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, rtol=0.1, atol=0.1 * float(ref.abs().max()))
    assert fm(face[:1], context[:1]).shape == (1, model.num_classes)

    # An int8 graph that fails later (e.g. Inductor on a new batch size) hands over to float32.
    class Broken(torch.nn.Module):
        def forward(self, *args: object) -> torch.Tensor:
            raise AssertionError("expected size 8==8, stride 1==1764 at dim=1")  # Inductor's

    fm._runner = Broken()
    torch.testing.assert_close(fm(face, context), ref, rtol=1e-4, atol=1e-4)
    assert fm.fast_plan.precision == "fp32" and not fm.fast_plan.compiled
    assert any("stride" in note for note in fm.fast_plan.notes)

    # The agreement gate: below min_agreement the float path is used, and the plan says why.
    monkeypatch.setattr(fast_wrapper, "_agreement", lambda model, fast_model, samples: 0.5)
    rejected = fast_inference(model, precision="int8", calibration=calibration)
    assert rejected.fast_plan.precision != "int8"
    assert any("agreement 50.00%" in note for note in rejected.fast_plan.notes)


def test_int8_graph_failing_its_agreement_check_is_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # While int8 proves its agreement, a failure must not be papered over by float32.
    def quantized(
        model: torch.nn.Module, calibration: object, float_layers: object = ()
    ) -> fast.QuantizedGraph:
        def graph(*args: object) -> torch.Tensor:
            raise RuntimeError("int8 kernel failed")

        return fast.QuantizedGraph(graph, [tuple(_inputs(batch=2))])

    monkeypatch.setattr(fast_wrapper, "quantize_int8", quantized)
    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: fn)
    fm = fast_inference(_tiny_glamor(), precision="int8", calibration=[_inputs(batch=2)])
    assert fm.fast_plan.precision != "int8"
    assert any("int8 compile failed" in note for note in fm.fast_plan.notes)


def test_image_reading_convs_are_found_cheapest_first() -> None:
    from glamor_zoo.fast.int8 import image_reading_convs

    model = _tiny_glamor()
    face, context = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 32, 32)
    # The face conv reads a 16-px face, the context conv a 32-px scene: 4x the work.
    assert image_reading_convs(model, (face, context)) == [
        "face_encoder.blocks.0.conv",
        "context_encoder.blocks.0.conv",
    ]
    assert image_reading_convs(model, (context, face)) == [
        "context_encoder.blocks.0.conv",
        "face_encoder.blocks.0.conv",
    ]


@pytest.mark.skipif(
    importlib.util.find_spec("torchao") is None, reason="needs torchao (extra: fast)"
)
def test_int8_failing_the_gate_retries_with_image_reading_convs_in_float32(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Stand-in for a model whose all-int8 form fails the gate and whose face-reading conv,
    # kept in float32, passes it (glamor_original, benchmarks/README.md).
    tried: list[tuple[str, ...]] = []

    def agreement(model, fast_model, samples):
        if fast_model.fast_plan.precision != "int8":
            return 0.5  # the float path's own check, after int8 is refused
        tried.append(fast_model.fast_plan.int8_float_layers)
        return 1.0 if "face_encoder.blocks.0.conv" in tried[-1] else 0.5

    monkeypatch.setattr(fast_wrapper, "_agreement", agreement)
    gen = torch.Generator().manual_seed(3)
    calibration = [
        (torch.rand(2, 3, 16, 16, generator=gen), torch.rand(2, 3, 32, 32, generator=gen))
        for _ in range(4)
    ]
    fm = fast_inference(_tiny_glamor(), precision="int8", calibration=calibration)
    assert tried == [(), ("face_encoder.blocks.0.conv",)]
    assert fm.fast_plan.precision == "int8"
    assert fm.fast_plan.int8_float_layers == ("face_encoder.blocks.0.conv",)
    assert fm.fast_plan.agreement == 1.0 and fm.fast_plan.agreement_inputs == 2
    assert "float32-layers(face_encoder.blocks.0.conv)" in fm.fast_plan.summary()
    assert "int8: top-1 agreement 50.00% on 2 held-out inputs < 99%: not used" in (
        fm.fast_plan.notes
    )

    # Layers the caller names are tried as they are, once.
    tried.clear()
    fm = fast_inference(
        _tiny_glamor(), precision="int8", calibration=calibration, int8_float_layers=[]
    )
    assert tried == [()] and fm.fast_plan.precision != "int8"

    # Nothing helps: every rung is tried (the cheapest conv, then both) and float is used.
    tried.clear()

    def never(model, fast_model, samples):
        if fast_model.fast_plan.precision == "int8":
            tried.append(fast_model.fast_plan.int8_float_layers)
        return 0.5

    monkeypatch.setattr(fast_wrapper, "_agreement", never)

    fm = fast_inference(_tiny_glamor(), precision="int8", calibration=calibration)
    assert tried == [
        (),
        ("face_encoder.blocks.0.conv",),
        ("face_encoder.blocks.0.conv", "context_encoder.blocks.0.conv"),
    ]
    assert fm.fast_plan.precision != "int8"
    assert any(
        note.startswith("int8 with face_encoder.blocks.0.conv, context_encoder.blocks.0.conv in")
        for note in fm.fast_plan.notes
    )


def _shared_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """5 faces seeing 2 contexts (shared-context mode)."""
    gen = torch.Generator().manual_seed(2)
    faces, contexts = (
        torch.rand(5, 3, 32, 32, generator=gen),
        torch.rand(2, 3, 32, 32, generator=gen),
    )
    return faces, contexts, torch.tensor([0, 0, 1, 1, 1])


def _assert_features_close(fast_feats, plain_feats, rtol: float, atol: float) -> None:
    assert type(fast_feats) is type(plain_feats)
    for name, got, want in zip(plain_feats._fields, fast_feats, plain_feats, strict=True):
        if want is None:
            assert got is None, name
            continue
        assert got.dtype == torch.float32, name
        torch.testing.assert_close(got, want, rtol=rtol, atol=atol * float(want.abs().max()))


def test_forward_features_matches_plain_model() -> None:
    model = _tiny_glamor()
    face, context = _inputs()
    faces, contexts, index = _shared_inputs()
    with torch.no_grad():
        plain = model.forward_features(face, context)
        plain_shared = model.forward_features(faces, contexts, context_index=index)
    fm = fast_inference(model, precision="fp32", compile=False)
    feats = fm.forward_features(face, context)
    _assert_features_close(feats, plain, rtol=1e-5, atol=1e-5)
    shared = fm.forward_features(faces, contexts, context_index=index)
    _assert_features_close(shared, plain_shared, rtol=1e-5, atol=1e-5)
    assert shared.attention.shape[0] == 5 and shared.context_map.shape[0] == 2
    # forward_head takes the features, also outside inference mode (weights require grad).
    torch.testing.assert_close(fm.forward_head(feats), fm(face, context), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="one entry per face"):
        fm.forward_features(faces, contexts, context_index=index[:3])


@pytest.mark.skipif(not fast.bf16_supported("cpu"), reason="this CPU has no native bf16")
def test_bf16_forward_features_are_float32_and_agree() -> None:
    model = glamor_zoo.create_model("glamor_test").eval()
    face, context = torch.rand(4, 3, 96, 96), torch.rand(4, 3, 112, 112)
    with torch.no_grad():
        plain = model.forward_features(face, context)
    fm = fast_inference(model, precision="bf16", compile=False)
    _assert_features_close(fm.forward_features(face, context), plain, rtol=0.05, atol=0.05)


def test_compiled_forward_features_agree_with_plain_model() -> None:
    """Compiled with the call's plan (bf16 where native, freezing), on shared contexts."""
    model = _tiny_glamor()
    faces, contexts, index = _shared_inputs()
    with torch.no_grad():
        plain = model.forward_features(faces, contexts, context_index=index)
    fm = fast_inference(model)
    tol = 0.05 if fm.fast_plan.precision == "bf16" else 1e-4
    shared = fm.forward_features(faces, contexts, context_index=index)
    _assert_features_close(shared, plain, rtol=0.05, atol=tol)
    torch.testing.assert_close(
        fm.forward_head(shared), model.forward_head(plain), rtol=0.05, atol=tol
    )
    assert fm.fast_plan.compiled and fm.fast_plan.freezing and not fm.fast_plan.notes, fm.fast_plan
    assert fm._features_runner is not model.forward_features  # the compiled one ran


def test_failed_compile_of_forward_features_runs_eagerly(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = []

    def broken_compile(fn, **kwargs):
        def run(*args, **kw):
            raise RuntimeError("inductor exploded")

        compiled.append(fn)
        return run

    monkeypatch.setattr(fast_wrapper, "compiler_available", lambda device="cpu": (True, ""))
    monkeypatch.setattr(torch, "compile", broken_compile)
    model = _tiny_glamor()
    faces, contexts, index = _shared_inputs()
    fm = fast_inference(model, precision="fp32")
    assert len(compiled) == 2  # the call and forward_features
    with torch.no_grad():
        plain = model.forward_features(faces, contexts, context_index=index)
    _assert_features_close(
        fm.forward_features(faces, contexts, context_index=index), plain, rtol=1e-5, atol=1e-5
    )
    assert not fm.fast_plan.compiled
    assert "inductor exploded" in fm.fast_plan.notes[-1]
    # The plan covers the whole wrapper: the call runs eagerly too, without another failure.
    face, context = _inputs()
    torch.testing.assert_close(fm(face, context), _reference(model, face, context))
    assert len(fm.fast_plan.notes) == 1
    with pytest.raises(ValueError, match="one entry per face"):
        fm.forward_features(faces, contexts, context_index=index[:3])


class _OneChannelNet(torch.nn.Module):
    """The shape of Deep-Emotion's first convolutions: one grey input channel."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3)
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).relu().mean(dim=(2, 3)))


def test_one_channel_layouts_are_unambiguous() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Conv2d(4, 4, 3)).eval()
    fm = fast_inference(model, precision="fp32", compile=False)
    assert model[0].weight.stride() == (9, 9, 3, 1)  # plain, not channels-last (9, 1, 3, 1)
    assert model[1].weight.is_contiguous(memory_format=torch.channels_last)
    grey = torch.rand(2, 1, 8, 8).to(memory_format=torch.channels_last)
    assert grey.stride() == (64, 1, 8, 1)
    assert fm._prepare(grey).stride() == (64, 64, 8, 1)
    assert fm._prepare(torch.rand(2, 3, 8, 8)).is_contiguous(memory_format=torch.channels_last)


def test_one_channel_model_stays_compiled_across_batch_sizes() -> None:
    """Regression: Deep-Emotion's grey input fell back to eager at the first dynamic batch.

    From the second batch size on, Inductor compiles a dynamic-batch graph whose oneDNN
    convolution it expects to write contiguous output for a one-channel input; the kernel wrote
    channels-last (its weight, or a grey input, had channels-last strides), and the graph's
    ``assert_size_stride`` failed.
    """
    torch.manual_seed(0)
    model = _OneChannelNet().eval()
    fm = fast_inference(model, precision="fp32")
    gen = torch.Generator().manual_seed(3)
    for batch, channels_last in ((4, False), (3, False), (5, True), (2, False)):
        grey = torch.rand(batch, 1, 12, 12, generator=gen)
        if channels_last:
            grey = grey.to(memory_format=torch.channels_last)
        torch.testing.assert_close(fm(grey), _reference(model, grey), rtol=1e-4, atol=1e-5)
        assert fm.fast_plan.compiled and not fm.fast_plan.notes, (batch, fm.fast_plan)


def _stem() -> tuple[torch.nn.Sequential, torch.Tensor]:
    """Conv(3→8) → BatchNorm on smooth [0, 1] images (as photos are), the BatchNorm calibrated
    on them, so that it subtracts the convolution's large mean and scales up what is left, as
    in the paper's encoder."""
    torch.manual_seed(0)
    stem = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8))
    x = torch.nn.functional.interpolate(torch.rand(4, 3, 4, 4), size=(16, 16), mode="bilinear")
    with torch.no_grad():
        y = stem[0](x)
        stem[1].running_mean.copy_(y.mean((0, 2, 3)))
        stem[1].running_var.copy_(y.var((0, 2, 3)))
    return stem.eval(), x


def test_centred_image_conv_is_far_more_accurate_than_plain_bf16() -> None:
    stem, x = _stem()
    with torch.no_grad():
        reference = stem(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            plain = stem(x).float()
            centred = fast.CenteredBf16Conv2d(stem[0], stem[1])(x).float()
    plain_error = (plain - reference).abs()
    centred_error = (centred - reference).abs()
    rounding_floor = (reference.bfloat16().float() - reference).abs().mean()
    assert centred_error.mean() < plain_error.mean() / 1.5
    assert centred_error.mean() < 3 * rounding_floor  # about one bf16 rounding of the output
    # The zero-padded border is corrected exactly too (it gets its own constant offsets).
    border = torch.ones(16, 16, dtype=torch.bool)
    border[1:-1, 1:-1] = False
    assert centred_error[..., border].max() < 0.05


def test_center_image_convs_folds_batchnorm_and_keeps_timm_activation() -> None:
    from timm.layers import BatchNormAct2d

    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        BatchNormAct2d(8, act_layer=torch.nn.ReLU),
        torch.nn.Conv2d(8, 8, 3, padding=1),  # reads 8 channels: left alone
        torch.nn.BatchNorm2d(8),
    ).eval()
    assert fast.center_image_convs(model) == 1
    assert isinstance(model[0], fast.CenteredBf16Conv2d)
    assert isinstance(model[1], torch.nn.Sequential)
    assert any(isinstance(m, torch.nn.ReLU) for m in model[1].modules())
    assert type(model[2]) is torch.nn.Conv2d and type(model[3]) is torch.nn.BatchNorm2d

    glamor = _tiny_glamor()
    assert fast.center_image_convs(glamor) == 2  # the first convolution of each encoder
    for encoder in (glamor.face_encoder, glamor.context_encoder):
        assert isinstance(encoder.blocks[0].conv, fast.CenteredBf16Conv2d)
        assert isinstance(encoder.blocks[0].bn, torch.nn.Identity)


def test_bf16_plan_centres_a_copy_and_leaves_the_model_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The centring belongs to the bf16 plan: take it on CPUs without native bf16 too (AVX2-only
    # ones), where bf16 is emulated — slower, but the same numbers.
    monkeypatch.setattr(fast_wrapper, "bf16_supported", lambda device="cpu": True)
    model = _tiny_glamor()
    face, context = _inputs()
    ref = _reference(model, face, context)
    fm = fast_inference(model, precision="bf16", compile=False)
    assert fm.fast_plan.centered_convs == 2
    assert "centred-image-convs(2)" in fm.fast_plan.summary()
    assert type(model.face_encoder.blocks[0].conv) is torch.nn.Conv2d  # the user's model
    torch.testing.assert_close(fm(face, context), ref, atol=0.05, rtol=0.05)
    features = fm.forward_features(face, context)  # the same centred copy runs features
    torch.testing.assert_close(fm.forward_head(features), ref, atol=0.05, rtol=0.05)
    plain = fast_inference(model, precision="bf16", compile=False, center_image_convs=False)
    assert plain.fast_plan.centered_convs == 0
    assert fast_inference(model, precision="fp32", compile=False).fast_plan.centered_convs == 0


def test_compiling_raises_dynamos_shared_recompile_limit() -> None:
    from torch._dynamo import config as dynamo_config

    # NOTE: config.patch, not monkeypatch: monkeypatch's undo deletes the config entry.
    with dynamo_config.patch(recompile_limit=8):
        fast_inference(_tiny_glamor(), compile=False)
        assert dynamo_config.recompile_limit == 8  # nothing to compile, nothing changed
        fast_inference(_tiny_glamor())  # compiles lazily: no call needed
        assert dynamo_config.recompile_limit >= fast.RECOMPILE_LIMIT


def test_fast_model_is_not_served_a_plain_compiled_graph_of_its_class() -> None:
    # Dynamo shares compiled graphs between instances of a class when the backends compare
    # equal: a fast model must get its own frozen graph, not one compiled without freezing.
    from torch._dynamo.utils import counters

    plain = torch.compile(_tiny_glamor().to(memory_format=torch.channels_last))
    face, context = (t.contiguous(memory_format=torch.channels_last) for t in _inputs())
    with torch.inference_mode():  # as the fast model runs: the same guards
        plain(face, context)
    graphs = counters["stats"]["unique_graphs"]
    fm = fast_inference(_tiny_glamor(), precision="fp32")
    fm(face, context)
    assert counters["stats"]["unique_graphs"] == graphs + 1


def test_only_uncentred_inputs_get_centred_convolutions() -> None:
    assert fast.input_centre(_tiny_glamor()) == (0.5, 0.5, 0.5)  # the paper's [0, 1] pixels
    imagenet = torch.nn.Module()
    imagenet.pretrained_cfg = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
    assert fast.input_centre(imagenet) is None  # normalised around 0 already
    assert fast.input_centre(torch.nn.Module()) == (0.5,)
    deep_emotion = glamor_zoo.create_model("deep_emotion").eval()  # mean 0.5, std 0.5
    assert fast.input_centre(deep_emotion) is None
    assert fast.center_image_convs(deep_emotion) == 0
    assert (
        fast_inference(deep_emotion, precision="bf16", compile=False).fast_plan.centered_convs == 0
    )

    # Per-channel centres: the decomposition stays exact in float32 arithmetic.
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    centred = fast.CenteredBf16Conv2d(conv, center=(0.1, 0.2, 0.3))
    x = torch.rand(2, 3, 8, 8)
    with torch.no_grad():
        split = centred._conv(x - centred.center, centred.weight, None) + centred._conv(
            centred.center.expand(1, -1, 8, 8), centred.weight, centred.bias
        )
        torch.testing.assert_close(split, conv(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(centred(x).float(), conv(x), atol=0.03, rtol=0.02)


@pytest.mark.skipif(
    importlib.util.find_spec("torchao") is None, reason="needs torchao (extra: fast)"
)
def test_int8_keeps_the_named_layers_in_float32() -> None:
    from glamor_zoo.fast import quantize_int8

    model = _tiny_glamor()
    calibration = [_inputs(batch=4)]

    def int8_weights(float_layers: list[str]) -> int:
        graph = quantize_int8(model, calibration, float_layers=float_layers).graph
        return sum(1 for b in graph.buffers() if b.dtype == torch.int8)

    linears = sum(isinstance(m, torch.nn.Linear) for m in model.head.modules())
    everything = int8_weights([])
    assert linears >= 1 and everything > linears
    assert int8_weights(["head"]) == everything - linears
    first_convs = ["face_encoder.blocks.0", "context_encoder.blocks.0"]
    assert int8_weights([*first_convs, "head"]) == everything - linears - 2
    # A convolution named alone stays float32 too (what fast_inference's ladder names).
    assert int8_weights(["face_encoder.blocks.0.conv"]) == everything - 1
    with pytest.raises(ValueError, match=r"float_layers: \['heads'\] are not submodules"):
        quantize_int8(model, calibration, float_layers=["heads"])
    # fast_inference passes its int8_float_layers on; a bad name is a note, not a crash.
    fm = fast_inference(
        model, precision="int8", calibration=calibration, compile=True, int8_float_layers=["heads"]
    )
    assert fm.fast_plan.precision != "int8"
    assert any("are not submodules" in note for note in fm.fast_plan.notes)


class _NonCentredConvNet(torch.nn.Module):
    """Reads images in [0.5, 1] (far from centred) with weights int8 rounds coarsely: each
    output channel has one large weight, the rest small. A grouped convolution and a linear
    layer follow, so that every kind of layer bias correction touches is there."""

    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.depthwise = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.fc = torch.nn.Linear(8, 4)
        with torch.no_grad():
            weight = 0.05 * torch.randn(8, 3, 3, 3, generator=gen)
            weight[:, 0, 1, 1] = 5.0
            self.conv.weight.copy_(weight)
            self.conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.depthwise(torch.relu(self.conv(x))))
        return self.fc(x.mean(dim=(2, 3)))


@pytest.mark.skipif(
    importlib.util.find_spec("torchao") is None, reason="needs torchao (extra: fast)"
)
def test_int8_bias_correction_removes_the_weights_mean_error() -> None:
    from glamor_zoo.fast import quantize_int8

    model = _NonCentredConvNet().eval()
    gen = torch.Generator().manual_seed(3)
    batches = [(0.5 + 0.5 * torch.rand(8, 3, 16, 16, generator=gen),) for _ in range(2)]
    bias_before = model.conv.bias.detach().clone()
    with torch.no_grad():
        reference = torch.cat([model(*b) for b in batches])

        def mean_error(correct_bias: bool) -> float:
            graph = quantize_int8(model, batches, correct_bias=correct_bias).graph
            out = torch.cat([graph(*b) for b in batches])
            return float((out - reference).mean(dim=0).abs().mean())

        plain, corrected = mean_error(False), mean_error(True)
    assert corrected < 0.3 * plain, (plain, corrected)
    torch.testing.assert_close(model.conv.bias, bias_before)  # the model itself is untouched
    # A layer left in float32 is skipped, not corrected (and nothing breaks).
    graph = quantize_int8(model, batches, float_layers=["conv"]).graph
    assert torch.isfinite(graph(*batches[0])).all()
