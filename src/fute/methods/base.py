"""What every task-embedding method is: a config dataclass plus an implementation, registered by name."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np
import torch

from fute.errors import ConfigError
from fute.samples import Samples
from fute.space import Card, cosine_scores
from fute.surrogate import Surrogate


def not_in_space(default: Any) -> Any:
    """A config field that changes which examples are used, not the coordinates: kept out of the space id."""
    return field(default=default, metadata={"space": False})


def in_space_unless_default(default: Any, *others: Any) -> Any:
    """A config field written (in the space id, the job key, the card) only when it is not ``default``: an
    option added later leaves the spaces, job keys and cached vectors made before it (all at the default) as
    they were. ``others``: the values it may take besides the default, where they are a fixed set (``choice``)."""
    meta = {"space": "unless-default", **({"choices": (default, *others)} if others else {})}
    return field(default=default, metadata=meta)


def _silent(f: Any, value: Any) -> bool:
    """A field left unwritten: one added later, at its default (``in_space_unless_default``)."""
    return f.metadata.get("space") == "unless-default" and value == f.default


def choice(default: str, *others: str) -> Any:
    """A string option that takes one of a fixed set of values (checked when the config is made)."""
    return field(default=default, metadata={"choices": (default, *others)})


# the smallest value an option may take; options not named here may be any value of their type
POSITIVE: dict[str, float] = {
    "max_examples": 1,
    "batch_size": 1,
    "seed": 0,
    "ensemble_seeds": 1,
    "n_tokens": 1,
    "projection_dim": 1,
    "max_epochs": 0,
    "probe_max_epochs": 0,
    "patience": 1,
    "probe_patience": 1,
    "learning_rate": 1e-12,
    "head_learning_rate": 1e-12,
    "probe_learning_rate": 1e-12,
}


@dataclass
class MethodConfig:
    """Options shared by all methods. Subclasses add their own; every field is a hyperparameter."""

    max_examples: int | None = not_in_space(1000)  # seeded sample cap
    seed: int = 0
    batch_size: int = 32
    # the vector is the mean of this many runs (unit vectors) at seeds seed*n .. seed*n+n-1; see Method.embed
    ensemble_seeds: int = in_space_unless_default(1)

    def __post_init__(self) -> None:
        """Every option checked against its declared type and range, so a bad value is one line, before work."""
        for f in fields(self):
            value, kinds = getattr(self, f.name), str(f.type).replace(" ", "").split("|")
            if value is None and "None" in kinds:
                continue
            ok = (
                ("bool" in kinds and isinstance(value, bool))
                or ("int" in kinds and isinstance(value, int) and not isinstance(value, bool))
                or ("float" in kinds and isinstance(value, int | float) and not isinstance(value, bool))
                or ("str" in kinds and isinstance(value, str))
            )
            if not ok:
                raise ConfigError(f"option {f.name}={value!r}: must be {' or '.join(kinds)}")
            low = POSITIVE.get(f.name)
            if low is not None and not value >= low:
                raise ConfigError(
                    f"option {f.name}={value!r}: must be at least {low}"
                    + (" (or None for every row)" if "None" in kinds else "")
                )
            allowed = f.metadata.get("choices")
            if allowed and value not in allowed:
                raise ConfigError(f"option {f.name}={value!r}: use one of {', '.join(allowed)}")
            if f.name == "holdout_fraction" and not 0 <= value < 1:
                raise ConfigError(f"option holdout_fraction={value!r}: must be at least 0 and below 1")

    def to_dict(self) -> dict[str, Any]:
        """Every option (those added later only when set), as JSON-ready values: what job keys and cards hold."""
        d = dataclasses.asdict(self)
        return {f.name: d[f.name] for f in fields(self) if not _silent(f, d[f.name])}

    def space_dict(self) -> dict[str, Any]:
        """The fields that define the coordinate system: all but those marked ``not_in_space`` (and those
        added later, at their default)."""
        d = self.to_dict()
        return {f.name: d[f.name] for f in fields(self) if f.name in d and f.metadata.get("space", True)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MethodConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(
                f"unknown option(s) {', '.join(sorted(unknown))} for {cls.__name__}; known: {', '.join(sorted(known))}"
            )
        return cls(**d)


class Method:
    """A task-embedding method F: ``embed(samples, surrogate) -> vector``.

    Hyperparameters live in ``self.config`` only; ``embed`` leaves fitted state in attributes ending
    in ``_`` (e.g. ``head_``) for inspection, and never modifies the surrogate. A method whose coordinates
    depend on a seed (a seeded start, a random projection) takes it from ``coordinate_seed_``, not
    ``config.seed``, so that the members of an ensemble share them.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[MethodConfig]] = MethodConfig
    uses_labels: ClassVar[bool] = True
    score: ClassVar[str] = "cosine"  # how rank compares vectors: cosine, or a method's own rule
    # bumped when a code change moves this method's coordinates at the same config; part of the space id
    # (left out of the space card while 0, so that the ids of unchanged methods stay as they were)
    revision: ClassVar[int] = 0

    def __init__(self, config: MethodConfig | None = None, **options: Any) -> None:
        base = config.to_dict() if config is not None else {}
        self.config = self.config_class.from_dict({**base, **options})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"

    def embed(self, samples: Samples, surrogate: Surrogate, *, progress: bool = True) -> np.ndarray:
        """The task vector of ``samples`` (capped at ``max_examples`` with ``seed``), float32 1-D.

        With ``ensemble_seeds`` n > 1 the method runs n times, at seeds ``member_seeds(seed, n)``, each
        drawing its own row sample, held-out slice and training order, and the vector is the mean of their
        unit vectors (``combine_members``): less of one run's noise, at n times the cost. What fixes the
        coordinates (a seeded initial prompt or prefix, a random projection) stays at ``seed`` for every
        member (``coordinate_seed_``), so the members' vectors share one coordinate system.
        """
        cfg = self.config
        self.coordinate_seed_ = cfg.seed
        vectors, self.trainings_ = [], []
        try:
            for seed in member_seeds(cfg.seed, cfg.ensemble_seeds):
                self.config = dataclasses.replace(cfg, seed=seed, ensemble_seeds=1)
                vectors.append(self._embed_once(samples, surrogate, progress))
                if getattr(self, "training_", None) is not None:
                    self.trainings_.append(self.training_)
        finally:
            self.config = cfg
        return vectors[0] if len(vectors) == 1 else combine_members(vectors)

    def _embed_once(self, samples: Samples, surrogate: Surrogate, progress: bool) -> np.ndarray:
        seed_everything(self.config.seed)
        capped = samples.take(self.config.max_examples, self.config.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            vec = self._embed(capped, surrogate, progress=progress)
        vec = np.asarray(vec, dtype=np.float32).ravel()
        if not np.isfinite(vec).all():
            raise ConfigError(f"{self.name}: the vector has non-finite values; lower the learning rate")
        return vec

    def training_card(self) -> dict[str, Any] | None:
        """How the surrogate learned the task, for the card: one run's report, or an ensemble's (each member's
        report under ``members``; converged and learned only if every member's was)."""
        reports = [t.as_dict() for t in getattr(self, "trainings_", [])]
        if len(reports) <= 1:
            return reports[0] if reports else None
        return {
            "converged": all(r["converged"] for r in reports),
            "learned": all(r["learned"] for r in reports),
            "members": reports,
        }

    def _embed(self, samples: Samples, surrogate: Surrogate, *, progress: bool) -> np.ndarray:
        raise NotImplementedError

    def scores(self, query: np.ndarray, candidates: np.ndarray, candidate_cards: list[Card]) -> np.ndarray:
        """Similarity of each candidate to the query (higher = nearer); cosine unless a method says otherwise."""
        return cosine_scores(query, candidates)


def member_seeds(seed: int, n: int) -> list[int]:
    """The seeds of an ``n``-seed ensemble at ``seed``: ``seed*n .. seed*n+n-1``. One member is the seed itself,
    and the ensembles of two seeds share no member, so their agreement is not inflated by a shared run."""
    return [seed * n + i for i in range(n)]


def combine_members(vectors: list[np.ndarray]) -> np.ndarray:
    """An ensemble's vector: the mean of its members' unit vectors (each member counts alike, whatever its
    scale). A member that is all zeros adds nothing."""
    units = []
    for v in vectors:
        v = np.asarray(v, dtype=np.float64)
        norm = np.linalg.norm(v)
        units.append(v / norm if norm > 0 else v)
    return np.mean(units, axis=0).astype(np.float32)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def target_tensor(samples: Samples, idx: np.ndarray, device: Any = None) -> torch.Tensor | None:
    """The targets of rows ``idx`` as a tensor on ``device`` (None for QA, whose targets are in the batch)."""
    return None if samples.targets is None else torch.from_numpy(np.asarray(samples.targets[idx])).to(device)
