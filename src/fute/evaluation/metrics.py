"""How good is a ranking? The paper's metrics, as small pure functions.

``truth`` maps each candidate (a source dataset, a prompt) to its real score (target accuracy after
transfer from that source, the prompt's accuracy); ``order`` is a predicted ranking, best first. The QA truth's
score of an answer (SQuAD F1 and exact match) is here too.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import Any


def _check(truth: Mapping[str, float], order: Sequence[str]) -> None:
    if not truth:
        raise ValueError("no candidates")
    if sorted(order) != sorted(truth):
        missing, extra = set(truth) - set(order), set(order) - set(truth)
        raise ValueError(
            f"the ranking must hold every candidate once (missing {sorted(missing)}, unknown {sorted(extra)})"
        )


def rank_of_best(truth: Mapping[str, float], order: Sequence[str], best: Collection[str] | None = None) -> int:
    """Where the truly best candidate stands in ``order`` (1 = first). With ties for best, the first of
    them counts: a ranking that puts any best candidate first has found a best one. ``best``: the candidates
    that count as best (ties decided with the standard error in view); default, those of the highest score."""
    _check(truth, order)
    top = max(truth.values())
    best = set(best) if best else {c for c, v in truth.items() if v == top}
    return next(i for i, c in enumerate(order, 1) if c in best)


def mean_rank_of_best(cases: Sequence[tuple[Mapping[str, float], Sequence[str]]]) -> float:
    """ρ of the paper (Vu et al. 2020): the mean over targets of ``rank_of_best``; lower is better."""
    return sum(rank_of_best(t, o) for t, o in cases) / len(cases)


def relevance(truth: Mapping[str, float]) -> dict[str, float]:
    """Scores min-max scaled to [0, 1] over the candidates (all equal: all 1)."""
    lo, hi = min(truth.values()), max(truth.values())
    return {c: (s - lo) / (hi - lo) if hi > lo else 1.0 for c, s in truth.items()}


def ndcg(truth: Mapping[str, float], order: Sequence[str], *, gain: str = "linear", k: int | None = None) -> float:
    """Normalised discounted cumulative gain of ``order`` over its first ``k`` places (all by default),
    with relevance = ``relevance(truth)`` and gain rel (``linear``) or 2^rel - 1 (``exponential``);
    discount 1 / log2(position + 1). 1 is the ideal order."""
    _check(truth, order)
    if gain not in ("linear", "exponential"):
        raise ValueError(f"gain must be linear or exponential, not {gain!r}")
    rel = relevance(truth)
    g = (lambda r: r) if gain == "linear" else (lambda r: 2.0**r - 1.0)
    k = len(order) if k is None else k
    dcg = sum(g(rel[c]) / math.log2(i + 1) for i, c in enumerate(order[:k], 1))
    ideal = sum(g(r) / math.log2(i + 1) for i, r in enumerate(sorted(rel.values(), reverse=True)[:k], 1))
    return dcg / ideal if ideal > 0 else 1.0


def performance(truth: Mapping[str, float], chosen: str) -> float:
    """The real score of the chosen candidate (the paper's Performance)."""
    return truth[chosen]


def rate(truth: Mapping[str, float], chosen: str) -> float:
    """Chosen score / best score x 100 (the paper's Rate)."""
    best = max(truth.values())
    if best <= 0:
        raise ValueError("rate needs a positive best score")
    return 100.0 * truth[chosen] / best


def regret_at_k(truth: Mapping[str, float], order: Sequence[str], k: int) -> float:
    """Regret@k (as TaskWeb, Kim et al. 2023, and Lin et al. 2024 report it): the relative loss, in percent,
    of the best real score among the predicted top ``k`` against the truly best score; 0 when the top k holds
    a best candidate. Scores at or below 0 make it undefined (a ValueError)."""
    _check(truth, order)
    best = max(truth.values())
    if best <= 0:
        raise ValueError("regret needs a positive best score")
    return 100.0 * (best - max(truth[c] for c in order[:k])) / best


def bootstrap_ci(
    values: Sequence[Any],
    *,
    weights: Sequence[float] | None = None,
    n: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (targets resampled with replacement, seeded).

    Nested, where ``values`` is [targets, M]: row i holds target i's value under each of M resamples of its
    seeds (``seed_resamples``, probabilities ``weights``); each bootstrap draw resamples the targets, then one
    seed resample for each, so the interval holds the seeds' noise as well as the targets'."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        raise ValueError("no values")
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(v), (n, len(v)))
    if v.ndim == 1:
        means = v[rows].mean(axis=1)
    else:
        p = np.full(v.shape[1], 1.0 / v.shape[1]) if weights is None else np.asarray(weights, dtype=np.float64)
        cols = rng.choice(v.shape[1], size=(n, len(v)), p=p / p.sum())
        means = v[rows, cols].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def seed_resamples(n: int) -> list[tuple[tuple[int, ...], float]]:
    """Every distinct resample with replacement of ``n`` seeds (as a sorted tuple of their indices) with its
    probability: the exact distribution that drawing n of n seeds gives (10 resamples for 3 seeds), so a
    nested bootstrap needs to score each only once."""
    import itertools

    out = []
    for combo in itertools.combinations_with_replacement(range(n), n):
        count = math.factorial(n)
        for i in set(combo):
            count //= math.factorial(combo.count(i))
        out.append((combo, count / n**n))
    return out


def paired_p_value(a: Sequence[float], b: Sequence[float], *, n: int = 20000, seed: int = 0) -> float:
    """Two-sided p-value of a paired sign-flip permutation test that mean(a - b) is 0: every sign pattern when
    there are at most 16 pairs (exact), else ``n`` seeded ones. Pairs that are equal carry no information."""
    import itertools

    import numpy as np

    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    d = d[d != 0]
    if len(d) == 0:
        return 1.0
    observed = abs(d.mean())
    if len(d) <= 16:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(d))))
    else:
        signs = np.random.default_rng(seed).choice((1.0, -1.0), size=(n, len(d)))
    return float((np.abs((signs * d).mean(axis=1)) >= observed - 1e-12).mean())


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (Holm 1979), in the input's order: the i-th smallest of m is multiplied by
    m - i + 1, made non-decreasing and capped at 1. One adjusted p below alpha controls the family-wise error
    of the m tests at alpha, where an uncorrected p would not."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    out, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        out[i] = running
    return out


