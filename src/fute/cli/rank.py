"""`fute rank` and `fute catalog`: nearest vectors, the shipped catalog."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from fute.cli import common as ui
from fute.cli.common import (
    DeviceOpt,
    OverwriteOpt,
    QuietOpt,
    StoreOpt,
    _print_vector,
    app,
)
from fute.options import parse_pairs
from fute.tables import gains_note, not_learned_notes, ranking_table, ties_note


@app.command("rank")
def rank_cmd(
    name: Annotated[
        str,
        typer.Argument(
            help="A stored vector's name, or a dataset (file or folder, as `fute embed dataset` takes it; a "
            "stored name wins over a folder of that name): it is embedded and stored first, then ranked against "
            "your store and the shipped catalog"
        ),
    ],
    kind: Annotated[str | None, typer.Option(help="Candidates of this kind: dataset | model | prompt")] = None,
    k: Annotated[int, typer.Option("-k", "--top", help="How many")] = 10,
    method: Annotated[str | None, typer.Option(help="Use NAME's vector of this method (a file: embed with it)")] = None,
    space: Annotated[str | None, typer.Option(help="Use NAME's vector in this space")] = None,
    query_kind: Annotated[str | None, typer.Option(help="NAME's kind, if it has several")] = None,
    catalog: Annotated[
        bool | None,
        typer.Option(
            "--catalog/--no-catalog",
            help="Rank the shipped catalog's datasets too (`fute catalog`; default: yes when NAME is in its space)",
        ),
    ] = None,
    split: Annotated[str, typer.Option(help="A file or folder: the split to embed")] = "train",
    column: Annotated[
        list[str] | None, typer.Option(help="A file: field mapping FIELD=COLUMN, e.g. text=review")
    ] = None,
    task: Annotated[str | None, typer.Option(help="A file: classification | regression | qa")] = None,
    device: DeviceOpt = "auto",
    store: StoreOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Rank the vectors nearest to NAME (in its space): your store's and the shipped catalog's."""
    from pathlib import Path

    from fute.catalog import CATALOG, load_catalog
    from fute.rank import check_options, find_query, measured_gains, rank
    from fute.store import open_store

    check_options(kind=kind, query_kind=query_kind, k=k)
    st = open_store(store)
    if Path(name).expanduser().exists() and not st.vectors(name=name):  # a stored name wins over a folder
        from fute.embed import embed_dataset

        q = embed_dataset(
            name,
            split=split,
            columns=parse_pairs(column, "--column") or None,
            task=task,
            method=method or "fisher",
            store=st,
            overwrite=overwrite,
            progress=not quiet,
            device=device,
        )
        _print_vector(q, False)
        catalog = True if catalog is None else catalog
    else:
        q = find_query(st, name, kind=query_kind, space=space, method=method)
    extra = []
    if catalog or (catalog is None and CATALOG.is_file()):
        cat = load_catalog()
        if catalog or q.space_id == cat.space_id:
            cat.check_space(q.space_id, f"'{q.name}'")  # asked for: another space is an error, not a silent skip
            extra = cat.vectors
        else:
            ui.err.print(f"the catalog is in space {cat.space_id}, '{q.name}' in {q.space_id}: ranked without it")
    ranked = rank(q, st, kind=kind, k=k, catalog=extra)
    gains = measured_gains(q)
    ui.console.print(ranking_table(q.name, ranked, gains))
    for note in (ties_note(ranked, q.space_id), gains_note(ranked, gains), *not_learned_notes(q, ranked)):
        if note:
            ui.console.print(note, highlight=False)


@app.command("catalog")
def catalog_cmd() -> None:
    """The shipped catalog: public datasets already embedded at the default space, ranked by `fute rank`."""
    from fute.catalog import load_catalog
    from fute.space import category_of

    cat = load_catalog()
    table = Table(title=f"catalog, space {cat.space_id}: {cat.space.describe()}", title_justify="left")
    for col in ("name", "category", "task", "examples", "license"):
        table.add_column(col)
    for e in cat.entries:
        d = e.vector.card.data
        table.add_row(
            e.vector.name, category_of(e.vector.card, ""), d.task, f"{d.n_used} of {d.n_total}", escape(e.license)
        )
    ui.console.print(table)
    ui.console.print(
        f"task types: {', '.join(cat.task_types)} (datasets of other types are not in it)", highlight=False
    )
    ui.console.print(f"made by: {cat.command}", highlight=False)
