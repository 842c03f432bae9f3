"""The store interface every backend implements: embedded LanceDB (default) and PostgreSQL."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from fute.errors import StoreError
from fute.space import TaskVector


@dataclass(frozen=True)
class Filter:
    """Which vectors: equality on name, kind and job key (``None``: any). A typed filter, not a query string:
    each backend turns it into its own query, with the values escaped or bound there, so any name that can be
    stored can be found, and a backend without SQL needs no SQL parser."""

    name: str | None = None
    kind: str | None = None
    key: str | None = None

    def items(self) -> list[tuple[str, str]]:
        """(column, value) for each field that is set, in a fixed order."""
        return [(f, v) for f in ("name", "kind", "key") if (v := getattr(self, f)) is not None]


@dataclass(frozen=True)
class TableHealth:
    """What ``check`` found, or ``repair`` did, for one space's table: ``status`` is ok, damaged, restored or
    quarantined; ``detail`` says what and where."""

    space_id: str
    status: str
    detail: str = ""


def sql_literal(value: str) -> str:
    """A SQL string literal for an embedded engine that takes no bound parameters (quotes doubled)."""
    if "\x00" in value:
        raise StoreError(f"name {value!r} holds a NUL character, which no store can keep")
    return "'" + value.replace("'", "''") + "'"


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
        self, space_id: str | None = None, *, name: str | None = None, kind: str | None = None, key: str | None = None
    ) -> list[TaskVector]:
        """Stored vectors, filtered by space and by name, kind and job key (``Filter``)."""

    @abstractmethod
    def search(
        self, query: np.ndarray, space_id: str, *, k: int = 10, kind: str | None = None, name: str | None = None
    ) -> list[tuple[TaskVector, float]]:
        """Exact cosine search in one space: (vector, cosine) pairs, nearest first."""

    @abstractmethod
    def remove(self, name: str, *, kind: str | None = None, space_id: str | None = None) -> int:
        """Delete vectors by name; returns how many."""

    @abstractmethod
    def spaces(self) -> list[str]:
        """Space ids that hold at least one vector."""

    def not_found(self, name: str, qualifier: str = "") -> StoreError:
        """The one-line error for a name that no readable space holds; it says when damaged spaces were passed
        over (``skipped``, which a backend that can skip one fills), since the vector may be in one of them."""
        skipped = sorted(getattr(self, "skipped", {}) or ())
        where = (
            f" in the readable spaces (damaged, not read: {', '.join(skipped)}; `fute store repair` mends them)"
            if skipped
            else ""
        )
        return StoreError(f"no vector named '{name}'{qualifier}{where}; `fute list` shows what is stored")

    def find_key(self, space_id: str, key: str) -> TaskVector | None:
        """A stored vector with this job key (the cache lookup), if any."""
        found = self.vectors(space_id, key=key)
        return found[0] if found else None

    def history(self, name: str, *, kind: str | None = None, space_id: str | None = None) -> list[TaskVector]:
        """Every version a vector of this name had, oldest first. A store that keeps no past versions (the
        PostgreSQL store replaces rows in place) gives the current ones."""
        return self.vectors(space_id, name=name, kind=kind)

    def ensure_writable(self) -> None:  # noqa: B027 - a server store answers for itself on the first write
        """Raise a one-line StoreError now if a put would fail (called before any compute)."""

    def check(self) -> list[TableHealth]:
        """Each space's health. A server store keeps its own integrity (transactions, WAL): every space it
        lists reads, so the default reads each one through ``vectors``."""
        out = []
        for sid in self.spaces():
            try:
                out.append(TableHealth(sid, "ok", f"{len(self.vectors(sid))} vectors"))
            except StoreError as e:
                out.append(TableHealth(sid, "damaged", str(e)))
        return out

    def repair(self) -> list[TableHealth]:
        """Make every damaged space readable again without deleting anything; returns what was done.
        A backend with nothing to repair (a server store) does nothing."""
        return []

    def close(self) -> None:  # noqa: B027 - a no-op by default: an embedded store holds nothing open
        """Release what the store holds open (connections); a closed store is not used again."""

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
