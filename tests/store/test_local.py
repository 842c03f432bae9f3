"""Store conformance (every backend runs these) and the embedded store's crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from fute.errors import StoreError
from fute.space import TaskVector
from fute.store import LocalStore, open_store


def vec(name: str, values, space: str = "s1", kind: str = "dataset", key: str | None = None) -> TaskVector:
    return TaskVector(np.asarray(values, dtype=np.float32),
                      {"name": name, "kind": kind, "space_id": space, "key": key or f"k-{name}-{space}",
                       "space": {"method": "fisher", "surrogate": {"name": "x", "weights_sha256": "0" * 64}},
                       "data": {"category": "c"}})


@pytest.fixture(params=["local"])
def store(request, tmp_path):
    return {"local": lambda: LocalStore(tmp_path / "store")}[request.param]()


def test_put_get_and_replace(store):
    store.put(vec("a", [1, 0, 0]))
    store.put(vec("b", [0, 1, 0]))
    store.put(vec("a", [0, 0, 1], key="k-new"))  # same slot: replaced, not duplicated
    got = store.vectors("s1", name="a")
    assert len(got) == 1 and got[0].key == "k-new" and got[0].vector.tolist() == [0, 0, 1]
    assert [v.name for v in store.vectors()] == ["a", "b"]
    assert store.find_key("s1", "k-b-s1").name == "b" and store.find_key("s1", "nope") is None


def test_spaces_are_separate_tables(store):
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
    assert [v.name for v, _ in store.search(np.array([1, 0, 0]), "s1", kind="model")] == ["m"]
    assert store.search(np.array([1, 0, 0]), "missing") == []


def test_remove(store):
    store.put(vec("a", [1, 0]))
    store.put(vec("b", [0, 1]))
    assert store.remove("a") == 1 and [v.name for v in store.vectors()] == ["b"]


def test_names_with_odd_characters_are_refused(store):
    store.put(vec("ok", [1, 0]))
    with pytest.raises(StoreError, match="characters"):
        store.vectors(name="bad'; drop")


def test_open_store_by_path_and_url(tmp_path):
    assert isinstance(open_store(tmp_path / "s"), LocalStore)
    assert open_store(f"file://{tmp_path}/s").path == tmp_path / "s"
    with pytest.raises(StoreError, match="unsupported URL"):
        open_store("redis://x")


WRITER = textwrap.dedent("""
    import sys, numpy as np
    from fute.store import LocalStore
    from tests.store.test_local import vec
    store = LocalStore(sys.argv[1])
    i = 0
    while True:
        store.put(vec(f"v{i}", np.random.default_rng(i).standard_normal(256)))
        print(i, flush=True)
        i += 1
""")


def test_killed_writer_leaves_committed_vectors_intact(tmp_path):
    path = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    acknowledged = -1
    deadline = time.time() + 120
    while acknowledged < 5 and time.time() < deadline:
        acknowledged = int(proc.stdout.readline())
    time.sleep(0.05 * (acknowledged % 3))  # land somewhere inside a later write
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert acknowledged >= 5
    store = LocalStore(path)
    names = {v.name for v in store.vectors()}
    assert {f"v{i}" for i in range(acknowledged + 1)} <= names
    for v in store.vectors():
        i = int(v.name[1:])
        np.testing.assert_array_equal(v.vector, np.random.default_rng(i).standard_normal(256).astype(np.float32))
    store.put(vec("after", np.ones(256)))  # still writable
    assert "after" in {v.name for v in store.vectors()}


def test_one_writer_at_a_time(tmp_path):
    from filelock import FileLock

    store = LocalStore(tmp_path / "store", lock_timeout=0.2)
    store.put(vec("a", [1, 0]))
    with FileLock(str(tmp_path / "store" / ".write.lock")), pytest.raises(StoreError, match="write lock"):
        store.put(vec("b", [0, 1]))
    assert [v.name for v in store.vectors()] == ["a"]
