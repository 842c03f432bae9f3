"""Nearest task vectors: sources for a dataset, datasets for a model, prompts for a dataset."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from fute.errors import StoreError, check_at_least
from fute.registry import METHODS
from fute.space import TaskVector, check_kind, check_same_space, cosine_scores
from fute.store import VectorStore, open_store


@dataclass
class Ranked:
    vector: TaskVector
    score: float
    rank: int
    origin: str = "store"  # or "catalog": a shipped vector (fute.catalog), not in the user's store
    tied: bool = False  # within the measured seed-to-seed noise of the one above: the two cannot be told apart


SCORE_NOISE = Path(__file__).resolve().parent / "data" / "score_noise.json"


def score_noise(space_id: str) -> tuple[str, float] | None:
    """(method, sd) of a score in this space: how much a score moves with the seed alone, measured by the
    embedding-quality benchmark at a method's default space (``tools/build_score_noise.py``); None for a
    space where it was not measured."""
    if not SCORE_NOISE.is_file():
        return None
    methods = _shipped(SCORE_NOISE, SCORE_NOISE.stat().st_mtime_ns)["methods"]
    return next(((method, float(m["score_sd"])) for method, m in methods.items() if m["space_id"] == space_id), None)


@lru_cache(maxsize=4)
def _shipped(path: Path, mtime: int) -> dict:
    """A shipped JSON file (score noise, transfer evidence), read once per process while it is unchanged (a
    ranking and its table both ask)."""
    import json

    return json.loads(path.read_text())


TRANSFER_EVIDENCE = Path(__file__).resolve().parent / "data" / "transfer_evidence.json"


@dataclass(frozen=True)
class Gain:
    """What training on a source first did to a target, measured (``tools/build_transfer_evidence.py``): points of
    the target's score (the mean over ``seeds`` training seeds), the standard error of that gain, and how many of
    the target's scored rows the source had trained on (a gain on those is not transfer); ``rows``: the target's
    training rows, ``truth``: the truth file it was measured in."""

    points: float
    noise: float
    overlap: int
    seeds: int
    rows: int
    truth: str


def measured_gains(query: TaskVector) -> dict[str, Gain]:
    """Source training-split fingerprint -> the measured gain of that source for the query's data, when the
    transfer benchmark measured it (matched by the fingerprint on the cards, not by name); empty otherwise."""
    if query.kind != "dataset" or not TRANSFER_EVIDENCE.is_file():
        return {}
    ev = _shipped(TRANSFER_EVIDENCE, TRANSFER_EVIDENCE.stat().st_mtime_ns)
    target = query.card.data.fingerprint
    if target not in ev["truth_of"]:
        return {}
    gains, overlap = ev["gain_points"][target], ev["overlap_rows"].get(target, {})
    noise, truth = ev["noise_points"][target], ev["truths"][ev["truth_of"][target]]  # the truth that measured it
    about = (int(truth["seeds"]), int(truth["settings"]["target_examples"]), truth["truth"])
    return {src: Gain(float(g), float(noise[src]), int(overlap.get(src, 0)), *about) for src, g in gains.items()}


def find_query(
    store: VectorStore, name: str, *, kind: str | None = None, space: str | None = None, method: str | None = None
) -> TaskVector:
    """The one stored vector called ``name``; several spaces or kinds must be narrowed down explicitly."""
    found = [v for v in store.vectors(space, name=name, kind=kind) if method is None or v.card.space.method == method]
    if not found:
        raise store.not_found(name, f" (method {method})" if method else "")
    if len({v.space_id for v in found}) > 1:
        spaces = ", ".join(f"{v.space_id} = {v.card.space.describe()}" for v in found)
        raise StoreError(f"'{name}' is in several spaces ({spaces}); choose one with --space or --method")
    if len(found) > 1:
        raise StoreError(f"'{name}' is stored as {', '.join(v.kind for v in found)}; choose one with --query-kind")
    return found[0]


def check_options(*, kind: str | None = None, query_kind: str | None = None, k: int = 10) -> None:
    """A ranking's options, checked before any work (the CLI may embed a file first)."""
    check_kind(kind)
    check_kind(query_kind)
    check_at_least("top (k)", k, 1)


def rank(
    name: str | TaskVector,
    store: str | Path | VectorStore | None = None,
    *,
    kind: str | None = None,
    k: int = 10,
    space: str | None = None,
    method: str | None = None,
    query_kind: str | None = None,
    catalog: Sequence[TaskVector] = (),
    stored: bool = True,
) -> list[Ranked]:
    """The ``k`` stored vectors nearest to ``name`` in its space (itself excluded), best first.

    ``kind`` restricts the candidates (dataset, model, prompt). Cosine for most methods; a method
    with its own rule (``datasize``) scores the candidates itself. ``catalog``: more candidates that are not
    in the store (the shipped catalog's vectors), in the query's space (checked); a stored vector of the same
    name and kind is preferred to a catalog one. ``stored=False`` ranks the ``catalog`` alone (the query is not
    looked up in the store either when it is a vector).
    """
    check_options(kind=kind, query_kind=query_kind, k=k)
    st = open_store(store)
    q = name if isinstance(name, TaskVector) else find_query(st, name, kind=query_kind, space=space, method=method)
    by_cosine = METHODS.trait(q.card.space.method, "score", "cosine") == "cosine"  # read without importing
    extra = [c for c in catalog if kind is None or c.kind == kind]
    for c in extra:
        check_same_space(q, c)
    if not stored:
        hits = []
    elif by_cosine:
        hits = st.search(q.vector, q.space_id, k=k + 1 + len(extra), kind=kind)
    else:
        hits = _scored(q, st.vectors(q.space_id, kind=kind), by_cosine)
    stored = {(v.name, v.kind) for v, _ in hits}
    extra = [c for c in extra if (c.name, c.kind) not in stored]
    scored = [(v, s, "store") for v, s in hits] + [(v, s, "catalog") for v, s in _scored(q, extra, by_cosine)]
    scored.sort(key=lambda t: -t[1])
    scored = [t for t in scored if t[0].key != q.key or t[0].name != q.name or t[0].kind != q.kind][:k]
    noise = score_noise(q.space_id) if by_cosine else None
    return [
        Ranked(v, float(s), i + 1, origin, tied=bool(noise and i and scored[i - 1][1] - s < noise[1]))
        for i, (v, s, origin) in enumerate(scored)
    ]


def _scored(q: TaskVector, cands: list[TaskVector], by_cosine: bool) -> list[tuple[TaskVector, float]]:
    """(candidate, score) by cosine or by the method's own rule (``datasize``: size), best first."""
    if not cands:
        return []
    matrix = np.stack([c.vector for c in cands])
    if by_cosine:
        scores = cosine_scores(q.vector, matrix)
    else:
        scores = METHODS.get_class(q.card.space.method)().scores(q.vector, matrix, [c.card for c in cands])
    return sorted(zip(cands, (float(s) for s in scores), strict=True), key=lambda t: -t[1])
