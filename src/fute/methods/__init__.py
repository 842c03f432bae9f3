"""Task-embedding methods, registered by name: ``get_method("fisher", seed=1)``."""

from __future__ import annotations

from typing import Any

from fute.errors import ConfigError
from fute.methods.base import Method, MethodConfig
from fute.methods.baselines import DataSize, TextEmb
from fute.methods.fisher import Fisher, FisherConfig
from fute.methods.prompt import PromptConfig, PromptTuning

METHODS: dict[str, type[Method]] = {}


def register_method(cls: type[Method]) -> type[Method]:
    """Make a Method subclass available by its ``name`` (usable as a class decorator by plug-ins)."""
    if cls.name in METHODS and METHODS[cls.name] is not cls:
        raise ConfigError(f"a method named '{cls.name}' is already registered ({METHODS[cls.name].__name__})")
    METHODS[cls.name] = cls
    return cls


def get_method(name: str, **options: Any) -> Method:
    """A configured method instance; unknown names and options are one-line errors."""
    if name not in METHODS:
        raise ConfigError(f"unknown method '{name}'; registered: {', '.join(sorted(METHODS))}")
    return METHODS[name](**options)


for _cls in (Fisher, PromptTuning, TextEmb, DataSize):
    register_method(_cls)

__all__ = ["METHODS", "DataSize", "Fisher", "FisherConfig", "Method", "MethodConfig", "PromptConfig",
           "PromptTuning", "TextEmb", "get_method", "register_method"]
