"""Where fute keeps its files ($FUTE_HOME, default ~/.cache/fute), and how it writes them (atomically)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def fute_home() -> Path:
    return Path(os.environ.get("FUTE_HOME", Path.home() / ".cache" / "fute")).expanduser()


def _umask() -> int:
    mask = os.umask(0o022)  # read once, at import: os.umask can only be read by setting it
    os.umask(mask)
    return mask


UMASK = _umask()


def atomic_write(path: str | Path, write: Callable[[str], object]) -> Path:
    """``write(tmp)`` fills a temporary file beside ``path``, which then replaces ``path`` in one step:
    an interrupted or failed write leaves the earlier file (or none), never half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; a written file gets the mode any other tool gives it
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
