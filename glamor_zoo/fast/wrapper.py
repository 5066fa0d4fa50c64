"""The fast model: its plan, the wrapper that keeps the model's interface, and
:func:`fast_inference`, which chooses precision, layout, compilation and int8 for this machine."""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from glamor_zoo.fast.bf16 import center_image_convs
from glamor_zoo.fast.int8 import as_args, held_out, image_reading_convs, quantize_int8
from glamor_zoo.fast.layout import plain_strides, to_channels_last

__all__ = [
    "RECOMPILE_LIMIT",
    "FastInferenceModel",
    "FastInferencePlan",
    "Precision",
    "bf16_supported",
    "compiler_available",
    "fast_inference",
]

_logger = logging.getLogger(__name__)

Precision = Literal["auto", "fp32", "bf16", "int8"]
_PRECISIONS = ("auto", "fp32", "bf16", "int8")


@dataclass(frozen=True)
class FastInferencePlan:
    """What :func:`fast_inference` chose, and why it left features out.

    Attributes:
        device: Device type the model runs on (``"cpu"``, ``"cuda"``…).
        precision: ``"fp32"``, ``"bf16"`` (autocast) or ``"int8"`` (PT2E static quantisation).
        channels_last: Whether inputs and weights use the channels-last memory format.
        compiled: Whether ``torch.compile`` is in use (may turn ``False`` after a failed compile).
        freezing: Whether Inductor freezes the weights (CPU only).
        agreement: Top-1 agreement with float32 on the held-out calibration inputs.
        agreement_inputs: How many inputs ``agreement`` was measured on (one input is
            ``1 / agreement_inputs`` of it: the gate is as fine as the hold-out is large).
        int8_float_layers: Under int8, the submodules kept in float32.
        centered_convs: Image-reading convolutions run as :class:`CenteredBf16Conv2d` (bf16).
        notes: Why a feature was left out or dropped (empty when everything applied).
    """

    device: str
    precision: str
    channels_last: bool
    compiled: bool
    freezing: bool = False
    agreement: float | None = None
    agreement_inputs: int = 0
    int8_float_layers: tuple[str, ...] = ()
    centered_convs: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        """One line for logs and tables, e.g. ``cpu bf16 channels_last compiled(freezing)``."""
        parts = [self.device, self.precision]
        if self.centered_convs:
            parts.append(f"centred-image-convs({self.centered_convs})")
        if self.channels_last:
            parts.append("channels_last")
        if self.compiled:
            parts.append("compiled(freezing)" if self.freezing else "compiled")
        else:
            parts.append("eager")
        if self.int8_float_layers:
            parts.append(f"float32-layers({','.join(self.int8_float_layers)})")
        if self.agreement is not None:
            parts.append(f"agreement={self.agreement:.2%}/{self.agreement_inputs}")
        text = " ".join(parts)
        return f"{text} [{'; '.join(self.notes)}]" if self.notes else text


