"""The unlabeled corpus U that a model labels to get its task embedding (MTE).

U mixes the inputs of many datasets with their labels dropped. Every row keeps the name of the
dataset it came from, so the datasets under evaluation can always be excluded, and U's fingerprint
goes into every MTE's card.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from fute.errors import DataError, check_at_least
from fute.paths import atomic_write
from fute.samples import load_samples, read_rows  # the same readers and one-line errors


@dataclass(frozen=True, eq=False)
class Corpus:
    """Unlabeled inputs: texts, optional text pairs, and the source dataset of each row."""

    texts: list[str]
    text_pairs: list[str] | None = None
    sources: list[str] = field(default_factory=list)
    name: str = "corpus"

    def __post_init__(self) -> None:
        if not self.texts:
            raise DataError(f"corpus '{self.name}' is empty; build it from at least one dataset")
        if self.text_pairs is not None and len(self.text_pairs) != len(self.texts):
            raise DataError(f"corpus '{self.name}': {len(self.texts)} texts but {len(self.text_pairs)} pairs")
        if self.sources and len(self.sources) != len(self.texts):
            raise DataError(f"corpus '{self.name}': {len(self.texts)} texts but {len(self.sources)} sources")

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def paired(self) -> bool:
        return self.text_pairs is not None

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        pairs = self.text_pairs or [None] * len(self.texts)
        for t, p in zip(self.texts, pairs, strict=True):
            h.update(json.dumps([t, p], ensure_ascii=False).encode())
        return h.hexdigest()

    def excluding(self, names: Iterable[str]) -> Corpus:
        """U without the rows of the named datasets (the ones under evaluation)."""
        drop = set(names)
        keep = [i for i, s in enumerate(self.sources) if s not in drop] if self.sources else list(range(len(self)))
        return self._select(keep)

    def take(self, n: int | None, seed: int) -> Corpus:
        """A seeded subset of at most ``n`` rows in source order (the same draw as ``Samples.take``)."""
        if n is None or len(self) <= n:
            return self
        return self._select(np.sort(np.random.default_rng(seed).choice(len(self), size=n, replace=False)))

    def select(self, idx: Sequence[int]) -> Corpus:
        """The rows at ``idx``, in that order."""
        return self._select(idx)

    def _select(self, idx: Sequence[int]) -> Corpus:
        return Corpus(
            [self.texts[i] for i in idx],
            None if self.text_pairs is None else [self.text_pairs[i] for i in idx],
            [self.sources[i] for i in idx] if self.sources else [],
            self.name,
        )

    def card(self) -> dict:
        counts: dict[str, int] = {}
        for s in self.sources:
            counts[s] = counts.get(s, 0) + 1
        return {
            "name": self.name,
            "fingerprint": self.fingerprint(),
            "size": len(self),
            "paired": self.paired,
            "sources": dict(sorted(counts.items())),
        }

    def save(self, path: str | Path) -> Path:
        """JSONL, one {"text", "text_pair"?, "source"} per row; written atomically."""

        def write(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8") as f:
                for i, t in enumerate(self.texts):
                    row = {"text": t}
                    if self.text_pairs is not None:
                        row["text_pair"] = self.text_pairs[i]
                    if self.sources:
                        row["source"] = self.sources[i]
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")

        return atomic_write(path, write)


def load_corpus(path: str | Path, *, name: str | None = None) -> Corpus:
    """A corpus file (JSONL/CSV/TSV/Parquet with `text`, optional `text_pair`, `source`) or a folder of them."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{path}: no such corpus file or folder; build one with `fute corpus build`")
    files = sorted(f for f in p.iterdir() if f.suffix in (".jsonl", ".csv", ".tsv", ".parquet")) if p.is_dir() else [p]
    texts, pairs, sources = [], [], []
    for f in files:
        for n, r in enumerate(read_rows(f), 1):
            t = r.get("text")
            if not isinstance(t, str) or not t.strip():
                raise DataError(f"{f}: row {n} has no 'text'; a corpus row needs a non-empty text")
            texts.append(t)
            pairs.append(r.get("text_pair"))
            sources.append(str(r.get("source") or f.stem))
    has_pairs = [x is not None for x in pairs]
    if any(has_pairs) and not all(has_pairs):
        raise DataError(f"{path}: some rows have a 'text_pair' and some do not; a corpus is all single or all pairs")
    return Corpus(texts, pairs if all(has_pairs) else None, sources, name or p.stem)


def build_corpus(
    paths: Sequence[str | Path],
    *,
    exclude: Iterable[str] = (),
    size: int | None = 1000,
    pairs: bool = False,
    split: str = "train",
    seed: int = 0,
    name: str = "corpus",
) -> Corpus:
    """Mix the inputs of datasets (labels dropped), excluding the named ones, in equal shares up to ``size``.

    ``pairs=True`` keeps only paired datasets (premise/hypothesis style); otherwise paired datasets
    contribute their first text.
    """
    drop = set(exclude)
    pools: list[tuple[str, list[str], list[str] | None]] = []
    seen = []
    for path in paths:
        samples = load_samples(path, split=split)
        ds_name = samples.short_name
        seen.append(ds_name)
        if ds_name in drop:
            continue
        if pairs and samples.text_pairs is None:
            continue
        pools.append((ds_name, samples.texts, samples.text_pairs if pairs else None))
    unknown = sorted(drop - set(seen))
    if unknown:  # a typo would silently keep the dataset it meant in U
        raise DataError(
            f"--exclude {', '.join(unknown)}: not among the datasets given ({', '.join(seen)}); check the name"
        )
    if not pools:
        raise DataError("no datasets left for the corpus after exclusions" + (" (pairs only)" if pairs else ""))
    rng = np.random.default_rng(seed)
    check_at_least("size", size, 1)
    per = None if size is None else max(1, size // len(pools))
    texts, tpairs, sources = [], [] if pairs else None, []
    for ds_name, ts, ps in pools:
        idx = np.sort(rng.permutation(len(ts))[: per if per is not None else len(ts)])
        texts += [ts[i] for i in idx]
        if tpairs is not None:
            tpairs += [ps[i] for i in idx]
        sources += [ds_name] * len(idx)
    return Corpus(texts, tpairs, sources, name)


# The shipped U's sources whose pairs are a question and a passage: the QA form of U that QA models label
QA_SOURCES = ("qnli", "boolq")


def default_corpus(*, pairs: bool = False, qa: bool = False) -> Corpus:
    """The shipped U: openly licensed text from six public datasets (see data/corpus/NOTICE). ``qa``: its question +
    passage pairs (``QA_SOURCES``), the inputs a QA model reads."""
    from importlib import resources

    name = "pair" if pairs or qa else "single"
    path = Path(str(resources.files("fute") / "data" / "corpus" / f"{name}.jsonl"))
    u = load_corpus(path, name=f"fute-default-{name}")
    if not qa:
        return u
    keep = [i for i, source in enumerate(u.sources) if source in QA_SOURCES]
    return replace(u._select(keep), name="fute-default-qa")
