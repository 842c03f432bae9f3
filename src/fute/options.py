"""The text forms of options, read the same way wherever they come in (the CLI, the benchmark scripts): ``KEY=VALUE``
pairs, their values, and ``METHOD:KEY=VALUE`` items. Torch-free."""

from __future__ import annotations

from typing import Any

from fute.errors import ConfigError


def parse_value(text: str) -> Any:
    """`--option k=v` values: ints, floats, true/false/none, else the string."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def method_options(option: list[str] | None, max_examples: int | None) -> dict[str, Any]:
    opts = {k: parse_value(v) for k, v in parse_pairs(option, "--option").items()}
    if max_examples is not None:
        opts["max_examples"] = max_examples
    return opts


def options_by_method(option: list[str] | None) -> dict[str, dict[str, Any]]:
    """``METHOD:KEY=VALUE`` items as {method: {key: value}}."""
    out: dict[str, dict[str, Any]] = {}
    for item in option or []:
        method, sep, pair = item.partition(":")
        if not sep or not method.strip():
            raise ConfigError(f"--option '{item}' needs the form METHOD:KEY=VALUE, e.g. fisher:keep_probe=false")
        out.setdefault(method.strip(), {}).update(method_options([pair], None))
    return out


def parse_pairs(items: list[str] | None, what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"{what} '{item}' needs the form KEY=VALUE")
        k, v = (part.strip() for part in item.split("=", 1))
        if not k or not v:
            raise ConfigError(f"{what} '{item}': the {'key' if not k else 'value'} is empty; give KEY=VALUE")
        out[k.replace("-", "_") if what == "--option" else k] = v
    return out
