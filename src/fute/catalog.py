"""The shipped catalog: task vectors of public datasets at the default space, so that a user with one dataset
can rank sources without embedding twenty first (``fute rank my.csv``, ``fute catalog``).

The catalog is one small JSON file (``data/catalog/catalog.json``): the space it was made in, the command that
made it (``tools/build_catalog.py``), the task types it covers (a dataset of another type is not in it, and
``fute catalog`` says so), and per dataset its full card, its vector (float32, base64) and where the
data came from (source and license, from the dataset's ``dataset.json``). A catalog of another space than the
one asked for is refused with the one-line space error, never compared.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fute.errors import ConfigError, SpaceMismatchError
from fute.paths import atomic_write
from fute.space import SpaceCard, TaskVector

CATALOG = Path(__file__).resolve().parent / "data" / "catalog" / "catalog.json"
SCHEMA = 1
TASK_TYPES = ("classification", "regression", "qa")  # what tools/build_catalog.py embeds


@dataclass
class CatalogEntry:
    vector: TaskVector
    origin: dict[str, Any] = field(default_factory=dict)  # source (repo, commit, paths) and license

    @property
    def license(self) -> str:
        return str(self.origin.get("license") or "unknown")


@dataclass
class Catalog:
    space_id: str
    space: SpaceCard
    command: str
    entries: list[CatalogEntry]
    task_types: tuple[str, ...] = TASK_TYPES

    def covers(self, task_type: str) -> bool:
        return task_type in self.task_types

    @property
    def vectors(self) -> list[TaskVector]:
        return [e.vector for e in self.entries]

    def check_space(self, space_id: str, what: str) -> None:
        """Refuse, in one line, to compare ``what`` (of ``space_id``) with a catalog of another space."""
        if space_id != self.space_id:
            raise SpaceMismatchError(
                f"the catalog is in space {self.space_id} ({self.space.describe()}) but {what} is in space "
                f"{space_id}; embed with the defaults, leave the catalog out (--no-catalog), or rebuild it "
                "(python tools/build_catalog.py)"
            )


def load_catalog(path: str | Path | None = None) -> Catalog:
    p = Path(path) if path else CATALOG
    if not p.is_file():
        raise ConfigError(f"{p}: no catalog there; python tools/build_catalog.py builds it")
    try:
        d = json.loads(p.read_text())
        entries = [
            CatalogEntry(TaskVector(_decode(e["vector"]), e["card"]), e.get("origin") or {}) for e in d["vectors"]
        ]
        types = tuple(d.get("task_types") or sorted({e.vector.card.data.task for e in entries}))
        return Catalog(d["space_id"], SpaceCard.from_dict(d["space"]), d.get("command", ""), entries, types)
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{p}: not a fute catalog ({e}); rebuild it with python tools/build_catalog.py") from None


def write_catalog(
    path: str | Path, entries: Sequence[CatalogEntry], command: str, task_types: Sequence[str] = TASK_TYPES
) -> Path:
    """Write (atomically) a catalog of ``entries``, which must share one space and be of ``task_types``."""
    spaces = {e.vector.space_id for e in entries}
    if len(spaces) != 1:
        raise ConfigError(f"a catalog holds one space; these entries are in {len(spaces)}")
    other = sorted({e.vector.name for e in entries if e.vector.card.data.task not in task_types})
    if other:
        raise ConfigError(f"a catalog of {', '.join(task_types)} holds no {', '.join(other)}: another task type")
    first = entries[0].vector.card
    doc = {
        "schema": SCHEMA,
        "space_id": first.space_id,
        "space": first.space.to_dict(),
        "command": command,
        "task_types": list(task_types),
        "vectors": [
            {"card": e.vector.card.to_dict(), "vector": _encode(e.vector.vector), "origin": e.origin}
            for e in sorted(entries, key=lambda e: e.vector.name)
        ],
    }
    return atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(doc, indent=1) + "\n"))


def _encode(v: np.ndarray) -> str:
    return base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode()


def _decode(s: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype="<f4").astype(np.float32)
