"""Every store backend (embedded LanceDB, PostgreSQL) passes the package's store checks (fute.checks)."""

from __future__ import annotations

import itertools

import pytest

from fute.checks import STORE_CHECKS, check_store
from fute.errors import StoreError
from fute.store import LocalStore, open_store


@pytest.fixture(params=["local", "postgres"])
def url(request, tmp_path) -> str:
    return str(tmp_path / "store") if request.param == "local" else request.getfixturevalue("postgres_url")


@pytest.mark.parametrize("check", STORE_CHECKS, ids=lambda c: c.__name__)
def test_store_conformance(check, url):
    check(url)


def test_check_store_names_the_failing_check(tmp_path, monkeypatch):
    """A store whose search forgets the kind filter fails check_store, naming the check."""
    real = LocalStore.search
    monkeypatch.setattr(LocalStore, "search", lambda self, q, space, k=10, **f: real(self, q, space, k=k))
    n = itertools.count()
    with pytest.raises(AssertionError, match="check_cosine_search_with_filters"):
        check_store(lambda: str(tmp_path / f"s{next(n)}"))


def test_open_store_by_path_and_url(tmp_path):
    assert isinstance(open_store(tmp_path / "s"), LocalStore)
    assert open_store(f"file://{tmp_path}/s").path == tmp_path / "s"
    assert type(open_store("postgresql://u:secret@h/db")).__name__ == "PostgresStore"
    with pytest.raises(StoreError, match="unsupported URL"):
        open_store("redis://x")