# --- over resamples of the evaluation examples (the prompt benchmark's intervals) ---------------------------


def resampled_scores(probs: Any, targets: Any, metric: str, idx: Any) -> Any:
    """The score of each of P prediction sets ``probs`` [P, n, k] against one-hot ``targets`` [n, k] on each
    resample ``idx`` [B, n] of the n examples: [B, P]. ``metric``: ``accuracy`` or ``macro_f1`` (each class's
    F1, 0 for a class never predicted correctly, averaged over the classes), as the truth's own scores."""
    import numpy as np

    pred, gold = np.asarray(probs).argmax(axis=-1), np.asarray(targets).argmax(axis=-1)
    if metric == "accuracy":
        return (pred == gold)[:, idx].mean(axis=-1).T
    if metric != "macro_f1":
        raise ValueError(f"metric must be accuracy or macro_f1, not {metric!r}")
    f1 = []
    for c in range(np.asarray(targets).shape[1]):
        p, g = pred == c, gold == c
        tp, fp, fn = ((p & g)[:, idx].sum(-1), (p & ~g)[:, idx].sum(-1), (~p & g)[:, idx].sum(-1))
        f1.append(np.where(tp == 0, 0.0, 2 * tp / np.maximum(2 * tp + fp + fn, 1)))
    return np.mean(f1, axis=0).T


def ndcg_rows(scores: Any, order: Sequence[int]) -> Any:
    """``ndcg`` (linear gain, all places) of one order of candidate indices against each row of ``scores``
    [B, P]: [B]."""
    import numpy as np

    s = np.asarray(scores, dtype=np.float64)
    lo, hi = s.min(axis=1, keepdims=True), s.max(axis=1, keepdims=True)
    rel = np.where(hi > lo, (s - lo) / np.where(hi > lo, hi - lo, 1.0), 1.0)
    disc = 1.0 / np.log2(np.arange(2, s.shape[1] + 2))
    dcg = (rel[:, list(order)] * disc).sum(axis=1)
    ideal = (-np.sort(-rel, axis=1) * disc).sum(axis=1)
    return np.where(ideal > 0, dcg / np.where(ideal > 0, ideal, 1.0), 1.0)


def interval(samples: Any, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap ``samples`` (NaNs left out)."""
    import numpy as np

    lo, hi = np.nanquantile(np.asarray(samples, dtype=np.float64), [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


# --- extractive QA (SQuAD's official scoring, Rajpurkar et al. 2016) ---------------------------------------------


_PUNCTUATION = frozenset(string.punctuation)


def squad_normalize(text: str) -> str:
    """Lower case, no punctuation, no articles (a, an, the), single spaces: SQuAD's answer normalisation."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def squad_f1(prediction: str, gold: Sequence[str]) -> float:
    """Token F1 of a predicted answer against its best-matching gold answer."""
    pred = squad_normalize(prediction).split()
    best = 0.0
    for g in gold:
        ref = squad_normalize(g).split()
        if not pred or not ref:
            best = max(best, float(pred == ref))
            continue
        common = sum((Counter(pred) & Counter(ref)).values())
        if common:
            p, r = common / len(pred), common / len(ref)
            best = max(best, 2 * p * r / (p + r))
    return best


def squad_exact(prediction: str, gold: Sequence[str]) -> float:
    """1 if the predicted answer equals a gold answer after normalisation, else 0."""
    return float(any(squad_normalize(prediction) == squad_normalize(g) for g in gold))
