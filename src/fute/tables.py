"""Tables people read in a terminal: shared by the CLI and the demo, so neither imports the other."""

from __future__ import annotations

from rich.table import Table

from fute.space import category_of


def ranking_table(name: str, ranked: list) -> Table:
    """The nearest vectors to ``name``, best first: rank, name, kind, category, a dataset's size (rows of the
    split it was embedded from: the evidence DataSize ranks by), score."""
    table = Table(title=f"nearest to {name}", title_justify="left")
    columns = (("#", "right"), ("name", "left"), ("kind", "left"), ("category", "left"), ("rows", "right"))
    for col, justify in (*columns, ("score", "right")):
        table.add_column(col, justify=justify)
    for r in ranked:
        kind = r.vector.kind + (" (catalog)" if getattr(r, "origin", "store") == "catalog" else "")
        score = f"{r.score:.4f}" + (" ≈" if getattr(r, "tied", False) else "")
        rows = f"{r.vector.card.data.n_total:,}" if r.vector.kind == "dataset" else ""  # a source's size
        table.add_row(str(r.rank), r.vector.name, kind, category_of(r.vector.card, ""), rows, score)
    return table


def ties_note(ranked: list, space_id: str) -> str | None:
    """One line under a ranking with tie marks: what ≈ means and where the noise figure comes from."""
    from fute.rank import score_noise

    noise = score_noise(space_id)
    if noise is None or not any(r.tied for r in ranked):
        return None
    method, sd = noise
    return (
        f"≈: within {sd:.3f} of the score above, the seed-to-seed spread of a {method} score "
        "(bench/results/embedding_quality): those two cannot be told apart"
    )
