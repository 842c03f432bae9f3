"""The PostgreSQL store beyond conformance: connection errors, the real embedding path, the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from fute.embed import embed_samples
from fute.errors import StoreError
from fute.store import open_store
from fute.store.postgres import PostgresStore
from tests.conftest import make_classification


def test_unreachable_server_is_one_clear_error_without_the_password():
    pytest.importorskip("psycopg")
    store = PostgresStore("postgresql://me:hunter2@127.0.0.1:1/db", connect_timeout=2)
    with pytest.raises(StoreError) as err:
        store.vectors()
    text = str(err.value)
    assert "cannot connect" in text and "hunter2" not in text and "me@127.0.0.1:1/db" in text
    assert "\n" not in text


def test_embeddings_go_to_postgres_and_hit_its_cache(postgres_url, tiny):
    data = make_classification(12)
    a = embed_samples(data, "toy", method="textemb", surrogate=tiny, store=postgres_url, progress=False)
    b = embed_samples(data, "toy-again", method="textemb", surrogate=tiny, store=postgres_url, progress=False)
    assert b.card.copied_from == "toy" and np.array_equal(a.vector, b.vector)
    hits = open_store(postgres_url).search(a.vector, a.space_id, k=2)
    assert {v.name for v, _ in hits} == {"toy", "toy-again"} and hits[0][1] == pytest.approx(1.0, abs=1e-6)


def test_cli_lists_and_ranks_from_postgres(postgres_url, tiny, run_cli):
    for seed in (0, 1, 2):
        embed_samples(
            make_classification(12, seed=seed, flip=seed == 2),
            f"d{seed}",
            method="textemb",
            surrogate=tiny,
            store=postgres_url,
            progress=False,
        )
    code, out, _ = run_cli("list", "--store", postgres_url)
    assert code == 0 and all(f"d{s}" in out for s in range(3))
    code, out, _ = run_cli("rank", "d0", "--store", postgres_url)
    assert code == 0 and "d1" in out and "d2" in out
