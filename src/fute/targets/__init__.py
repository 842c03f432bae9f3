"""Target models by backend name; heavy backends import lazily."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fute.errors import ConfigError
from fute.registry import TARGETS
from fute.targets.base import LABEL_SCORES, TEXT_ONLY, TOKEN_LOGPROBS, WORD_LOGPROBS, TargetModel
from fute.targets.callable import CallableTarget

BACKENDS = tuple(TARGETS.names())  # the built-ins and any plug-in


def load_target(
    model: str, *, backend: str = "auto", prompt: Any = None, device: Any = "auto", dtype: Any = "auto", **options: Any
) -> TargetModel:
    """A target by name, the one place targets are built (the CLI's jobs, the API, the benchmarks):
    ``hf-classifier`` (sequence classifier), ``hf-qa`` (extractive QA model), ``hf-lm`` (causal LM + ``prompt``),
    or a served LLM, spelled
    ``MODEL@URL`` everywhere (``openai``: an OpenAI-compatible endpoint + ``prompt``; options ``api``, ...).

    ``recorded:FILE`` is a model's outputs recorded elsewhere (``fute.targets.recorded``). ``auto`` picks openai
    for ``MODEL@URL``, hf-lm when a prompt is given or the model is a .gguf / known LLM alias, else reads the
    model's config to tell a classifier from a QA model or a causal LM. ``device`` and ``dtype`` (``fute.device``)
    go to the backends whose weights are here; a served model ignores them.
    """
    if model.startswith("recorded:"):  # outputs recorded elsewhere (fute.targets.recorded): no model runs here
        if backend not in ("auto", "recorded"):
            raise ConfigError(f"{model} is a recording (recorded backend), not {backend}")
        return TARGETS.get_class("recorded")(model)
    model, url = split_endpoint(model)
    if url:
        if backend not in ("auto", "openai"):
            raise ConfigError(f"{model}@{url} is a served model (openai backend), not {backend}")
        backend, options = "openai", {**options, "base_url": url}
    elif backend == "openai":
        raise ConfigError(f"name the served model as MODEL@URL (e.g. {model}@http://127.0.0.1:8000/v1)")
    if backend == "auto":
        backend = _guess_backend(model, prompt)
    if backend == "callable":
        raise ConfigError("a Python callable is not loaded by name: wrap it in fute.targets.CallableTarget")
    cls = TARGETS.get_class(backend)  # a plug-in by backend name (fute.registry.TARGETS)
    if getattr(cls, "runs_locally", False):
        options = {**options, "device": device, "dtype": dtype}
    if not cls.needs_prompt:
        return cls(model, **options)
    if prompt is None:
        raise ConfigError(f"{model} is a language model ({backend}): give a prompt (--prompt FILE_OR_SET:ID)")
    return cls(model, prompt, **options)


def split_endpoint(llm: str) -> tuple[str, str | None]:
    """``MODEL@URL`` (URL from http:// or https://) names MODEL behind an OpenAI-compatible endpoint, so
    one string can name an LLM wherever a list of them is given; anything else is a local model."""
    m = re.fullmatch(r"(.+?)@(https?://\S+)", llm)
    return (m.group(1), m.group(2)) if m else (llm, None)


def _guess_backend(model: str, prompt: Any) -> str:
    from fute.targets.hf_lm import LLM_PACKAGES

    if prompt is not None or model in LLM_PACKAGES or model.endswith(".gguf"):
        return "hf-lm"
    cfg = Path(model).expanduser() / "config.json"
    if cfg.is_file():
        import json

        try:
            archs = " ".join(json.loads(cfg.read_text()).get("architectures") or [])
        except (ValueError, UnicodeDecodeError, AttributeError) as e:
            why = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
            raise ConfigError(
                f"model '{model}': {cfg} is not a model config (not a JSON object: {why}); restore the folder "
                "from where it came (save_pretrained writes it) or give --backend"
            ) from None
        if "CausalLM" in archs:
            return "hf-lm"
        if "ForQuestionAnswering" in archs:
            return "hf-qa"
    return "hf-classifier"


__all__ = [
    "BACKENDS",
    "LABEL_SCORES",
    "TEXT_ONLY",
    "TOKEN_LOGPROBS",
    "WORD_LOGPROBS",
    "CallableTarget",
    "TargetModel",
    "load_target",
    "split_endpoint",
]
