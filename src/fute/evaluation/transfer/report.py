"""The evaluation of rankers on a truth: each ranker (``fute.evaluation.rankers``) orders every target's
candidates, ``stats`` judges the orders, and the results are written as JSON, a markdown table and a plot."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fute.evaluation.transfer.stats import judge, paired_by_scope


def run_eval(
    truth: dict[str, Any], rankers: Sequence[str], context: Any, echo: Callable[[str], None] = print
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fit each ranker (``fute.evaluation.rankers``) on the run, order every target's candidates, judge them. The
    rankers that read the run's models keep their score tables in ``context.tables`` (``fit_kept``).

    Returns (metrics per ranker, orders per ranker and target).
    """
    from fute.evaluation.rankers import fit_kept, get_ranker, rank_all, truth_tasks

    fitted = []
    tasks = truth_tasks(truth)
    for name in rankers:
        r = get_ranker(name)
        if not tasks & r.tasks:  # defined for no target of this truth: left out, and the tables say why
            context.left_out[name] = r.why_not
            echo(f"ranker {name}: left out ({r.why_not})")
            continue
        if not tasks <= r.tasks:  # some targets only (e.g. the CR targets of an all-class truth): said too
            context.partial[name] = f"ranks the {' and '.join(sorted(tasks & r.tasks))} targets only: {r.why_not}"
            echo(f"ranker {name}: {context.partial[name]}")
        echo(f"ranker {name}: fitting")
        t0 = time.perf_counter()
        fitted.append(fit_kept(r, context))
        echo(f"ranker {name}: ready ({time.perf_counter() - t0:.0f} s)")
    if any(r.reads_u for r in fitted):  # a kept table does not count U's cleaning: count it
        context.u_removed_counts()
    orders = rank_all(fitted, truth)
    return judge(truth, orders), orders


def eval_record(
    truth: dict[str, Any], judged: dict[str, Any], orders: dict[str, Any], ctx: Any, command: str
) -> dict[str, Any]:
    """The JSON of an eval: how it was made (commands, rows per embedding, surrogate, U), the metrics, and
    each ranker's order of sources per target."""
    return {
        "command": command,
        "truth_command": truth.get("command"),
        "embed_examples": ctx.embed_examples,
        **({"query_examples": ctx.query_examples} if ctx.query_examples is not None else {}),
        "surrogate": ctx.surrogate,
        "corpus": ctx.corpus or "shipped U without the run's datasets",
        "u_rows_removed_as_evaluated_text": ctx.u_removed,
        **({"left_out": ctx.left_out} if ctx.left_out else {}),
        **({"partial": ctx.partial} if ctx.partial else {}),
        **({"method_options": ctx.method_options} if ctx.method_options else {}),
        "metrics": judged,
        "paired": paired_by_scope(judged),
        "orders": {r: {t: o[0] for t, o in per.items()} for r, per in orders.items()},
    }


