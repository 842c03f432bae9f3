"""`prompt`: TuPaTE (Zhou et al., 2022) with prompt tuning, run on the fixed surrogate, as FUTE does.

A soft prompt of ``n_tokens`` vectors is prepended to the input embeddings of the frozen surrogate
and tuned, with a task head, on the samples. Every task starts from the same seeded prompt (drawn
from the surrogate's own token embeddings), so what differs between tasks is what tuning did:
the vector is the tuned prompt minus its initialisation (``relative_to_init``), averaged over the
prompt tokens (``reduce="mean"``, hidden_size values; TuPaTE's average over prompt positions) or
kept whole (``reduce="flatten"``, n_tokens x hidden_size).

Implemented directly rather than through peft's PromptTuning: the same code path then serves
encoder, decoder and encoder-decoder surrogates and every task head (soft labels, regression, QA).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from fute.errors import ConfigError
from fute.methods.base import Method, MethodConfig, train_head
from fute.samples import Samples
from fute.surrogate import Surrogate, TaskHead


@dataclass
class PromptConfig(MethodConfig):
    n_tokens: int = 16
    epochs: float = 3.0
    learning_rate: float = 3e-2  # prompt
    head_learning_rate: float = 3e-3
    reduce: str = "mean"  # mean | flatten
    relative_to_init: bool = True


class PromptTuning(Method):
    name = "prompt"
    config_class = PromptConfig

    def _embed(self, samples: Samples, surrogate: Surrogate, *, progress: bool) -> np.ndarray:
        cfg: PromptConfig = self.config
        if cfg.reduce not in ("mean", "flatten"):
            raise ConfigError(f"prompt: unknown reduce '{cfg.reduce}'; use mean or flatten")
        enc = surrogate.encode(samples, reserve=cfg.n_tokens)
        init = initial_prompt(surrogate, cfg.n_tokens, cfg.seed)
        self.prompt_ = nn.Parameter(init.clone())
        self.head_ = TaskHead(samples.task, surrogate.hidden_size, samples.num_labels)
        self.losses_ = train_head(
            surrogate, samples, enc, self.head_,
            params=[([self.prompt_], cfg.learning_rate), (list(self.head_.parameters()), cfg.head_learning_rate)],
            epochs=cfg.epochs, batch_size=cfg.batch_size, seed=cfg.seed, prompt=self.prompt_,
            desc=f"prompt: tune {samples.short_name}", progress=progress)
        tuned = self.prompt_.detach() - (init if cfg.relative_to_init else 0)
        return (tuned.mean(dim=0) if cfg.reduce == "mean" else tuned.flatten()).double().numpy()


def initial_prompt(surrogate: Surrogate, n_tokens: int, seed: int) -> torch.Tensor:
    """The shared starting prompt: embeddings of ``n_tokens`` vocabulary entries drawn with ``seed``."""
    table = surrogate.model.get_input_embeddings().weight.detach()
    g = torch.Generator().manual_seed(seed)
    rows = torch.randint(0, table.shape[0], (n_tokens,), generator=g)
    return table[rows].clone()
