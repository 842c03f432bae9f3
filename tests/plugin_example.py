"""A third-party plug-in as a package would ship it: registered through the ``fute.plugins`` entry point."""

from __future__ import annotations

import numpy as np

from fute.execute import LocalExecutor
from fute.store.local import LocalStore


class MemoryScheme(LocalStore):
    """A store plug-in under its own URL scheme (``mem://FOLDER``), backed by the embedded store."""

    scheme = "mem"

    def __init__(self, url: str) -> None:
        super().__init__(url.removeprefix("mem://"))


class CountingExecutor(LocalExecutor):
    name = "counting"
    runs = 0

    def run(self, jobs, on_result, *, progress=True):
        CountingExecutor.runs += len(jobs)
        return super().run(jobs, on_result, progress=progress)


def register() -> None:
    from fute.methods import Method, register_method
    from fute.registry import EXECUTORS, STORES

    class MeanLength(Method):
        """Mean input length in characters: a one-number method, enough to show a plug-in end to end."""

        name = "mean-length"
        uses_labels = False

        def _embed(self, samples, surrogate, *, progress):
            return np.array([np.mean([len(t) for t in samples.texts]), 1.0])

    register_method(MeanLength)
    STORES.register(MemoryScheme)
    EXECUTORS.register(CountingExecutor)
