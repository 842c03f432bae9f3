"""`fute map` and `fute report`: pictures of one space, and a static report."""

from __future__ import annotations

from typing import Annotated

import typer

from fute.cli import common as ui
from fute.cli.common import (
    QuietOpt,
    SeedOpt,
    StoreOpt,
    app,
)
from fute.registry import PROJECTIONS


@app.command("map")
def map_cmd(
    out: Annotated[str, typer.Option(help="Output name: writes OUT.png and OUT.html")] = "fute-map",
    kind: Annotated[
        list[str] | None, typer.Option(help="Only these kinds (repeatable): dataset | model | prompt")
    ] = None,
    color_by: Annotated[str, typer.Option(help="category | task | kind | model | prompt-type")] = "category",
    symbol_by: Annotated[
        str,
        typer.Option(
            help="category | task | kind | model | prompt-type | shape (kind, with vanilla vs CoT prompts apart)"
        ),
    ] = "shape",
    projection: Annotated[str, typer.Option(help=" | ".join(PROJECTIONS.names()))] = "tsne",
    space: Annotated[str | None, typer.Option(help="The space to draw (needed when the store has several)")] = None,
    method: Annotated[str | None, typer.Option(help="Or: the space of this method, if it has one")] = None,
    seed: SeedOpt = 0,
    store: StoreOpt = None,
) -> None:
    """Draw the vectors of one space in 2-D: a PNG and an interactive HTML with provenance on hover."""
    from fute.store import open_store
    from fute.viz import describe_spaces, map_store, write_map

    st = open_store(store)
    tmap = map_store(
        st,
        space=space,
        method=method,
        kinds=kind,
        projection=projection,
        color_by=color_by,
        symbol_by=symbol_by,
        seed=seed,
    )
    paths = write_map(tmap, out)
    ui.console.print(
        f"{len(tmap.points)} vectors of space {tmap.space_id} ({tmap.space}): {' and '.join(str(p) for p in paths)}",
        highlight=False,
    )
    if len(st.spaces()) > 1:
        ui.console.print(f"spaces in the store: {describe_spaces(st)}", highlight=False)


@app.command("report")
def report_cmd(
    out: Annotated[str, typer.Option(help="Output folder (index.html + PNG maps)")] = "fute-report",
    space: Annotated[str | None, typer.Option(help="Only this space (default: every space)")] = None,
    projection: Annotated[str, typer.Option(help=" | ".join(PROJECTIONS.names()))] = "tsne",
    results: Annotated[
        str | None, typer.Option(help="Benchmark results folder to include (default: ./bench/results when it exists)")
    ] = None,
    k: Annotated[int, typer.Option("-k", "--top", help="Neighbours listed per vector")] = 5,
    seed: SeedOpt = 0,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Write a static HTML report of the store: maps, nearest neighbours, benchmark tables."""
    from pathlib import Path

    from fute.report import write_report

    if results is None and Path("bench/results").is_dir():
        results = "bench/results"
    page = write_report(
        out, store, space=space, projection=projection, results=results, k=k, seed=seed, progress=not quiet
    )
    ui.console.print(f"report: {page} (open it in a browser; the folder is self-contained)", highlight=False)
