"""A throwaway PostgreSQL server on loopback, for the server store's tests and for benchmarks that measure it:
Debian's server binaries, a fresh cluster in a temporary folder (trust authentication, a free port), removed when
stopped. Not for production: a real deployment points ``--store postgresql://...`` at its own server."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_postgres() -> tuple[str, Callable[[], None]]:
    """Start a throw-away server (trust auth, 127.0.0.1, a free port): its URL and a function that
    stops and removes it. Needs Debian's postgresql binaries; runs the server as ``postgres`` under root."""
    bin_dir = pg_bin()
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
