"""A damaged store never crashes a command or hides a vector: every kind of damage a disk, a copy or a crash
can make to one space's table, on a real LanceDB store of two spaces, through the CLI's read commands and a new
write. The damaged space is named in one line on stderr and the command exits 3; the intact space works as
before; ``fute store check`` finds the damage and ``fute store repair`` mends it without touching the other."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from fute.cli import EXIT_ERROR, EXIT_SKIPPED
from fute.errors import DamagedSpaceWarning, DamagedTableError
from fute.store import LocalStore
from tests.store.conftest import vec
from tests.store.test_local import _snapshot


def _two_spaces(path: Path) -> LocalStore:
    store = LocalStore(path)
    store.put(vec("a", [1, 0, 0], space="good"))
    store.put(vec("b", [1, 0], space="bad"))
    store.put(vec("c", [0, 1], space="bad"))  # a second version of the bad space
    return store


def _table(path: Path) -> Path:
    return path / "space_bad.lance"


def _manifests(path: Path) -> list[Path]:
    return sorted((_table(path) / "_versions").glob("*.manifest"))


def _newest_manifest(path: Path) -> Path:
    # LanceDB names manifests u64::MAX - version: the newest version has the smallest number
    return min(_manifests(path), key=lambda p: int(p.stem))


def _random_bytes(path: Path) -> None:
    for f in (_table(path) / "data").iterdir():
        f.write_bytes(np.random.default_rng(0).bytes(f.stat().st_size))


def _cut(files: list[Path]) -> None:
    for f in files:
        f.write_bytes(f.read_bytes()[:30])


def _empty_data(path: Path) -> None:
    for f in (_table(path) / "data").iterdir():
        f.unlink()


# name -> (damage, whether reads of the space still work, whether it is sound: reads and writes work)
DAMAGE: dict[str, tuple[Callable[[Path], None], bool, bool]] = {
    "garbage data files": (_random_bytes, False, False),
    "a data file cut short": (
        lambda p: next((_table(p) / "data").iterdir()).write_bytes(b"garbage"),
        False,
        False,
    ),
    "the newest manifest cut short": (lambda p: _cut([_newest_manifest(p)]), False, False),
    "every manifest cut short": (lambda p: _cut(_manifests(p)), False, False),
    "the manifests deleted": (lambda p: [m.unlink() for m in _manifests(p)], False, False),
    "no _versions folder": (lambda p: shutil.rmtree(_table(p) / "_versions"), False, False),
    "no data folder": (lambda p: shutil.rmtree(_table(p) / "data"), False, False),
    "an empty data folder": (_empty_data, False, False),
    # a scalar index on slot (made by another tool; fute makes none): reads scan, but a write merges through it
    "the index deleted": (lambda p: shutil.rmtree(_table(p) / "_indices"), True, False),
    "the transaction log deleted": (lambda p: shutil.rmtree(_table(p) / "_transactions"), True, True),
}


@pytest.fixture(params=list(DAMAGE))
def damaged(request, tmp_path) -> tuple[Path, str, bool, bool]:
    path = tmp_path / "store"
    store = _two_spaces(path)
    if request.param == "the index deleted":
        store.db.open_table("space_bad").create_index("slot")
        assert (_table(path) / "_indices").is_dir()
    damage, readable, sound = DAMAGE[request.param]
    damage(path)
    return path, request.param, readable, sound


def test_read_commands_name_the_damaged_space_and_serve_the_intact_one(damaged, run_cli):
    path, what, readable, sound = damaged
    store = ["--store", str(path)]
    code, out, err = run_cli("list", *store)
    if readable:  # damage that LanceDB does not need to read the table: nothing is skipped
        assert code == 0 and "space bad" in out and "space good" in out and err == "", what
        return
    assert code == EXIT_SKIPPED and "space good" in out and "space bad" not in out, what
    assert err.count("\n") == 1 and "space bad: unreadable (" in err and "fute store repair" in err, (what, err)

    code, out, err = run_cli("show", "a", *store)
    assert code == EXIT_SKIPPED and "a (dataset)" in out and err.count("\n") == 1 and "space bad" in err
    code, out, err = run_cli("show", "b", *store)  # the vector is in the damaged space: said so, no traceback
    assert code == EXIT_ERROR and "no vector named 'b' in the readable spaces (damaged, not read: bad" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 2
    code, out, err = run_cli("rank", "a", "--no-catalog", *store)
    assert code == EXIT_SKIPPED and "nearest to a" in out and "space bad: unreadable" in err


def test_store_check_finds_every_damage(damaged, run_cli):
    path, what, readable, sound = damaged
    code, out, _ = run_cli("store", "check", "--store", str(path))
    if sound:
        assert code == 0 and "0 damaged" in out, what
    else:
        assert code == 1 and "bad: damaged" in out and "good: ok" in out, what


def test_a_new_write_goes_to_the_intact_space_and_never_over_the_damaged_one(damaged):
    path, what, readable, sound = damaged
    store = LocalStore(path)
    store.put(vec("d", [0, 1, 0], space="good"))
    assert [v.name for v, _ in store.search(np.array([1, 0, 0]), "good")] == ["a", "d"]
    if sound:
        store.put(vec("e", [1, 1], space="bad"))
        assert {v.name for v in store.vectors("bad")} == {"b", "c", "e"}
        return
    before = _snapshot(_table(path)) if _table(path).is_dir() else None
    with pytest.raises(DamagedTableError, match="space bad is damaged .*fute store repair"):
        store.put(vec("e", [1, 1], space="bad"))
    assert (_snapshot(_table(path)) if _table(path).is_dir() else None) == before, what  # a refused write: no change
    if not readable:
        with pytest.warns(DamagedSpaceWarning, match="space bad: unreadable"):
            assert [v.name for v in store.vectors()] == ["a", "d"]
        assert list(store.skipped) == ["bad"]


def test_repair_mends_or_sets_aside_each_damage_and_leaves_the_intact_space_alone(damaged, run_cli):
    path, what, readable, sound = damaged
    good = _snapshot(path / "space_good.lance")
    code, repaired, _ = run_cli("store", "repair", "--store", str(path))
    assert code == 0
    if sound:
        assert "nothing to repair" in repaired
    else:
        assert "bad: restored" in repaired or "bad: quarantined" in repaired, (what, repaired)
    assert _snapshot(path / "space_good.lance") == good
    code, out, err = run_cli("list", "--store", str(path))
    assert code == 0 and err == "" and "space good" in out, (what, err)
    code, out, _ = run_cli("store", "check", "--store", str(path))
    assert code == 0 and "0 damaged" in out
    if "bad: restored" in repaired or sound:  # a mended space takes writes again
        LocalStore(path).put(vec("e", [1, 1], space="bad"))
    if what == "the index deleted":  # the index was dropped; no row was lost
        assert {v.name for v in LocalStore(path).vectors("bad")} == {"b", "c", "e"}


def test_a_store_folder_that_is_a_file_is_one_line(tmp_path, run_cli):
    f = tmp_path / "store"
    f.write_text("not a store")
    for args in (["list"], ["show", "a"], ["rank", "a", "--no-catalog"], ["store", "check"]):
        code, _, err = run_cli(*args, "--store", str(f))
        assert code == EXIT_ERROR and "is a file, not a store folder" in err and len(err.strip().splitlines()) == 1


def test_a_space_without_read_permission_is_named_and_skipped(tmp_path):
    """Root reads anything, so the command runs without the capabilities that let it (setpriv), as a user would."""
    path = tmp_path / "store"
    _two_spaces(path)
    os.chmod(_table(path), 0)
    prefix: list[str] = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("setpriv (util-linux) is needed to drop root's file capabilities")
        caps = "-dac_override,-dac_read_search"
        prefix = ["setpriv", "--bounding-set", caps, "--inh-caps", caps]
    fute = [sys.executable, "-m", "fute"]
    try:
        for args in (["list"], ["rank", "a", "--no-catalog"]):
            r = subprocess.run([*prefix, *fute, *args, "--store", str(path)], capture_output=True, text=True)
            assert r.returncode == EXIT_SKIPPED and "a " in r.stdout, r.stderr
            assert "space bad: unreadable" in r.stderr and "Permission" in r.stderr and "Traceback" not in r.stderr
    finally:
        os.chmod(_table(path), 0o755)
