"""What every task-embedding method is: a config dataclass plus an implementation, registered by name."""

from __future__ import annotations

import dataclasses
import random
import time
import warnings
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np
import torch

from fute.errors import ConfigError
from fute.samples import Samples
from fute.space import Card, cosine_scores
from fute.surrogate import Surrogate


def option(
    default: Any,
    help: str,  # noqa: A002 - the word every option library uses
    *,
    low: float | None = None,
    below: float | None = None,
    choices: tuple[Any, ...] = (),
    space: bool | str = True,
    silent_if_none: bool = False,
) -> Any:
    """A config field that says what a user needs to set it: its ``help``, its bounds (``low`` <= value, value
    < ``below``) or ``choices`` (checked when the config is made, so a bad value is one line before any work),
    and whether it is part of the space id (``space``: True; False for a field that changes which examples are
    used, not the coordinates; "unless-default" for one written only when set, see ``in_space_unless_default``).
    ``fute methods NAME`` and the docs' options tables are read from here."""
    meta: dict[str, Any] = {"help": help, "space": space}
    if silent_if_none:
        meta["silent_if_none"] = True
    meta.update({k: v for k, v in (("low", low), ("below", below)) if v is not None})
    if choices:
        meta["choices"] = (default, *(c for c in choices if c != default))
    return field(default=default, metadata=meta)


def not_in_space(default: Any, help: str, **bounds: Any) -> Any:  # noqa: A002
    """A config field that changes which examples are used, not the coordinates: kept out of the space id."""
    return option(default, help, space=False, **bounds)


def not_in_space_unless_none(default: Any, help: str, **bounds: Any) -> Any:  # noqa: A002
    """A config field that changes which examples are used, not the coordinates, written (in the job key, the card)
    only when it is not None: an option added later that is off (None) leaves the job keys and cached vectors made
    before it as they were, and one that is on (a method's default may be) keys its vectors apart from those."""
    return option(default, help, space=False, silent_if_none=True, **bounds)


def in_space_unless_default(default: Any, *others: Any, help: str) -> Any:  # noqa: A002
    """A config field written (in the space id, the job key, the card) only when it is not ``default``: an
    option added later leaves the spaces, job keys and cached vectors made before it (all at the default) as
    they were. ``others``: the values it may take besides the default, where they are a fixed set (``choice``)."""
    return option(default, help, choices=others, space="unless-default")


def _silent(f: Any, value: Any) -> bool:
    """A field left unwritten: one added later, at its default (``in_space_unless_default``)."""
    if f.metadata.get("silent_if_none"):
        return value is None
    return f.metadata.get("space") == "unless-default" and value == f.default


def choice(default: str, *others: str, help: str) -> Any:  # noqa: A002
    """A string option that takes one of a fixed set of values (checked when the config is made)."""
    return option(default, help, choices=others)


@dataclass(frozen=True)
class OptionInfo:
    """One option of a method, as ``fute methods NAME`` and the docs show it."""

    name: str
    type: str
    default: Any
    help: str
    bounds: str  # "at least 1", "one of a, b", "" where any value of its type goes
    in_space: str  # "yes", "no" (changes which rows are used, not the coordinates) or "when set"


def describe_options(config_class: type[MethodConfig]) -> list[OptionInfo]:
    """Every option of a method's config, with its help, type, default, bounds and whether it is in the space."""
    out = []
    for f in fields(config_class):
        m = f.metadata
        bounds = []
        if "choices" in m:
            bounds.append("one of " + ", ".join(map(str, m["choices"])))
        if "low" in m:
            bounds.append(f"at least {m['low']:g}")
        if "below" in m:
            bounds.append(f"below {m['below']:g}")
        space = m.get("space", True)
        in_space = "when set" if space == "unless-default" else ("yes" if space else "no")
        out.append(OptionInfo(f.name, str(f.type), f.default, m.get("help", ""), ", ".join(bounds), in_space))
    return out


