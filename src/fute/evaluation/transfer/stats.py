"""How well a ranker's orders predict the truth: rho (rank of the truly best source), NDCG and Regret@k,
in-class and all-class, with nested bootstrap intervals over targets and seeds, and paired sign-flip tests
between rankers (Holm-corrected per FUTE ranker, scope and metric)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fute.evaluation import metrics


def _mean(v: Sequence[float]) -> float:
    return float(np.mean(v))


def _se(v: Sequence[float]) -> float:
    """Standard error of the mean over seeds (sample standard deviation / sqrt(n))."""
    return float(np.std(v, ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0


def tied_best(means: dict[str, float], se: dict[str, float]) -> list[str]:
    """The sources that cannot be told apart from the best: mean within the larger of the two standard errors
    of the best mean (one SE rule; with one seed, only exact ties)."""
    best = max(means, key=lambda s: means[s])
    return sorted(s for s in means if means[best] - means[s] <= max(se.get(best, 0.0), se.get(s, 0.0)))


def candidates(truth: dict[str, Any], target: str, scope: str) -> list[str]:
    """The sources ranked for ``target``: every other dataset (``all``), or those of its class (``in``)."""
    ds = truth["datasets"]
    return [s for s in ds if s != target and (scope == "all" or ds[s]["category"] == ds[target]["category"])]


def _order_metrics(scores: dict[str, float], best: list[str] | None, draws: list[list[str]]) -> dict[str, float]:
    """ρ, NDCG (linear, exponential) and Regret@1, @3 of ``draws`` (orders; their mean) against one target's
    ``scores``, with ``best`` the sources counted as best (None: the highest score)."""
    orders = [[s for s in o if s in scores] for o in draws]
    vals = {
        "rho": float(np.mean([metrics.rank_of_best(scores, o, best) for o in orders])),
        "ndcg": float(np.mean([metrics.ndcg(scores, o) for o in orders])),
        "ndcg_exp": float(np.mean([metrics.ndcg(scores, o, gain="exponential") for o in orders])),
    }
    if max(scores.values()) > 0:  # regret is relative to the best score
        for k in (1, 3):
            vals[f"regret{k}"] = float(np.mean([metrics.regret_at_k(scores, o, k) for o in orders]))
    return vals


def _interval(cell: dict[str, list[Any]], k: str, weights: list[float]) -> list[float]:
    """95% bootstrap interval of metric ``k`` over a cell's targets: nested over their seeds where it has them."""
    nested = bool(cell[f"{k}_resampled"][0])
    return list(metrics.bootstrap_ci(cell[f"{k}_resampled"] if nested else cell[k], weights=weights or None))


def judge(truth: dict[str, Any], orders: dict[str, dict[str, list[list[str]]]]) -> dict[str, Any]:
    """Metrics of each ranker: ``orders[ranker][target]`` is a list of rankings of all-class candidates
    (one, or many draws for random); in-class rankings are the same orders restricted to the class.

    Returns, per ranker, per scope (in, all) and per class plus ``overall`` (and, where the truth has CR and QA
    targets, per paper's class: ``class CR``, ``class QA``): mean ρ, NDCG (linear and
    exponential), Regret@1 and @3, each with a 95% bootstrap interval, and the number of targets; and per
    target each metric. With several seeds the metrics are scored on the seeds' mean (a best source within one
    SE ties), and the interval is nested: targets resampled, then each target's seeds (``seed_resamples``).
    """
    ds = truth["datasets"]
    # the paper's two classes of task, where a truth holds both (its all-class columns): a group each
    paper_class = {t: "class QA" if m == "squad_f1" else "class CR" for t, m in truth.get("metric", {}).items()}
    both = len(set(paper_class.values())) > 1
    by_seed = truth.get("scores_by_seed") if truth.get("seeds") else None
    resamples = metrics.seed_resamples(len(truth["seeds"])) if by_seed else []
    weights = [w for _, w in resamples]

    def under(t: str, cands: list[str], seeds: tuple[int, ...]) -> tuple[dict[str, float], list[str]]:
        runs = {s: [by_seed[t][s][i] for i in seeds] for s in cands}
        means = {s: _mean(v) for s, v in runs.items()}
        return means, tied_best(means, {s: _se(v) for s, v in runs.items()})

    out: dict[str, Any] = {}
    for ranker, per_target in orders.items():
        rows: dict[str, dict[str, dict[str, list[Any]]]] = {}
        per: dict[str, dict[str, float]] = {}
        resampled: dict[str, dict[str, list[float]]] = {}
        for t, draws in per_target.items():
            for scope in ("in", "all"):
                cands = candidates(truth, t, scope)
                if len(cands) < 2:
                    continue  # one candidate (or none) is no ranking
                scores = {s: truth["scores"][t][s] for s in cands}
                se = truth.get("scores_se", {}).get(t)  # several seeds: a best source within one SE ties
                vals = _order_metrics(scores, tied_best(scores, {s: se[s] for s in cands}) if se else None, draws)
                spread = [_order_metrics(*under(t, cands, seeds), draws) for seeds, _ in resamples]
                # each metric under each seed resample (one whose best score is not positive has no regret: the
                # point value stands in)
                under_seeds = {k: [m.get(k, v) for m in spread] for k, v in vals.items()}
                for group in (ds[t]["category"], "overall", *([paper_class[t]] if both else [])):
                    cell = rows.setdefault(scope, {}).setdefault(group, {})
                    for k, v in vals.items():
                        cell.setdefault(k, []).append(v)
                        cell.setdefault(f"{k}_resampled", []).append(under_seeds[k])
                per.setdefault(t, {}).update({f"{scope}_{k}": v for k, v in vals.items()})
                if spread:  # what the paired intervals resample
                    resampled.setdefault(t, {}).update({f"{scope}_{k}": under_seeds[k] for k in ("rho", "ndcg")})
        out[ranker] = {
            "draws": len(next(iter(per_target.values()))),
            "summary": {
                scope: {
                    g: {
                        **{k: float(np.mean(v)) for k, v in cell.items() if not k.endswith("_resampled")},
                        **{f"{k}_ci": _interval(cell, k, weights) for k in cell if not k.endswith("_resampled")},
                        "targets": len(cell["rho"]),
                    }
                    for g, cell in groups.items()
                }
                for scope, groups in rows.items()
            },
            "per_target": per,
            **({"per_target_resampled": resampled, "seed_resample_weights": weights} if resampled else {}),
        }
    return out


