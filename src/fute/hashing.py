"""The one content hash: every key, id and fingerprint of a JSON-able value goes through here."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any


def content_hash(obj: Any, n: int = 16, *, ascii: bool = True) -> str:
    """First ``n`` hex digits of sha256 over canonical JSON (sorted keys; non-JSON values as ``str``).

    ``ascii=False`` keeps non-ASCII text as UTF-8 instead of escapes (the label cache's keys are made so).
    The same value always gives the same hash, on any machine: stored keys depend on it.
    """
    text = json.dumps(obj, sort_keys=True, default=str, ensure_ascii=ascii)
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def local_files(path: str) -> list[tuple[str, Path]] | None:
    """(name, path) of a file, or of every file under a folder (names relative to it, sorted); None for a path
    that is not here (a hub id or alias: its name is its identity)."""
    p = Path(path).expanduser()
    if not p.exists():
        return None
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
    return [(str(f.relative_to(p)) if f != p else f.name, f) for f in files]


def portable_files_state(path: str) -> list[tuple[str, int, str]] | None:
    """(name, size, sha256) of a file or of every file under a folder; None for a path that is not here (a hub
    id). Unlike modification times, these are the same on every machine that has the same files."""
    files = local_files(path)
    if files is None:
        return None
    out = []
    for name, f in files:
        st = f.stat()
        out.append((name, st.st_size, _file_sha256(str(f), st.st_size, st.st_mtime_ns)))
    return out


@lru_cache(maxsize=256)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """A file's sha256, read once per process while its size and modification time stay the same."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
