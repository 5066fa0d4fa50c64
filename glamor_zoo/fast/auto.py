"""When the fast path pays for itself: ``fast="auto"`` compiles only for work big enough.

:func:`~glamor_zoo.fast.fast_inference` makes each model step faster, but its set-up comes
first: ``torch.compile`` takes tens of seconds on a 2-core CPU, at the first batch and again at
the first batches of other sizes. On a handful of photos that is a loss, and where detection
dominates (``predict`` with MTCNN) it takes thousands of photos to win it back. On CPUs without
native bfloat16 (AVX2 only) the fast path is float32 + compile, whose gain is not known until
it is measured there. So the ``"auto"`` choice (:class:`FastAuto`) weighs, for the work at hand:

- the fast path's set-up seconds and model-step speed-up on this machine
  (:class:`FastProfile`): measured here by :func:`calibrate` for that model and saved, else the
  measured defaults of the machine's kind (:data:`KNOWN_PROFILES`); a kind that has none
  (CUDA) stays eager until :func:`calibrate` has run on it;
- the seconds per image that the model step takes eagerly, measured on the work itself;
- how many images (or video frames) are left, when the caller knows the job's size.

It switches to the fast path when the images left × the seconds it saves per image exceed
its set-up. With no job size, it switches once the images already done × those seconds reach
the set-up: the ski-rental rule, which never takes more than twice the time of the better
choice made in hindsight.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from time import perf_counter, strftime
from typing import Any, Literal

import torch
from torch import nn

from glamor_zoo.fast.wrapper import bf16_supported, fast_inference

__all__ = [
    "KNOWN_PROFILES",
    "PROFILES_ENV",
    "FastAuto",
    "FastOption",
    "FastProfile",
    "calibrate",
    "fast_profile",
    "machine_key",
    "machine_kind",
    "profiles_path",
    "save_profile",
]

_logger = logging.getLogger(__name__)

FastOption = bool | Literal["auto"]

PROFILES_ENV = "GLAMOR_ZOO_FAST_PROFILES"


@dataclass(frozen=True)
class FastProfile:
    """What the fast path costs and gains on one machine.

    Attributes:
        setup_s: One-off set-up in seconds: compiling at the first batch sizes of a run.
        speedup: Eager model-step time ÷ fast model-step time (≤ 1: the fast path is no faster).
        source: Where the numbers come from (shown in logs and reasons).
    """

    setup_s: float
    speedup: float
    source: str

    def saving(self, eager_s_per_image: float) -> float:
        """Seconds the fast path saves per image whose eager model step takes ``eager_s_per_image``."""
        if self.speedup <= 1.0:
            return 0.0
        return eager_s_per_image * (1.0 - 1.0 / self.speedup)


KNOWN_PROFILES: dict[str, FastProfile] = {
    "cpu-bf16": FastProfile(
        setup_s=52.0,
        speedup=1.7,
        source=(
            "measured defaults for CPUs with native bf16 (benchmarks/README.md, 2026-11-22, "
            "Intel Xeon with AMX, 2 threads, loaded machine): the slowest first pass of predict "
            "(51.5 s) and the smallest fast ÷ eager model-step ratio (1.7×, deep_emotion at "
            "batch 1)"
        ),
    ),
    "cpu-fp32": FastProfile(
        setup_s=86.0,
        speedup=1.55,
        source=(
            "measured on a CPU without native bf16 (benchmarks/README.md, 2026-12-01, AMD EPYC "
            "with AVX2 only, 2 threads): calibrate() of the packaged face_resnet18.fer2013 at "
            "batch 16, cold cache: set-up 85.6 s, float32 + channels-last + compile 1.55x eager"
        ),
    ),
}
"""Measured defaults by machine kind (:func:`machine_kind`), deliberately pessimistic for bf16.

