"""Training the surrogate's task head (and what a method tunes) until a held-out slice stops improving.

A task vector measures the task only if the surrogate has learned it: the Fisher of a seeded, untrained
head is the same for every binary task. So every method trains in two stages, as LP-FT does (Kumar et
al., 2022, "Fine-Tuning can Distort Pretrained Features"):

1. **Linear probe** on the frozen surrogate's pooled features, which are computed once and cached
   (per surrogate, per input), so the probe costs almost nothing and runs until the held-out loss
   stops improving. The head starts from zeros, so the probe does not depend on a seeded init.
2. **Fine-tuning** from the probe (the backbone for ``fisher``, the soft prompt or prefix for the
   tuned-parameter methods), epoch by epoch with length-bucketed batches, until the held-out loss has
   not improved for ``patience`` epochs or the epoch budget is spent; the best epoch's state is kept.

FUTE's own code trains the surrogate up to 120 epochs with early stopping (patience 4); the report
(``TrainingReport``) goes on the vector's card and says whether training converged.
"""

from __future__ import annotations

import copy
import hashlib
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from fute.methods.base import MethodConfig, not_in_space_unless_none, option, target_tensor
from fute.methods.report import LEARN_MARGIN, TrainingReport, constant_loss
from fute.samples import Samples
from fute.surrogate import Encoded, Forward, Surrogate, TaskHead, soft_spans, span_log_likelihood

MIN_HOLDOUT_ROWS = 5  # fewer samples than 5 / holdout_fraction: no held-out slice, a fixed budget instead


@dataclass
class TrainedConfig(MethodConfig):
    """The training schedule every method that learns the task shares (all fields are in the space id)."""

    holdout_fraction: float = option(
        0.2,
        "Share of the rows held out to decide when training stops (and whether the task was learned)",
        low=0,
        below=1,
    )
    probe_learning_rate: float = option(1e-2, "Learning rate of the linear probe on cached frozen features", low=1e-12)
    probe_max_epochs: int = option(200, "Epoch budget of the probe", low=0)
    probe_patience: int = option(10, "Probe epochs without a better held-out loss before it stops", low=1)
    max_epochs: int = option(
        4, "Epoch budget of the second stage (fine-tuning, prompt or prefix tuning); 0: the probe only", low=0
    )
    # FUTE's code waits 4 epochs; on a CPU an epoch costs tens of seconds, and in the held-out curves measured
    # (docs/methods.md, "Training before measuring") a first epoch without improvement was followed by worse ones.
    patience: int = option(1, "Second-stage epochs without a better held-out loss before it stops", low=1)
    learning_rate: float = option(2e-5, "Learning rate of what the second stage tunes", low=1e-12)
    head_learning_rate: float = option(1e-4, "Learning rate of the task head in the second stage", low=1e-12)
    # off by default: docs/methods.md, "Growing the rows until the task is learned", says why
    grow_rows: int | None = not_in_space_unless_none(
        None,
        f"Row budget of the growth rule (None, the default: off): where held-out loss stays above {LEARN_MARGIN} x a "
        "constant prediction's, train again on twice the rows, up to this many or every row (docs/methods.md)",
        low=1,
    )


class EarlyStopping:
    """The one stopping rule: keep the best candidate (the first always counts); stop after ``patience``
    candidates in a row that do not beat the best by 1e-4 of it."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best = math.inf
        self.state: Any = None
        self.bad = 0

    def step(self, loss: float, snapshot: Callable[[], Any]) -> bool:
        """Record one candidate's held-out loss (``snapshot`` copies its state if it is the best); True: stop."""
        if self.state is None or loss < self.best - 1e-4 * abs(self.best):
            self.best, self.state, self.bad = loss, snapshot(), 0
            return False
        self.bad += 1
        return self.bad >= self.patience


