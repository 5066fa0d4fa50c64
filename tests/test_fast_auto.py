"""fast="auto": when the fast path pays for its set-up; machine profiles; calibration.

No real compilation: the rule is tested on numbers, calibration with a stand-in fast model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from glamor_zoo.fast import auto
from glamor_zoo.fast.auto import (
    KNOWN_PROFILES,
    FastAuto,
    FastProfile,
    calibrate,
    fast_profile,
    machine_key,
    machine_kind,
    save_profile,
)

# The case: the fast path sets up in ~30 s; predict's model steps take 10 ms per photo.
PROFILE = FastProfile(setup_s=30.0, speedup=3.0, source="test")
EAGER_S = 0.010  # per image; the fast path saves 2/3 of it: crossover 30 / (0.01 · 2/3) = 4500


@pytest.fixture(autouse=True)
def _profiles_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "profiles.json"
    monkeypatch.setenv(auto.PROFILES_ENV, str(path))
    return path


def feed(policy: FastAuto, chunks: int, images: int = 8) -> list[bool]:
    return [policy.observe(images, EAGER_S * images) for _ in range(chunks)]


def test_small_jobs_stay_eager() -> None:
    policy = FastAuto(PROFILE, job_size=11)
    assert feed(policy, 2) == [False, False]
    assert policy.crossover == pytest.approx(4500)


def test_a_job_above_the_crossover_switches_after_its_first_timed_chunk() -> None:
    """The first chunk carries the eager model's warm-up: not timed; the second decides."""
    assert feed(FastAuto(PROFILE, job_size=4600), 2) == [False, True]
    # …but not when what is left no longer pays: just under the crossover plus two chunks.
    assert feed(FastAuto(PROFILE, job_size=4500), 2) == [False, False]


def test_the_eager_warm_up_does_not_count_as_a_saving() -> None:
    policy = FastAuto(PROFILE, job_size=10**9)
    assert not policy.observe(8, 1000.0)  # a very slow first chunk
    assert policy.saving_per_image == 0.0
    policy.observe(8, EAGER_S * 8)
    assert policy.saving_per_image == pytest.approx(EAGER_S * 2 / 3)


def test_unknown_job_size_switches_once_the_work_done_would_have_paid() -> None:
    """Ski rental: eager time spent on the saving equals the set-up, then switch."""
    policy = FastAuto(PROFILE)
    decisions = feed(policy, 600)
    first = decisions.index(True)
    assert policy.images - 8 * (len(decisions) - first - 1) == pytest.approx(4504, abs=8)
    assert not any(decisions[:first])


def test_never_switches_where_the_fast_path_is_not_faster_or_not_measured() -> None:
    profiles = (FastProfile(1.0, 1.0, "same"), FastProfile(0.0, 0.5, "slower, no set-up"), None)
    for profile in profiles:
        for size in (10**9, None):
            policy = FastAuto(profile, job_size=size)
            assert not any(feed(policy, 50))
            assert policy.crossover == float("inf")
    assert "not measured" in FastAuto(None).reason()
    assert "crossover never" in FastAuto(FastProfile(1.0, 0.9, "slower")).reason()


def test_no_faces_yet_means_no_saving_seen() -> None:
    policy = FastAuto(PROFILE, job_size=10**9)
    assert not policy.observe(8, 0.0)
    assert not policy.observe(8, EAGER_S * 8)  # the warm-up chunk
    assert policy.observe(8, EAGER_S * 8)


def test_negative_job_size_is_refused() -> None:
    with pytest.raises(ValueError, match="job_size"):
        FastAuto(PROFILE, job_size=-1)


def test_machine_kind_follows_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auto, "bf16_supported", lambda device: False)
    assert machine_kind("cpu") == "cpu-fp32"
    monkeypatch.setattr(auto, "bf16_supported", lambda device: True)
    assert machine_kind("cpu") == "cpu-bf16"
    assert machine_kind("cuda") == "cuda"


def test_each_cpu_kind_has_its_measured_default_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    """AVX2-only CPUs get the float32 + compile calibration; CUDA has none (never measured)."""
    monkeypatch.setattr(auto, "bf16_supported", lambda device: False)
    assert fast_profile("cpu", "any_model") is KNOWN_PROFILES["cpu-fp32"]
    monkeypatch.setattr(auto, "bf16_supported", lambda device: True)
    assert fast_profile("cpu", "any_model") is KNOWN_PROFILES["cpu-bf16"]
    assert set(KNOWN_PROFILES) == {"cpu-bf16", "cpu-fp32"}
    assert all(p.speedup > 1 and p.setup_s > 0 for p in KNOWN_PROFILES.values())


def test_this_machine_gets_the_profile_of_its_kind() -> None:
    expected = KNOWN_PROFILES.get(machine_kind("cpu"))
    assert fast_profile("cpu", "any_model") == expected
    capability = torch.backends.cpu.get_cpu_capability()
    assert capability in machine_key("cpu")


def test_a_saved_profile_wins_for_its_model_only(_profiles_file: Path) -> None:
    measured = FastProfile(setup_s=12.5, speedup=1.4, source="calibrated here")
    assert save_profile(measured, "face_resnet18.fer2013", "cpu") == _profiles_file
    assert fast_profile("cpu", "face_resnet18.fer2013") == measured
    assert fast_profile("cpu", "deep_emotion") == KNOWN_PROFILES.get(machine_kind("cpu"))
    save_profile(FastProfile(1.0, 2.0, "second"), "deep_emotion", "cpu")  # keeps the first
    assert len(json.loads(_profiles_file.read_text())) == 2


def test_unreadable_or_malformed_profiles_are_ignored(_profiles_file: Path) -> None:
    _profiles_file.write_text("{not json")
    assert fast_profile("cpu", "m") == KNOWN_PROFILES.get(machine_kind("cpu"))
    _profiles_file.write_text(json.dumps({f"{machine_key('cpu')} | m": {"setup_s": 1}}))
    assert fast_profile("cpu", "m") == KNOWN_PROFILES.get(machine_kind("cpu"))


class Clock:
    """A fake ``perf_counter``: time passes only when the stand-in models say so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Timed(torch.nn.Module):
    """A model whose calls take ``per_sample`` s per sample, plus ``first`` s at each new size."""

    def __init__(self, clock: Clock, per_sample: float, first: float = 0.0) -> None:
        super().__init__()
        self.clock, self.per_sample, self.first = clock, per_sample, first
        self.conv = torch.nn.Conv2d(1, 2, 3)
        self.sizes: set[int] = set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.clock.now += self.per_sample * x.shape[0]
        if x.shape[0] not in self.sizes:
            self.sizes.add(x.shape[0])
            self.clock.now += self.first
        return self.conv(x)


def test_calibrate_measures_setup_and_speedup_and_saves_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(auto, "perf_counter", clock)
    model = Timed(clock, per_sample=0.010)
    fast = Timed(clock, per_sample=0.004, first=10.0)
    profile = calibrate(model, (torch.rand(8, 1, 8, 8),), "stand_in", build=lambda m: fast)
    assert fast.sizes == {8, 7, 1}  # the batch sizes a run meets, each compiling once
    # set-up: 3 × 10 s of compiling + 16 samples at 4 ms, less the 16 eager samples at 10 ms
    assert profile.setup_s == pytest.approx(30.0 - 16 * 0.006)
    assert profile.speedup == pytest.approx(2.5)
    assert fast_profile("cpu", "stand_in") == profile
    with pytest.raises(ValueError, match="batch of at least 2"):
        calibrate(model, (torch.rand(1, 1, 8, 8),), "stand_in", save=False)
