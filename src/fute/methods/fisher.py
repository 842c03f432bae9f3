"""`fisher`: TaskEmb (Vu et al., 2020) run on the fixed surrogate, as FUTE does.

The surrogate is fine-tuned briefly on the samples, then the diagonal empirical Fisher is taken from
**per-example** gradients: E_i[(∇ log p(y_i | x_i))²]. The paper's code squares the gradient of the
batch mean instead, which mixes examples and shrinks with batch size.

Default features (``features="activations"``, TaskEmb's choice): the Fisher of every layer's output
(the embedding output and each transformer layer, averaged over real tokens) and of the pooled
output, so the vector is (layers + 2) x hidden_size; each block is L2-normalised (``layer_normalize``)
so that the cosine of two vectors is the mean of their per-layer cosines. Activation gradients are
per-example by construction (example i's activations only reach example i's loss), so one batched
backward pass gives them all.

``features="parameters"``: the Fisher of every backbone weight, from one backward pass per example,
reduced to ``projection_dim`` by a seeded sparse random projection (count sketch: each weight goes to
one seeded bucket with a seeded sign), which keeps inner products in expectation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from fute.errors import ConfigError
from fute.methods.base import Method, MethodConfig, target_tensor, train_head
from fute.samples import Samples
from fute.surrogate import Encoded, Surrogate, TaskHead


@dataclass
class FisherConfig(MethodConfig):
    features: str = "activations"  # activations | parameters
    finetune_epochs: float = 1.0
    learning_rate: float = 5e-5  # backbone
    head_learning_rate: float = 1e-3
    layer_normalize: bool = True
    projection_dim: int = 4096  # features="parameters" only


class Fisher(Method):
    name = "fisher"
    config_class = FisherConfig

    def _embed(self, samples: Samples, surrogate: Surrogate, *, progress: bool) -> np.ndarray:
        cfg: FisherConfig = self.config
        if cfg.features not in ("activations", "parameters"):
            raise ConfigError(f"fisher: unknown features '{cfg.features}'; use activations or parameters")
        enc = surrogate.encode(samples)
        model = surrogate.trainable_copy()
        self.head_ = TaskHead(samples.task, surrogate.hidden_size, samples.num_labels)
        self.losses_ = train_head(
            surrogate, samples, enc, self.head_,
            params=[(list(model.parameters()), cfg.learning_rate), (list(self.head_.parameters()),
                                                                    cfg.head_learning_rate)],
            epochs=cfg.finetune_epochs, batch_size=cfg.batch_size, seed=cfg.seed, model=model,
            desc=f"fisher: fine-tune {samples.short_name}", progress=progress)
        for p in self.head_.parameters():
            p.requires_grad_(False)
        if cfg.features == "activations":
            for p in model.parameters():
                p.requires_grad_(False)
            blocks = activation_fisher(surrogate, model, self.head_, samples, enc, cfg.batch_size, progress)
            if cfg.layer_normalize:
                blocks = blocks / np.maximum(np.linalg.norm(blocks, axis=1, keepdims=True), 1e-30)
            return blocks.ravel()
        return parameter_fisher(surrogate, model, self.head_, samples, enc, cfg.projection_dim, cfg.seed, progress)


def activation_fisher(surrogate: Surrogate, model: nn.Module, head: TaskHead, samples: Samples, enc: Encoded,
                      batch_size: int, progress: bool = True) -> np.ndarray:
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
        terms = head.log_likelihoods(fwd, batch, target_tensor(samples, idx))
        for k, (w, ll) in enumerate(terms):
            grads = torch.autograd.grad(ll.sum(), outputs, retain_graph=k < len(terms) - 1, allow_unused=True)
            grads = [torch.zeros_like(o) if g is None else g for o, g in zip(outputs, grads, strict=True)]
            sq = [((g * g * mask).sum(dim=1) / n_tokens) if g.dim() == 3 else g * g for g in grads]
            part = (w.unsqueeze(0).unsqueeze(-1) * torch.stack(sq)).sum(dim=1).double()  # [blocks, H]
            acc = part if acc is None else acc + part
        bar.update(len(idx))
    bar.close()
    return (acc / len(enc)).numpy()


def parameter_fisher(surrogate: Surrogate, model: nn.Module, head: TaskHead, samples: Samples, enc: Encoded,
                     dim: int, seed: int, progress: bool = True) -> np.ndarray:
    """Diagonal Fisher of every backbone weight (one backward per example), count-sketched to ``dim``."""
    named = [(n, p) for n, p in sorted(model.named_parameters()) if p.requires_grad]
    acc = [torch.zeros_like(p) for _, p in named]
    params = [p for _, p in named]
    bar = tqdm(total=len(enc), desc=f"fisher (parameters): {samples.short_name}", unit="ex", disable=not progress,
               leave=False)
    for idx, batch in surrogate.batches(enc, 1, np.arange(len(enc))):
        fwd = surrogate.forward(batch, model=model)
        terms = head.log_likelihoods(fwd, batch, target_tensor(samples, idx))
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
        out.index_add_(0, buckets, signs * t.detach().flatten().double())
    return out.numpy()
