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


def model_source(name_or_path: str, what: str) -> str:
    """A model's local folder (``~`` expanded) if it exists, else ``name_or_path`` as a hub id. Something
    that can only be a path (``./x``, ``../x``, ``/x``, ``~/x``, or more than one ``/``) and does not
    exist is a one-line error here, not the hub's "Repo id must use alphanumeric chars"."""
    from fute.errors import ConfigError

    p = Path(name_or_path).expanduser()
    if p.exists():
        return str(p)
    if name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1 or "\\" in name_or_path:
        raise ConfigError(f"{what} '{name_or_path}': no such folder; give an existing folder or a hub id (org/name)")
    return name_or_path