@dataclass
class MethodConfig:
    """Options shared by all methods. Subclasses add their own; every field is a hyperparameter."""

    max_examples: int | None = not_in_space(
        1000, "Rows used: a seeded sample of this many (None: every row); an LLM with a prompt labels 256 of U", low=1
    )
    seed: int = option(0, "Seed of the row sample, the held-out slice, initialisation and training order", low=0)
    batch_size: int = option(32, "Rows per batch of the surrogate's passes; lower it when memory runs out", low=1)
    ensemble_seeds: int = option(
        1,
        "Runs averaged into the vector (unit vectors, at seeds seed*n .. seed*n+n-1): n times the cost, less seed "
        "noise; a space of its own when set",
        low=1,
        space="unless-default",
    )

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
            low, below = f.metadata.get("low"), f.metadata.get("below")
            if low is not None and below is not None and not low <= value < below:
                raise ConfigError(f"option {f.name}={value!r}: must be at least {low} and below {below}")
            if low is not None and not value >= low:
                raise ConfigError(
                    f"option {f.name}={value!r}: must be at least {low}"
                    + (" (or None for every row)" if "None" in kinds else "")
                )
            allowed = f.metadata.get("choices")
            if allowed and value not in allowed:
                raise ConfigError(f"option {f.name}={value!r}: use one of {', '.join(map(str, allowed))}")

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
    reads_text: ClassVar[bool] = True  # False: the vector does not read the inputs (QA rows are then not windowed)
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
        vectors, self.trainings_, self.windows_ = [], [], []
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
        """One run at ``max_examples`` rows; where the config has ``grow_rows`` (``TrainedConfig``) and the surrogate
        did not learn the task with a margin, again on twice the rows, until it does, the data ends or the row
        budget is spent (``fute.methods.training.next_rows``). The last attempt's vector is kept; every attempt is
        on the training report (``attempts``). Warnings of the attempts that were followed by another are dropped."""
        from fute.methods.report import attempt_record, next_rows

        budget = getattr(self.config, "grow_rows", None)
        if budget is None:  # no growth rule: one run, as before the rule existed
            capped = samples.take(self.config.max_examples, self.config.seed)
            self.rows_used_ = len(capped)
            return self._attempt(capped, surrogate, progress)
        rows, attempts = self.config.max_examples, []
        while True:
            start = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                capped = samples.take(rows, self.config.seed)
                vec = self._attempt(capped, surrogate, progress)
            report = getattr(self, "training_", None)
            if report is None:  # a method that does not train: nothing to grow
                break
            attempts.append(attempt_record(report, len(capped), time.perf_counter() - start))
            rows = next_rows(report, len(capped), len(samples), budget)
            if rows is None:
                report.attempts = attempts
                break
        for w in caught:  # the kept attempt's warnings, as if there had been no other
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        self.rows_used_ = len(capped)
        return vec

    def _attempt(self, capped: Samples, surrogate: Surrogate, progress: bool) -> np.ndarray:
        """The vector of exactly these rows, at the config's seed."""
        seed_everything(self.config.seed)
        if capped.task == "qa" and self.reads_text:  # each context cut to the window that holds its answer
            from fute.qa import fit_windows

            capped, windows = fit_windows(capped, surrogate.tokenizer, surrogate.max_length - self.reserved_positions())
            self.windows_.append(windows)
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

    def windows_card(self) -> dict[str, Any] | None:
        """How QA contexts were fitted into the surrogate's window (``fute.qa``), for the card: counts summed over
        an ensemble's members; None for other tasks."""
        runs = [w.as_dict() for w in getattr(self, "windows_", [])]
        if not runs:
            return None
        return {k: sum(r[k] for r in runs) if k in ("rows", "cut", "dropped") else runs[0][k] for k in runs[0]}

    def reserved_positions(self) -> int:
        """Positions of the surrogate's window that the method takes for itself (a soft prompt's): a QA context
        is fitted into the rest."""
        return 0

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