def holdout_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, held-out) indices; no held-out rows when there are too few samples to spare them."""
    n_held = int(round(n * fraction))
    if fraction <= 0 or n_held < MIN_HOLDOUT_ROWS or n - n_held < MIN_HOLDOUT_ROWS:
        return np.arange(n), np.arange(0)
    perm = np.random.default_rng([seed, 7]).permutation(n)
    return np.sort(perm[n_held:]), np.sort(perm[:n_held])


# -- the frozen surrogate's features, computed once ------------------------------------------------
FEATURE_CACHE_SIZE = 16  # sample sets per surrogate object


def _inputs_key(enc: Encoded, batch_size: int) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    h.update(str(batch_size).encode())
    for i in range(len(enc)):
        h.update(np.asarray(enc.input_ids[i], dtype=np.int64).tobytes() + b"|")
        if enc.token_type_ids is not None:
            h.update(np.asarray(enc.token_type_ids[i], dtype=np.int64).tobytes() + b"|")
    return h.digest()


def _per_set(surrogate: Surrogate, cache_name: str, size: int, enc: Encoded, batch_size: int, compute: Callable) -> Any:
    """``compute()`` once per sample set (``_inputs_key``) and surrogate object, the last ``size`` sets kept."""
    cache: dict[bytes, Any] = surrogate.__dict__.setdefault(cache_name, {})
    key = _inputs_key(enc, batch_size)
    if key not in cache:
        value = compute()
        while len(cache) >= size:
            cache.pop(next(iter(cache)))
        cache[key] = value
    return cache[key]


@torch.no_grad()
def frozen_features(surrogate: Surrogate, enc: Encoded, batch_size: int = 64) -> torch.Tensor:
    """Pooled outputs of the frozen surrogate, [N, H] on the CPU, computed once per sample set and surrogate object.

    Keyed by the whole set, not by input: a feature's last bits depend on the batch it was computed in, so a
    per-input cache would make a vector depend on what the process computed before it. Keyed by the set, the same
    inputs always give the same features, bit for bit.
    """

    def compute() -> torch.Tensor:
        out = torch.empty((len(enc), surrogate.hidden_size), dtype=torch.float32)
        for idx, batch in surrogate.batches(enc, batch_size, surrogate.length_order(enc)):
            out[torch.as_tensor(idx)] = surrogate.forward(batch).pooled.float().cpu()
        return out

    return _per_set(surrogate, "_pooled_cache", FEATURE_CACHE_SIZE, enc, batch_size, compute)


@torch.no_grad()
def frozen_token_states(surrogate: Surrogate, enc: Encoded, batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Last-layer token states of the frozen surrogate, [N, T, H] padded, and which are real tokens [N, T]: what
    a span head reads (QA). Cached like ``frozen_features``, for the last two sample sets only (they are T times
    larger)."""

    def compute() -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(x) for x in enc.input_ids)
        states = torch.zeros((len(enc), width, surrogate.hidden_size), dtype=torch.float32)
        valid = torch.zeros((len(enc), width), dtype=torch.bool)
        for idx, batch in surrogate.batches(enc, batch_size, surrogate.length_order(enc)):
            fwd = surrogate.forward(batch)
            for r, i in enumerate(idx):
                n = len(enc.input_ids[i])
                states[i, :n] = fwd.tokens[r, :n].float().cpu()
                valid[i, :n] = True
        return states, valid

    return _per_set(surrogate, "_token_cache", 2, enc, batch_size, compute)


def _subset(enc: Encoded, idx: np.ndarray) -> Encoded:
    return Encoded(
        [enc.input_ids[i] for i in idx], None if enc.token_type_ids is None else [enc.token_type_ids[i] for i in idx]
    )


