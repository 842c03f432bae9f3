"""The surrogate base model Θ_T: the one fixed model every task embedding is computed with.

Its identity (name, weights hash, architecture, pooling, token limit, and its precision when that is not
float32) is part of the space id, so vectors computed with different surrogates are never compared by
accident. The device it runs on is not (``fute.device``): it is recorded on each vector's card.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fute.device import dtype_name, resolve_device, resolve_dtype
from fute.errors import ConfigError, check_at_least
from fute.paths import checked_tokenizer, loading, model_source, surrogate_path
from fute.samples import Samples

_CACHE: dict[tuple[str, int, str, str, str], Surrogate] = {}
_TRUNCATION_WARNED: set[tuple[str, int, int, int]] = set()  # (data source, rows, truncated, limit) said once


@dataclass(frozen=True)
class SurrogateIdentity:
    """What makes two surrogates the same: compared by value, hashed into the space id."""

    name: str
    weights_sha256: str
    architecture: str  # encoder | decoder | encoder-decoder
    pooling: str  # cls | mean | last
    max_length: int
    precision: str = "float32"  # what the forward passes compute in (autocast); float32 unless asked

    def as_dict(self) -> dict[str, Any]:
        """The identity as hashed into the space id; ``precision`` only when it is not float32, so that the
        ids of every float32 space stay what they were before precision could be chosen."""
        d = asdict(self)
        if d["precision"] == "float32":
            del d["precision"]
        return d


@dataclass
class Encoded:
    """Tokenized examples (unpadded), plus QA answer token positions where the task has them."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None
    start_positions: list[int] | None = None
    end_positions: list[int] | None = None
    context_spans: list[tuple[int, int]] | None = None  # QA: first and last token of each context
    span_terms: list[list[tuple[int, int, float]]] | None = None  # QA, a model's soft label: (start, end, p) n-best
    truncated: int = 0

    def __len__(self) -> int:
        return len(self.input_ids)


def load_surrogate(
    name: str = "default", *, max_length: int = 128, pooling: str = "auto", device: Any = "auto", dtype: Any = "auto"
) -> Surrogate:
    """Load (once per process and device) a surrogate by alias, hub id or local path."""
    dev = resolve_device(device)
    key = (name, max_length, pooling, str(dev), dtype_name(resolve_dtype(dtype, dev, "surrogate")))
    if key not in _CACHE:
        _CACHE[key] = Surrogate(name, max_length=max_length, pooling=pooling, device=dev, dtype=dtype)
    return _CACHE[key]


def _quiet_transformers() -> None:
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message=".*TRANSFORMERS_CACHE.*")


