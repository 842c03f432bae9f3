"""`prefix`: TuPaTE (Zhou et al., 2022) as FUTE (Wang, Xu, Gui and He, ACL Findings 2024) runs it: prefix
tuning (Li & Liang, 2021) of the frozen surrogate, the vector being the tuned prefix.

Every self-attention layer gets ``n_tokens`` trainable key and value vectors that every token of the
input attends to (the input's own keys and values are unchanged). The prefix is tuned with a task head,
after the head has been fitted on the frozen features (``fute.methods.training``: probe, then tuning
with early stopping on a held-out slice), at FUTE's prefix learning rate 1e-2. The vector is the
tuned prefix's keys and values averaged over layers and flattened (2 x n_tokens x hidden_size), as
FUTE's code takes it; every task starts from the same seeded prefix (the surrogate's own keys and
values of ``n_tokens`` seeded vocabulary entries), and ``relative_to_init`` subtracts it, so that the
shared start does not dominate every cosine.

peft's PrefixTuning injects the prefix as a key/value cache, which encoder-only models such as the
default surrogate (a BERT) do not read; the prefix is therefore added inside the attention modules
themselves, for the query/key/value attention of BERT-style encoders (BERT, RoBERTa, MiniLM, ELECTRA).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from fute.errors import ConfigError
from fute.methods.base import Method, option
from fute.methods.prompt import seeded_token_embeddings
from fute.methods.training import TrainedConfig, train_task, warn_if_not_converged
from fute.samples import Samples
from fute.surrogate import Surrogate


@dataclass
class PrefixConfig(TrainedConfig):
    n_tokens: int = option(16, "Prefix length: key and value vectors per self-attention layer (FUTE's 16)", low=1)
    max_epochs: int = option(4, "Epoch budget of prefix tuning", low=0)
    learning_rate: float = option(1e-2, "Learning rate of the prefix (FUTE's for prefix tuning)", low=1e-12)
    head_learning_rate: float = option(1e-3, "Learning rate of the task head", low=1e-12)
    relative_to_init: bool = option(True, "The vector is the tuned prefix minus its seeded start (else the prefix)")


class PrefixTuning(Method):
    """TuPaTE (Zhou et al., 2022) as FUTE runs it: a prefix (Li & Liang, 2021) tuned on the frozen surrogate.

    The vector is the tuned key and value vectors of every self-attention layer, minus their seeded start,
    averaged over layers and flattened.
    """

    name = "prefix"
    config_class = PrefixConfig
    revision = 1  # 1: the kept state is a tuned one (before, an epoch-0 best kept the untuned prefix: a zero vector)

    def _embed(self, samples: Samples, surrogate: Surrogate, *, progress: bool) -> np.ndarray:
        cfg: PrefixConfig = self.config
        layers = attention_layers(surrogate)
        enc = surrogate.encode(samples)
        init = initial_prefix(surrogate, layers, cfg.n_tokens, self.coordinate_seed_)  # [L, 2, P, H]
        self.prefix_ = nn.Parameter(init.clone())
        state: dict[str, Any] = {}

        def forward(batch: dict[str, torch.Tensor]) -> Any:
            state["mask"] = batch["attention_mask"]  # the prefix acts only here, not in the frozen-feature pass
            try:
                return surrogate.forward(batch)
            finally:
                state.pop("mask")

        with prefixed(layers, self.prefix_, state):
            self.head_, self.training_ = train_task(
                surrogate,
                enc,
                samples,
                cfg,
                params=[self.prefix_],
                forward=forward,
                keep_start=False,  # the vector is the tuned prefix: an untuned one is the same for every task
                desc=f"prefix: tune {samples.short_name}",
                progress=progress,
            )
        warn_if_not_converged(self.training_, samples.where, "max_epochs")
        tuned = self.prefix_.detach() - (init if cfg.relative_to_init else 0)
        return tuned.mean(dim=0).flatten().cpu().double().numpy()


def attention_layers(surrogate: Surrogate | nn.Module) -> list[nn.Module]:
    """The self-attention modules with query/key/value projections, in layer order."""
    model = surrogate.model if isinstance(surrogate, Surrogate) else surrogate
    found = [
        m
        for m in model.modules()
        if all(isinstance(getattr(m, a, None), nn.Linear) for a in ("query", "key", "value"))
        and hasattr(m, "attention_head_size")
        and hasattr(m, "num_attention_heads")
    ]
    if not found:
        name = surrogate.name if isinstance(surrogate, Surrogate) else type(model).__name__
        raise ConfigError(
            f"prefix: '{name}' has no BERT-style query/key/value attention; "
            "use --method fisher or --method prompt with it"
        )
    return found


@torch.no_grad()
def initial_prefix(surrogate: Surrogate | nn.Module, layers: list[nn.Module], n_tokens: int, seed: int) -> torch.Tensor:
    """Each layer's own keys and values of ``n_tokens`` seeded token embeddings: [L, 2, P, H]."""
    model = surrogate.model if isinstance(surrogate, Surrogate) else surrogate
    tokens = seeded_token_embeddings(model, n_tokens, seed)
    return torch.stack([torch.stack([m.key(tokens), m.value(tokens)]) for m in layers]).clone()


