"""A real PostgreSQL server for the store tests: Debian's binaries, a throw-away cluster on loopback.

Skipped when PostgreSQL is not installed, unless FUTE_REQUIRE_POSTGRES=1 (``make test`` installs it
and sets that, so CI cannot skip it silently).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from fute.checks import toy_vector

vec = toy_vector  # the package's stand-in vector (fute.checks), under the name these tests use


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_postgres() -> tuple[str, Callable[[], None]]:
    """Start a throw-away server (trust auth, 127.0.0.1, a free port): its URL and a function that
    stops and removes it. Needs Debian's postgresql binaries; runs the server as ``postgres`` under root."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL is not installed; `make postgres` installs Debian's postgresql")
    data = Path(tempfile.mkdtemp(prefix="fute-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data / "db"), "-U", "fute", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off"
    subprocess.run(
        [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-o", opts, "-l", str(data / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )

    def stop() -> None:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(data, ignore_errors=True)

    return f"postgresql://fute@127.0.0.1:{port}", stop


@pytest.fixture(scope="session")
def postgres_server():
    """URL of a fresh server for this session."""
    pytest.importorskip("psycopg")
    if _pg_bin() is None:
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
