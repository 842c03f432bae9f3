"""Store conformance: every backend (embedded LanceDB, PostgreSQL) passes the same checks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from fute.errors import StoreError
from fute.store import LocalStore, open_store
from tests.store.conftest import vec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["local", "postgres"])
def url(request, tmp_path) -> str:
    return str(tmp_path / "store") if request.param == "local" else request.getfixturevalue("postgres_url")


@pytest.fixture
def store(url):
    return open_store(url)


def test_put_get_and_replace(store):
    store.put(vec("a", [1, 0, 0]))
    store.put(vec("b", [0, 1, 0]))
    store.put(vec("a", [0, 0, 1], key="k-new"))  # same slot: replaced, not duplicated
    got = store.vectors("s1", name="a")
    assert len(got) == 1 and got[0].key == "k-new" and got[0].vector.tolist() == [0, 0, 1]
    assert [v.name for v in store.vectors()] == ["a", "b"]
    assert store.find_key("s1", "k-b-s1").name == "b" and store.find_key("s1", "nope") is None
    assert got[0].card == vec("a", [0, 0, 1], key="k-new").card  # the card comes back as it went in


def test_put_many_in_one_write(store):
    store.put_many([vec(f"v{i}", np.eye(4)[i % 4] + i) for i in range(10)] + [vec("w", [1, 2], space="s2")])
    assert len(store.vectors("s1")) == 10 and [v.name for v in store.vectors("s2")] == ["w"]
    np.testing.assert_array_equal(store.vectors("s1", name="v7")[0].vector, np.eye(4)[3] + 7)
    with pytest.raises(StoreError, match="dimensions|-d"):
        store.put_many([vec("x", [1, 2, 3, 4]), vec("y", [1, 2])])


def test_a_space_keeps_its_dimension(store):
    store.put(vec("a", [1, 0, 0]))
    with pytest.raises(StoreError, match="3-d"):
        store.put(vec("b", [1, 0]))
    assert [v.name for v in store.vectors()] == ["a"]


def test_spaces_are_separate(store):
    store.put(vec("a", [1, 0, 0], space="s1"))
    store.put(vec("a", [1, 0], space="s2"))
    assert store.spaces() == ["s1", "s2"]
    assert {v.space_id for v in store.vectors(name="a")} == {"s1", "s2"}


def test_cosine_search_with_filters(store):
    store.put(vec("x", [1, 0, 0]))
    store.put(vec("near", [0.9, 0.1, 0]))
    store.put(vec("far", [0, 0, 1]))
    store.put(vec("m", [1, 0.05, 0], kind="model"))
    hits = store.search(np.array([1, 0, 0]), "s1", k=3, kind="dataset")
    assert [v.name for v, _ in hits] == ["x", "near", "far"]
    assert hits[0][1] == pytest.approx(1.0, abs=1e-6)
    assert hits[1][1] == pytest.approx(0.9 / np.sqrt(0.82), abs=1e-5)
    assert hits[2][1] == pytest.approx(0.0, abs=1e-6)
    assert [v.name for v, _ in store.search(np.array([1, 0, 0]), "s1", kind="model")] == ["m"]
    assert [v.name for v, _ in store.search(np.array([1, 0, 0]), "s1", name="far")] == ["far"]
    assert store.search(np.array([1, 0, 0]), "missing") == []


def test_search_is_exact_on_random_vectors(store):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((200, 16)).astype(np.float32)
    store.put_many([vec(f"r{i}", row) for i, row in enumerate(data)])
    q = rng.standard_normal(16).astype(np.float32)
    cos = data @ q / (np.linalg.norm(data, axis=1) * np.linalg.norm(q))
    for _ in range(3):  # the embedded store answers a first query and later ones differently
        hits = store.search(q, "s1", k=10)
        assert [v.name for v, _ in hits] == [f"r{i}" for i in np.argsort(-cos)[:10]]
        np.testing.assert_allclose([c for _, c in hits], np.sort(cos)[::-1][:10], atol=1e-5)
        np.testing.assert_array_equal(hits[0][0].vector, data[np.argmax(cos)])
    assert [v.name for v, _ in store.search(q, "s1", k=500)] == [f"r{i}" for i in np.argsort(-cos)]


def test_search_sees_every_later_write(store, url):
    store.put(vec("a", [1, 0]))
    assert [v.name for v, _ in store.search(np.array([1, 0]), "s1")] == ["a"]
    store.put(vec("b", [1, 0.1]))
    open_store(url).put(vec("c", [1, 0.01]))  # another writer (another process, as far as store knows)
    store.remove("a")
    assert [v.name for v, _ in store.search(np.array([1, 0]), "s1")] == ["c", "b"]


def test_remove(store):
    store.put(vec("a", [1, 0]))
    store.put(vec("b", [0, 1]))
    store.put(vec("a", [1, 0, 0], space="s2"))
    assert store.remove("a", space_id="s2") == 1
    assert store.remove("a") == 1 and [v.name for v in store.vectors()] == ["b"]


ODD_NAMES = ["critiques-données", "it's", "bad'; DROP TABLE fute_vectors; --", "名前", "100% sure", "a\\b"]


def test_any_name_that_can_be_stored_can_be_found(store):
    """The filter is typed: values are escaped or bound by the backend, never spliced into a query."""
    store.put(vec("plain", [1, 0]))
    for i, name in enumerate(ODD_NAMES):
        store.put(vec(name, [1.0, float(i)], key=f"k{i}"))
    for i, name in enumerate(ODD_NAMES):
        (got,) = store.vectors("s1", name=name)
        assert got.name == name and got.key == f"k{i}" and store.find_key("s1", f"k{i}").name == name
        assert [v.name for v, _ in store.search(np.array([1.0, 0.0]), "s1", name=name)] == [name]
    assert store.remove(ODD_NAMES[2]) == 1
    assert sorted(v.name for v in store.vectors()) == sorted(["plain", *ODD_NAMES[:2], *ODD_NAMES[3:]])


def test_close_releases_the_store(url):
    with open_store(url) as st:
        st.put(vec("a", [1, 0]))
    assert [v.name for v in open_store(url).vectors()] == ["a"]


WRITER = textwrap.dedent("""
    import sys, numpy as np
    from fute.store import open_store
    from tests.store.conftest import vec
    store = open_store(sys.argv[1])
    for i in range(int(sys.argv[3])):
        name = f"{sys.argv[2]}{i}"
        store.put(vec(name, np.random.default_rng(abs(hash(name)) % 2**32).standard_normal(64), key=name))
""")


def test_two_processes_writing_at_once_lose_nothing(url):
    n = 25
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, w, str(n)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        for w in ("p", "q")
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    stored = {v.name: v for v in open_store(url).vectors("s1")}
    assert set(stored) == {f"{w}{i}" for w in "pq" for i in range(n)}
    for name, v in stored.items():
        assert v.key == name and v.vector.shape == (64,) and np.isfinite(v.vector).all()


def test_open_store_by_path_and_url(tmp_path):
    assert isinstance(open_store(tmp_path / "s"), LocalStore)
    assert open_store(f"file://{tmp_path}/s").path == tmp_path / "s"
    assert type(open_store("postgresql://u:secret@h/db")).__name__ == "PostgresStore"
    with pytest.raises(StoreError, match="unsupported URL"):
        open_store("redis://x")
