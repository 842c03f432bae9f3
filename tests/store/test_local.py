"""The embedded store: crash safety of LanceDB commits and the one-writer lock."""

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
from fute.store import LocalStore
from tests.store.conftest import vec

WRITER = textwrap.dedent("""
    import sys, numpy as np
    from fute.store import LocalStore
    from tests.store.conftest import vec
    store = LocalStore(sys.argv[1])
    i = 0
    while True:
        store.put(vec(f"v{i}", np.random.default_rng(i).standard_normal(256)))
        print(i, flush=True)
        i += 1
""")


def test_killed_writer_leaves_committed_vectors_intact(tmp_path):
    path = tmp_path / "store"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
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


def _snapshot(folder):
    """Every file under ``folder`` with its bytes: a store compared byte for byte before and after."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _two_spaces(path):
    store = LocalStore(path)
    store.put(vec("a", [1, 0, 0], space="good"))
    store.put(vec("b", [1, 0], space="bad"))
    store.put(vec("c", [0, 1], space="bad"))  # a second version of the bad space
    return store


def _newest_data_file(store, space):
    files = sorted((store.path / f"space_{space}.lance" / "data").iterdir(), key=lambda p: p.stat().st_mtime_ns)
    return files[-1]


def test_a_damaged_table_is_named_and_skipped_and_the_others_keep_working(tmp_path):
    from fute.errors import DamagedTableError

    store = _two_spaces(tmp_path / "s")
    _newest_data_file(store, "bad").write_bytes(b"garbage")
    store = LocalStore(tmp_path / "s")
    with pytest.warns(UserWarning, match="space bad: unreadable .*, skipped; .*fute store repair"):
        assert [v.name for v in store.vectors()] == ["a"]
    with pytest.raises(DamagedTableError, match="space bad is damaged .*fute store repair"):
        store.vectors("bad")
    with pytest.raises(DamagedTableError, match="space bad"):
        store.search(np.array([1, 0]), "bad")
    before = _snapshot(store.path / "space_bad.lance")
    with pytest.raises(DamagedTableError, match="space bad"):
        store.put(vec("d", [1, 1], space="bad"))
    assert _snapshot(store.path / "space_bad.lance") == before  # a refused write changes nothing
    store.put(vec("e", [0, 1, 0], space="good"))  # the other space takes writes
    assert [v.name for v, _ in store.search(np.array([1, 0, 0]), "good")] == ["a", "e"]


def test_a_table_without_its_versions_is_not_silently_recreated(tmp_path):
    from fute.errors import DamagedTableError

    store = _two_spaces(tmp_path / "s")
    import shutil

    shutil.rmtree(store.path / "space_bad.lance" / "_versions")
    store = LocalStore(tmp_path / "s")
    assert store.spaces() == ["bad", "good"]  # still listed, so it is not forgotten
    before = _snapshot(store.path)
    with pytest.raises(DamagedTableError, match="space bad"):
        store.put(vec("d", [1, 1], space="bad"))
    assert _snapshot(store.path) == before


def test_repair_restores_the_newest_version_that_reads(tmp_path):
    store = _two_spaces(tmp_path / "s")
    _newest_data_file(store, "bad").write_bytes(b"garbage")
    store = LocalStore(tmp_path / "s")
    assert [(h.space_id, h.status) for h in store.check()] == [("bad", "damaged"), ("good", "ok")]
    done = store.repair()
    assert [(h.space_id, h.status) for h in done] == [("bad", "restored")] and "version 1" in done[0].detail
    assert [(h.space_id, h.status) for h in store.check()] == [("bad", "ok"), ("good", "ok")]
    assert [v.name for v in store.vectors("bad")] == ["b"]  # the write after version 1 was the damaged one
    assert store.repair() == []


def test_repair_sets_aside_a_table_that_no_version_can_read(tmp_path):
    store = LocalStore(tmp_path / "s")
    store.put(vec("a", [1, 0, 0], space="good"))
    store.put(vec("b", [1, 0], space="bad"))
    _newest_data_file(store, "bad").write_bytes(b"garbage")
    before = _snapshot(store.path / "space_bad.lance")
    done = LocalStore(tmp_path / "s").repair()
    assert [(h.space_id, h.status) for h in done] == [("bad", "quarantined")]
    (kept,) = (store.path / ".quarantine").iterdir()
    assert _snapshot(kept) == before  # moved whole, nothing deleted
    store = LocalStore(tmp_path / "s")
    assert store.spaces() == ["good"] and [v.name for v in store.vectors()] == ["a"]


def test_a_store_that_cannot_take_a_vector_fails_before_any_compute(tmp_path, tiny, monkeypatch):
    from fute.embed import embed_samples
    from fute.methods.baselines import TextEmb
    from tests.conftest import make_classification

    monkeypatch.setattr(TextEmb, "_embed", lambda *a, **k: pytest.fail("computed before the store was checked"))
    (tmp_path / "a-file").write_text("x")
    for where, why in [("a-file", "is a file, not a store folder"), ("a-file/sub", "cannot create the store folder")]:
        with pytest.raises(StoreError, match=why):
            embed_samples(make_classification(8), "v", method="textemb", surrogate=tiny, store=tmp_path / where)
