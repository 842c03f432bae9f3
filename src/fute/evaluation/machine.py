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


def measure_vector(path: Path, surrogate: str = "default", device: str = "auto", **options: object) -> dict:
    """One dataset's training split embedded with ``fisher`` (``options`` over its defaults, as ``fute embed
    dataset`` would) on ``surrogate``, alone in this process: its seconds and peak memory beside what its card says
    (rows used, QA windows, fine-tuned epochs, held-out loss against the constant, learned). The cost benchmarks'
    one measurement (bench/qa_cost.py, bench/surrogate_tiers.py)."""
    from fute.embed import compute_vector
    from fute.evaluation.embedding_quality import PeakRSS
    from fute.methods import get_method
    from fute.samples import load_samples
    from fute.surrogate import load_surrogate

    sur = load_surrogate(surrogate, device=device)
    samples = load_samples(path)
    with PeakRSS() as peak:
        t = time.perf_counter()
        vec = compute_vector(samples, path.name, kind="dataset", method=get_method("fisher", **options), surrogate=sur)
        seconds = time.perf_counter() - t
    training = vec.card.training or {}
    constant = min(x for x in (training.get("prior_heldout_loss"), training.get("initial_heldout_loss")) if x)
    return {
        "dataset": path.name,
        "task": samples.task,
        "surrogate": sur.identity.name,
        "options": dict(options),
        "rows_given": len(samples),
        "rows_used": vec.card.data.n_used,
        "windows": vec.card.extra.get("windows"),
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak.peak / 2**20),
        "finetune_epochs": training.get("finetune_epochs"),
        "heldout_loss": training.get("heldout_loss"),
        "constant_loss": constant,
        "ratio": round(training["heldout_loss"] / constant, 4) if training.get("heldout_loss") else None,
        "learned": training.get("learned"),
    }
