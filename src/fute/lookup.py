"""The one lookup of a stored vector, for both doors (the CLI's jobs and the API): by content key, the space id plus
a hash of the data's fingerprint and the full method config (``fute.space.content_key``), under any name.

Computing a content key needs the surrogate's identity (the sha256 of its weights) and the method's config, so it
loads the model. ``KeyMemo`` remembers, for each job spec (``fute.execute.EmbedSpec.key``: its values and the
name, size and modification time of every file it reads, the surrogate's included), the content key it had, so
that a repeated command finds its vector without importing torch. The memo is also keyed by the state of fute's
own files that define content keys, so a changed model, data file or method code is a miss, never a wrong hit.
This module imports no torch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fute.errors import ConfigError
from fute.hashing import content_hash
from fute.paths import atomic_write, fute_home
from fute.space import TaskVector
from fute.store.base import VectorStore

# the package files whose code defines a content key: a change to any of them empties the memo's view
_KEY_CODE = ("space.py", "hashing.py", "samples.py", "surrogate.py", "methods")


def check_free(store: VectorStore, space_id: str, kind: str, name: str, key: str, *, overwrite: bool) -> None:
    """Nothing stored is replaced unasked: a vector of this name and kind in the space, made from other data
    or options (another job key), is a one-line error unless ``overwrite``."""
    if overwrite:
        return
    for old in store.vectors(space_id, name=name, kind=kind):
        if old.key != key:
            raise ConfigError(
                f"'{name}' ({kind}) is already stored in space {space_id}, made from other data or options "
                f"({old.card.data.source or '?'}); pass --overwrite (overwrite=True) to replace it, "
                "or give another name"
            )


def reuse(
    store: VectorStore, hit: TaskVector, name: str, kind: str, extra_card: Mapping[str, Any] | None = None
) -> TaskVector:
    """A cache hit: the stored vector itself, or a copy of it under another name/kind (its card says so).
    Card fields asked for now (``extra_card``, e.g. a category) that differ from the stored ones are
    updated; the vector is unchanged."""
    extra = dict(extra_card or {})
    same_slot = hit.name == name and hit.kind == kind
    if same_slot and hit.card.replace(**extra) == hit.card:
        return hit
    card = hit.card.replace(name=name, kind=kind, **({} if same_slot else {"copied_from": hit.name}), **extra)
    vec = TaskVector(hit.vector, card)
    store.put(vec)
    return vec


def code_state() -> str:
    """A hash of fute's version and of the name, size and modification time of its files that define content
    keys: what a memo entry is valid for."""
    from fute import __version__
    from fute.hashing import local_files

    root = Path(__file__).resolve().parent
    files = [
        (name, p.stat().st_size, p.stat().st_mtime_ns)
        for part in _KEY_CODE
        for name, p in (local_files(str(root / part)) or [])
        if p.suffix == ".py"
    ]
    return content_hash([__version__, files], 16)


class KeyMemo:
    """Job spec key -> (space id, content key), in ``$FUTE_HOME/content_keys.json`` (written atomically; a file
    that does not parse is taken as empty, since it is only a memo)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else fute_home() / "content_keys.json"
        self._code = code_state()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, spec_key: str) -> tuple[str, str] | None:
        found = self._read().get(f"{self._code}:{spec_key}")
        return (str(found[0]), str(found[1])) if isinstance(found, list) and len(found) == 2 else None

    def put(self, spec_key: str, space_id: str, key: str) -> None:
        data = {k: v for k, v in self._read().items() if k.startswith(f"{self._code}:")}  # drop stale code's
        data[f"{self._code}:{spec_key}"] = [space_id, key]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, lambda tmp: Path(tmp).write_text(json.dumps(data)))
        except OSError:
            pass  # a memo that cannot be written costs the next run a model load, nothing else