def eval_plot(judged: dict[str, Any], path: str | Path) -> Path | None:
    """The eval's headline as a figure: each ranker's ρ and NDCG, in-class and all-class, with its 95% interval
    (FUTE rankers in one colour, the others in another, random's point as a dashed line). None (nothing written)
    without matplotlib, the ``viz`` extra."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fute.paths import atomic_write
    from fute.registry import RANKERS

    fute = set(RANKERS.names_where(is_fute=True))
    names = list(judged)[::-1]  # the table's order, top to bottom
    panels = [(s, k) for s in ("all", "in") for k in ("rho", "ndcg")]
    fig, axes = plt.subplots(1, 4, figsize=(16, 0.42 * len(names) + 1.6), sharey=True)
    for ax, (scope, k) in zip(axes, panels, strict=True):
        for y, r in enumerate(names):
            cell = judged[r]["summary"].get(scope, {}).get("overall", {})
            if k not in cell:
                continue
            lo, hi = cell.get(f"{k}_ci", (cell[k], cell[k]))
            colour = "tab:blue" if r in fute else "tab:grey"
            ax.plot([lo, hi], [y, y], color=colour, lw=2)
            ax.plot(cell[k], y, "o", color=colour)
            if r == "random":
                ax.axvline(cell[k], color="tab:red", ls="--", lw=1)
        better = "lower is better" if k == "rho" else "higher is better"
        ax.set(title=f"{'all' if scope == 'all' else 'in'}-class {'ρ' if k == 'rho' else 'NDCG'} ({better})")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(names)), names)
    fig.suptitle("Source-dataset selection: point and 95% interval per ranker (blue: FUTE; dashed: random)")
    fig.tight_layout()
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return out


def eval_markdown(
    truth: dict[str, Any],
    judged: dict[str, Any],
    command: str,
    notes: Sequence[str] = (),
    paired: dict[str, Any] | None = None,
) -> str:
    """The paper-shaped tables: methods x (ρ, NDCG) in-class and all-class; per class; per target. ``paired``: the
    record's ``paired_by_scope`` (computed here when not given)."""
    names = list(truth["datasets"])
    classes = sorted({d["category"] for d in truth["datasets"].values()})

    def cell(r: str, scope: str, group: str, k: str, fmt: str = ".3f") -> str:
        v = judged[r]["summary"].get(scope, {}).get(group)
        return "—" if v is None or k not in v else format(v[k], fmt)

    def interval(r: str, k: str, fmt: str = ".3f", scope: str = "all") -> str:
        v = judged[r]["summary"].get(scope, {}).get("overall", {}).get(f"{k}_ci")
        return "" if v is None else f"[{format(v[0], fmt)}, {format(v[1], fmt)}]"

    n_in = next(iter(judged.values()))["summary"].get("in", {}).get("overall", {}).get("targets", 0)
    lines = [
        "# Source-dataset selection",
        "",
        f"Command: `{command}`  ",
        f"Ground truth: `{truth.get('command', 'fute bench transfer truth')}` (transfer_truth.md).",
        "",
        "ρ: mean rank of the truly best source in the predicted ranking (lower is better). NDCG: over the "
        "whole ranking, relevance = the target's score after transfer from that source, min-max scaled "
        "over the candidates; **linear gain is the headline**, exponential (2^rel - 1) in brackets. "
        f"All-class: the {len(names) - 1} other datasets; in-class: those of the target's class "
        f"({n_in} targets have two or more). random: mean of {judged.get('random', {}).get('draws', 1000)} "
        "seeded orders.",
        *notes,
        "",
        "| method | in-class ρ ↓ | in-class NDCG ↑ | all-class ρ ↓ | all-class NDCG ↑ | Regret@1 ↓ | Regret@3 ↓ |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in judged:
        lines.append(
            f"| {r} | {cell(r, 'in', 'overall', 'rho', '.2f')} {interval(r, 'rho', '.2f', 'in')} | "
            f"{cell(r, 'in', 'overall', 'ndcg')} ({cell(r, 'in', 'overall', 'ndcg_exp')}) "
            f"{interval(r, 'ndcg', scope='in')} | {cell(r, 'all', 'overall', 'rho', '.2f')} "
            f"{interval(r, 'rho', '.2f')} | {cell(r, 'all', 'overall', 'ndcg')} "
            f"({cell(r, 'all', 'overall', 'ndcg_exp')}) {interval(r, 'ndcg')} | "
            f"{cell(r, 'all', 'overall', 'regret1', '.1f')} {interval(r, 'regret1', '.1f')} | "
            f"{cell(r, 'all', 'overall', 'regret3', '.1f')} {interval(r, 'regret3', '.1f')} |"
        )
    paired = paired_by_scope(judged) if paired is None else paired
    if paired["all"]:
        lines += [
            "",
            "Square brackets: a 95% bootstrap interval over targets"
            + (
                " and, within each target, its seeds (nested: the truth's scores re-averaged over a resample of them)"
                if truth.get("seeds")
                else ""
            )
            + " (for exponential-gain NDCG, in the JSON); Regret@k (all-class): the relative loss in % of the best "
            "real score among the top k against the best.",
            "",
            "## Paired tests (per target): FUTE against each other ranker",
            "",
            "Mean difference (FUTE minus the other; ρ lower and NDCG higher is better for FUTE) with its 95% "
            "bootstrap interval over the targets"
            + (" and their seeds (nested; both rankers on the same resample)" if truth.get("seeds") else "")
            + ", and the two-sided p of a paired sign-flip permutation test over the targets; * marks p < 0.05, ** a "
            "p that stays below 0.05 after Holm's correction for the FUTE ranker's comparisons (one family per "
            "ranker, scope and metric).",
            "",
            "| FUTE ranker | against | all-class Δρ | p | ΔNDCG | p | in-class Δρ | p | ΔNDCG | p |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]

        def test(c: dict[str, float] | None, k: str, fmt: str) -> str:
            if c is None:
                return "— | —"
            star = "**" if c[f"{k}_p_holm"] < 0.05 else "*" if c[f"{k}_p"] < 0.05 else ""
            lo, hi = c[f"{k}_diff_ci"]
            return f"{format(c[f'{k}_diff'], fmt)} [{format(lo, fmt)}, {format(hi, fmt)}] | {c[f'{k}_p']:.3f}{star}"

        for f, others in paired["all"].items():
            for o, c in others.items():
                inner = paired["in"].get(f, {}).get(o)
                lines.append(
                    f"| {f} | {o} | {test(c, 'rho', '+.2f')} | {test(c, 'ndcg', '+.3f')} | "
                    f"{test(inner, 'rho', '+.2f')} | {test(inner, 'ndcg', '+.3f')} |"
                )
    lines += [
        "",
        "## All-class, per class of the target (ρ / NDCG)",
        "",
        "| method | "
        + " | ".join(f"{c} ({sum(d['category'] == c for d in truth['datasets'].values())})" for c in classes)
        + " |",
        "|---|" + "---:|" * len(classes),
    ]
    for r in judged:
        lines.append(
            f"| {r} | "
            + " | ".join(f"{cell(r, 'all', c, 'rho', '.2f')} / {cell(r, 'all', c, 'ndcg')}" for c in classes)
            + " |"
        )
    lines += [
        "",
        "## Per target: the best source, and the rank each method gives it (all-class)",
        "",
        *(
            [
                "With seeds: the best mean first, then the sources tied with it (within one SE); a rank is that of the "
                "first of them in the method's order.",
                "",
            ]
            if truth.get("best_tied")
            else []
        ),
        "| target | no transfer | best source | " + " | ".join(judged) + " |",
        "|---|---:|---|" + "---:|" * len(judged),
    ]
    for t in names:
        row = truth["scores"][t]
        best = max(row, key=lambda s: row[s])
        tied = [s for s in sorted(truth.get("best_tied", {}).get(t, []), key=lambda s: -row[s]) if s != best]
        ranks = [judged[r]["per_target"].get(t, {}).get("all_rho") for r in judged]
        lines.append(
            f"| {t} | {truth['baseline'][t]:.3f} | {best} ({row[best]:.3f})"
            + (f"; tied: {', '.join(tied)}" if tied else "")
            + " | "
            + " | ".join("—" if v is None else f"{v:g}" if float(v).is_integer() else f"{v:.2f}" for v in ranks)
            + " |"
        )
    return "\n".join(lines) + "\n"
