"""The demo leaves a usable state: it prints the commands that reach its vectors, and they work."""

from __future__ import annotations

import shlex

from fute.demo import next_commands
from tests.store.conftest import vec


def test_the_next_commands_reach_the_demo_store(tmp_path, monkeypatch, run_cli):
    from fute.store import LocalStore

    monkeypatch.setenv("FUTE_HOME", str(tmp_path / "home"))
    store = tmp_path / "home" / "store"
    LocalStore(store).put(vec("sst2", [1, 0]))
    LocalStore(store).put(vec("mr", [1, 0.2]))
    lines = next_commands(None).splitlines()[1:]
    assert all(f"--store {store}" in line for line in lines)
    for line in lines[:2]:  # list and rank: the others write files
        code, out, err = run_cli(*shlex.split(line)[1:])
        assert code == 0 and "sst2" in out and "mr" in out, err
    monkeypatch.delenv("FUTE_HOME")
    assert "--store" not in next_commands(None)  # the default store: the bare commands reach it