def bf16_supported(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` computes bfloat16 natively (CPU: AVX-512 BF16 or AMX; CUDA: sm80+).

    On CPUs without it, bf16 autocast is emulated and slower than float32.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def compiler_available(device: torch.device | str = "cpu") -> tuple[bool, str]:
    """Whether ``torch.compile`` can build kernels for ``device``; the reason when it cannot."""
    device = torch.device(device)
    try:
        from torch import _dynamo

        if not _dynamo.is_dynamo_supported():
            return False, "torch.compile is not supported on this Python/platform"
    except Exception as exc:  # torch builds without dynamo raise various errors on import
        return False, f"torch.compile unavailable ({type(exc).__name__}: {exc})"
    if device.type == "cpu":
        compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
        if not compiler:
            return False, "no C++ compiler (g++) found for Inductor's CPU backend"
    return True, ""


class FastInferenceModel(nn.Module):
    """A model wrapped for fast inference; call it exactly like the model it wraps.

    Attribute access falls through to the wrapped model (``pretrained_cfg``,
    ``spec``, ``num_classes``…). The call (logits) and ``forward_features`` are
    accelerated; ``forward_head`` runs the wrapped model's head (float32) on the features.
    Outputs are float32 whatever the internal precision.

    Args:
        model: The float32 model (kept in eval mode; its weights are not changed).
        runner: The accelerated callable (a compiled module or a quantised graph).
        plan: What was chosen.
        fallback: The eager callable used if ``runner`` fails to compile.
        features_runner: The accelerated ``model.forward_features`` (``None``: the eager one).
    """

    def __init__(
        self,
        model: nn.Module,
        runner: Callable[..., Any],
        plan: FastInferencePlan,
        fallback: Callable[..., Any] | None = None,
        features_runner: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self._runner = runner
        self._fallback = fallback
        self._features_runner = features_runner
        self.fast_plan = plan

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            modules = self.__dict__.get("_modules", {})
            if "model" not in modules or name.startswith("__"):
                raise
            return getattr(modules["model"], name)

    def train(self, mode: bool = True) -> FastInferenceModel:
        if mode:
            raise RuntimeError(
                "a FastInferenceModel is for inference only; train the original model "
                "(FastInferenceModel.model) and call fast_inference() again"
            )
        return super().train(False)

    def _prepare(self, value: Any) -> Any:
        if not (isinstance(value, torch.Tensor) and value.is_floating_point() and value.ndim == 4):
            return value
        if value.shape[1] == 1:
            return plain_strides(value)
        if self.fast_plan.channels_last:
            return value.contiguous(memory_format=torch.channels_last)
        return value

    def _context(self) -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        if self.fast_plan.precision == "bf16" or (
            self.fast_plan.precision == "int8" and self.fast_plan.device != "cpu"
        ):
            stack.enter_context(torch.autocast(self.fast_plan.device, dtype=torch.bfloat16))
        if self.fast_plan.compiled and self.fast_plan.freezing:
            import torch._inductor.config as inductor_config

            # Dynamo treats weights as constants only when freezing is on while it traces.
            stack.enter_context(inductor_config.patch(freezing=True))
        return stack

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Logits (float32) from the same inputs the wrapped model takes."""
        return self._run("_runner", self._fallback, args, kwargs)

    def forward_features(self, *args: Any, **kwargs: Any) -> Any:
        """The wrapped model's ``forward_features`` (same arguments, e.g. ``context_index=``).

        Returns:
            What the wrapped model returns (GLAMOR-Net: ``GlamorFeatures``, with the attention
            map and fusion weights), its floating tensors in float32.
        """
        eager = self._fallback if isinstance(self._fallback, nn.Module) else self.model
        fallback = eager.forward_features
        if self._features_runner is None:
            self._features_runner = fallback
        return self._run("_features_runner", fallback, args, kwargs)

    def forward_head(self, *args: Any, **kwargs: Any) -> Any:
        """The wrapped model's ``forward_head`` (eager, float32) on :meth:`forward_features`."""
        with torch.inference_mode():
            return self.model.forward_head(*args, **kwargs)

    def _run(
        self,
        runner: str,
        fallback: Callable[..., Any] | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        args = tuple(self._prepare(a) for a in args)
        kwargs = {k: self._prepare(v) for k, v in kwargs.items()}
        with self._context():
            try:
                out = getattr(self, runner)(*args, **kwargs)
            except Exception as exc:
                if not self.fast_plan.compiled or fallback is None:
                    raise
                out = fallback(*args, **kwargs)  # user errors raise here, uncompiled
                self._drop_compilation(exc)
            return _to_float32(out)

    def _drop_compilation(self, exc: Exception) -> None:
        reason = f"torch.compile failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
        _logger.warning("fast_inference: %s; running eagerly from now on", reason)
        # The plan describes the whole wrapper: both the call and forward_features go eager.
        if self._fallback is not None:
            self._runner = self._fallback
        self._features_runner = None
        self.fast_plan = replace(
            self.fast_plan,
            # an int8 graph's fallback is the float32 model (see _try_int8)
            precision="fp32" if self.fast_plan.precision == "int8" else self.fast_plan.precision,
            compiled=False,
            freezing=False,
            notes=(*self.fast_plan.notes, reason),
        )

    def warmup(self, *args: Any, **kwargs: Any) -> float:
        """Run once on example inputs (compiling now rather than on the first real call).

        Returns:
            The seconds the call took (mostly compilation, the first time).
        """
        start = time.perf_counter()
        self(*args, **kwargs)
        return time.perf_counter() - start

    def extra_repr(self) -> str:
        return f"plan={self.fast_plan.summary()!r}"


def fast_inference(
    model: nn.Module,
    precision: Precision = "auto",
    channels_last: bool = True,
    compile: bool = True,
    calibration: Iterable[Any] | None = None,
    min_agreement: float = 0.99,
    example_inputs: Sequence[Any] | None = None,
    cache_dir: str | Path | None = None,
    dynamic: bool | None = None,
    center_image_convs: bool = True,
    int8_float_layers: Sequence[str] | None = None,
) -> FastInferenceModel:
    """The fastest correct inference form of ``model`` on its current device.

    Args:
        model: A zoo model (or any ``nn.Module`` taking image tensors), on its target device.
        precision: ``"auto"``: int8 when ``calibration`` is given and int8 passes the agreement
            check, else bf16 where the hardware has it (with ``calibration``: only if bf16
            passes the agreement check too), else fp32. Or force ``"fp32"``, ``"bf16"`` (no
            check), ``"int8"`` (needs ``calibration`` and the ``fast`` extra: torchao).
        channels_last: Use the channels-last memory format.
        compile: Use ``torch.compile`` (Inductor; with weight freezing on CPU).
        calibration: Representative inputs for int8: an iterable of argument tuples
            (``(face, context)``) or of single tensors (face-only models). Real images, a few
            hundred samples. With 4 or more batches every fourth one is held out of the
            calibration and the int8 model must agree (top-1) with float32 on those; with
            fewer, on all of them. The gate is only as fine as that hold-out is large (64
            held-out inputs: one input is 1.6 points), so give a thousand or more.
        min_agreement: Least top-1 agreement with float32 for int8 to be kept.
        example_inputs: Arguments of one call, to compile now instead of on the first call.
        cache_dir: Inductor's kernel cache directory (sets ``TORCHINDUCTOR_CACHE_DIR`` when it
            is not already set); by default Inductor's own on-disk cache is used.
        dynamic: ``torch.compile``'s ``dynamic`` (``None``: static first, then dynamic batch).
        center_image_convs: Under bf16, run the convolutions that read the image (at most 3
            input channels) on centred inputs with the BatchNorm after them folded in, where
            plain bf16 loses most accuracy (see :func:`center_image_convs`). The model itself
            is not changed: the wrapper runs a copy.
        int8_float_layers: Under int8, submodules kept in float32 (``quantize_int8``'s
            ``float_layers``), e.g. ``["face_encoder.blocks.0"]``; the agreement check still
            decides. ``None`` (default): all-int8 first; if that fails the agreement check,
            the convolutions that read an image (:func:`image_reading_convs`) are kept in
            float32 one more at a time, cheapest first, until one passes — each try quantises
            and compiles again. ``benchmarks/bench_int8.py`` measures each choice.

    Returns:
        A :class:`FastInferenceModel`; ``.fast_plan`` says what was chosen.

    Raises:
        ValueError: Unknown ``precision``, or ``"int8"`` without ``calibration``.
        ImportError: ``precision="int8"`` without torchao installed.
    """
    if precision not in _PRECISIONS:
        raise ValueError(f"precision must be one of {_PRECISIONS}, got {precision!r}")
    if precision == "int8" and calibration is None:
        raise ValueError("precision='int8' needs calibration= inputs (real images) to quantise")
    if isinstance(model, FastInferenceModel):
        model = model.model
    if cache_dir is not None:
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(Path(cache_dir).expanduser()))
    model.eval()
    device = _model_device(model)
    notes: list[str] = []

    if compile:
        compile, reason = compiler_available(device)
        if not compile:
            notes.append(reason)
        else:
            _raise_recompile_limit()
    if channels_last:
        to_channels_last(model)

    samples = None if calibration is None else [as_args(s) for s in calibration]
    result: FastInferenceModel | None = None
    if samples is not None and precision in ("auto", "int8"):
        ladder = (
            [tuple(int8_float_layers)]
            if int8_float_layers is not None
            else _float_layer_ladder(model, samples[0])
        )
        for float_layers in ladder:
            result, retry = _try_int8(
                model,
                samples,
                channels_last,
                compile,
                min_agreement,
                dynamic,
                device,
                notes,
                float_layers,
            )
            if result is not None or not retry:
                break
        if result is None and precision == "int8":
            _logger.warning("fast_inference: int8 not used (%s)", "; ".join(notes))
    if result is None:
        float_precision = "fp32" if precision == "fp32" else "bf16"
        if float_precision == "bf16" and not bf16_supported(device):
            float_precision = "fp32"
            if precision in ("bf16", "int8"):
                notes.append(f"{device.type} has no native bfloat16: float32 instead")
        result = _float_model(
            model, float_precision, channels_last, compile, dynamic, notes, center_image_convs
        )
        if samples and float_precision == "bf16" and precision in ("auto", "int8"):
            # With real inputs at hand, bf16 too must prove its agreement with float32.
            kept_out = held_out(samples)
            agreement = _agreement(model, result, kept_out)
            if agreement < min_agreement:
                notes.append(
                    f"bf16 top-1 agreement {agreement:.2%} on {_count(kept_out)} held-out inputs"
                    f" < {min_agreement:.0%}: float32"
                )
                result = _float_model(model, "fp32", channels_last, compile, dynamic, notes)
            else:
                result.fast_plan = replace(
                    result.fast_plan, agreement=agreement, agreement_inputs=_count(kept_out)
                )

    _logger.info("fast_inference: %s", result.fast_plan.summary())
    if example_inputs is not None:
        result.warmup(*example_inputs)
    return result


RECOMPILE_LIMIT = 64


def _raise_recompile_limit() -> None:
    """Let Dynamo keep up to ``RECOMPILE_LIMIT`` graphs per function (default 8).

    The limit counts graphs per *code object*, shared by every instance of a model class: each
    fast model holds up to three (first batch size, dynamic batch, batch 1) for its call and as
    many for ``forward_features``, so a third fast GLAMOR-Net in one process would silently run
    eagerly from then on.
    """
    from torch._dynamo import config as dynamo_config

    if dynamo_config.recompile_limit < RECOMPILE_LIMIT:
        dynamo_config.recompile_limit = RECOMPILE_LIMIT


def _model_device(model: nn.Module) -> torch.device:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _float_model(
    model: nn.Module,
    precision: str,
    channels_last: bool,
    compile: bool,
    dynamic: bool | None,
    notes: list[str],
    center_convs: bool = False,
) -> FastInferenceModel:
    device = _model_device(model)
    freezing = compile and device.type == "cpu"
    runtime, centered = model, 0
    if precision == "bf16" and center_convs:
        runtime = copy.deepcopy(model)
        centered = center_image_convs(runtime)
        if not centered:
            runtime = model
    runner: Callable[..., Any] = runtime
    features: Callable[..., Any] | None = None
    if compile:
        # NOTE: options= makes the backend differ from a plain torch.compile's: Dynamo shares
        # compiled graphs across instances of a class when the backends compare equal, and a
        # graph compiled earlier without freezing would otherwise be reused here.
        options = {"freezing": True} if freezing else None
        runner = torch.compile(runtime, dynamic=dynamic, options=options)
        if callable(getattr(runtime, "forward_features", None)):
            features = torch.compile(runtime.forward_features, dynamic=dynamic, options=options)
    plan = FastInferencePlan(
        device=device.type,
        precision=precision,
        channels_last=channels_last,
        compiled=compile,
        freezing=freezing,
        centered_convs=centered,
        notes=tuple(notes),
    )
    return FastInferenceModel(model, runner, plan, fallback=runtime, features_runner=features)


def _to_float32(value: Any) -> Any:
    """``value`` with every floating tensor in it (also in tuples, lists, dicts) as float32."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # NamedTuple: GlamorFeatures
        return type(value)(*(_to_float32(v) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(_to_float32(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_float32(v) for k, v in value.items()}
    return value


def _float_layer_ladder(model: nn.Module, args: tuple[Any, ...]) -> list[tuple[str, ...]]:
    """The float32 layer sets ``int8_float_layers=None`` tries in turn: none, then the
    image-reading convolutions one more at a time, cheapest first."""
    convs = image_reading_convs(model, args)
    return [tuple(convs[:count]) for count in range(len(convs) + 1)]


def _try_int8(
    model: nn.Module,
    calibration: Iterable[Any],
    channels_last: bool,
    compile: bool,
    min_agreement: float,
    dynamic: bool | None,
    device: torch.device,
    notes: list[str],
    float_layers: Sequence[str] = (),
) -> tuple[FastInferenceModel | None, bool]:
    """The int8 model if it passes the gate; else ``None`` and whether keeping more layers in
    float32 could change that (only a failed agreement check, not a failed quantisation)."""
    if device.type != "cpu":
        notes.append("int8 (x86 Inductor quantizer) is CPU-only")
        return None, False
    if not compile:
        notes.append("int8 needs torch.compile (the quantised graph runs through Inductor)")
        return None, False
    try:
        quantized = quantize_int8(model, calibration, float_layers=float_layers)
    except ImportError as exc:
        notes.append(str(exc))
        return None, False
    except Exception as exc:  # export or quantisation unsupported for this model
        notes.append(f"int8 quantisation failed ({type(exc).__name__}: {str(exc)[:200]})")
        return None, False
    plan = FastInferencePlan(
        device="cpu",
        precision="int8",
        channels_last=channels_last,
        compiled=True,
        freezing=True,
        int8_float_layers=tuple(float_layers),
        notes=tuple(notes),
    )
    runner = torch.compile(quantized.graph, dynamic=dynamic, options={"freezing": True})
    fast = FastInferenceModel(model, runner, plan)
    try:
        agreement = _agreement(model, fast, quantized.samples)  # compiles the int8 graph
    except Exception as exc:
        notes.append(f"int8 compile failed ({type(exc).__name__}: {str(exc)[:200]})")
        return None, False
    inputs = _count(quantized.samples)
    if agreement < min_agreement:
        kept = f" with {', '.join(float_layers)} in float32" if float_layers else ""
        notes.append(
            f"int8{kept}: top-1 agreement {agreement:.2%} on {inputs} held-out inputs"
            f" < {min_agreement:.0%}: not used"
        )
        return None, True
    fast.fast_plan = replace(plan, agreement=agreement, agreement_inputs=inputs)
    # Only now: while agreement is measured, a failing int8 graph must not hide behind float32.
    # Later (e.g. a new batch size that Inductor fails to compile) the float32 model takes over.
    fast._fallback = model
    return fast, False


def _count(samples: list[tuple[Any, ...]]) -> int:
    """Inputs in ``samples`` (argument tuples, batch first)."""
    return sum(
        int(args[0].shape[0]) if args and isinstance(args[0], torch.Tensor) else 1
        for args in samples
    )


def _agreement(model: nn.Module, fast: FastInferenceModel, samples: list[tuple[Any, ...]]) -> float:
    agree = total = 0
    for args in samples:
        with torch.inference_mode():
            reference = model(*args).argmax(dim=-1)
        predicted = fast(*args).argmax(dim=-1)
        agree += int((reference == predicted).sum())
        total += reference.numel()
    return agree / max(total, 1)