# -- losses ---------------------------------------------------------------------------------------
def head_loss(task: str, out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean loss of head outputs: soft cross-entropy (classification), squared error (regression)."""
    if task == "regression":
        return 0.5 * ((out.squeeze(-1) - targets) ** 2).mean()
    return -(targets * torch.log_softmax(out, dim=-1)).sum(dim=-1).mean()


def zero_head(samples: Samples, hidden_size: int, device: Any = None) -> TaskHead:
    """A task head that starts at zero (uniform prediction; the regression mean comes from the probe)."""
    head = TaskHead(samples.task, hidden_size, samples.num_labels, device=device)
    with torch.no_grad():
        head.linear.weight.zero_()
        head.linear.bias.zero_()
        if samples.task == "regression" and samples.targets is not None and len(samples):
            head.linear.bias.fill_(float(np.mean(samples.targets)))
    return head


def prior_loss(samples: Samples, train: np.ndarray, held: np.ndarray) -> float | None:
    """Held-out loss of a constant prediction: the training rows' label frequencies (or mean, for regression)."""
    if samples.task == "qa" or not len(held):
        return None
    t = torch.from_numpy(np.asarray(samples.targets))
    mean = t[train].mean(dim=0)
    out = (
        mean.expand(len(held)).unsqueeze(-1)
        if samples.task == "regression"
        else torch.log(mean.clamp(min=1e-6)).expand(len(held), -1)
    )
    return float(head_loss(samples.task, out, t[held]))


def label_entropy(samples: Samples, held: np.ndarray) -> float | None:
    """Mean entropy of the held-out rows' label distributions (classification only)."""
    if samples.task != "classification" or not len(held):
        return None
    from fute.samples import entropy

    return float(entropy(np.asarray(samples.targets, dtype=np.float64)[held]).mean())


def _learned(report: TrainingReport, best: float) -> bool:
    bar = constant_loss(report)
    return bar is None or best < 0.99 * bar


def probe_learned(report: TrainingReport) -> bool:
    """Whether the linear probe learned the task: a held-out loss (none without a held-out slice) below 0.99 x the
    better constant prediction's."""
    return report.probe_heldout_loss is not None and _learned(report, report.probe_heldout_loss)


def fit_probe(
    head: TaskHead,
    loss_of: Callable[[np.ndarray], torch.Tensor],
    train: np.ndarray,
    held: np.ndarray,
    *,
    learning_rate: float,
    max_epochs: int,
    patience: int,
    batch_size: int,
    seed: int,
    report: TrainingReport,
) -> None:
    """Train ``head`` on cached features until the held-out loss stops improving; keep the best epoch.
    ``loss_of(rows)``: the head's mean loss on those rows of the cached features (``probe_loss``)."""
    if max_epochs <= 0:
        return
    opt = torch.optim.AdamW(head.parameters(), lr=learning_rate, weight_decay=0.0)
    rng = np.random.default_rng([seed, 11])

    def held_loss() -> float:
        with torch.no_grad():
            return float(loss_of(held)) if len(held) else math.nan

    # the untrained zero head is the reference for `learned`, never a candidate: its Fisher is zero
    report.initial_heldout_loss = held_loss() if len(held) else None
    stop = EarlyStopping(patience)
    for epoch in range(1, max_epochs + 1):
        perm = train[rng.permutation(len(train))]
        for i in range(0, len(perm), batch_size):
            loss = loss_of(perm[i : i + batch_size])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        report.probe_epochs = epoch
        if not len(held):
            continue
        if stop.step(held_loss(), lambda: copy.deepcopy(head.state_dict())):
            report.probe_converged = True
            break
    if stop.state is not None:
        head.load_state_dict(stop.state)
    report.probe_heldout_loss = stop.best if len(held) else None


def probe_loss(surrogate: Surrogate, enc: Encoded, samples: Samples, head: TaskHead) -> Callable:
    """The probe's loss on rows of the frozen surrogate's cached outputs: pooled features for a label or a score,
    token states for a span (QA)."""
    device = head.linear.weight.device
    if samples.task == "qa":
        states, valid = frozen_token_states(surrogate, enc)
        states, valid = states.to(device), valid.to(device)
        if enc.span_terms is not None:  # a model's soft label: each n-best span weighted by its probability
            soft = {k: v.to(device) for k, v in soft_spans(enc.span_terms).items()}
            starts, ends, weights = soft["span_starts"], soft["span_ends"], soft["span_weights"]
        else:
            starts = torch.tensor(enc.start_positions, device=device)[:, None]
            ends = torch.tensor(enc.end_positions, device=device)[:, None]
            weights = torch.ones(starts.shape, device=device)

        def span(idx: np.ndarray) -> torch.Tensor:
            logits = head.linear(states[idx])
            ll = sum(
                weights[idx, k] * span_log_likelihood(logits, valid[idx], starts[idx, k], ends[idx, k])
                for k in range(weights.shape[1])
            )
            return -ll.mean()

        return span
    features = frozen_features(surrogate, enc).to(device)
    targets = torch.from_numpy(np.asarray(samples.targets)).to(device)
    return lambda idx: head_loss(samples.task, head.linear(features[idx]), targets[idx])


def length_buckets(enc: Encoded, idx: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar length: shuffle, sort within windows of 8 batches, shuffle the batches.

    Padding then costs little while every epoch still sees the rows in a new grouping."""
    perm = idx[rng.permutation(len(idx))]
    lengths = np.array([len(enc.input_ids[i]) for i in perm])
    window = batch_size * 8
    batches = []
    for s in range(0, len(perm), window):
        chunk = perm[s : s + window][np.argsort(lengths[s : s + window], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def train_task(
    surrogate: Surrogate,
    enc: Encoded,
    samples: Samples,
    cfg: TrainedConfig,
    *,
    params: list[nn.Parameter],
    model: nn.Module | None = None,
    forward: Callable[[dict[str, torch.Tensor]], Forward] | None = None,
    keep_start: bool = True,
    unless_probe_learns: bool = False,
    desc: str = "training",
    progress: bool = True,
) -> tuple[TaskHead, TrainingReport]:
    """Both stages: the probe on cached frozen features, then ``params`` (a backbone copy's weights, a soft
    prompt, a prefix) tuned with the head. Returns the trained head and the report.

    ``keep_start=False``: the state before the second stage (the probe's head, untouched ``params``) is
    not a candidate for the best epoch. Methods whose vector *is* what they tuned need it: a kept start
    is an untuned prefix, the same (zero) vector for every task.

    ``unless_probe_learns``: the second stage runs only when the probe did not learn the task (``probe_learned``), and
    then keeps a tuned state; where the probe learned, its state is kept (``stopped == "probe-learned"``)."""
    report = TrainingReport()
    train, held = holdout_split(len(samples), cfg.holdout_fraction, cfg.seed)
    report.rows_train, report.rows_heldout = len(train), len(held)
    head = zero_head(samples, surrogate.hidden_size, surrogate.device)
    if samples.task == "qa":
        from fute.qa import position_prior_loss

        report.prior_heldout_loss = position_prior_loss(enc, train, held)
    else:
        report.prior_heldout_loss = prior_loss(samples, train, held)
    report.heldout_label_entropy = label_entropy(samples, held)
    fit_probe(
        head,
        probe_loss(surrogate, enc, samples, head),
        train,
        held,
        learning_rate=cfg.probe_learning_rate,
        max_epochs=cfg.probe_max_epochs,
        patience=cfg.probe_patience,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        report=report,
    )
    skip_second = unless_probe_learns and probe_learned(report)
    if unless_probe_learns:
        keep_start = False  # the second stage runs because the probe failed: its state is not a candidate
    finetune(
        surrogate,
        enc,
        samples,
        head,
        train,
        held,
        params=params,
        learning_rate=cfg.learning_rate,
        head_learning_rate=cfg.head_learning_rate,
        max_epochs=0 if skip_second else cfg.max_epochs,
        patience=cfg.patience,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        report=report,
        model=model,
        forward=forward,
        keep_start=keep_start,
        desc=desc,
        progress=progress,
    )
    if skip_second:
        report.stopped = "probe-learned"
    return head, report


def finetune(
    surrogate: Surrogate,
    enc: Encoded,
    samples: Samples,
    head: TaskHead,
    train: np.ndarray,
    held: np.ndarray,
    *,
    params: list[nn.Parameter],
    learning_rate: float,
    head_learning_rate: float,
    max_epochs: int,
    patience: int,
    batch_size: int,
    seed: int,
    report: TrainingReport,
    model: nn.Module | None = None,
    forward: Callable[[dict[str, torch.Tensor]], Forward] | None = None,
    keep_start: bool = True,
    desc: str = "fine-tune",
    progress: bool = True,
) -> None:
    """Epochs of AdamW on ``params`` and ``head`` until the held-out loss has not improved for ``patience``
    epochs or ``max_epochs`` are spent; the best epoch's parameters are restored (with ``keep_start``,
    the starting state counts as epoch 0).

    ``forward`` maps a batch to the surrogate's outputs (default: the trained ``model`` copy), so that a
    soft prompt or prefix is trained through the same loop.
    """
    fwd_fn = forward or (lambda batch: surrogate.forward(batch, model=model))
    trained = [*params, *head.parameters()]
    rng = np.random.default_rng([seed, 13])

    def evaluate() -> float:
        if not len(held):
            return math.nan
        if model is not None:
            model.eval()
        total = 0.0
        with torch.no_grad():
            for idx, batch in surrogate.batches(enc, 64, held[surrogate.length_order(_subset(enc, held))]):
                total += float(head.loss(fwd_fn(batch), batch, target_tensor(samples, idx, surrogate.device))) * len(
                    idx
                )
        return total / len(held)

    def snapshot() -> list[torch.Tensor]:
        return [p.detach().clone() for p in trained]

    best = evaluate()
    if report.initial_heldout_loss is None and len(held):
        report.initial_heldout_loss = best
    report.history.append(best)
    if max_epochs <= 0:
        report.heldout_loss = best if len(held) else None
        report.stopped = "probe-only" if len(held) else "no-holdout"
        report.converged = report.probe_converged
        report.learned = not len(held) or _learned(report, best)
        return
    opt = torch.optim.AdamW(
        [{"params": params, "lr": learning_rate}, {"params": list(head.parameters()), "lr": head_learning_rate}],
        weight_decay=0.0,
    )
    stop, last_train = EarlyStopping(patience), math.nan
    if keep_start:
        stop.step(best, snapshot)  # the starting state (the probe's) is the first candidate
    steps_per_epoch = -(-len(train) // batch_size)
    bar = tqdm(total=max_epochs * steps_per_epoch, desc=desc, unit="step", disable=not progress, leave=False)
    report.stopped = "budget"
    for epoch in range(1, max_epochs + 1):
        if model is not None:
            model.train()
        losses = []
        for idx in length_buckets(enc, train, batch_size, rng):
            _, batch = next(surrogate.batches(enc, len(idx), idx))
            loss = head.loss(fwd_fn(batch), batch, target_tensor(samples, idx, surrogate.device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            report.finetune_steps += 1
            bar.update(1)
        last_train = float(np.mean(losses))
        report.finetune_epochs = epoch
        cur = evaluate()
        report.history.append(cur)
        bar.set_postfix(train=f"{last_train:.3f}", heldout=f"{cur:.3f}")
        if not len(held):
            continue
        if stop.step(cur, snapshot):
            report.stopped = "patience"
            break
    bar.close()
    if model is not None:
        model.eval()
    report.train_loss = last_train
    if len(held):
        best = stop.best
        report.learned = _learned(report, best)
        with torch.no_grad():
            for p, v in zip(trained, stop.state, strict=True):
                p.copy_(v)
        report.heldout_loss = best
        report.converged = report.stopped == "patience"
    else:
        report.stopped = "no-holdout"


def warn_if_not_converged(report: TrainingReport, where: str, option: str) -> None:
    """One warning for a run that learned nothing, or stopped at its budget while the held-out loss still fell."""
    if not report.learned:
        bar, floor = constant_loss(report), report.heldout_label_entropy
        soft = f"; the labels leave at most {bar - floor:.4f} to learn" if floor is not None and floor > 1e-6 else ""
        warnings.warn(
            f"{where}: the surrogate learned nothing that generalises from these {report.rows_train} rows "
            f"(held-out loss {report.heldout_loss:.4f}, a constant prediction {bar:.4f}{soft}), "
            "so the vector says little about the task; more rows or another surrogate may help",
            stacklevel=3,
        )
    elif report.stopped == "budget" or (report.stopped in ("probe-only", "probe-learned") and not report.converged):
        epochs = report.finetune_epochs if report.stopped == "budget" else report.probe_epochs
        warnings.warn(
            f"{where}: training stopped at its budget of {epochs} epochs while the held-out "
            f"loss was still falling ({report.heldout_loss:.4f}); raise --option {option} for a converged "
            "vector",
            stacklevel=3,
        )
    elif report.stopped == "no-holdout":
        warnings.warn(
            f"{where}: {report.rows_train} rows are too few to hold some out, so training ran a fixed "
            "budget and convergence is unknown",
            stacklevel=3,
        )
