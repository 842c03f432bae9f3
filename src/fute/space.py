"""TaskVector: a vector with the provenance card that says which space it lives in and how it was made."""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from fute import __version__
from fute.errors import ConfigError, SpaceMismatchError
from fute.hashing import content_hash

if TYPE_CHECKING:  # a leaf: the space and its cards never need torch
    from fute.samples import Samples
    from fute.surrogate import SurrogateIdentity

KINDS = ("dataset", "model", "prompt")


def check_kind(kind: str | None) -> None:
    """A kind filter names one of KINDS (None: any); a typo would otherwise match nothing, silently."""
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"unknown kind '{kind}'; use one of {', '.join(KINDS)}")


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


def _known(cls: type, d: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``d`` split into the fields ``cls`` declares and the rest (kept, so a newer fute's card round-trips)."""
    names = {f.name for f in fields(cls)} - {"extra"}
    return {k: v for k, v in d.items() if k in names}, {k: v for k, v in d.items() if k not in names}


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    """Optional entries that are not set are left out of the JSON, as cards always wrote them."""
    return {k: v for k, v in d.items() if v is not None}


@dataclass
class SpaceCard:
    """What defines a space, hashed into its id: the surrogate's identity (name, weights hash, architecture,
    pooling, token limit), the method, its revision (left out while 0) and its coordinate-defining config."""

    method: str
    surrogate: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    revision: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = {"surrogate": self.surrogate, "method": self.method, "config": self.config}
        if self.revision:
            d["revision"] = self.revision
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SpaceCard:
        if isinstance(d, SpaceCard):
            return d
        return cls(d["method"], dict(d["surrogate"]), dict(d.get("config") or {}), int(d.get("revision") or 0))

    @property
    def id(self) -> str:
        return space_id(self)

    def describe(self) -> str:
        """Short human description: method, surrogate, weights hash prefix."""
        weights = str(self.surrogate.get("weights_sha256", ""))[:8]
        return f"{self.method} on {self.surrogate.get('name', '?')} ({weights})"


@dataclass
class DataCard:
    """The samples a vector was made from: their source, content fingerprint, task, label names, rows
    (all, and used after the cap), and what a ``dataset.json`` declares (category, domain, license)."""

    source: str = ""
    fingerprint: str = ""
    task: str = "classification"
    labels: list[str] = field(default_factory=list)
    n_total: int = 0
    n_used: int = 0
    category: str | None = None
    domain: str | None = None
    license: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**_compact(d), **self.extra}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DataCard:
        known, extra = _known(cls, d)
        return cls(**known, extra=extra)


@dataclass
class Card:
    """A vector's provenance card (sentence-transformers' self-describing artifacts, for one vector): enough to
    reproduce it and to know which space it is in. Stored as JSON; ``from_dict`` reads every schema
    (1: before ``schema`` and ``versions``), and keys it does not know are kept in ``extra``.

    ``target`` and ``corpus`` (an MTE: the model's identity, U's card) and ``training`` (how the surrogate
    learned the task) are the plug-ins' own JSON; ``to_dict()`` gives the JSON form.
    """

    name: str
    kind: str
    space_id: str
    key: str
    space: SpaceCard
    data: DataCard = field(default_factory=DataCard)
    method_config: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    schema: int = CARD_SCHEMA
    fute_version: str = ""
    versions: dict[str, str | None] = field(default_factory=dict)
    created: str = ""
    seconds: float = 0.0
    category: str | None = None
    target: dict[str, Any] | None = None
    corpus: dict[str, Any] | None = None
    training: dict[str, Any] | None = None
    job_key: str | None = None
    copied_from: str | None = None
    device: str | None = None  # where it was computed: recorded, not part of the space
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        d["space"], d["data"] = self.space.to_dict(), self.data.to_dict()
        return {**_compact(d), **self.extra}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Card:
        if isinstance(d, Card):
            return d
        known, extra = _known(cls, d)
        known["space"] = SpaceCard.from_dict(known["space"])
        known["data"] = DataCard.from_dict(known.get("data") or {})
        known.setdefault("schema", 1)  # cards written before the schema field
        return cls(**known, extra=extra)

    def replace(self, **changes: Any) -> Card:
        """A copy with ``changes``; names that are not fields go to ``extra``."""
        known, extra = _known(type(self), changes)
        return dataclasses.replace(copy.deepcopy(self), **known, extra={**copy.deepcopy(self.extra), **extra})


class Method(Protocol):
    """What a space and a key read of a method (a ``fute.methods.Method``): its name, revision and config. A
    protocol, so that this module stays a leaf that imports no plug-in."""

    name: str
    revision: int
    config: Any


def space_card(surrogate: SurrogateIdentity, method: Method) -> SpaceCard:
    """What defines a space: the surrogate's identity, the method (and its revision) and its
    coordinate-defining config."""
    return SpaceCard(method.name, surrogate.as_dict(), method.config.space_dict(), method.revision)


def space_id(card: SpaceCard | Mapping[str, Any]) -> str:
    return _hash(SpaceCard.from_dict(card).to_dict())


def category_of(card: Card | Mapping[str, Any], default: str = "uncategorised") -> str:
    """The category a vector is shown in: the card's own (``category=`` when embedded), the dataset's,
    or for a prompted LLM the prompt set's name (``sentiment:...`` -> sentiment)."""
    card = Card.from_dict(card)
    if card.category:
        return str(card.category)
    if card.kind == "dataset":
        return str(card.data.category or default)
    prompt = (card.target or {}).get("prompt")
    if prompt and ":" in prompt.get("id", ""):
        return prompt["id"].split(":", 1)[0]
    return default


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
    """A task embedding and its card (a ``Card``; a dict is read as one)."""

    vector: np.ndarray
    card: Card

    def __post_init__(self) -> None:
        self.card = Card.from_dict(self.card)

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def kind(self) -> str:
        return self.card.kind

    @property
    def space_id(self) -> str:
        return self.card.space_id

    @property
    def key(self) -> str:
        return self.card.key

    def __repr__(self) -> str:
        return f"TaskVector({self.name!r}, kind={self.kind}, space={self.space_id}, dim={self.vector.size})"

    def cosine(self, other: TaskVector) -> float:
        """Cosine similarity; vectors from different spaces raise an error that names both."""
        check_same_space(self, other)
        a, b = self.vector.astype(np.float64), other.vector.astype(np.float64)
        d = np.linalg.norm(a) * np.linalg.norm(b)
        return float(a @ b / d) if d > 0 else 0.0

    def to_json(self) -> str:
        return json.dumps({"vector": self.vector.tolist(), "card": self.card.to_dict()})

    @classmethod
    def from_json(cls, text: str) -> TaskVector:
        d = json.loads(text)
        return cls(np.asarray(d["vector"], dtype=np.float32), d["card"])


def cosine_scores(query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Cosine of ``query`` with each row of ``candidates`` (0 for a zero vector), in float64."""
    q = np.asarray(query, dtype=np.float64)
    c = np.asarray(candidates, dtype=np.float64).reshape(len(candidates), -1)
    denom = np.linalg.norm(c, axis=1) * np.linalg.norm(q)
    return np.where(denom > 0, c @ q / np.where(denom > 0, denom, 1.0), 0.0)


def mean_ranks(row: np.ndarray) -> np.ndarray:
    """0-based ranks of a 1-D array; equal values share their mean rank (scipy's ``rankdata`` - 1)."""
    _, inverse, counts = np.unique(row, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts + 1) / 2)[inverse.ravel()]


def check_same_space(a: TaskVector, b: TaskVector) -> None:
    if a.space_id != b.space_id:
        raise SpaceMismatchError(
            f"'{a.name}' is in space {a.space_id} ({a.card.space.describe()}) but '{b.name}' is in space "
            f"{b.space_id} ({b.card.space.describe()}); embed both with the same surrogate, method and config"
        )


def make_card(
    *,
    name: str,
    kind: str,
    samples: Samples,
    method: Method,
    surrogate: SurrogateIdentity,
    seconds: float,
    extra: Mapping[str, Any] | None = None,
) -> Card:
    """The provenance card of a new vector (``extra``: target, corpus, training, category, job key ...)."""
    sid, key = content_key(samples, method, surrogate)
    info = {k: v for k, v in samples.info.items() if k in ("category", "domain", "license")}
    card = Card(
        name=name,
        kind=kind,
        space_id=sid,
        key=key,
        space=space_card(surrogate, method),
        data=DataCard(
            source=samples.source,
            fingerprint=samples.fingerprint(),
            task=samples.task,
            labels=list(samples.label_names),
            n_total=len(samples),
            n_used=getattr(method, "rows_used_", None) or min(len(samples), method.config.max_examples or len(samples)),
            **info,
        ),
        method_config=method.config.to_dict(),
        seed=method.config.seed,
        fute_version=__version__,
        versions=library_versions(),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        seconds=round(seconds, 3),
    )
    return card.replace(**extra) if extra else card
