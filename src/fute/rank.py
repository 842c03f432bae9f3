"""Nearest task vectors: sources for a dataset, datasets for a model, prompts for a dataset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fute.errors import StoreError, check_at_least
from fute.methods import METHODS
from fute.space import TaskVector, check_kind
from fute.store import VectorStore, open_store


@dataclass
class Ranked:
    vector: TaskVector
    score: float
    rank: int


def find_query(
    store: VectorStore, name: str, *, kind: str | None = None, space: str | None = None, method: str | None = None
) -> TaskVector:
    """The one stored vector called ``name``; several spaces or kinds must be narrowed down explicitly."""
    found = [v for v in store.vectors(space, name=name, kind=kind) if method is None or v.card.space.method == method]
    if not found:
        raise StoreError(
            f"no vector named '{name}'"
            + (f" (method {method})" if method else "")
            + "; `fute list` shows what is stored"
        )
    if len({v.space_id for v in found}) > 1:
        spaces = ", ".join(f"{v.space_id} = {v.card.space.describe()}" for v in found)
        raise StoreError(f"'{name}' is in several spaces ({spaces}); choose one with --space or --method")
    if len(found) > 1:
        raise StoreError(f"'{name}' is stored as {', '.join(v.kind for v in found)}; choose one with --query-kind")
    return found[0]


def rank(
    name: str | TaskVector,
    store: str | Path | VectorStore | None = None,
    *,
    kind: str | None = None,
    k: int = 10,
    space: str | None = None,
    method: str | None = None,
    query_kind: str | None = None,
) -> list[Ranked]:
    """The ``k`` stored vectors nearest to ``name`` in its space (itself excluded), best first.

    ``kind`` restricts the candidates (dataset, model, prompt). Cosine for most methods; a method
    with its own rule (``datasize``) scores the candidates itself.
    """
    check_kind(kind)
    check_kind(query_kind)
    check_at_least("top (k)", k, 1)
    st = open_store(store)
    q = name if isinstance(name, TaskVector) else find_query(st, name, kind=query_kind, space=space, method=method)
    method_cls = METHODS.get(q.card.space.method)
    if method_cls is None or method_cls.score == "cosine":
        hits = st.search(q.vector, q.space_id, k=k + 1, kind=kind)
    else:
        cands = st.vectors(q.space_id, kind=kind)
        scores = (
            method_cls().scores(q.vector, np.stack([c.vector for c in cands]), [c.card for c in cands]) if cands else []
        )
        hits = sorted(zip(cands, scores, strict=True), key=lambda t: -t[1])
    hits = [(v, s) for v, s in hits if v.key != q.key or v.name != q.name or v.kind != q.kind][:k]
    return [Ranked(v, float(s), i + 1) for i, (v, s) in enumerate(hits)]
