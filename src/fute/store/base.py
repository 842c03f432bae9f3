"""The store interface every backend implements: embedded LanceDB (default) and PostgreSQL."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable

import numpy as np

from fute.errors import StoreError
from fute.space import TaskVector

_SAFE = re.compile(r"^[A-Za-z0-9_.:\- /@+]*$")


def _quote(value: str) -> str:
    if not _SAFE.match(value):
        raise StoreError(f"name {value!r} has characters the store cannot filter on; use letters, digits, _-./:@+")
    return value.replace("'", "''")


class VectorStore(ABC):
    """Task vectors by (space, kind, name): one vector per slot, cosine search within one space."""

    @abstractmethod
    def put(self, vec: TaskVector) -> None:
        """Insert or replace the vector with this vector's space, kind and name, atomically."""

    def put_many(self, vectors: Iterable[TaskVector]) -> None:
        """Insert or replace many vectors (backends override this with one bulk write)."""
        for vec in vectors:
            self.put(vec)

    @abstractmethod
    def vectors(
        self, space_id: str | None = None, *, name: str | None = None, kind: str | None = None, where: str | None = None
    ) -> list[TaskVector]:
        """Stored vectors, filtered by space, name, kind and an optional SQL-like ``where``."""

    @abstractmethod
    def search(
        self, query: np.ndarray, space_id: str, *, k: int = 10, kind: str | None = None, where: str | None = None
    ) -> list[tuple[TaskVector, float]]:
        """Exact cosine search in one space: (vector, cosine) pairs, nearest first."""

    @abstractmethod
    def remove(self, name: str, *, kind: str | None = None, space_id: str | None = None) -> int:
        """Delete vectors by name; returns how many."""

    @abstractmethod
    def spaces(self) -> list[str]:
        """Space ids that hold at least one vector."""

    def find_key(self, space_id: str, key: str) -> TaskVector | None:
        """A stored vector with this job key (the cache lookup), if any."""
        found = self.vectors(space_id, where=f"key = '{key}'")
        return found[0] if found else None


def conditions(*, name: str | None = None, kind: str | None = None, where: str | None = None) -> str:
    """A filter in the SQL both backends understand: quoted name/kind, plus the caller's ``where``."""
    parts = []
    if name is not None:
        parts.append(f"name = '{_quote(name)}'")
    if kind is not None:
        parts.append(f"kind = '{_quote(kind)}'")
    if where:
        parts.append(f"({where})")
    return " AND ".join(parts)
