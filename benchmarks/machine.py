"""What a benchmark ran on: CPU, threads, load, versions, and the machine's matmul peaks.

The peaks are measured in the same run as the model numbers (these machines are shared and
noisy), with big square matmuls: fp32 and bf16 ``torch.mm``, int8 ``torch._int_mm``.
"""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata
from typing import Any

import torch


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> list[str]:
    wanted = ("avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8", "avx2")
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [w for w in wanted if w in flags]
    except OSError:
        pass
    return []


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("torch", "timm", "torchao", "glamor-zoo", "accelerate"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def machine_info() -> dict[str, Any]:
    """CPU, core count, torch threads, load average, GPU, versions."""
    info: dict[str, Any] = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "cpu": cpu_name(),
        "cpu_flags": cpu_flags(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "load_average": load_average(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
    }
    info.update(versions())
    return info


def _rate(fn: Any, flops: float, min_time: float) -> float:
    fn()
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    sync()
    runs, start = 0, time.perf_counter()
    while True:
        fn()
        runs += 1
        sync()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return flops * runs / elapsed / 1e9


def matmul_peaks(size: int = 2048, min_time: float = 1.0, device: str = "cpu") -> dict[str, float]:
    """GFLOP/s (GOP/s for int8) of an n×n×n matmul in fp32, bf16 and int8, best of 3."""
    flops = 2.0 * size**3
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    a16, b16 = a.bfloat16(), b.bfloat16()
    a8 = torch.randint(-128, 127, (size, size), dtype=torch.int8, device=device)
    b8 = torch.randint(-128, 127, (size, size), dtype=torch.int8, device=device)
    peaks: dict[str, float] = {}
    probe = 256
    with torch.inference_mode():
        for name, fn, small in (
            (
                "fp32",
                lambda: torch.mm(a, b),
                lambda: torch.mm(a[:probe, :probe], b[:probe, :probe]),
            ),
            (
                "bf16",
                lambda: torch.mm(a16, b16),
                lambda: torch.mm(a16[:probe, :probe], b16[:probe, :probe]),
            ),
            (
                "int8",
                lambda: torch._int_mm(a8, b8),
                lambda: torch._int_mm(a8[:probe, :probe], b8[:probe, :probe]),
            ),
        ):
            try:
                # NOTE: a CPU without the precision's kernels (bf16 or int8 matmul on AVX2)
                # runs a reference loop at ~1-2 GFLOP/s: one 2048³ product takes 10+ s. A small
                # probe finds that out; such a precision reports the probe's rate.
                rate = _rate(small, 2.0 * probe**3, 0.05)
                if name != "fp32" and rate < 0.1 * peaks.get("fp32", 0.0):
                    peaks[name] = rate
                    continue
                peaks[name] = max(_rate(fn, flops, min_time / 3) for _ in range(3))
            except RuntimeError:
                peaks[name] = float("nan")
    return peaks
