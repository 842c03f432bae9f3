"""The server store: PostgreSQL, for teams that share one store (``--store postgresql://...``).

One table holds every space's vectors (``fute_vectors``: space, slot, name, kind, key, the vector,
its norm, the card as JSONB) and one the dimension of each space (``fute_spaces``), so a space
cannot silently mix dimensions. Each write is one transaction (``INSERT ... ON CONFLICT``), so
concurrent writers from any number of processes or machines neither lose nor corrupt vectors.

Search is exact cosine in SQL. Where the server has the pgvector extension (most managed
PostgreSQL services do), vectors also go into a pgvector ``vector`` column and the search orders
by its ``<=>`` cosine distance, computed in C; without it, vectors are ``real[]`` and the dot
product is an SQL aggregate (correct, slower: docs/scaling.md). No approximate index is
built, because the store promises exact results; docs/scaling.md says how an HNSW index would be added.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np

from fute.errors import StoreError
from fute.space import TaskVector
from fute.store.base import Filter, VectorStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS fute_spaces (space_id text PRIMARY KEY, dim integer NOT NULL);
CREATE TABLE IF NOT EXISTS fute_vectors (
    space_id text NOT NULL REFERENCES fute_spaces, slot text NOT NULL, name text NOT NULL,
    kind text NOT NULL, key text NOT NULL, vector real[] NOT NULL, norm double precision NOT NULL,
    card jsonb NOT NULL, PRIMARY KEY (space_id, slot));
CREATE INDEX IF NOT EXISTS fute_vectors_key ON fute_vectors (space_id, key);
CREATE INDEX IF NOT EXISTS fute_vectors_name ON fute_vectors (name);
"""
PGVECTOR = """
CREATE EXTENSION IF NOT EXISTS vector;
ALTER TABLE fute_vectors ADD COLUMN IF NOT EXISTS embedding vector;
"""


