"""The embedded default store: LanceDB on local disk, one table per space.

LanceDB commits each write as a new table version (a manifest swap), so a write killed half-way
leaves the last committed version readable and intact. Writers take a file lock, so there is one
writer at a time, across processes too. From the second query of a table version on, a search holds
the space's vectors in memory (reloaded when the version changes, whoever wrote it) and answers with
one exact matrix-vector product; the first one lets LanceDB scan, which is cheaper for a one-off.

A damaged table (a data file or manifest overwritten or cut short, its version folder gone) is one space's
problem: reads over all spaces skip it with a ``DamagedSpaceWarning`` that names it (and record it in
``skipped``, so the CLI can exit 3); reading or writing that space is a one-line error; ``check`` says
what is wrong with each table and ``repair`` restores a table's newest version that reads in full, or sets
the table aside in ``.quarantine/`` when none does. Nothing is ever deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from filelock import FileLock, Timeout

from fute.errors import DamagedSpaceWarning, DamagedTableError, StoreError
from fute.space import TaskVector
from fute.store.base import Filter, TableHealth, VectorStore, sql_literal

# what LanceDB raises on a file it cannot read: "lance error: ..." (RuntimeError, OSError) or, for a data file
# that is not Lance at all, "Invalid input, file does not appear to be a Lance file" (ValueError). Every query
# fute sends is built from escaped literals (``_condition``), so a ValueError while reading an existing table
# is taken as damage; ``fute store check`` then reads it in full and says what is wrong.
_DAMAGE = (RuntimeError, OSError, ValueError)


class _Unsound(RuntimeError):
    """A table that reads, but holds what no put writes (a card that is not JSON, a non-finite vector)."""


QUARANTINE = ".quarantine"


@dataclass
class _Snapshot:
    version: int
    matrix: np.ndarray  # [n, dim] float32, as stored
    norms: np.ndarray
    kinds: np.ndarray
    cards: Any  # pyarrow ChunkedArray of card JSON strings, decoded only for hits


class LocalStore(VectorStore):
    """LanceDB folder at ``path`` (created on first write)."""

    scheme = "file"

    def __init__(self, path: str | Path, *, lock_timeout: float = 60.0) -> None:
        self.path = Path(path).expanduser()
        self.lock_timeout = lock_timeout
        self._db: Any = None
        self._snapshots: dict[str, _Snapshot] = {}
        self._searched: dict[str, int] = {}  # space -> table version of its last scanned query
        self.skipped: dict[str, str] = {}  # space -> why: damaged spaces that reads over all spaces passed over

    def __repr__(self) -> str:
        return f"LocalStore({str(self.path)!r})"

    @property
    def db(self) -> Any:
        if self._db is None:
            import lancedb

            self._make_folder()
            self._db = lancedb.connect(str(self.path))
        return self._db

    def _make_folder(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"{self.path} is a file, not a store folder; give --store a folder (new or a store)")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            why = e.strerror or e
            raise StoreError(f"{self.path}: cannot create the store folder ({why}); give --store another") from None

    def ensure_writable(self) -> None:
        """Fail now, before any compute, if a vector could not be stored here."""
        self._make_folder()
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise StoreError(f"{self.path}: the store folder is not writable; give --store a folder you can write")

    def _lock(self) -> FileLock:
        self._make_folder()
        return FileLock(str(self.path / ".write.lock"), timeout=self.lock_timeout)

    @staticmethod
    def _table_name(space_id: str) -> str:
        return f"space_{space_id}"

    def spaces(self) -> list[str]:
        """Every space with a table folder, including damaged ones (reading those says so)."""
        listed = self._listed()
        on_disk = {p.name.removesuffix(".lance").removeprefix("space_") for p in self.path.glob("space_*.lance")}
        return sorted(set(listed) | on_disk)

    def _listed(self) -> list[str]:
        if not self.path.exists():
            return []
        names: list[str] = []
        token = None
        while True:
            resp = self.db.list_tables(page_token=token) if token else self.db.list_tables()
            names.extend(resp.tables)
            token = getattr(resp, "page_token", None)
            if not token:
                break
        return sorted(n.removeprefix("space_") for n in names if n.startswith("space_"))

    def _folder(self, space_id: str) -> Path:
        return self.path / f"{self._table_name(space_id)}.lance"

    def _table(self, space_id: str) -> Any | None:
        """The space's table; None when it has none; a damaged one is a DamagedTableError (never taken for
        missing, so a write cannot silently start a new table over the old data)."""
        if not self._folder(space_id).exists():
            return None
        with self._reading(space_id):
            try:
                return self.db.open_table(self._table_name(space_id))
            except ValueError as e:  # the folder is there, but LanceDB does not see a table in it
                raise RuntimeError(f"not a readable table: {e}") from None
            except OSError as e:  # no permission, a folder that is a file: name it
                raise RuntimeError(f"{type(e).__name__}: {e.strerror or e}") from None

    @contextlib.contextmanager
    def _reading(self, space_id: str) -> Iterator[None]:
        """LanceDB's errors on an unreadable file, as one line that names the space and says what to do."""
        try:
            yield
        except _DAMAGE as e:
            detail = re.sub(r",\s*/\S+\.rs:\d+:\d+", "", " ".join(str(e).split()))  # one line, no Rust locations
            detail = detail[:300] or type(e).__name__
            raise DamagedTableError(
                f"{self.path}: the table of space {space_id} is damaged ({detail}); `fute store check` says "
                "what is wrong, `fute store repair` restores its last good version or sets it aside",
                space_id,
                detail,
            ) from None

    def put(self, vec: TaskVector) -> None:
        self.put_many([vec])

    def put_many(self, vectors: Iterable[TaskVector]) -> None:
        by_space: dict[str, list[TaskVector]] = {}
        for vec in vectors:
            by_space.setdefault(vec.space_id, []).append(vec)
        try:
            with self._lock():
                for sid, group in by_space.items():
                    self._write(sid, group)
        except Timeout:
            raise StoreError(
                f"{self.path}: another fute process holds the write lock; wait for it or "
                f"remove {self.path / '.write.lock'} if none is running"
            ) from None

    def _write(self, space_id: str, group: list[TaskVector]) -> None:
        """One commit (a new table version) for all of ``group``: readers see all of it or none."""
        dims = {int(v.vector.size) for v in group}
        if len(dims) > 1:
            raise StoreError(f"space {space_id}: vectors of {' and '.join(map(str, sorted(dims)))} dimensions")
        dim = dims.pop()
        last = {f"{v.kind}:{v.name}": v for v in group}  # one row per slot: the last one given wins
        schema = pa.schema(
            [
                ("slot", pa.string()),
                ("name", pa.string()),
                ("kind", pa.string()),
                ("key", pa.string()),
                ("vector", pa.list_(pa.float32(), dim)),
                ("card", pa.string()),
            ]
        )
        rows = pa.table(
            {
                "slot": list(last),
                "name": [v.name for v in last.values()],
                "kind": [v.kind for v in last.values()],
                "key": [v.key for v in last.values()],
                "vector": pa.array(
                    [np.asarray(v.vector, dtype=np.float32) for v in last.values()], type=pa.list_(pa.float32(), dim)
                ),
                "card": [json.dumps(v.card.to_dict()) for v in last.values()],
            },
            schema=schema,
        )
        table = self._table(space_id)
        if table is None:
            self.db.create_table(self._table_name(space_id), data=rows)
            return
        with self._reading(space_id):
            stored_dim = table.schema.field("vector").type.list_size
        if stored_dim != dim:
            raise StoreError(
                f"space {space_id} holds {stored_dim}-d vectors, '{group[0].name}' is {dim}-d; "
                f"the store at {self.path} is inconsistent"
            )
        with self._reading(space_id):
            table.merge_insert("slot").when_matched_update_all().when_not_matched_insert_all().execute(rows)

    def vectors(
        self, space_id: str | None = None, *, name: str | None = None, kind: str | None = None, key: str | None = None
    ) -> list[TaskVector]:
        cond = _condition(Filter(name=name, kind=kind, key=key))

        def read(sid: str, table: Any) -> list[TaskVector]:
            q = table.search()
            return [_to_vector(r) for r in (q.where(cond) if cond else q).limit(None).to_list()]

        out = self._per_space(space_id, read)
        return sorted(out, key=lambda v: (v.space_id, v.kind, v.name))

    def _per_space(self, space_id: str | None, read: Callable[[str, Any], list[TaskVector]]) -> list[TaskVector]:
        """``read(space, table)`` on the one space asked for (damage is a one-line error) or on every space (a
        damaged one is skipped and named: one damaged space does not hide the others)."""
        out: list[TaskVector] = []
        for sid in [space_id] if space_id else self.spaces():
            try:
                table = self._table(sid)
                if table is not None:
                    with self._reading(sid):
                        out.extend(read(sid, table))
            except DamagedTableError as e:
                if space_id:
                    raise
                self._skip(e)
        return out

    def _skip(self, e: DamagedTableError) -> None:
        """Pass over a damaged space in a read over all spaces: record it and warn, naming it and the way out."""
        self.skipped[e.space_id] = e.detail
        warnings.warn(
            f"space {e.space_id}: unreadable ({e.detail}), skipped; `fute store check` says what is wrong, "
            f"`fute store repair` mends it (store {self.path})",
            DamagedSpaceWarning,
            stacklevel=3,
        )

    def search(
        self, query: np.ndarray, space_id: str, *, k: int = 10, kind: str | None = None, name: str | None = None
    ) -> list[tuple[TaskVector, float]]:
        table = self._table(space_id)
        if table is None:
            return []
        with self._reading(space_id):
            return self._search(table, query, space_id, k, kind, name)

    def _search(
        self, table: Any, query: np.ndarray, space_id: str, k: int, kind: str | None, name: str | None
    ) -> list[tuple[TaskVector, float]]:
        version = table.version
        snap = self._snapshots.get(space_id)
        if snap is not None and snap.version != version:
            snap = None  # written since it was loaded (by anyone)
        if name is not None or (snap is None and self._searched.get(space_id) != version):
            # a filter on names, or the first query of this version: LanceDB scans its files, which
            # costs less than loading them into memory for a one-off query (`fute rank` in a shell)
            self._searched[space_id] = version
            q = table.search(np.asarray(query, dtype=np.float32)).distance_type("cosine")
            cond = _condition(Filter(name=name, kind=kind))
            if cond:
                q = q.where(cond, prefilter=True)
            return [(_to_vector(r), 1.0 - float(r["_distance"])) for r in q.limit(k).to_list()]
        if snap is None:
            snap = self._snapshots[space_id] = _load_snapshot(table, version)
        q = np.asarray(query, dtype=np.float32).ravel()
        scores = (snap.matrix @ q) / np.maximum(snap.norms * float(np.linalg.norm(q)), 1e-30)
        if kind is not None:
            scores = np.where(snap.kinds == kind, scores, -np.inf)
        k = min(k, int(np.isfinite(scores).sum()))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [
            (TaskVector(snap.matrix[i].copy(), json.loads(snap.cards[int(i)].as_py())), float(scores[i])) for i in top
        ]

    def remove(self, name: str, *, kind: str | None = None, space_id: str | None = None) -> int:
        cond = _condition(Filter(name=name, kind=kind))
        removed = 0
        with self._lock():
            for sid in [space_id] if space_id else self.spaces():
                table = self._table(sid)
                if table is None:
                    continue
                with self._reading(sid):
                    before = table.count_rows()
                    table.delete(cond)
                    removed += before - table.count_rows()
        return removed

    def history(self, name: str, *, kind: str | None = None, space_id: str | None = None) -> list[TaskVector]:
        """Every version a vector of this name had, oldest first, read from the table's past versions (LanceDB
        keeps them): a vector replaced with ``--overwrite`` stays readable here. Each card's ``extra`` holds
        the ``table_version`` and the ``committed`` time of the version where that content first appeared."""
        cond = _condition(Filter(name=name, kind=kind))
        seen: set[tuple[str, str, str]] = set()

        def read(sid: str, table: Any) -> list[TaskVector]:
            out = []
            for info in sorted(table.list_versions(), key=lambda v: v["version"]):
                table.checkout(info["version"])
                for row in table.search().where(cond).limit(None).to_list():
                    if (sid, row["slot"], row["key"]) not in seen:
                        seen.add((sid, row["slot"], row["key"]))
                        vec = _to_vector(row)
                        vec.card.extra.update(table_version=info["version"], committed=str(info["timestamp"]))
                        out.append(vec)
            table.checkout_latest()
            return out

        return self._per_space(space_id, read)

    # -- health ---------------------------------------------------------------------------------------
    def check(self) -> list[TableHealth]:
        """Each space's table read in full (every row, vector and card): ok, or what is wrong."""
        out = []
        for sid in self.spaces():
            try:
                table = self._table(sid)
                with self._reading(sid):
                    _verify(table)
                    out.append(TableHealth(sid, "ok", f"{table.count_rows()} vectors, version {table.version}"))
            except DamagedTableError as e:
                out.append(TableHealth(sid, "damaged", e.detail))
        return out

    def repair(self) -> list[TableHealth]:
        """Each damaged table: an index that cannot be read is dropped (an index is derived data; fute makes
        none, and its searches need none); else its newest version that reads in full becomes the latest again
        (the versions after it stay on disk); else the table folder is moved to ``.quarantine/``. Nothing is
        deleted. Returns what was done to each; sound tables are left as they are."""
        done = []
        with self._lock():
            for health in self.check():
                if health.status == "ok":
                    continue
                restored = self._restore(health.space_id)
                if restored is not None:
                    done.append(TableHealth(health.space_id, "restored", f"{restored} ({health.detail})"))
                else:
                    where = self._quarantine(health.space_id)
                    done.append(TableHealth(health.space_id, "quarantined", f"moved to {where} ({health.detail})"))
        self._db = None  # reconnect: LanceDB caches what it listed
        self._snapshots.clear()
        return done

    def _restore(self, space_id: str) -> str | None:
        """What made the table read in full again, or None when nothing did."""
        try:
            table = self.db.open_table(self._table_name(space_id))
            versions = sorted((v["version"] for v in table.list_versions()), reverse=True)
        except _DAMAGE:
            return None
        try:
            dropped = _drop_unreadable_indices(table)
            if dropped:
                _verify(table)
                return f"dropped the unreadable index {', '.join(dropped)}"
        except _DAMAGE:
            pass
        for v in versions:
            try:
                table.checkout(v)
                _verify(table)
                table.restore()
                return f"to version {v}"
            except _DAMAGE:
                continue
        return None

    def _quarantine(self, space_id: str) -> Path:
        dest = self.path / QUARANTINE / f"{self._folder(space_id).name}.{time.strftime('%Y%m%dT%H%M%S')}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._folder(space_id).rename(dest)
        return dest


