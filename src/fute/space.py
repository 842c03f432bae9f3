"""TaskVector: a vector with the provenance card that says which space it lives in and how it was made."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fute import __version__
from fute.errors import SpaceMismatchError
from fute.hashing import content_hash

if TYPE_CHECKING:  # a leaf: the space and its cards never need torch
    from fute.methods import Method
    from fute.samples import Samples
    from fute.surrogate import SurrogateIdentity

KINDS = ("dataset", "model", "prompt")
CARD_SCHEMA = 2  # 2: "schema", "versions" and, for trained methods, "training"; cards without "schema" are 1


def library_versions() -> dict[str, str | None]:
    """The versions that can change a vector's bits: fute, torch, transformers (read without importing them)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"fute": __version__}
    for pkg in ("torch", "transformers"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def _hash(obj: Any, n: int = 16) -> str:
    return content_hash(obj, n)


def space_card(surrogate: SurrogateIdentity, method: Method) -> dict[str, Any]:
    """What defines a space: the surrogate's identity, the method (and its revision) and its
    coordinate-defining config."""
    card = {"surrogate": surrogate.as_dict(), "method": method.name, "config": method.config.space_dict()}
    if method.revision:
        card["revision"] = method.revision
    return card


def space_id(card: dict[str, Any]) -> str:
    return _hash(card)


def category_of(card: dict[str, Any], default: str = "uncategorised") -> str:
    """The category a vector is shown in: the card's own (``category=`` when embedded), the dataset's,
    or for a prompted LLM the prompt set's name (``sentiment:...`` -> sentiment)."""
    if card.get("category"):
        return str(card["category"])
    if card["kind"] == "dataset":
        return str(card["data"].get("category") or default)
    prompt = (card.get("target") or {}).get("prompt")
    if prompt and ":" in prompt.get("id", ""):
        return prompt["id"].split(":", 1)[0]
    return default


def describe_space(card: dict[str, Any]) -> str:
    """Short human description of a space card: method, surrogate, weights hash prefix."""
    s = card["surrogate"]
    return f"{card['method']} on {s['name']} ({s['weights_sha256'][:8]})"


def content_key(samples: Samples, method: Method, surrogate: SurrogateIdentity) -> tuple[str, str]:
    """(space id, job key) of embedding ``samples``: the one cache key, whichever door (CLI or API) a job
    came in by. It hashes the space (surrogate identity, method, config), the data's fingerprint and the
    full config, so the same data embedded the same way is a cache hit under any name or file."""
    sid = space_id(space_card(surrogate, method))
    return sid, job_key(sid, samples.fingerprint(), method.config.to_dict())


def job_key(space: str, fingerprint: str, config: dict[str, Any]) -> str:
    """Content key of one embedding job: same space, same data, same full config -> same vector."""
    return _hash({"space": space, "data": fingerprint, "config": config}, 32)


@dataclass
class TaskVector:
    """A task embedding and its card (JSON-serialisable provenance)."""

    vector: np.ndarray
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.card["name"]

    @property
    def kind(self) -> str:
        return self.card["kind"]

    @property
    def space_id(self) -> str:
        return self.card["space_id"]

    @property
    def key(self) -> str:
        return self.card["key"]

    def __repr__(self) -> str:
        return f"TaskVector({self.name!r}, kind={self.kind}, space={self.space_id}, dim={self.vector.size})"

    def cosine(self, other: TaskVector) -> float:
        """Cosine similarity; vectors from different spaces raise an error that names both."""
        check_same_space(self, other)
        a, b = self.vector.astype(np.float64), other.vector.astype(np.float64)
        d = np.linalg.norm(a) * np.linalg.norm(b)
        return float(a @ b / d) if d > 0 else 0.0

    def to_json(self) -> str:
        return json.dumps({"vector": self.vector.tolist(), "card": self.card})

    @classmethod
    def from_json(cls, text: str) -> TaskVector:
        d = json.loads(text)
        return cls(np.asarray(d["vector"], dtype=np.float32), d["card"])


def check_same_space(a: TaskVector, b: TaskVector) -> None:
    if a.space_id != b.space_id:
        raise SpaceMismatchError(
            f"'{a.name}' is in space {a.space_id} ({describe_space(a.card['space'])}) but '{b.name}' is in space "
            f"{b.space_id} ({describe_space(b.card['space'])}); embed both with the same surrogate, method and config"
        )


def make_card(
    *,
    name: str,
    kind: str,
    samples: Samples,
    method: Method,
    surrogate: SurrogateIdentity,
    seconds: float,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The provenance card of a new vector."""
    scard = space_card(surrogate, method)
    sid, key = content_key(samples, method, surrogate)
    used = min(len(samples), method.config.max_examples or len(samples))
    fingerprint = samples.fingerprint()
    return {
        "name": name,
        "kind": kind,
        "space_id": sid,
        "key": key,
        "space": scard,
        "method_config": method.config.to_dict(),
        "seed": method.config.seed,
        "data": {
            "source": samples.source,
            "fingerprint": fingerprint,
            "task": samples.task,
            "labels": list(samples.label_names),
            "n_total": len(samples),
            "n_used": used,
            **{k: v for k, v in samples.info.items() if k in ("category", "domain", "license")},
        },
        "schema": CARD_SCHEMA,
        "fute_version": __version__,
        "versions": library_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(seconds, 3),
        **(extra or {}),
    }
