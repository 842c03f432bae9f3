"""Baselines that need no fine-tuning: `textemb` (no labels) and `datasize` (no text)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from fute.methods.base import Method, MethodConfig, not_in_space
from fute.samples import Samples
from fute.space import Card
from fute.surrogate import Surrogate


class TextEmb(Method):
    """TextEmb (Vu et al., 2020): the mean pooled surrogate representation of the inputs; labels unused."""

    name = "textemb"
    uses_labels = False

    def _embed(self, samples: Samples, surrogate: Surrogate, *, progress: bool) -> np.ndarray:
        enc = surrogate.encode(samples)
        total = torch.zeros(surrogate.hidden_size, dtype=torch.float64)
        with torch.no_grad():
            for _idx, batch in tqdm(
                surrogate.batches(enc, self.config.batch_size, surrogate.length_order(enc)),
                total=-(-len(enc) // self.config.batch_size),
                desc=f"textemb: {samples.short_name}",
                disable=not progress,
                leave=False,
            ):
                total += surrogate.forward(batch).pooled.float().cpu().double().sum(dim=0)
        return (total / len(enc)).numpy()


@dataclass
class DataSizeConfig(MethodConfig):
    max_examples: int | None = not_in_space(None, "Rows counted (None: all: the size is of the whole dataset)", low=1)


class DataSize(Method):
    """DataSize: ranks candidates by how many examples they have (bigger first), whatever the query.

    The vector is [number of examples]; rank uses :meth:`scores`, not cosine (which would be 1 for all).
    """

    name = "datasize"
    config_class = DataSizeConfig
    uses_labels = False
    reads_text = False
    score = "size"

    def _embed(self, samples: Samples, surrogate: Surrogate, *, progress: bool) -> np.ndarray:
        return np.array([float(len(samples))])

    def scores(self, query: np.ndarray, candidates: np.ndarray, candidate_cards: list[Card]) -> np.ndarray:
        return np.asarray(candidates, dtype=np.float64).reshape(len(candidates), -1)[:, 0]