def _verify(table: Any) -> None:
    """Every row reads, every card parses, every vector is finite, and every index answers: a table that reads is
    also one that makes sense and takes writes (a write's merge on ``slot`` goes through an index on it)."""
    data = table.to_arrow()
    for index in table.list_indices():
        _probe(table, index)
    try:
        for card in data.column("card").to_pylist():
            json.loads(card)
    except ValueError as e:
        raise _Unsound(f"a card that is not JSON: {e}") from None
    dim = data.schema.field("vector").type.list_size
    matrix = data.column("vector").combine_chunks().values.to_numpy().reshape(-1, dim)
    if not np.isfinite(matrix).all():
        raise _Unsound("non-finite values in its vectors")


def _probe(table: Any, index: Any) -> None:
    """A lookup through ``index``: it reads the index's files, so a lost or damaged index raises here."""
    table.count_rows(f"{index.columns[0]} = ''")


def _drop_unreadable_indices(table: Any) -> list[str]:
    """Drop each index whose lookup fails; return their names."""
    dropped = []
    for index in table.list_indices():
        try:
            _probe(table, index)
        except _DAMAGE:
            table.drop_index(index.name)
            dropped.append(index.name)
    return dropped


def _condition(f: Filter) -> str:
    """The filter in LanceDB's SQL: equality on escaped literals."""
    return " AND ".join(f"{col} = {sql_literal(value)}" for col, value in f.items())


def _load_snapshot(table: Any, version: int) -> _Snapshot:
    """A table's vectors in memory: an exact cosine query is then one matrix-vector product."""
    data = table.to_arrow().select(["kind", "vector", "card"])
    dim = data.schema.field("vector").type.list_size
    matrix = data.column("vector").combine_chunks().values.to_numpy().reshape(-1, dim)
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))  # float32: ample for a cosine, no 2x copy
    return _Snapshot(version, matrix, norms, data.column("kind").to_numpy(), data.column("card"))


def _to_vector(row: dict[str, Any]) -> TaskVector:
    return TaskVector(np.asarray(row["vector"], dtype=np.float32), json.loads(row["card"]))
