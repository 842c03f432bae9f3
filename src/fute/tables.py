"""Tables people read in a terminal: shared by the CLI and the demo, so neither imports the other."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table

from fute.space import category_of


def ranking_table(name: str, ranked: list, gains: Mapping[str, Any] | None = None) -> Table:
    """The nearest vectors to ``name``, best first: rank, name, kind, category, a dataset's size (rows of the
    split it was embedded from: the evidence DataSize ranks by), score; with ``gains`` (``fute.rank.measured_gains``)
    a column of the transfer gain measured for each source that has one."""
    table = Table(title=f"nearest to {name}", title_justify="left")
    columns = (("#", "right"), ("name", "left"), ("kind", "left"), ("category", "left"), ("rows", "right"))
    measured = ("measured gain", "right") if gains else None
    for col, justify in (*columns, ("score", "right"), *([measured] if measured else [])):
        table.add_column(col, justify=justify)
    for r in ranked:
        kind = r.vector.kind + (" (catalog)" if getattr(r, "origin", "store") == "catalog" else "")
        score = f"{r.score:.4f}" + (" ≈" if getattr(r, "tied", False) else "")
        rows = f"{r.vector.card.data.n_total:,}" if r.vector.kind == "dataset" else ""  # a source's size
        label = r.vector.name + (" †" if not_learned(r.vector) else "")
        cells = [str(r.rank), label, kind, category_of(r.vector.card, ""), rows, score]
        if gains:
            g = gains.get(r.vector.card.data.fingerprint) if r.vector.kind == "dataset" else None
            cells.append("" if g is None else f"{g.points:+.1f} ±{g.noise:.1f}" + (" *" if g.overlap else ""))
        table.add_row(*cells)
    return table


def not_learned(vector: Any) -> bool:
    """Whether the surrogate did not learn the task of the samples a vector was made from: its card's training says
    ``learned: false`` (held-out loss not 1% below a constant prediction's), or, where the growth rule ran, its last
    attempt missed the rule's margin at every row it could draw. Such a vector is mostly the noise of its training
    run, not the task, so a ranking marks it."""
    training = vector.card.training or {}
    tries = training.get("attempts") or []
    return training.get("learned") is False or (bool(tries) and _margin_met(tries[-1]) is False)


def _margin_met(attempt: Mapping[str, Any]) -> bool | None:
    """Whether one try of the growth rule learned its task with the rule's margin (None: nothing to judge)."""
    return None if attempt["loss_ratio"] is None else attempt["loss_ratio"] <= attempt["margin"]


def learning_line(training: Mapping[str, Any] | None) -> str | None:
    """What the growth rule did (a card's ``training.attempts``, ``fute.methods.training.next_rows``), in one line
    for ``fute embed`` and the API; None where it did not run."""
    tries = (training or {}).get("attempts") or []
    if not tries or _margin_met(tries[-1]) is None:
        return None
    last = tries[-1]
    earlier = "".join(f"; {t['rows']:,} rows: {t['loss_ratio']:.2f}" for t in tries[:-1])
    if _margin_met(last):
        ratio = f"{last['loss_ratio']:.2f}"
        return f"learned at {last['rows']:,} rows: held-out loss {ratio} x a constant prediction's{earlier}"
    return (
        f"not learned with a margin at {last['rows']:,} rows, all it could draw: held-out loss {last['loss_ratio']:.2f}"
        f" x a constant prediction's (at most {last['margin']:.2f} is learned){earlier}; the vector says little about "
        "the task: more rows, or the quality tier (--surrogate mpnet), may help"
    )


def not_learned_notes(query: Any, ranked: list) -> list[str]:
    """A line each when the query, or a ranked vector (marked †), comes from a surrogate that did not learn its task,
    with what may help."""
    notes = []
    if not_learned(query):
        notes.append(
            f"the surrogate did not learn the task of {query.name}'s samples, so these scores say little; more rows "
            "or the quality tier (--surrogate mpnet) may help"
        )
    if any(not_learned(r.vector) for r in ranked):
        notes.append(
            "†: the surrogate did not learn that vector's task (held-out loss not 1% below a constant prediction's, "
            "or above the growth rule's margin at every row it could draw), so its score says little about its task"
        )
    return notes


def gains_note(ranked: list, gains: Mapping[str, Any]) -> str | None:
    """What the measured-gain column means, its noise, and what * marks; None when no row shows a gain."""
    shown = [gains[r.vector.card.data.fingerprint] for r in ranked if r.vector.card.data.fingerprint in gains]
    if not shown:
        return None
    first = shown[0]  # seeds, rows and truth are the same for every gain (one query: one truth)
    note = (
        "measured gain ± its standard error: points of held-out score (accuracy; Pearson r x 100 for regression; "
        f"SQuAD F1 x 100 for QA) that training a MiniLM on that source first added to {first.rows} rows of this data, "
        "in this project's "
        f"transfer benchmark ({f'mean of {first.seeds} seeds' if first.seeds > 1 else 'one seed'}; {first.truth})"
    )
    marked = [g.overlap for g in shown if g.overlap]
    if marked:
        note += (
            f"; *: the source had trained on some of the scored rows (up to {max(marked)}: a truth made without the "
            "leak guard), so part of that gain is not transfer"
        )
    return note


def ties_note(ranked: list, space_id: str) -> str | None:
    """One line under a ranking with tie marks: what ≈ means and where the noise figure comes from."""
    from fute.rank import score_noise

    noise = score_noise(space_id)
    if noise is None or not any(r.tied for r in ranked):
        return None
    method, sd = noise
    return (
        f"≈: within {sd:.3f} of the score above, the seed-to-seed spread of a {method} score "
        "(docs/methods.md): those two cannot be told apart"
    )
