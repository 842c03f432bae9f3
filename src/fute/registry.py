"""Plug-ins registered by name: one small mechanism for every kind the design names.

Each kind (methods, targets, stores, executors, rankers, selectors, projections) has one ``Registry``
here. Built-ins are registered *lazily*, by ``"module:Class"`` path, so that listing names (the CLI's
help) imports no torch; the class is imported on first use. A third-party package adds its own without
editing fute, either by calling ``register`` (e.g. ``fute.methods.register_method``) or by declaring an
entry point in the ``fute.plugins`` group, whose object is imported (and called, when it is callable)
the first time any registry is asked for a name:

    [project.entry-points."fute.plugins"]
    my_method = "my_package.fute_plugin:register"
"""

from __future__ import annotations

import importlib
from typing import Any, TypeVar

from fute.errors import ConfigError

T = TypeVar("T")
ENTRY_POINT_GROUP = "fute.plugins"
_plugins_loaded = False


def load_plugins() -> None:
    """Import every ``fute.plugins`` entry point once per process (each registers what it brings)."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            if callable(obj) and not isinstance(obj, type):
                obj()
        except Exception as e:  # a broken plug-in must not break fute: say which, and go on
            import warnings

            warnings.warn(f"plug-in '{ep.name}' ({ep.value}) failed to load: {e}", stacklevel=2)


class Registry(dict[str, type[T]]):
    """Classes by name (their ``key`` attribute, ``name`` by default); ``create(name, **options)`` builds one,
    unknown names are one-line errors that list the registered ones."""

    def __init__(self, what: str, *, key: str = "name") -> None:
        super().__init__()
        self.what = what
        self.key = key
        self._lazy: dict[str, str] = {}
        self._order: list[str] = []  # first declaration order: how tables list the built-ins
        self._traits: dict[str, dict[str, Any]] = {}  # class attributes declared with a lazy entry

    def register(self, cls: type[T]) -> type[T]:
        """Add ``cls`` under its name (usable as a class decorator); another class of that name is an error."""
        name = getattr(cls, self.key)
        if name in self and self[name] is not cls:
            raise ConfigError(f"a {self.what} named '{name}' is already registered ({self[name].__name__})")
        self[name] = cls
        self._lazy.pop(name, None)
        if name not in self._order:
            self._order.append(name)
        return cls

    def register_lazy(self, name: str, path: str, **traits: Any) -> None:
        """Add a class by ``"module:Class"`` path, imported when first asked for; ``traits`` are class
        attributes (e.g. ``uses_labels=False``) that ``names_where`` reads without importing it."""
        self._traits[name] = traits
        if name not in self:
            self._lazy[name] = path
            if name not in self._order:
                self._order.append(name)

    def names(self) -> list[str]:
        """Every registered name, imported or not, sorted."""
        load_plugins()
        return sorted({*self, *self._lazy})

    def in_order(self) -> list[str]:
        """Every registered name in the order it was first declared (built-ins first, as fute lists them)."""
        load_plugins()
        return [n for n in self._order if n in self or n in self._lazy]

    def names_where(self, **traits: Any) -> list[str]:
        """The names, in declaration order, whose class has these attribute values (declared traits are
        read without importing; anything else is imported to be asked)."""
        return [n for n in self.in_order() if all(self.trait(n, k) == v for k, v in traits.items())]

    def trait(self, name: str, key: str, default: Any = None) -> Any:
        """One class attribute of ``name``: declared with its lazy entry (read without importing), else the
        class's own; ``default`` for a name not registered here (a plug-in of another installation)."""
        declared = self._traits.get(name, {})
        if key in declared and name not in self:
            return declared[key]
        try:
            return getattr(self.get_class(name), key, default)
        except ConfigError:
            return default

    def get_class(self, name: str) -> type[T]:
        load_plugins()
        if name not in self and name in self._lazy:
            module, _, attr = self._lazy[name].partition(":")
            self.register(getattr(importlib.import_module(module), attr))
        if name not in self:
            raise ConfigError(f"unknown {self.what} '{name}'; registered: {', '.join(self.names())}")
        return self[name]

    def create(self, name: str, *args: Any, **options: Any) -> T:
        return self.get_class(name)(*args, **options)


def _lazy(registry: Registry, entries: dict[str, str | tuple[str, dict[str, Any]]]) -> Registry:
    for name, entry in entries.items():
        path, traits = (entry, {}) if isinstance(entry, str) else entry
        registry.register_lazy(name, path, **traits)
    return registry


METHODS: Registry[Any] = _lazy(
    Registry("method"),
    {
        "fisher": ("fute.methods.fisher:Fisher", {"uses_labels": True, "score": "cosine"}),
        "prefix": ("fute.methods.prefix:PrefixTuning", {"uses_labels": True, "score": "cosine"}),
        "prompt": ("fute.methods.prompt:PromptTuning", {"uses_labels": True, "score": "cosine"}),
        "textemb": ("fute.methods.baselines:TextEmb", {"uses_labels": False, "score": "cosine"}),
        "datasize": ("fute.methods.baselines:DataSize", {"uses_labels": False, "score": "size"}),
    },
)
TARGETS: Registry[Any] = _lazy(
    Registry("target backend", key="backend"),
    {
        "hf-classifier": "fute.targets.hf_classifier:HFClassifier",
        "hf-qa": "fute.targets.hf_qa:HFQuestionAnswerer",
        "hf-lm": "fute.targets.hf_lm:HFCausalLM",
        "openai": "fute.targets.openai_api:OpenAITarget",
        "callable": "fute.targets.callable:CallableTarget",
        "recorded": "fute.targets.recorded:RecordedTarget",
    },
)
STORES: Registry[Any] = _lazy(
    Registry("store", key="scheme"),
    {"file": "fute.store.local:LocalStore", "postgresql": "fute.store.postgres:PostgresStore"},
)
EXECUTORS: Registry[Any] = _lazy(
    Registry("executor"), {"local": "fute.execute:LocalExecutor", "ray": "fute.execute:RayExecutor"}
)
PROJECTIONS: Registry[Any] = _lazy(
    Registry("projection"),
    {"pca": "fute.viz:PCAProjection", "tsne": "fute.viz:TSNEProjection", "umap": "fute.viz:UMAPProjection"},
)


def _classes(module: str, classes: dict[str, str]) -> dict[str, str]:
    return {name: f"{module}:{cls}" for name, cls in classes.items()}


RANKERS: Registry[Any] = _lazy(
    Registry("ranker"),
    _classes(
        "fute.evaluation.rankers",
        {
            "fute-fisher": "FuteFisher",
            "fute-prompt": "FutePrompt",
            "fute-prefix": "FutePrefix",
            "fute-mte": "FuteMTE",
            "taskemb": "TaskEmbOriginal",
            "tupate": "TuPaTEOriginal",
            "textemb": "TextEmb",
            "logme": "LogME",
            "esm-logme": "ESMLogME",
            "datasize": "DataSize",
            "curvegrad": "CurveGrad",
            "random": "Random",
        },
    ),
)
SELECTORS: Registry[Any] = _lazy(
    Registry("selector"),
    _classes(
        "fute.selectors",
        {
            "mi": "MI",
            "mi-g": "MIG",
            "globale": "GlobalE",
            "locale": "LocalE",
            "zps-log": "ZPSLog",
            "zps-prob": "ZPSProb",
            "zps-vote": "ZPSVote",
            "spell": "SPELL",
            "self-select": "SelfSelect",
            "fute-fisher": "Fute",
            "fute-prompt": "FutePrompt",
            "fute-combined": "FuteCombined",
            "random": "Random",
        },
    ),
)
