"""What every task-embedding method is: a config dataclass plus an implementation, registered by name."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from fute.errors import ConfigError
from fute.samples import Samples
from fute.surrogate import Encoded, Forward, Surrogate, TaskHead


def not_in_space(default: Any) -> Any:
    """A config field that changes which examples are used, not the coordinates: kept out of the space id."""
    return field(default=default, metadata={"space": False})


@dataclass
class MethodConfig:
    """Options shared by all methods. Subclasses add their own; every field is a hyperparameter."""

    max_examples: int | None = not_in_space(1000)  # seeded sample cap
    seed: int = 0
    batch_size: int = 32

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def space_dict(self) -> dict[str, Any]:
        """The fields that define the coordinate system (all but those marked ``not_in_space``)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("space", True)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MethodConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown option(s) {', '.join(sorted(unknown))} for {cls.__name__}; "
                              f"known: {', '.join(sorted(known))}")
        return cls(**d)


class Method:
    """A task-embedding method F: ``embed(samples, surrogate) -> vector``.

    Hyperparameters live in ``self.config`` only; ``embed`` leaves fitted state in attributes ending
    in ``_`` (e.g. ``head_``) for inspection, and never modifies the surrogate.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[MethodConfig]] = MethodConfig
    uses_labels: ClassVar[bool] = True
    score: ClassVar[str] = "cosine"  # how rank compares vectors: cosine, or a method's own rule

    def __init__(self, config: MethodConfig | None = None, **options: Any) -> None:
        base = config.to_dict() if config is not None else {}
        self.config = self.config_class.from_dict({**base, **options})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"

    def embed(self, samples: Samples, surrogate: Surrogate, *, progress: bool = True) -> np.ndarray:
        """The task vector of ``samples`` (capped at ``max_examples`` with ``seed``), float32 1-D."""
        seed_everything(self.config.seed)
        capped = samples.take(self.config.max_examples, self.config.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            vec = self._embed(capped, surrogate, progress=progress)
        vec = np.asarray(vec, dtype=np.float32).ravel()
        if not np.isfinite(vec).all():
            raise ConfigError(f"{self.name}: the vector has non-finite values; lower the learning rate")
        return vec

    def _embed(self, samples: Samples, surrogate: Surrogate, *, progress: bool) -> np.ndarray:
        raise NotImplementedError

    def scores(self, query: np.ndarray, candidates: np.ndarray, candidate_cards: list[dict]) -> np.ndarray:
        """Similarity of each candidate to the query (higher = nearer); cosine unless a method says otherwise."""
        return cosine_scores(query, candidates)


def cosine_scores(query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    q = np.asarray(query, dtype=np.float64)
    c = np.asarray(candidates, dtype=np.float64).reshape(len(candidates), -1)
    denom = np.linalg.norm(c, axis=1) * np.linalg.norm(q)
    return np.where(denom > 0, c @ q / np.where(denom > 0, denom, 1.0), 0.0)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def target_tensor(samples: Samples, idx: np.ndarray) -> torch.Tensor | None:
    return None if samples.targets is None else torch.from_numpy(np.asarray(samples.targets[idx]))


def train_head(surrogate: Surrogate, samples: Samples, enc: Encoded, head: TaskHead, *,
               params: list[tuple[list[nn.Parameter], float]], epochs: float, batch_size: int, seed: int,
               model: nn.Module | None = None, prompt: nn.Parameter | None = None, desc: str = "training",
               progress: bool = True) -> list[float]:
    """A short, seeded AdamW run of ``head`` (and the given parameter groups) on the samples.

    ``model`` is a trainable copy of the backbone for fine-tuning; ``prompt`` a soft prompt for
    prompt tuning. Returns the loss of each step.
    """
    groups = [{"params": ps, "lr": lr} for ps, lr in params if ps]
    opt = torch.optim.AdamW(groups, weight_decay=0.0)
    rng = np.random.default_rng(seed)
    steps_per_epoch = -(-len(enc) // batch_size)
    total = max(1, round(epochs * steps_per_epoch))
    losses: list[float] = []
    if model is not None:
        model.train()
    bar = tqdm(total=total, desc=desc, unit="step", disable=not progress, leave=False)
    for idx, batch in _epochs(surrogate, enc, batch_size, rng, total):
        fwd: Forward = surrogate.forward(batch, model=model, prompt=prompt)
        loss = head.loss(fwd, batch, target_tensor(samples, idx))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    bar.close()
    if model is not None:
        model.eval()
    return losses


def _epochs(surrogate: Surrogate, enc: Encoded, batch_size: int, rng: np.random.Generator,
            total: int) -> Iterator[tuple[np.ndarray, dict]]:
    """``total`` shuffled batches, re-shuffling at each epoch."""
    done = 0
    while done < total:
        for item in surrogate.batches(enc, batch_size, rng.permutation(len(enc))):
            if done == total:
                return
            done += 1
            yield item