class PostgresStore(VectorStore):
    """Vectors in a PostgreSQL database at ``url`` (``postgresql://user@host:port/db``; the password
    from the URL or ``$PGPASSWORD``). Tables are created on first use. ``pgvector``: None uses the
    extension when the server offers it; False never does."""

    scheme = "postgresql"

    def __init__(self, url: str, *, pgvector: bool | None = None, connect_timeout: float = 10.0) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._want_pgvector = pgvector
        self._conn: Any = None
        self.pgvector = False

    def __repr__(self) -> str:
        return f"PostgresStore({_redact(self.url)!r})"

    @property
    def conn(self) -> Any:
        if self._conn is None:
            try:
                import psycopg
            except ImportError:
                raise StoreError("a postgresql:// store needs psycopg: pip install 'fute[postgres]'") from None
            try:
                self._conn = psycopg.connect(self.url, connect_timeout=int(self.connect_timeout), autocommit=True)
            except psycopg.OperationalError as e:
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise StoreError(
                    f"store {_redact(self.url)}: cannot connect ({first}); is the server running and the URL right?"
                ) from None
            self._setup()
        return self._conn

    def _setup(self) -> None:
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('fute_schema'))")  # concurrent first uses
            cur.execute(SCHEMA)
            if self._want_pgvector is not False:
                cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
                self.pgvector = cur.fetchone() is not None
                if self.pgvector:
                    cur.execute(PGVECTOR)
        if self._want_pgvector and not self.pgvector:
            raise StoreError(f"store {_redact(self.url)}: the server has no pgvector extension")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def spaces(self) -> list[str]:
        rows = self.conn.execute("SELECT DISTINCT space_id FROM fute_vectors ORDER BY space_id").fetchall()
        return [r[0] for r in rows]

    def put(self, vec: TaskVector) -> None:
        self.put_many([vec])

    def put_many(self, vectors: Iterable[TaskVector]) -> None:
        rows = []
        dims: dict[str, int] = {}
        for vec in vectors:
            v = np.asarray(vec.vector, dtype=np.float32)
            if dims.setdefault(vec.space_id, v.size) != v.size:
                raise StoreError(f"space {vec.space_id}: vectors of {dims[vec.space_id]} and {v.size} dimensions")
            rows.append(
                (
                    vec.space_id,
                    f"{vec.kind}:{vec.name}",
                    vec.name,
                    vec.kind,
                    vec.key,
                    v.tolist(),
                    float(np.linalg.norm(v.astype(np.float64))),
                    json.dumps(vec.card.to_dict()),
                )
            )
        if not rows:
            return
        embedding = ", embedding" if self.pgvector else ""
        value = ", %s::real[]::vector" if self.pgvector else ""
        sql = (
            f"INSERT INTO fute_vectors (space_id, slot, name, kind, key, vector, norm, card{embedding}) "
            f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb{value}) ON CONFLICT (space_id, slot) DO UPDATE SET "
            "name = EXCLUDED.name, kind = EXCLUDED.kind, key = EXCLUDED.key, vector = EXCLUDED.vector, "
            f"norm = EXCLUDED.norm, card = EXCLUDED.card{', embedding = EXCLUDED.embedding' if embedding else ''}"
        )
        with self.conn.transaction(), self.conn.cursor() as cur:
            for sid, dim in dims.items():
                cur.execute("INSERT INTO fute_spaces VALUES (%s, %s) ON CONFLICT DO NOTHING", (sid, dim))
                stored = cur.execute("SELECT dim FROM fute_spaces WHERE space_id = %s", (sid,)).fetchone()[0]
                if stored != dim:
                    raise StoreError(
                        f"space {sid} holds {stored}-d vectors, not {dim}-d; the store at "
                        f"{_redact(self.url)} is inconsistent"
                    )
            cur.executemany(sql, [(*r, r[5]) if self.pgvector else r for r in rows])

    def vectors(
        self, space_id: str | None = None, *, name: str | None = None, kind: str | None = None, key: str | None = None
    ) -> list[TaskVector]:
        clauses, params = _where(Filter(name=name, kind=kind, key=key), space_id)
        sql = "SELECT vector, card FROM fute_vectors" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        rows = self.conn.execute(sql, params).fetchall()
        out = [_to_vector(r[0], r[1]) for r in rows]
        return sorted(out, key=lambda v: (v.space_id, v.kind, v.name))

    def search(
        self, query: np.ndarray, space_id: str, *, k: int = 10, kind: str | None = None, name: str | None = None
    ) -> list[tuple[TaskVector, float]]:
        q = np.asarray(query, dtype=np.float32)
        qnorm = float(np.linalg.norm(q.astype(np.float64)))
        clauses, values = _where(Filter(name=name, kind=kind))
        extra = "".join(f" AND {c}" for c in clauses)
        conn = self.conn  # connecting is what tells whether the server has pgvector
        if self.pgvector:
            sql = (
                f"SELECT vector, card, 1 - (embedding <=> %s::real[]::vector) AS cos FROM fute_vectors "
                f"WHERE space_id = %s{extra} ORDER BY embedding <=> %s::real[]::vector LIMIT %s"
            )
            params: tuple = (q.tolist(), space_id, *values, q.tolist(), k)
        else:
            sql = (
                "SELECT vector, card, (SELECT sum(a::float8 * b) FROM unnest(vector, %s::real[]) AS t(a, b)) "
                f"/ NULLIF(norm * %s, 0) AS cos FROM fute_vectors WHERE space_id = %s{extra} "
                "ORDER BY cos DESC NULLS LAST, slot LIMIT %s"
            )
            params = (q.tolist(), qnorm, space_id, *values, k)
        rows = conn.execute(sql, params).fetchall()
        return [(_to_vector(r[0], r[1]), float(r[2] or 0.0)) for r in rows]

    def remove(self, name: str, *, kind: str | None = None, space_id: str | None = None) -> int:
        clauses, params = _where(Filter(name=name, kind=kind), space_id)
        return self.conn.execute("DELETE FROM fute_vectors WHERE " + " AND ".join(clauses), params).rowcount


def _where(f: Filter, space_id: str | None = None) -> tuple[list[str], tuple]:
    """The filter as SQL clauses with bound parameters (values never spliced into the query)."""
    items = f.items() + ([("space_id", space_id)] if space_id else [])
    return [f"{col} = %s" for col, _ in items], tuple(v for _, v in items)


def _to_vector(values: list[float], card: Any) -> TaskVector:
    return TaskVector(np.asarray(values, dtype=np.float32), card if isinstance(card, dict) else json.loads(card))


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
