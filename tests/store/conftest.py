"""A real PostgreSQL server for the store tests: Debian's binaries, a throw-away cluster on loopback.

Skipped when PostgreSQL is not installed, unless FUTE_REQUIRE_POSTGRES=1 (``make test`` installs it
and sets that, so CI cannot skip it silently).
"""

from __future__ import annotations

import itertools
import os

import pytest

from fute.checks import toy_vector
from fute.store.server import pg_bin, start_postgres

vec = toy_vector  # the package's stand-in vector (fute.checks), under the name these tests use


@pytest.fixture(scope="session")
def postgres_server():
    """URL of a fresh server for this session."""
    pytest.importorskip("psycopg")
    if pg_bin() is None:
        if os.environ.get("FUTE_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is not installed; `make postgres` installs Debian's postgresql")
        pytest.skip("PostgreSQL is not installed (make postgres)")
    url, stop = start_postgres()
    try:
        yield url
    finally:
        stop()


_numbers = itertools.count()


@pytest.fixture
def postgres_url(postgres_server):
    """A new, empty database on the session's server."""
    import psycopg

    name = f"t{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{postgres_server}/{name}"
