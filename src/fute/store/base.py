"""The store interface every backend implements (embedded LanceDB now; a server backend later)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from fute.space import TaskVector


class VectorStore(ABC):
    """Task vectors by (space, kind, name): one vector per slot, cosine search within one space."""

    @abstractmethod
    def put(self, vec: TaskVector) -> None:
        """Insert or replace the vector with this vector's space, kind and name, atomically."""

    @abstractmethod
    def vectors(self, space_id: str | None = None, *, name: str | None = None, kind: str | None = None,
                where: str | None = None) -> list[TaskVector]:
        """Stored vectors, filtered by space, name, kind and an optional SQL-like ``where``."""

    @abstractmethod
    def search(self, query: np.ndarray, space_id: str, *, k: int = 10, kind: str | None = None,
               where: str | None = None) -> list[tuple[TaskVector, float]]:
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
