"""`prompt`: an input-level soft prompt (prompt tuning, Lester et al. 2021) tuned on the frozen surrogate.

This is **not** TuPaTE's embedding (Zhou et al., 2022; FUTE's variant is ``prefix``): there is one
prompt, at the input only, not a prefix at every layer. ``n_tokens`` vectors are prepended to the
input embeddings of the frozen surrogate and tuned with a task head, after the head has been fitted
on the frozen features (``fute.methods.training``: probe, then tuning with early stopping on a
held-out slice). Every task starts from the same seeded prompt (drawn from the surrogate's own token
embeddings), so what differs between tasks is what tuning did: the vector is the tuned prompt minus
its initialisation (``relative_to_init``), averaged over the prompt tokens (``reduce="mean"``,
hidden_size values) or kept whole (``reduce="flatten"``, n_tokens x hidden_size).

Implemented directly rather than through peft's PromptTuning: the same code path then serves
encoder, decoder and encoder-decoder surrogates and every task head (soft labels, regression, QA).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from fute.methods.base import Method, choice, option
from fute.methods.training import TrainedConfig, train_task, warn_if_not_converged
from fute.samples import Samples
from fute.surrogate import Surrogate


@dataclass
class PromptConfig(TrainedConfig):
    n_tokens: int = option(16, "Soft-prompt vectors prepended to the input embeddings", low=1)
    max_epochs: int = option(4, "Epoch budget of prompt tuning", low=0)
    learning_rate: float = option(3e-2, "Learning rate of the soft prompt", low=1e-12)
    head_learning_rate: float = option(1e-3, "Learning rate of the task head", low=1e-12)
    reduce: str = choice(
        "mean",
        "flatten",
        help="mean: the prompt vectors averaged (hidden size); flatten: all of them (n_tokens x hidden)",
    )
    relative_to_init: bool = option(True, "The vector is the tuned prompt minus its seeded start (else the prompt)")


class PromptTuning(Method):
    """An input-level soft prompt (Lester et al., 2021) tuned on the frozen surrogate, minus its seeded start.

    Not TuPaTE's per-layer prefix (that is ``prefix``); one code path serves encoder, decoder and T5 surrogates.
    """

    name = "prompt"
    config_class = PromptConfig
    revision = 1  # 1: the kept state is a tuned one, never the untuned start

    def reserved_positions(self) -> int:
        return self.config.n_tokens

    def _embed(self, samples: Samples, surrogate: Surrogate, *, progress: bool) -> np.ndarray:
        cfg: PromptConfig = self.config
        enc = surrogate.encode(samples, reserve=cfg.n_tokens)
        init = initial_prompt(surrogate, cfg.n_tokens, self.coordinate_seed_)
        self.prompt_ = nn.Parameter(init.clone())
        self.head_, self.training_ = train_task(
            surrogate,
            enc,
            samples,
            cfg,
            params=[self.prompt_],
            forward=lambda batch: surrogate.forward(batch, prompt=self.prompt_),
            keep_start=False,  # the vector is the tuned prompt: an untuned one is the same for every task
            desc=f"prompt: tune {samples.short_name}",
            progress=progress,
        )
        warn_if_not_converged(self.training_, samples.where, "max_epochs")
        tuned = self.prompt_.detach() - (init if cfg.relative_to_init else 0)
        return (tuned.mean(dim=0) if cfg.reduce == "mean" else tuned.flatten()).cpu().double().numpy()


def initial_prompt(surrogate: Surrogate, n_tokens: int, seed: int) -> torch.Tensor:
    """The shared starting prompt: embeddings of ``n_tokens`` vocabulary entries drawn with ``seed``."""
    return seeded_token_embeddings(surrogate.model, n_tokens, seed)


def seeded_token_embeddings(model: nn.Module, n_tokens: int, seed: int) -> torch.Tensor:
    """The input embeddings of ``n_tokens`` vocabulary entries drawn with ``seed``: [n_tokens, hidden]."""
    table = model.get_input_embeddings().weight.detach()
    g = torch.Generator().manual_seed(seed)
    rows = torch.randint(0, table.shape[0], (n_tokens,), generator=g)  # drawn on the CPU: the same on any device
    return table[rows.to(table.device)].clone()