``"cpu-fp32"`` (no native bf16: the fast path is float32 + compile) is one calibration of the
default model; ``"cuda"`` has none: not measured, so ``"auto"`` keeps it eager until
:func:`calibrate` measures the machine."""


def machine_kind(device: torch.device | str) -> str:
    """``"cuda"``, ``"cpu-bf16"`` (native bf16: AVX-512 BF16 or AMX) or ``"cpu-fp32"``.

    The kind decides what the fast path is (bf16 + compile, or float32 + compile on CPUs
    without native bf16, e.g. AVX2-only ones), and so what it gains.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return "cuda"
    if device.type == "cpu":
        return "cpu-bf16" if bf16_supported(device) else "cpu-fp32"
    return device.type


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def machine_key(device: torch.device | str) -> str:
    """This machine as a profile is saved under: kind, processor, vector ISA, threads, torch."""
    device = torch.device(device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{_cpu_name()} {torch.backends.cpu.get_cpu_capability()}"
    return (
        f"{machine_kind(device)} | {name} | {torch.get_num_threads()} threads | "
        f"torch {torch.__version__}"
    )


def profiles_path() -> Path:
    """The file :func:`calibrate` saves profiles to: ``$GLAMOR_ZOO_FAST_PROFILES``, else
    ``$XDG_CACHE_HOME/glamor_zoo/fast_profiles.json`` (``~/.cache`` by default)."""
    explicit = os.environ.get(PROFILES_ENV)
    if explicit:
        return Path(explicit).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "glamor_zoo" / "fast_profiles.json"


def _read_profiles(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        _logger.warning("fast: ignoring unreadable profiles file %s (%s)", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def save_profile(profile: FastProfile, model_name: str, device: torch.device | str) -> Path:
    """Save ``profile`` for ``model_name`` on this machine (:func:`machine_key`).

    Returns:
        The profiles file (:func:`profiles_path`).
    """
    path = profiles_path()
    profiles = _read_profiles(path)
    profiles[f"{machine_key(device)} | {model_name}"] = asdict(profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(profiles, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def fast_profile(device: torch.device | str, model_name: str) -> FastProfile | None:
    """The fast path's costs for ``model_name`` here: saved by :func:`calibrate` on this
    machine, else :data:`KNOWN_PROFILES` for its kind, else ``None`` (not measured)."""
    saved = _read_profiles(profiles_path()).get(f"{machine_key(device)} | {model_name}")
    if saved is not None:
        try:
            return FastProfile(**saved)
        except TypeError:
            _logger.warning("fast: ignoring a malformed saved profile for %s", model_name)
    return KNOWN_PROFILES.get(machine_kind(device))


class FastAuto:
    """The ``"auto"`` choice for one stream of work: eager until the fast path pays.

    Feed it every chunk of work done eagerly (:meth:`observe`); it answers whether switching
    now pays (see the module's docstring for the rule).

    Args:
        profile: The fast path's set-up and speed-up here (:func:`fast_profile`); ``None``
            (not measured on this kind of machine): never switch.
        job_size: Images (photos or video frames) of the whole job, when known in advance.
    """

    def __init__(self, profile: FastProfile | None, job_size: int | None = None) -> None:
        if job_size is not None and job_size < 0:
            raise ValueError(f"job_size must be at least 0, got {job_size}")
        self.profile = profile
        self.job_size = job_size
        self.images = 0
        self.model_seconds = 0.0
        self._timed_images = 0
        self._warmed_up = False

    @property
    def saving_per_image(self) -> float:
        """Seconds per image the fast path would save, from the eager steps seen so far."""
        if self.profile is None or not self._timed_images or self.model_seconds <= 0:
            return 0.0
        return self.profile.saving(self.model_seconds / self._timed_images)

    @property
    def crossover(self) -> float:
        """Images of work from which the fast path is faster in total (``inf``: never)."""
        saving = self.saving_per_image
        if self.profile is None or saving <= 0:
            return float("inf")
        return self.profile.setup_s / saving

    def observe(self, images: int, model_seconds: float) -> bool:
        """Count a chunk of ``images`` whose eager model steps took ``model_seconds``.

        The first chunk that runs the model is not timed: it carries the eager model's own
        warm-up (oneDNN primitives, allocations), which would overstate what the fast path saves.

        Returns:
            Whether to switch to the fast path now.
        """
        self.images += images
        if self._warmed_up:
            self._timed_images += images
            self.model_seconds += model_seconds
        elif model_seconds > 0:
            self._warmed_up = True
        saving = self.saving_per_image
        if self.profile is None or saving <= 0:
            return False
        if self.job_size is None:
            return self.images * saving >= self.profile.setup_s
        return (self.job_size - self.images) * saving > self.profile.setup_s

    def reason(self) -> str:
        """Why the choice stands as it does, for logs."""
        if self.profile is None:
            return (
                "the fast path is not measured on this kind of machine: eager "
                "(glamor_zoo.fast.calibrate measures it)"
            )
        crossover = self.crossover
        size = "unknown" if self.job_size is None else str(self.job_size)
        return (
            f"{self.images} images done ({self.model_seconds:.2f} s of eager model steps on "
            f"{self._timed_images} after the first), job "
            f"size {size}; set-up {self.profile.setup_s:.1f} s, speed-up "
            f"{self.profile.speedup:.2f}× ({self.profile.source}): crossover "
            f"{'never' if crossover == float('inf') else f'{crossover:.0f} images'}"
        )


def calibrate(
    model: nn.Module,
    example_inputs: Sequence[Any],
    model_name: str,
    rounds: int = 5,
    save: bool = True,
    build: Callable[[nn.Module], nn.Module] = fast_inference,
) -> FastProfile:
    """Measure the fast path of ``model`` on this machine once, for ``"auto"`` to use.

    Times the eager model and ``build(model)`` (:func:`fast_inference`, on a copy) on
    ``example_inputs`` (one call's arguments, batch first): the set-up is the first calls at the
    batch sizes a run meets (the full batch, one less, and 1, each compiling), less the eager
    time of the same calls; the speed-up is the ratio of the medians of ``rounds`` calls.

    Args:
        model: The model, on its device.
        example_inputs: The arguments of one call (tensors with a batch dimension ≥ 2).
        model_name: The name the profile is saved under (the recogniser's model name).
        rounds: Timed calls of each.
        save: Save the profile (:func:`save_profile`).
        build: What makes the fast model (tests pass a stand-in).

    Returns:
        The measured :class:`FastProfile`.
    """
    model.eval()
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    batch = int(example_inputs[0].shape[0])
    if batch < 2:
        raise ValueError("calibrate needs example inputs with a batch of at least 2")
    sizes = (batch, batch - 1, 1)

    def call(runner: nn.Module, size: int) -> float:
        start = perf_counter()
        with torch.inference_mode():
            runner(*(x[:size] for x in example_inputs))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return perf_counter() - start

    for size in sizes:  # eager warm-up: oneDNN primitives, allocator
        call(model, size)
    eager_first = sum(call(model, size) for size in sizes)
    fast = build(copy.deepcopy(model))
    setup = sum(call(fast, size) for size in sizes) - eager_first
    eager, fast_times = [], []
    for _ in range(rounds):  # interleaved: load on a shared machine hits both alike
        eager.append(call(model, batch))
        fast_times.append(call(fast, batch))
    plan = getattr(fast, "fast_plan", None)
    profile = FastProfile(
        setup_s=max(setup, 0.0),
        speedup=statistics.median(eager) / statistics.median(fast_times),
        source=(
            f"calibrated here {strftime('%Y-%m-%d')}, batch {batch}"
            + (f", {plan.summary()}" if plan is not None else "")
        ),
    )
    _logger.info("fast: calibrated %s on %s: %s", model_name, machine_key(device), profile)
    if save:
        save_profile(profile, model_name, device)
    return profile
