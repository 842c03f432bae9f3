"""Task-embedding methods, registered by name: ``get_method("fisher", seed=1)``."""

from __future__ import annotations

from typing import Any

from fute.methods.base import Method, MethodConfig
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


for _cls in (Fisher, PrefixTuning, PromptTuning, TextEmb, DataSize):
    register_method(_cls)

__all__ = [
    "METHODS",
    "DataSize",
    "Fisher",
    "FisherConfig",
    "Method",
    "MethodConfig",
    "PrefixConfig",
    "PrefixTuning",
    "PromptConfig",
    "PromptTuning",
    "TextEmb",
    "get_method",
    "register_method",
]
