"""Fast inference: turn a zoo model into its fastest correct inference form for this machine.

``fast_inference(model)`` returns a :class:`FastInferenceModel`: the same call signature
(``model(face, context)`` for GLAMOR-Net, ``model(face)`` for face-only models), the same
``forward_features`` / ``forward_head`` (GLAMOR-Net's attention maps and fusion weights), the
same attributes (``pretrained_cfg``, ``spec``, ``num_classes``…), outputs in
float32, and underneath, whatever measured fastest on CPUs of this kind:

- ``eval()``, no autograd, channels-last activations (oneDNN's native layout);
- bfloat16 autocast where the hardware computes in bf16 natively (x86 AVX-512 BF16 / AMX, or
  a CUDA GPU with bf16), float32 elsewhere; under bf16 the convolutions that read the image
  run on centred inputs with their BatchNorm folded in (:class:`CenteredBf16Conv2d`), which
  keeps top-1 agreement with float32 above 99 % where plain bf16 fell to 96 %;
- ``torch.compile`` (Inductor) with *freezing*: weights become constants, BatchNorm folds into
  the convolutions, oneDNN weights are pre-packed. Compiled kernels land in Inductor's on-disk
  cache (``TORCHINDUCTOR_CACHE_DIR``, or ``cache_dir=``), so later processes start faster;
- optionally int8 (``precision="int8"``, or ``"auto"`` with ``calibration=`` data): PT2E static
  quantisation with torchao's x86 Inductor quantizer, kept only if its top-1 agreement with the
  float32 model on the calibration inputs reaches ``min_agreement``.

Every feature falls back cleanly: no bf16 hardware → float32; no compiler / a compile error →
eager; no torchao or too little agreement → the float path. :attr:`FastInferenceModel.fast_plan`
says what was chosen and why, and the choice is logged at INFO level.

The set-up (compilation) costs tens of seconds, so ``EmotionRecognizer(fast="auto")`` (the
default) runs eagerly until the work left is big enough to win it back on this machine
(:mod:`.auto`: :class:`FastAuto`, :func:`calibrate`).

The package is laid out by concern: :mod:`.wrapper` (the plan, the wrapper model and
``fast_inference``), :mod:`.auto` (when the fast path pays), :mod:`.bf16` (centred bfloat16
convolutions), :mod:`.layout` (memory-layout workarounds) and :mod:`.int8` (PT2E quantisation).
"""

from __future__ import annotations

from glamor_zoo.fast.auto import (
    KNOWN_PROFILES,
    FastAuto,
    FastOption,
    FastProfile,
    calibrate,
    fast_profile,
    machine_kind,
)
from glamor_zoo.fast.bf16 import CenteredBf16Conv2d, center_image_convs, input_centre
from glamor_zoo.fast.int8 import QuantizedGraph, quantize_int8
from glamor_zoo.fast.wrapper import (
    RECOMPILE_LIMIT,
    FastInferenceModel,
    FastInferencePlan,
    Precision,
    bf16_supported,
    compiler_available,
    fast_inference,
)

__all__ = [
    "KNOWN_PROFILES",
    "RECOMPILE_LIMIT",
    "CenteredBf16Conv2d",
    "FastAuto",
    "FastInferenceModel",
    "FastInferencePlan",
    "FastOption",
    "FastProfile",
    "Precision",
    "QuantizedGraph",
    "bf16_supported",
    "calibrate",
    "center_image_convs",
    "compiler_available",
    "fast_inference",
    "fast_profile",
    "input_centre",
    "machine_kind",
    "quantize_int8",
]
