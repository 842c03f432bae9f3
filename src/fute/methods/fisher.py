"""`fisher`: TaskEmb (Vu et al., 2020) run on the fixed surrogate, as FUTE (Wang, Xu, Gui and He, ACL
Findings 2024) does.

The surrogate learns the task first (``fute.methods.training``): a linear probe on its cached frozen
features until a held-out slice stops improving, then fine-tuning from the probe (LP-FT) with early
stopping, for at most ``max_epochs`` epochs. Only then is the diagonal empirical Fisher taken, from
**per-example** gradients: E_i[(∇ log p(y_i | x_i))²]. The paper's code squares the gradient of the
batch mean instead, which mixes examples and shrinks with batch size.

Default features (``features="activations"``, TaskEmb's choice): the Fisher of every layer's output
(the embedding output and each transformer layer, averaged over real tokens) and of the pooled
output, so the vector is (layers + 2) x hidden_size. Activation gradients are per-example by
construction (example i's activations only reach example i's loss), so one batched backward pass
gives them all.

Each block is then made comparable across tasks (``block_normalize``, see ``normalize_blocks``). The
default, ``centered``, centres each block's values and L2-normalises them, so the cosine of two vectors
is the mean over layers of the Pearson correlation of their Fisher profiles. Raw or L2-normalised
squared gradients share one profile set by the surrogate (a few hidden dimensions carry large
gradients whatever the task), so every pair of tasks looked alike and one dataset was the nearest
neighbour of almost all others. ``rank`` (Spearman) ignores magnitude, and its ranks of the many
near-zero values are noise. docs/methods.md ("Do the vectors measure the task?") has the comparison of
the transforms on the development datasets that made ``centered`` the default.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from fute.errors import ConfigError
from fute.methods.base import Method, choice, in_space_unless_default, option, target_tensor
from fute.methods.training import TrainedConfig, train_task, warn_if_not_converged
from fute.samples import Samples
from fute.space import mean_ranks
from fute.surrogate import Encoded, Surrogate, TaskHead


@dataclass
class FisherConfig(TrainedConfig):
    features: str = choice(
        "activations",
        "parameters",
        help="activations: the Fisher w.r.t. each layer's output (TaskEmb's feature Fisher); parameters: w.r.t. "
        "every backbone weight, one backward per row, then a seeded random projection",
    )
    # Frozen MiniLM features hold no linear NLI signal, so the backbone must be fine-tuned, and FUTE's 2e-5 was too
    # slow for that at 1,000 rows (docs/methods.md, "Training before measuring", has the held-out losses).
    learning_rate: float = option(1e-4, "Learning rate of the backbone when it is fine-tuned", low=1e-12)
    head_learning_rate: float = option(
        1e-3, "Learning rate of the task head when the backbone is fine-tuned", low=1e-12
    )
    block_normalize: str = choice(
        "centered",
        "rank",
        "l2",
        "none",
        help="How each layer's block is scaled (activations only): centered (centred and L2-normalised: the cosine is "
        "the mean per-layer Pearson correlation), rank (Spearman), l2 (Vu et al.'s per-layer cosine), none",
    )
    projection_dim: int = option(4096, "Size of the random projection of the parameter Fisher (parameters only)", low=1)
    keep_probe: bool = in_space_unless_default(
        True,
        help="Whether the probe's state may be the measured one when no fine-tuned epoch beats it on held-out loss",
    )
    fine_tune: str = in_space_unless_default(
        "always",
        "unless-probe-learns",
        help="always: fine-tune after the probe; unless-probe-learns: only where the probe did not learn the task "
        "(docs/methods.md, 'Which state to measure')",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.fine_tune == "unless-probe-learns" and not self.keep_probe:
            raise ConfigError(
                "options fine_tune=unless-probe-learns and keep_probe=false contradict each other (the first keeps "
                "the probe's state where the probe learned); drop one"
            )


class Fisher(Method):
    """TaskEmb (Vu et al., 2020) as FUTE runs it: the diagonal empirical Fisher of the trained surrogate.

    E_i[(grad log p(y_i|x_i))^2] w.r.t. each layer's output (or every weight, ``features="parameters"``),
    after the surrogate has learned the task (``fute.methods.training``); soft labels q give sum_c q_c (...)^2.
    """

    name = "fisher"
    config_class = FisherConfig

    def _embed(self, samples: Samples, surrogate: Surrogate, *, progress: bool) -> np.ndarray:
        cfg: FisherConfig = self.config
        enc = surrogate.encode(samples)
        tuned = cfg.max_epochs > 0
        model = surrogate.trainable_copy() if tuned or cfg.features == "parameters" else surrogate.model
        # the token table stays frozen: a 1,000-row run touches few of its rows, and its update costs a third of a step
        model.get_input_embeddings().weight.requires_grad_(False)
        self.head_, self.training_ = train_task(
            surrogate,
            enc,
            samples,
            cfg,
            params=[p for p in model.parameters() if p.requires_grad] if tuned else [],
            model=model if tuned else None,
            keep_start=cfg.keep_probe,
            unless_probe_learns=cfg.fine_tune == "unless-probe-learns",
            desc=f"fisher: fine-tune {samples.short_name}",
            progress=progress,
        )
        warn_if_not_converged(self.training_, samples.where, "max_epochs")
        for p in self.head_.parameters():
            p.requires_grad_(False)
        if cfg.features == "activations":
            if model is not surrogate.model:
                for p in model.parameters():
                    p.requires_grad_(False)
            blocks = activation_fisher(surrogate, model, self.head_, samples, enc, cfg.batch_size, progress)
            return normalize_blocks(blocks, cfg.block_normalize).ravel()
        for p in model.parameters():
            p.requires_grad_(True)
        return parameter_fisher(
            surrogate, model, self.head_, samples, enc, cfg.projection_dim, self.coordinate_seed_, progress
        )


def normalize_blocks(blocks: np.ndarray, how: str) -> np.ndarray:
    """Each row of ``blocks`` [blocks, dim] made comparable across tasks.

    ``rank``: ranks within the block (ties share their mean rank), centred, unit norm: cosine = Spearman
    correlation. ``centered``: values centred, unit norm: cosine = Pearson correlation. ``l2``: unit norm
    (Vu et al.'s per-layer comparison). ``none``: as computed. A constant block becomes zeros.
    """
    if how == "none":
        return blocks
    x = np.asarray(blocks, dtype=np.float64)
    scale = np.abs(x).max(axis=1, keepdims=True)
    if how == "rank":
        x = np.stack([mean_ranks(row) for row in x])
        scale = np.full_like(scale, x.shape[1])
    if how in ("rank", "centered"):
        x = x - x.mean(axis=1, keepdims=True)
    elif how != "l2":
        raise ConfigError(f"fisher: unknown block_normalize '{how}'; use rank, centered, l2 or none")
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    # what centring leaves of a constant block is rounding error: a zero block, not a random direction
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 1e-9 * scale)


def activation_fisher(
    surrogate: Surrogate,
    model: nn.Module,
    head: TaskHead,
    samples: Samples,
    enc: Encoded,
    batch_size: int,
    progress: bool = True,
) -> np.ndarray:
    """Mean over examples of the squared per-example gradient of log p w.r.t. each layer's output.

    Returns [layers + 2, hidden]: embedding output, each layer's output (token mean), pooled output.
    """
    acc: torch.Tensor | None = None
    bar = tqdm(total=len(enc), desc=f"fisher: {samples.short_name}", unit="ex", disable=not progress, leave=False)
    for idx, batch in surrogate.batches(enc, batch_size, surrogate.length_order(enc)):
        fwd = surrogate.forward(batch, model=model, embeds_grad=True)
        outputs = [*fwd.hidden_states, fwd.pooled]
        mask = fwd.mask.unsqueeze(-1).to(fwd.pooled.dtype)
        n_tokens = mask.sum(dim=1)
        terms = head.log_likelihoods(fwd, batch, target_tensor(samples, idx, surrogate.device))
        for k, (w, ll) in enumerate(terms):
            grads = torch.autograd.grad(ll.sum(), outputs, retain_graph=k < len(terms) - 1, allow_unused=True)
            grads = [torch.zeros_like(o) if g is None else g for o, g in zip(outputs, grads, strict=True)]
            sq = [((g * g * mask).sum(dim=1) / n_tokens) if g.dim() == 3 else g * g for g in grads]
            # summed over the batch on the device, accumulated in float64 on the CPU (MPS has no float64)
            part = (w.unsqueeze(0).unsqueeze(-1) * torch.stack(sq)).sum(dim=1).cpu().double()  # [blocks, H]
            acc = part if acc is None else acc + part
        bar.update(len(idx))
    bar.close()
    return (acc / len(enc)).numpy()


def parameter_fisher(
    surrogate: Surrogate,
    model: nn.Module,
    head: TaskHead,
    samples: Samples,
    enc: Encoded,
    dim: int,
    seed: int,
    progress: bool = True,
) -> np.ndarray:
    """Diagonal Fisher of every backbone weight (one backward per example), count-sketched to ``dim``."""
    named = [(n, p) for n, p in sorted(model.named_parameters()) if p.requires_grad]
    acc = [torch.zeros_like(p) for _, p in named]
    params = [p for _, p in named]
    bar = tqdm(
        total=len(enc), desc=f"fisher (parameters): {samples.short_name}", unit="ex", disable=not progress, leave=False
    )
    for idx, batch in surrogate.batches(enc, 1, np.arange(len(enc))):
        fwd = surrogate.forward(batch, model=model)
        terms = head.log_likelihoods(fwd, batch, target_tensor(samples, idx, surrogate.device))
        for k, (w, ll) in enumerate(terms):
            grads = torch.autograd.grad(ll.sum(), params, retain_graph=k < len(terms) - 1, allow_unused=True)
            for a, g in zip(acc, grads, strict=True):
                if g is not None:
                    a.addcmul_(g, g, value=float(w[0]))
        bar.update(1)
    bar.close()
    return count_sketch({n: a / len(enc) for (n, _), a in zip(named, acc, strict=True)}, dim, seed)


def count_sketch(tensors: dict[str, torch.Tensor], dim: int, seed: int) -> np.ndarray:
    """Seeded sparse random projection of a dict of tensors to ``dim`` values (same seed, same buckets)."""
    out = torch.zeros(dim, dtype=torch.float64)
    for name, t in sorted(tensors.items()):
        salt = int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "little") % 2**63
        g = torch.Generator().manual_seed(salt)
        buckets = torch.randint(0, dim, (t.numel(),), generator=g)
        signs = torch.randint(0, 2, (t.numel(),), generator=g, dtype=torch.int8).double() * 2 - 1
        out.index_add_(0, buckets, signs * t.detach().flatten().cpu().double())
    return out.numpy()


def classifier_fisher(
    model_dir: str,
    samples: Samples,
    *,
    batch_size: int = 32,
    max_length: int = 128,
    block_normalize: str = "l2",
    device: str = "auto",
) -> np.ndarray:
    """TaskEmb as Vu et al. (2020) take it: the Fisher on the task's own fine-tuned classifier, with its own
    trained head and no further training.

    The per-example squared gradient of log p(y | x) (the classifier's own logits; -(pred - y)² / 2 for a
    one-output regression head) w.r.t. the embedding output and each layer's output, averaged over real
    tokens: [layers + 1, hidden] blocks, each L2-normalised as Vu et al. compare them (``block_normalize``).
    ``samples`` carry the labels in the order the classifier was trained with (its ``id2label``). A QA model's
    term is the log-likelihood of each answer's start and end under its own span head, on the window that holds
    the answer (``fute.train.qa_inputs``), as Vu et al. embed their QA tasks.
    """
    from fute.train import load_frozen_classifier, pad_rows, qa_inputs, span_terms_of, tokenize_rows

    model, tok = load_frozen_classifier(model_dir, device)
    dev = model.device
    qa = samples.task == "qa"
    if qa:
        samples, qa_enc, starts, ends = qa_inputs(tok, samples, max_length)
    pairs_all = samples.text_pairs or [""] * len(samples)
    order = np.argsort([len(t) + len(p) for t, p in zip(samples.texts, pairs_all, strict=True)], kind="stable")
    acc: torch.Tensor | None = None
    for i in range(0, len(order), batch_size):
        idx = order[i : i + batch_size]
        enc = (pad_rows(tok, qa_enc, idx) if qa else tokenize_rows(tok, samples, idx, max_length)).to(dev)
        embeds = model.get_input_embeddings()(enc["input_ids"]).detach().requires_grad_(True)
        out = model(
            inputs_embeds=embeds,
            attention_mask=enc["attention_mask"],
            **({"token_type_ids": enc["token_type_ids"]} if "token_type_ids" in enc else {}),
            output_hidden_states=True,
        )
        if qa:
            ll = span_terms_of(out, enc["attention_mask"], starts[idx].to(dev), ends[idx].to(dev))
            terms = [(torch.ones(len(idx), device=dev), ll)]
        elif samples.task == "regression":
            target = torch.from_numpy(np.asarray(samples.targets[idx])).to(dev)
            terms = [(torch.ones(len(idx), device=dev), -0.5 * (out.logits[:, 0] - target) ** 2)]
        else:
            target = torch.from_numpy(np.asarray(samples.targets[idx])).to(dev)
            logp = torch.log_softmax(out.logits, dim=-1)
            terms = [(target[:, c], logp[:, c]) for c in range(target.shape[1]) if bool((target[:, c] > 0).any())]
        mask = enc["attention_mask"].unsqueeze(-1).float()
        states = list(out.hidden_states)
        for k, (w, ll) in enumerate(terms):
            grads = torch.autograd.grad(ll.sum(), states, retain_graph=k < len(terms) - 1, allow_unused=True)
            sq = torch.stack(
                [
                    ((torch.zeros_like(s) if g is None else g) ** 2 * mask).sum(1) / mask.sum(1)
                    for s, g in zip(states, grads, strict=True)
                ]
            )  # [blocks, B, H]
            part = (w.unsqueeze(0).unsqueeze(-1) * sq).sum(dim=1).cpu().double()
            acc = part if acc is None else acc + part
    return normalize_blocks((acc / len(samples)).numpy(), block_normalize).ravel().astype(np.float32)