class Surrogate:
    """A frozen backbone with a tokenizer, pooling and a content-hashed identity.

    Methods never train this object: they take :meth:`trainable_copy` and train that. The backbone lives on
    ``device`` (``auto``: CUDA, then MPS, then the CPU) and computes in ``dtype`` (``auto``: float32, which the
    Fisher needs; bfloat16 or float16 run the forward passes under autocast, with float32 weights, outputs
    and heads, and make another space).
    """

    def __init__(
        self,
        name: str = "default",
        *,
        max_length: int = 128,
        pooling: str = "auto",
        model: nn.Module | None = None,
        tokenizer: Any = None,
        device: Any = "auto",
        dtype: Any = "auto",
    ) -> None:
        _quiet_transformers()
        self.device = resolve_device(device)
        self.precision = resolve_dtype(dtype, self.device, "surrogate")
        if pooling not in ("auto", "cls", "mean", "last"):
            raise ConfigError(f"unknown pooling '{pooling}'; use auto, cls, mean or last")
        check_at_least("max_length (tokens per input)", max_length, 2)  # room for the special tokens
        if model is None:
            path, display = surrogate_path(name)
            model, tokenizer, self.architecture = _load_backbone(path)
        else:
            path = display = name
            self.architecture = _architecture(model.config)
            if self.architecture == "encoder-decoder":
                model = model.get_encoder()
        config = model.config
        self.model = model.to(self.device).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.tokenizer = tokenizer
        if tokenizer.pad_token_id is None:  # GPT-2/Llama style: pad with EOS (pooling ignores padding anyway)
            tokenizer.pad_token = tokenizer.eos_token
        self.name = display
        self.pooling = _auto_pooling(path, self.architecture) if pooling == "auto" else pooling
        limit = min(int(getattr(tokenizer, "model_max_length", max_length) or max_length), max_length)
        n_pos = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        self.max_length = min(limit, n_pos) if n_pos else limit
        self.hidden_size = int(
            getattr(config, "hidden_size", None) or getattr(config, "d_model", None) or config.n_embd
        )
        self._accepts_token_types = "token_type_ids" in inspect.signature(self.model.forward).parameters
        self._identity: SurrogateIdentity | None = None

    # -- identity -------------------------------------------------------------------------------
    @property
    def identity(self) -> SurrogateIdentity:
        if self._identity is None:
            self._identity = SurrogateIdentity(
                self.name,
                weights_hash(self.model),
                self.architecture,
                self.pooling,
                self.max_length,
                dtype_name(self.precision),
            )
        return self._identity

    def __repr__(self) -> str:
        return (
            f"Surrogate({self.name!r}, {self.architecture}, pooling={self.pooling}, max_length={self.max_length}, "
            f"device={self.device}, precision={dtype_name(self.precision)})"
        )

    def trainable_copy(self) -> nn.Module:
        """A deep copy of the backbone with gradients on, for methods that fine-tune it."""
        m = copy.deepcopy(self.model)
        for p in m.parameters():
            p.requires_grad_(True)
        return m

    # -- tokenization ---------------------------------------------------------------------------
    def encode(self, samples: Samples, *, reserve: int = 0) -> Encoded:
        """Tokenize without padding; inputs over the limit (less ``reserve`` slots) are truncated, with one warning
        per data source and limit in a process (not one per loaded model: LogME loads a model per source)."""
        limit = self.max_length - reserve
        pairs = samples.text_pairs
        qa = samples.task == "qa"
        full = self.tokenizer(samples.texts, pairs, truncation=False, add_special_tokens=True)
        too_long = sum(len(ids) > limit for ids in full["input_ids"])
        if too_long or qa:
            kw = {"truncation": "only_second" if qa else "longest_first", "max_length": limit}
            enc = self.tokenizer(samples.texts, pairs, return_offsets_mapping=qa, **kw)
        else:
            enc = full
        said = (samples.where, len(samples), too_long, limit)
        if too_long and said not in _TRUNCATION_WARNED:
            room = f" ({self.max_length} less {reserve} soft-prompt positions)" if reserve else ""
            warnings.warn(
                f"{samples.where}: {too_long} of {len(samples)} inputs are longer than the surrogate's "
                f"limit of {limit} tokens{room} and were truncated",
                stacklevel=2,
            )
            _TRUNCATION_WARNED.add(said)
        tt = enc.get("token_type_ids") if self._accepts_token_types else None
        out = Encoded(
            [list(x) for x in enc["input_ids"]], None if tt is None else [list(x) for x in tt], truncated=too_long
        )
        if qa:
            from fute.qa import answer_positions, context_span, span_terms

            out.start_positions, out.end_positions = answer_positions(enc, samples)
            out.context_spans = [context_span(enc.sequence_ids(i)) for i in range(len(samples))]
            out.span_terms = span_terms(enc, samples)
        return out

    def batches(self, enc: Encoded, batch_size: int, order: np.ndarray) -> Iterator[tuple[np.ndarray, dict]]:
        """Padded batches in the given order, on the surrogate's device; yields (indices, tensors)."""
        pad = self.tokenizer.pad_token_id
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            width = max(len(enc.input_ids[j]) for j in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            types = torch.zeros((len(idx), width), dtype=torch.long) if enc.token_type_ids is not None else None
            for r, j in enumerate(idx):
                n = len(enc.input_ids[j])
                ids[r, :n] = torch.tensor(enc.input_ids[j])
                mask[r, :n] = 1
                if types is not None:
                    types[r, :n] = torch.tensor(enc.token_type_ids[j])
            batch = {"input_ids": ids, "attention_mask": mask}
            if types is not None:
                batch["token_type_ids"] = types
            if enc.start_positions is not None:
                batch["start_positions"] = torch.tensor([enc.start_positions[j] for j in idx])
                batch["end_positions"] = torch.tensor([enc.end_positions[j] for j in idx])
            if enc.span_terms is not None:
                batch.update(soft_spans([enc.span_terms[j] for j in idx]))
            yield idx, {k: v.to(self.device) for k, v in batch.items()}

    @staticmethod
    def length_order(enc: Encoded) -> np.ndarray:
        """Indices sorted by length, so that padded batches waste little compute."""
        return np.argsort([len(x) for x in enc.input_ids], kind="stable")

    # -- forward --------------------------------------------------------------------------------
    def forward(
        self,
        batch: dict[str, torch.Tensor],
        *,
        model: nn.Module | None = None,
        prompt: torch.Tensor | None = None,
        embeds_grad: bool = False,
    ) -> Forward:
        """Run the backbone (or a trained copy) with an optional soft prompt prepended to the input embeddings."""
        model = model or self.model
        ids, mask = batch["input_ids"], batch["attention_mask"]
        embeds = model.get_input_embeddings()(ids)
        if embeds_grad:
            embeds = embeds.detach().requires_grad_(True)
        types = batch.get("token_type_ids")
        n_prompt = 0
        if prompt is not None:
            n_prompt = prompt.shape[0]
            b = ids.shape[0]
            embeds = torch.cat([prompt.unsqueeze(0).expand(b, -1, -1), embeds], dim=1)
            mask = torch.cat([torch.ones((b, n_prompt), dtype=mask.dtype, device=mask.device), mask], dim=1)
            if types is not None:
                types = torch.cat([torch.zeros((b, n_prompt), dtype=types.dtype, device=types.device), types], dim=1)
        kw = {"token_type_ids": types} if types is not None and self._accepts_token_types else {}
        half = self.precision != torch.float32
        with torch.autocast(self.device.type, dtype=self.precision, enabled=half):
            out = model(inputs_embeds=embeds, attention_mask=mask, output_hidden_states=True, **kw)
        # heads, Fisher and prefix read float32 states (the autocast region's outputs are half precision)
        hidden = tuple(h.float() for h in out.hidden_states) if half else out.hidden_states
        pooled = pool(hidden[-1], mask, self.pooling, n_prompt)
        return Forward(hidden, pooled, mask, n_prompt)


@dataclass
class Forward:
    hidden_states: tuple[torch.Tensor, ...]  # L+1 tensors [B, T, H] (embeddings, then each layer)
    pooled: torch.Tensor  # [B, H]
    mask: torch.Tensor  # [B, T], prompt positions included
    n_prompt: int

    @property
    def tokens(self) -> torch.Tensor:
        """Last-layer states of the real tokens (soft-prompt positions dropped)."""
        return self.hidden_states[-1][:, self.n_prompt :]


def pool(states: torch.Tensor, mask: torch.Tensor, mode: str, skip: int = 0) -> torch.Tensor:
    """One vector per example from token states; the first ``skip`` positions (a soft prompt) are ignored."""
    states, mask = states[:, skip:], mask[:, skip:]
    if mode == "cls":
        return states[:, 0]
    if mode == "last":
        last = mask.sum(dim=1) - 1
        return states[torch.arange(states.shape[0], device=states.device), last]
    m = mask.unsqueeze(-1).to(states.dtype)
    return (states * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


class TaskHead(nn.Module):
    """The head a task type needs, trained on the surrogate's outputs.

    classification learns from label *distributions* (soft cross-entropy), so a model's soft labels
    fit as well as gold one-hot labels; regression is a scalar with squared error; QA scores spans.
    """

    def __init__(self, task: str, hidden_size: int, num_labels: int, device: Any = None) -> None:
        super().__init__()
        self.task = task
        self.linear = nn.Linear(hidden_size, num_labels, device=device)

    def log_likelihoods(
        self, fwd: Forward, batch: dict[str, torch.Tensor], targets: torch.Tensor | None
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per-example log-likelihood terms as (weight [B], log p [B]) pairs.

        The loss is -Σ w·log p; the diagonal Fisher expected under the target distribution is
        Σ w·(∇ log p)², one backward pass per term (one term for hard labels, regression and QA).
        """
        if self.task == "classification":
            logp = torch.log_softmax(self.linear(fwd.pooled), dim=-1)
            if bool(((targets == 0) | (targets == 1)).all()):
                return [(torch.ones(len(targets), device=logp.device), (targets * logp).sum(dim=-1))]
            return [(targets[:, c], logp[:, c]) for c in range(targets.shape[1]) if bool((targets[:, c] > 0).any())]
        if self.task == "regression":
            pred = self.linear(fwd.pooled).squeeze(-1)
            return [(torch.ones(len(pred), device=pred.device), -0.5 * (pred - targets) ** 2)]
        valid = fwd.mask[:, fwd.n_prompt :].bool()
        logits = self.linear(fwd.tokens)
        if "span_weights" in batch:  # a model's soft label: a term per n-best span, as a class is for classification
            w, starts, ends = batch["span_weights"], batch["span_starts"], batch["span_ends"]
            return [
                (w[:, k], span_log_likelihood(logits, valid, starts[:, k], ends[:, k]))
                for k in range(w.shape[1])
                if bool((w[:, k] > 0).any())
            ]
        ll = span_log_likelihood(logits, valid, batch["start_positions"], batch["end_positions"])
        return [(torch.ones(len(ll), device=ll.device), ll)]

    def loss(self, fwd: Forward, batch: dict[str, torch.Tensor], targets: torch.Tensor | None) -> torch.Tensor:
        terms = self.log_likelihoods(fwd, batch, targets)
        return -sum((w * ll).sum() for w, ll in terms) / fwd.pooled.shape[0]


def span_log_likelihood(
    logits: torch.Tensor, valid: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor
) -> torch.Tensor:
    """log p(start) + log p(end) of each row's answer span: logits [B, T, 2] over the valid tokens [B, T]."""
    logits = logits.masked_fill(~valid.unsqueeze(-1), torch.finfo(logits.dtype).min)
    logp = torch.log_softmax(logits, dim=1)
    rows = torch.arange(logits.shape[0], device=logits.device)
    return logp[rows, starts, 0] + logp[rows, ends, 1]


def soft_spans(terms: list[list[tuple[int, int, float]]]) -> dict[str, torch.Tensor]:
    """Rows' n-best spans (``Encoded.span_terms``) as [rows, k] tensors of start, end and weight (0 pads a row with
    fewer spans)."""
    k = max(len(t) for t in terms)
    padded = [t + [(0, 0, 0.0)] * (k - len(t)) for t in terms]
    return {
        "span_starts": torch.tensor([[s for s, _, _ in t] for t in padded]),
        "span_ends": torch.tensor([[e for _, e, _ in t] for t in padded]),
        "span_weights": torch.tensor([[w for _, _, w in t] for t in padded], dtype=torch.float32),
    }


def weights_hash(model: nn.Module) -> str:
    """sha256 of every tensor in the state dict (names, shapes, dtypes, bytes), in name order."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _load_backbone(path: str) -> tuple[nn.Module, Any, str]:
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    source = model_source(path, "surrogate")
    with loading("surrogate", path):
        config = AutoConfig.from_pretrained(source)
        tokenizer = checked_tokenizer(AutoTokenizer.from_pretrained(source))
        architecture = _architecture(config)
        if architecture == "encoder-decoder":
            from transformers import T5EncoderModel

            model = (
                T5EncoderModel.from_pretrained(source)
                if config.model_type in ("t5", "mt5", "umt5")
                else AutoModel.from_pretrained(source).get_encoder()
            )
        else:
            model = AutoModel.from_pretrained(source)
    return model, tokenizer, architecture


def _architecture(config: Any) -> str:
    if getattr(config, "is_encoder_decoder", False):
        return "encoder-decoder"
    return "decoder" if _is_decoder(config) else "encoder"


def _is_decoder(config: Any) -> bool:
    archs = " ".join(getattr(config, "architectures", None) or [])
    return (
        bool(getattr(config, "is_decoder", False))
        or "CausalLM" in archs
        or "LMHead" in archs
        or config.model_type
        in (
            "gpt2",
            "llama",
            "mistral",
            "qwen2",
            "gemma",
            "gemma2",
            "gemma3_text",
            "gpt_neox",
            "phi",
            "phi3",
            "opt",
            "smollm3",
            "olmo",
            "falcon",
        )
    )


def _auto_pooling(path: str, architecture: str) -> str:
    """sentence-transformers folders say how they pool; otherwise CLS for encoders, last token for decoders."""
    cfg = Path(path) / "1_Pooling" / "config.json"
    if cfg.is_file():
        p = json.loads(cfg.read_text())
        if p.get("pooling_mode_cls_token"):
            return "cls"
        if p.get("pooling_mode_mean_tokens"):
            return "mean"
    return {"encoder": "cls", "decoder": "last", "encoder-decoder": "mean"}[architecture]
