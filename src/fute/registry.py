"""Plug-ins registered by name (methods, source rankers, prompt selectors): one small mechanism."""

from __future__ import annotations

from typing import Any, TypeVar

from fute.errors import ConfigError

T = TypeVar("T")


class Registry(dict[str, type[T]]):
    """Classes by their ``name``; ``create(name, **options)`` builds one, unknown names are one-line errors."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def register(self, cls: type[T]) -> type[T]:
        """Add ``cls`` under ``cls.name`` (usable as a class decorator); another class of that name is an error."""
        name = cls.name  # type: ignore[attr-defined]
        if name in self and self[name] is not cls:
            raise ConfigError(f"a {self.what} named '{name}' is already registered ({self[name].__name__})")
        self[name] = cls
        return cls

    def create(self, name: str, **options: Any) -> T:
        if name not in self:
            raise ConfigError(f"unknown {self.what} '{name}'; registered: {', '.join(sorted(self))}")
        return self[name](**options)
