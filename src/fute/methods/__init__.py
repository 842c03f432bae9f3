"""Task-embedding methods, registered by name: ``get_method("fisher", seed=1)``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fute.errors import ConfigError
from fute.methods.base import Method, MethodConfig, OptionInfo, describe_options
from fute.methods.baselines import DataSize, TextEmb
from fute.methods.fisher import Fisher, FisherConfig
from fute.methods.prefix import PrefixConfig, PrefixTuning
from fute.methods.prompt import PromptConfig, PromptTuning
from fute.registry import METHODS


def register_method(cls: type[Method]) -> type[Method]:
    """Make a Method subclass available by its ``name`` (usable as a class decorator by plug-ins)."""
    return METHODS.register(cls)


def get_method(name: str, **options: Any) -> Method:
    """A configured method instance; unknown names and options are one-line errors."""
    return METHODS.create(name, **options)


def method_options(name: str) -> list[OptionInfo]:
    """Every option of method ``name`` (``--option KEY=VALUE``; keyword arguments of ``get_method``): its help,
    type, default, bounds and whether it is part of the space, as declared on its config's fields."""
    return describe_options(METHODS.get_class(name).config_class)


def check_method_options(by_method: Mapping[str, Mapping[str, Any]], rows: str) -> dict[str, dict[str, Any]]:
    """``{method: {option: value}}`` for every embedding a benchmark makes with that method, checked before any
    work: a bad option is one line, and ``max_examples`` is refused, since the benchmark sets the rows (``rows``
    names its own flag for them)."""
    for method, options in by_method.items():
        if "max_examples" in options:
            raise ConfigError(f"{method}: the rows per embedding are {rows}, not option max_examples")
        get_method(method, **options)
    return {m: dict(o) for m, o in by_method.items()}


for _cls in (Fisher, PrefixTuning, PromptTuning, TextEmb, DataSize):
    register_method(_cls)

__all__ = [
    "METHODS",
    "DataSize",
    "Fisher",
    "FisherConfig",
    "Method",
    "MethodConfig",
    "OptionInfo",
    "check_method_options",
    "method_options",
    "PrefixConfig",
    "PrefixTuning",
    "PromptConfig",
    "PromptTuning",
    "TextEmb",
    "get_method",
    "register_method",
]
