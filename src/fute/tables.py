"""Tables people read in a terminal: shared by the CLI and the demo, so neither imports the other."""

from __future__ import annotations

from rich.table import Table

from fute.space import category_of


def ranking_table(name: str, ranked: list) -> Table:
    """The nearest vectors to ``name``, best first: rank, name, kind, category, score."""
    table = Table(title=f"nearest to {name}", title_justify="left")
    for col, justify in (("#", "right"), ("name", "left"), ("kind", "left"), ("category", "left"), ("score", "right")):
        table.add_column(col, justify=justify)
    for r in ranked:
        kind = r.vector.kind + (" (catalog)" if getattr(r, "origin", "store") == "catalog" else "")
        table.add_row(str(r.rank), r.vector.name, kind, category_of(r.vector.card, ""), f"{r.score:.4f}")
    return table
