"""`fute demo`: the main job on the bundled samples."""

from __future__ import annotations

from typing import Annotated

import typer

from fute.cli import common as ui
from fute.cli.common import (
    DeviceOpt,
    OverwriteOpt,
    QuietOpt,
    StoreOpt,
    app,
)
from fute.registry import METHODS


@app.command("demo")
def demo_cmd(
    method: Annotated[str, typer.Option(help=" | ".join(m for m in METHODS.names() if m != "datasize"))] = "fisher",
    map_out: Annotated[
        str | None,
        typer.Option(help="Map of the datasets: writes MAP_OUT.png and .html (default: $FUTE_HOME/demo-map)"),
    ] = None,
    device: DeviceOpt = "auto",
    store: StoreOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """The main job on bundled data: embed 9 samples, rank the shipped catalog as each one's sources, draw a map."""
    from fute.demo import run_demo
    from fute.paths import fute_home

    run_demo(
        method=method,
        store=store,
        progress=not quiet,
        console=ui.console,
        map_out=map_out or fute_home() / "demo-map",
        overwrite=overwrite,
        device=device,
    )
