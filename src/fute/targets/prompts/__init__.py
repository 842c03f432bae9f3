"""Prompts as data: YAML/JSON prompt sets (template + verbalizer), shipped or the user's own.

A set names its labels, its input form (``single``: ``{text}``; ``pair``: ``{premise}`` and
``{hypothesis}``, also spelled ``{text}`` / ``{text_pair}``) and a default verbalizer (label ->
one or more label words); each prompt has an ``id``, a ``type`` (vanilla | cot), a ``template``,
for CoT an ``answer`` line asked after the reasoning, and optionally its own verbalizer.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from fute.errors import ConfigError
from fute.hashing import content_hash

PLACEHOLDERS = {"single": {"text"}, "pair": {"premise", "hypothesis", "text", "text_pair"}}


@dataclass(frozen=True)
class Prompt:
    id: str
    template: str
    verbalizer: dict[str, list[str]]
    labels: tuple[str, ...]
    input: str = "single"
    type: str = "vanilla"
    answer: str = ""
    set_name: str = ""

    @property
    def full_id(self) -> str:
        return f"{self.set_name}:{self.id}" if self.set_name else self.id

    def render(self, text: str, text_pair: str | None = None) -> str:
        if self.input == "pair":
            if text_pair is None:
                raise ConfigError(
                    f"prompt {self.full_id} needs pairs (premise, hypothesis); the corpus has single texts"
                )
            return self.template.format(premise=text, hypothesis=text_pair, text=text, text_pair=text_pair)
        return self.template.format(text=text)

    def card(self) -> dict[str, Any]:
        d = {
            "id": self.full_id,
            "type": self.type,
            "template": self.template,
            "answer": self.answer,
            "verbalizer": self.verbalizer,
            "input": self.input,
        }
        d["sha256"] = content_hash(d, 16)
        return d


@dataclass
class PromptSet:
    name: str
    labels: tuple[str, ...]
    input: str
    prompts: list[Prompt] = field(default_factory=list)
    source: str = ""

    def __getitem__(self, prompt_id: str) -> Prompt:
        for p in self.prompts:
            if p.id == prompt_id:
                return p
        raise ConfigError(f"{self.source}: no prompt '{prompt_id}' (ids: {', '.join(p.id for p in self.prompts)})")

    def __iter__(self):
        return iter(self.prompts)

    def __len__(self) -> int:
        return len(self.prompts)


def chat_messages(turns: list[str]) -> list[dict[str, str]]:
    """Turns of a conversation as chat messages: user, assistant, user, ... (the last asks for the answer)."""
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]


def shipped_prompt_sets() -> list[str]:
    root = resources.files("fute.targets.prompts")
    return sorted(Path(str(f)).stem for f in root.iterdir() if str(f).endswith(".yaml"))


def resolve_prompts(spec: str) -> list[Prompt]:
    """The prompts a ``--prompt`` value names: ``SET_OR_FILE:ID`` one prompt, ``SET_OR_FILE`` every prompt of the
    set (a shipped set's name or a YAML/JSON file)."""
    set_name, _, pid = spec.rpartition(":") if ":" in spec else (spec, "", "")
    pset = load_prompt_set(set_name)
    return [pset[pid]] if pid else list(pset)


def load_prompt_set(name_or_path: str | Path) -> PromptSet:
    """A shipped set by name (``sentiment``, ``nli``) or a YAML/JSON file; every problem is one line."""
    p = Path(name_or_path).expanduser()
    if not p.is_file():
        if str(name_or_path) in shipped_prompt_sets():
            p = Path(str(resources.files("fute.targets.prompts") / f"{name_or_path}.yaml"))
        else:
            raise ConfigError(
                f"{name_or_path}: no such prompt file, and not a shipped set ({', '.join(shipped_prompt_sets())})"
            )
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: not valid YAML/JSON ({str(e).splitlines()[0]})") from None
    return parse_prompt_set(raw, str(p))


def parse_prompt_set(raw: Any, source: str) -> PromptSet:
    if not isinstance(raw, dict) or not isinstance(raw.get("prompts"), list) or not raw["prompts"]:
        raise ConfigError(f"{source}: a prompt set needs 'labels' and a non-empty 'prompts' list")
    labels = raw.get("labels")
    if not isinstance(labels, list) or len(labels) < 2:
        raise ConfigError(f"{source}: 'labels' must list at least two labels")
    labels = tuple(str(x) for x in labels)
    form = raw.get("input", "single")
    if form not in PLACEHOLDERS:
        raise ConfigError(f"{source}: 'input' must be single or pair, not '{form}'")
    name = str(raw.get("name") or Path(source).stem)
    default_verb = raw.get("verbalizer")
    prompts, seen = [], set()
    for n, item in enumerate(raw["prompts"], 1):
        named = isinstance(item, dict) and item.get("id")
        where = f"{source}: prompt {n}" + (f" ('{item['id']}')" if named else "")
        if not isinstance(item, dict) or not item.get("id") or not item.get("template"):
            raise ConfigError(f"{where}: needs an 'id' and a 'template'")
        pid = str(item["id"])
        if pid in seen:
            raise ConfigError(f"{where}: duplicate id '{pid}'")
        seen.add(pid)
        template = str(item["template"])
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        except ValueError as e:
            raise ConfigError(f"{where}: bad template ({e}); write literal braces as {{{{ and }}}}") from None
        unknown = fields - PLACEHOLDERS[form]
        if unknown:
            raise ConfigError(
                f"{where}: unknown placeholder {{{sorted(unknown)[0]}}}; a {form} prompt may use "
                + ", ".join("{" + f + "}" for f in sorted(PLACEHOLDERS[form]))
            )
        if not fields:
            raise ConfigError(f"{where}: the template has no placeholder for the input")
        kind = item.get("type", "vanilla")
        if kind not in ("vanilla", "cot"):
            raise ConfigError(f"{where}: type must be vanilla or cot, not '{kind}'")
        if kind == "cot" and not item.get("answer"):
            raise ConfigError(f"{where}: a cot prompt needs an 'answer' line asked after the reasoning")
        verb = item.get("verbalizer", default_verb)
        prompts.append(
            Prompt(
                pid, template, _verbalizer(verb, labels, where), labels, form, kind, str(item.get("answer", "")), name
            )
        )
    return PromptSet(name, labels, form, prompts, source)


def _verbalizer(verb: Any, labels: tuple[str, ...], where: str) -> dict[str, list[str]]:
    if not isinstance(verb, dict):
        raise ConfigError(f"{where}: missing verbalizer; give label -> label words, for the set or the prompt")
    out = {}
    for label in labels:
        words = verb.get(label)
        if isinstance(words, (str, bool)):
            words = [words]
        if isinstance(words, list) and any(isinstance(w, bool) for w in words):
            raise ConfigError(f"{where}: a label word for '{label}' was read as a boolean; quote it, e.g. \"no\"")
        if not words or not all(isinstance(w, (str, int, float)) and str(w).strip() for w in words):
            raise ConfigError(f"{where}: the verbalizer has no label word for '{label}'")
        out[label] = [str(w) for w in words]
    extra = set(verb) - set(labels)
    if extra:
        raise ConfigError(f"{where}: verbalizer label(s) {', '.join(sorted(map(str, extra)))} are not in 'labels'")
    return out


def label_map(prompt_labels: Sequence[str], data_labels: Sequence[str], where: str) -> list[list[int]]:
    """For each dataset label, the prompt labels whose probabilities it gets: the same name, or, for a
    ``not_X`` label, every prompt label the dataset does not have (entailment vs not_entailment)."""
    out = []
    for d in data_labels:
        if d in prompt_labels:
            out.append([prompt_labels.index(d)])
        elif d.startswith("not_"):
            out.append([i for i, p in enumerate(prompt_labels) if p not in data_labels])
        else:
            raise ConfigError(
                f"{where}: dataset label '{d}' matches none of the prompt labels "
                f"({', '.join(prompt_labels)}); rename it or use a prompt set with that label"
            )
    return out


def collapse(probs: np.ndarray, mapping: list[list[int]]) -> np.ndarray:
    """Label distributions summed into the dataset's labels (``label_map``), renormalised."""
    out = np.stack([probs[:, cols].sum(axis=1) for cols in mapping], axis=1)
    return out / out.sum(axis=1, keepdims=True)
