"""The transfer truth's data: the limited-data regime (``TransferConfig``), the datasets, their training
splits and scored rows, and the leak guard (no source or target trains on a row any target is scored on; texts
compared after normalisation)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fute.errors import ConfigError
from fute.samples import Samples, load_first_split, load_samples

METRIC = {"classification": "accuracy", "regression": "pearson", "qa": "squad_f1"}


@dataclass(frozen=True)
class TransferConfig:
    """The limited-data regime: how much of each dataset the task model sees, and how it trains."""

    model: str = "default"  # the task model's base: the default surrogate's architecture, a hub id or folder
    source_examples: int = 1000
    target_examples: int = 250
    dev_examples: int = 1000  # target rows scored, at most (a seeded sample of the score split)
    source_epochs: float = 2.0
    target_epochs: float = 2.0
    learning_rate: float = 1e-4
    batch_size: int = 32
    max_length: int = 128
    seed: int = 0
    seeds: int = 1  # training runs per job, seeds seed .. seed + seeds - 1; scores are their mean, with an SE
    dev_seed: int | None = None  # the scored rows' draw (default: seed): one set of rows for every training seed
    # which held-out split a target is scored on: "test" (where there is one, else dev or validation) or "dev"
    # (dev, else validation, else test: the first truth's rows); ``dev_examples`` rows of it
    score_split: str = "test"

    def __post_init__(self) -> None:
        # epochs and rate as floats, as the CLI gives them: source_epochs=2 and 2.0 are one job key
        for name in ("source_epochs", "target_epochs", "learning_rate"):
            object.__setattr__(self, name, float(getattr(self, name)))

    def key(self) -> dict[str, Any]:
        """What a job's key reads of the config: every field, but ``score_split`` only where it is not "dev", so
        that jobs made before the field existed (when every target was scored on dev) keep their keys."""
        d = asdict(self)
        if d["score_split"] == "dev":
            del d["score_split"]
        return d

    def finetune(self, epochs: float) -> Any:
        from fute.train import FinetuneConfig

        return FinetuneConfig(
            epochs=epochs,
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            max_length=self.max_length,
            seed=self.seed,
        )

    def base_path(self) -> str:
        from fute.paths import default_surrogate_path

        return str(default_surrogate_path()) if self.model == "default" else self.model


@dataclass(frozen=True)
class Dataset:
    """A dataset of the benchmark: its name, where it is, its class (category), full training size and
    the fingerprint of its training split."""

    name: str
    path: str
    category: str
    train_size: int
    fingerprint: str


def load_datasets(paths: Sequence[str | Path]) -> list[Dataset]:
    """Datasets by path; the name and class come from each folder's ``dataset.json`` (else the path)."""
    from fute.embed import dataset_name

    out = []
    for p in paths:
        s = load_samples(p)
        out.append(
            Dataset(
                dataset_name(s, p),
                str(Path(p).expanduser().resolve()) if Path(p).expanduser().exists() else str(p),
                str(s.info.get("category") or "unknown"),
                len(s),
                s.fingerprint(),
            )
        )
    names = [d.name for d in out]
    if len(set(names)) != len(names):
        dup = ", ".join(sorted({n for n in names if names.count(n) > 1}))
        raise ConfigError(f"two datasets have the same name ({dup}); give each its own dataset.json name")
    for d in out:
        dev_split(d, 1, 0)  # fail now, not in a job an hour later
    if len(out) < 2:
        raise ConfigError("transfer needs at least two datasets (each is a source for the others)")
    return out


def train_split(d: Dataset, n: int, seed: int, held_out: frozenset[str] = frozenset()) -> Samples:
    """``n`` seeded training rows, drawn from the rows whose text is none of ``held_out`` (``normalized``)."""
    return without(load_samples(d.path), held_out)[0].take(n, seed)


def normalized(text: str, pair: str | None = None) -> str:
    """A row's text as duplicates are found: lower case, letters and digits only, single spaces (SST's
    sentences in MR's tokenisation, say, still match)."""
    out = " ".join(re.findall(r"[a-z0-9]+", text.lower()))
    return out if pair is None else out + " || " + " ".join(re.findall(r"[a-z0-9]+", pair.lower()))


def row_texts(samples: Samples) -> list[str]:
    pairs = samples.text_pairs or [None] * len(samples)
    return [normalized(t, p) for t, p in zip(samples.texts, pairs, strict=True)]


def without(samples: Samples, texts: frozenset[str]) -> tuple[Samples, int]:
    """``samples`` less the rows whose normalised text is in ``texts``, and how many were removed."""
    if not texts:
        return samples, 0
    keep = [i for i, t in enumerate(row_texts(samples)) if t not in texts]
    return samples.select(keep), len(samples) - len(keep)


def scored_texts(datasets: Sequence[Dataset], config: TransferConfig) -> frozenset[str]:
    """The normalised texts of every row any target is scored on: no source or target trains on them (SST is
    built from MR's sentences: without this, sst2 and mr each trained on the other's scored rows)."""
    return frozenset(
        t
        for d in datasets
        for t in row_texts(dev_split(d, config.dev_examples, scored_seed(config), config.score_split))
    )


SCORE_SPLITS = {"test": ("test", "dev", "validation"), "dev": ("dev", "validation", "test")}


SCORED = {"test": "held-out (test split, else dev)", "dev": "dev"}  # how a truth's table names the scored rows


def dev_split(d: Dataset, n: int, seed: int, split: str = "dev") -> Samples:
    """The ``n`` seeded rows a target is scored on, from the first of ``SCORE_SPLITS[split]`` it has."""
    if split not in SCORE_SPLITS:
        raise ConfigError(f"score_split must be one of {', '.join(SCORE_SPLITS)}, not '{split}'")
    return load_first_split(d.path, SCORE_SPLITS[split], "to score the target on").take(n, seed)


def scored_seed(config: TransferConfig) -> int:
    return config.seed if config.dev_seed is None else config.dev_seed


# --- jobs ----------------------------------------------------------------------------------------------


def truth_datasets(truth: dict[str, Any]) -> list[Dataset]:
    """The datasets a truth (``truth.json``) was run on, as it recorded them."""
    return [
        Dataset(n, d["path"], d["category"], d["train_size"], d["fingerprint"]) for n, d in truth["datasets"].items()
    ]


def truth_config(truth: dict[str, Any]) -> TransferConfig:
    """The config a truth was run with; one written before ``score_split`` existed scored every target on dev."""
    return TransferConfig(**{"score_split": "dev", **truth["settings"]})


def truth_held_out(truth: dict[str, Any]) -> frozenset[str]:
    """The normalised texts of every row any target of a truth is scored on; a truth across runs (``parts``) scores
    each part's targets as its own run did."""
    datasets = {d.name: d for d in truth_datasets(truth)}
    parts = truth.get("parts") or [{"settings": truth["settings"], "datasets": list(datasets)}]
    return frozenset().union(*(scored_texts([datasets[n] for n in p["datasets"]], truth_config(p)) for p in parts))
