"""What a timing ran on, and how fast that machine can go: the records every speed benchmark writes beside its
numbers (a speed-up is read only between runs on one machine; this project's CPUs have differed as much as code)."""

from __future__ import annotations

import platform
import time
from pathlib import Path

import torch


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a timer measures it (CUDA runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(
    device: torch.device, sizes=(1024, 2048, 4096), repeats: int = 5, dtype: torch.dtype = torch.float32
) -> dict:
    """Best torch.mm throughput in ``dtype`` (fp32 by default) over a few square sizes (the practical peak of
    this device)."""
    best = {}
    for n in sizes:
        a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
        torch.mm(a, b)
        times = []
        for _ in range(repeats):
            sync(device)
            t = time.perf_counter()
            torch.mm(a, b)
            sync(device)
            times.append(time.perf_counter() - t)
        best[n] = 2 * n**3 / min(times)
    return {"gflops": max(best.values()) / 1e9, "by_size": {str(k): v / 1e9 for k, v in best.items()}}


def cpu_model() -> str:
    """The CPU's model name (Linux), else the platform's processor string: speeds here differ by machine as much as
    by code (this project's runs have had AMX-capable CPUs and CPUs without it)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """What a timing ran on, recorded by every speed benchmark: torch threads, CPU model, torch and Python versions."""
    return {
        "threads": torch.get_num_threads(),
        "cpu": cpu_model(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