def paired_tests(
    judged: dict[str, Any], fute: Sequence[str] | None = None, scope: str = "all"
) -> dict[str, dict[str, dict[str, float]]]:
    """Each FUTE ranker (``fute``, default: the registered rankers marked ``is_fute``) against each other
    ranker, over the targets both rank in ``scope`` (all-class, or in-class): the mean difference of ρ and of
    NDCG with its 95% bootstrap interval (``diff_ci``: nested over each target's seeds where the truth has them,
    both rankers scored on the same resample, so the truth's seed noise is in it), the two-sided p of a paired
    sign-flip permutation test over the targets, and that p Holm-adjusted over the FUTE ranker's comparisons
    (``p_holm``: one family per FUTE ranker, scope and metric)."""
    from fute.registry import RANKERS

    fute = RANKERS.names_where(is_fute=True) if fute is None else fute
    out: dict[str, dict[str, dict[str, float]]] = {}
    for f in (r for r in judged if r in fute):
        for other in (r for r in judged if r != f):
            a, b = judged[f]["per_target"], judged[other]["per_target"]
            common = [t for t in a if t in b and f"{scope}_rho" in a[t] and f"{scope}_rho" in b[t]]
            if len(common) < 2:
                continue
            cell = {}
            for k in ("rho", "ndcg"):
                x, y = [a[t][f"{scope}_{k}"] for t in common], [b[t][f"{scope}_{k}"] for t in common]
                cell[f"{k}_diff"] = float(np.mean(x) - np.mean(y))
                cell[f"{k}_diff_ci"] = _paired_interval(judged[f], judged[other], common, f"{scope}_{k}")
                cell[f"{k}_p"] = metrics.paired_p_value(x, y)
            out.setdefault(f, {})[other] = cell
        for k in ("rho", "ndcg"):
            family = list(out.get(f, {}).values())
            for cell, adjusted in zip(family, metrics.holm([c[f"{k}_p"] for c in family]), strict=True):
                cell[f"{k}_p_holm"] = adjusted
    return out


def _paired_interval(a: dict[str, Any], b: dict[str, Any], targets: list[str], key: str) -> list[float]:
    """95% bootstrap interval of mean(a - b) over ``targets``: nested over each target's seed resamples when both
    judged rankers kept them (the same resample for both: they are scored against the same truth)."""
    ra, rb = a.get("per_target_resampled", {}), b.get("per_target_resampled", {})
    if all(key in ra.get(t, {}) and key in rb.get(t, {}) for t in targets):
        d = [np.subtract(ra[t][key], rb[t][key]) for t in targets]
        return list(metrics.bootstrap_ci(d, weights=a["seed_resample_weights"]))
    return list(metrics.bootstrap_ci([a["per_target"][t][key] - b["per_target"][t][key] for t in targets]))


def paired_by_scope(judged: dict[str, Any]) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """``paired_tests`` all-class and in-class: what the eval's JSON keeps and its markdown shows."""
    return {scope: paired_tests(judged, scope=scope) for scope in ("all", "in")}
