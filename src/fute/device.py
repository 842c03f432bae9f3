"""Where models run, in what precision, and what to say when a device runs out of memory.

One option (``--device auto|cpu|cuda|cuda:N|mps``, ``device=`` in the API) threads through the surrogate,
its task heads, soft prompts and prefixes, and every target model; results come back to the CPU as numpy.
The device is recorded on a vector's card but is not part of the space: the same computation on a GPU and
on the CPU gives the same vector within float tolerance. Precision is another matter (``resolve_dtype``):
a surrogate that computes in bfloat16 moves coordinates, so its precision is part of the space.

Torch is imported inside the functions: the CLI's help and the store's tools do not pay for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from fute.errors import ConfigError

if TYPE_CHECKING:
    import torch

DEVICES = "auto, cpu, cuda, cuda:N or mps"
DTYPES = ("auto", "float32", "bfloat16", "float16")


def resolve_device(device: Any = "auto") -> torch.device:
    """``auto``: CUDA if present (in a Ray job: the GPU Ray assigned it, which is the only one it sees),
    then Apple's MPS, else the CPU. A device asked for that is not here is a one-line error naming
    ``--device cpu``, not a CUDA traceback at the first tensor."""
    import torch

    spec = check_device(str(device) if isinstance(device, torch.device) else device)
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            built = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            raise ConfigError(
                f"--device {spec}: no CUDA device here (torch {torch.__version__}, {built}); use --device cpu (or auto)"
            )
        index = int(spec[5:]) if ":" in spec else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"--device {spec}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                f"cuda:0 to cuda:{torch.cuda.device_count() - 1}; use one of them or --device cpu"
            )
        return torch.device("cuda", index)
    if not _mps_available():  # spelling checked: what is left is mps
        raise ConfigError("--device mps: Apple's MPS is not available here; use --device cpu (or auto)")
    return torch.device("mps")


def _mps_available() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def check_device(device: Any) -> str:
    """The device option's spelling checked without looking for the hardware (a job may run elsewhere)."""
    spec = str(device or "auto").strip().lower()
    if spec not in ("auto", "cpu", "mps") and not re.fullmatch(r"cuda(?::\d+)?", spec):
        raise ConfigError(f"unknown device '{device}'; use {DEVICES}")
    return spec


def resolve_dtype(dtype: Any, device: torch.device, purpose: str) -> torch.dtype:
    """The precision for ``purpose``: ``surrogate`` (the task-embedding methods) or ``target`` (a model that
    labels U or scores prompts).

    ``auto`` gives float32 for the surrogate whatever the device: the Fisher averages squared per-example
    gradients, many of them below bfloat16's 8-bit mantissa resolution of their neighbours and below
    float16's smallest normal number once squared, and a tuned prefix moves by steps smaller than bfloat16
    can hold next to its values. For a target on a GPU, ``auto`` gives bfloat16 where the GPU supports it
    (float16 elsewhere, and on MPS): labeling is inference, where half precision loses little and halves
    memory and time. On the CPU everything stays float32. Half-precision matmuls are slower on most CPUs; on one
    with AMX or AVX512-BF16 bfloat16 labels faster, but it moves each text's label distribution by about as much
    as the closest two prompts' labels differ (docs/devices.md and docs/speed.md give the measurements). Labels
    would also depend on the CPU they were made on. Ask for ``bfloat16`` to trade that for speed.
    """
    import torch

    name = str(dtype or "auto").replace("torch.", "").lower()
    name = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32", "float": "float32"}.get(
        name, name
    )
    if name not in DTYPES:
        raise ConfigError(f"unknown dtype '{dtype}'; use {', '.join(DTYPES)}")
    if purpose not in ("surrogate", "target"):
        raise ValueError(f"purpose must be surrogate or target, not {purpose!r}")
    if name == "auto":
        if purpose == "surrogate" or device.type == "cpu":
            return torch.float32
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float16
    return getattr(torch, name)


def target_dtype(dtype: Any, device: torch.device, model: Any = None) -> torch.dtype:
    """A label model's dtype: as asked, else (``auto``) the given model's own, or ``resolve_dtype``'s for a model
    that is still to be loaded."""
    if model is not None and str(dtype or "auto") == "auto":
        return model.dtype
    return resolve_dtype(dtype, device, "target")


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def describe(device: torch.device) -> str:
    """What the card records: ``cpu``, ``cuda:0 (NVIDIA H200)``, ``mps``."""
    if device.type == "cuda":
        import torch

        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return str(device)


def place(model: Any, device: torch.device, dtype: torch.dtype | None = None) -> Any:
    """``model`` on ``device`` (in ``dtype``); one already there, as a model loaded with a device map is, is
    left as it is (moving a dispatched model again is what accelerate warns against)."""
    first = next(iter(model.parameters()), None)
    if first is not None and first.device == device and (dtype is None or first.dtype == dtype):
        return model
    return model.to(device, dtype) if dtype is not None else model.to(device)


def is_out_of_memory(error: BaseException) -> bool:
    """A device out of memory: CUDA's OutOfMemoryError, or MPS's RuntimeError (read by name and message, so
    that callers need not import torch)."""
    return type(error).__name__ == "OutOfMemoryError" or (
        isinstance(error, RuntimeError) and "out of memory" in str(error).lower()
    )


def free_cached_memory() -> None:
    """Hand the allocator's cached blocks back after an out-of-memory error, before a smaller retry."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if _mps_available() and mps is not None:
        mps.empty_cache()


@contextmanager
def out_of_memory_hint(what: str, lower: str) -> Iterator[None]:
    """An out-of-memory error inside becomes one line that says what ran out and which option to lower."""
    try:
        yield
    except Exception as e:
        if not is_out_of_memory(e):
            raise
        free_cached_memory()
        raise ConfigError(f"{what}: the device ran out of memory; lower {lower}, or use --device cpu") from None
