"""A plain Python function as a target model."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fute.targets.base import TargetModel


class CallableTarget(TargetModel):
    """``fn(texts, text_pairs) -> [N, C]`` probabilities (or [N] values with ``task="regression"``).

    ``name`` and ``version`` identify the function in caches and cards; the hash of its source is
    added when Python can see it, so an edited function does not reuse stale labels.
    """

    backend = "callable"

    def __init__(
        self,
        fn: Callable[[list[str], list[str] | None], Any],
        label_names: Sequence[str] = (),
        *,
        name: str | None = None,
        version: str = "",
        task: str = "classification",
    ) -> None:
        self.fn = fn
        self.label_names = tuple(label_names)
        self.task = task
        self.name = name or getattr(fn, "__qualname__", "callable")
        self.version = version

    def _predict(self, texts: list[str], text_pairs: list[str] | None) -> np.ndarray:
        return np.asarray(self.fn(texts, text_pairs), dtype=np.float64)

    def identity(self) -> dict[str, Any]:
        try:
            code = hashlib.sha256(inspect.getsource(self.fn).encode()).hexdigest()[:16]
        except (OSError, TypeError):
            code = ""
        return {
            "backend": self.backend,
            "model": self.name,
            "version": self.version,
            "source_sha256": code,
            "labels": list(self.label_names),
            "task": self.task,
        }
