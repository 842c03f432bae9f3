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