@contextmanager
def prefixed(layers: list[nn.Module], prefix: nn.Parameter, state: dict[str, Any]) -> Iterator[None]:
    """Attention modules that also attend to ``prefix`` (padding masked by ``state["mask"]``), restored after."""
    originals = [m.forward for m in layers]
    for i, m in enumerate(layers):
        m.forward = _prefixed_forward(m, originals[i], prefix, i, state)
    try:
        yield
    finally:
        for m, f in zip(layers, originals, strict=True):
            m.forward = f


def _prefixed_forward(m: nn.Module, original: Any, prefix: nn.Parameter, i: int, state: dict[str, Any]) -> Any:
    def forward(hidden_states: torch.Tensor, attention_mask: Any = None, *args: Any, **kwargs: Any) -> Any:
        if "mask" not in state:
            return original(hidden_states, attention_mask, *args, **kwargs)
        b, t, _ = hidden_states.shape
        h, d = m.num_attention_heads, m.attention_head_size

        def heads(x: torch.Tensor) -> torch.Tensor:
            return x.view(x.shape[0], -1, h, d).transpose(1, 2)

        p = prefix[i].unsqueeze(1).expand(-1, b, -1, -1)  # [2, B, P, H]
        q = heads(m.query(hidden_states))
        # under autocast the projections are half precision and the prefix is not: one dtype for attention
        k = torch.cat([heads(p[0]).to(q.dtype), heads(m.key(hidden_states))], dim=2)
        v = torch.cat([heads(p[1]).to(q.dtype), heads(m.value(hidden_states))], dim=2)
        mask = state["mask"].bool()
        keep = torch.cat([torch.ones((b, p.shape[2]), dtype=torch.bool, device=mask.device), mask], dim=1)
        keep = keep[:, None, None, :]
        out = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=keep)
        return out.transpose(1, 2).reshape(b, t, h * d), None

    return forward


def classifier_prefix(
    model_dir: str, samples: Samples, config: PrefixConfig | None = None, *, max_length: int = 128, device: str = "auto"
) -> np.ndarray:
    """TuPaTE as Zhou et al. (2022) take it: a prefix tuned on the task's own fine-tuned classifier, whose
    backbone and trained head stay frozen; the vector is taken as ``prefix`` takes it.

    Trained with the same rule as every method here: epochs until the held-out loss has not improved for
    ``patience`` epochs (or ``max_epochs``), the best epoch kept (no probe: the head is already trained).
    ``samples`` carry the labels in the order the classifier was trained with; a QA model's loss is its span
    loss on the window that holds each answer (``fute.train.qa_inputs``).
    """
    from fute.methods.training import EarlyStopping, head_loss, holdout_split
    from fute.train import load_frozen_classifier, pad_rows, qa_inputs, span_terms_of, tokenize_rows

    cfg = config or PrefixConfig()
    if cfg.ensemble_seeds != 1:
        raise ConfigError("tupate on a task's own classifier: ensemble_seeds is not supported there; leave it at 1")
    torch.manual_seed(cfg.seed)
    model, tok = load_frozen_classifier(model_dir, device)
    layers = attention_layers(model)
    init = initial_prefix(model, layers, cfg.n_tokens, cfg.seed)
    prefix = nn.Parameter(init.clone())
    state: dict[str, Any] = {}
    qa = samples.task == "qa"
    if qa:
        samples, qa_enc, starts, ends = qa_inputs(tok, samples, max_length)
    else:
        targets = torch.from_numpy(np.asarray(samples.targets)).to(model.device)
    task = "regression" if samples.task == "regression" else "classification"

    def loss(idx: np.ndarray) -> torch.Tensor:
        if qa:
            enc = pad_rows(tok, qa_enc, idx).to(model.device)
        else:
            enc = tokenize_rows(tok, samples, idx, max_length).to(model.device)
        state["mask"] = enc["attention_mask"]
        try:
            if qa:
                dev = model.device
                return -span_terms_of(
                    model(**enc), enc["attention_mask"], starts[idx].to(dev), ends[idx].to(dev)
                ).mean()
            return head_loss(task, model(**enc).logits, targets[idx])
        finally:
            state.pop("mask")

    train, held = holdout_split(len(samples), cfg.holdout_fraction, cfg.seed)
    opt = torch.optim.AdamW([prefix], lr=cfg.learning_rate, weight_decay=0.0)
    rng = np.random.default_rng([cfg.seed, 13])

    def held_loss() -> float:
        with torch.no_grad():
            return sum(float(loss(held[i : i + 64])) * len(held[i : i + 64]) for i in range(0, len(held), 64)) / len(
                held
            )

    with prefixed(layers, prefix, state):
        stop = EarlyStopping(cfg.patience)
        if len(held):
            stop.step(held_loss(), lambda: prefix.detach().clone())  # the untuned prefix is the first candidate
        for _ in range(cfg.max_epochs):
            perm = train[rng.permutation(len(train))]
            for i in range(0, len(perm), cfg.batch_size):
                step = loss(perm[i : i + cfg.batch_size])
                opt.zero_grad(set_to_none=True)
                step.backward()
                opt.step()
            if not len(held):
                continue
            if stop.step(held_loss(), lambda: prefix.detach().clone()):
                break
    tuned = (stop.state if stop.state is not None else prefix.detach()) - (init if cfg.relative_to_init else 0)
    return tuned.mean(dim=0).flatten().cpu().double().numpy().astype(np.float32)
