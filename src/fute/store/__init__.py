"""Vector stores: ``open_store(url)`` picks the backend (a folder -> LanceDB, ``postgresql://`` -> PostgreSQL)."""

from __future__ import annotations

import os
from pathlib import Path

from fute.errors import StoreError
from fute.paths import fute_home
from fute.registry import STORES
from fute.store.base import VectorStore
from fute.store.local import LocalStore


def default_store_path() -> Path:
    """``$FUTE_STORE``, else ``$FUTE_HOME/store``, else ``~/.cache/fute/store``."""
    if os.environ.get("FUTE_STORE"):
        return Path(os.environ["FUTE_STORE"]).expanduser()
    return fute_home() / "store"


def open_store(url: str | Path | VectorStore | None = None) -> VectorStore:
    """A store by folder path (or ``file://`` URL) or ``postgresql://`` URL; ``None`` gives the default folder."""
    if isinstance(url, VectorStore):
        return url
    if url is None:
        return LocalStore(default_store_path())
    text = str(url)
    scheme = text.split("://", 1)[0] if "://" in text else "file"
    scheme = {"postgres": "postgresql"}.get(scheme, scheme)
    if scheme not in STORES.names():
        raise StoreError(
            f"store '{text}': unsupported URL scheme; give a folder (embedded store) or one of "
            f"{', '.join(s + '://' for s in STORES.names() if s != 'file')}"
        )
    cls = STORES.get_class(scheme)  # a plug-in by URL scheme (fute.registry.STORES)
    return cls(text.removeprefix("file://")) if scheme == "file" else cls(text)


Store = LocalStore

__all__ = ["LocalStore", "Store", "VectorStore", "default_store_path", "open_store"]
