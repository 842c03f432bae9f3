"""`fute methods [NAME]`: the methods and each one's options, from their config fields."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from fute.cli import common as ui
from fute.cli.common import (
    app,
)
from fute.registry import METHODS


@app.command("methods")
def methods_cmd(name: Annotated[str | None, typer.Argument(help="A method: its options")] = None) -> None:
    """List the task-embedding methods, or one method's options: help, type, default, bounds, in the space."""
    from fute.methods import method_options

    if not name:
        table = Table(title="methods (fute methods NAME lists its options)", title_justify="left")
        for col in ("method", "reads labels", "what it is"):
            table.add_column(col)
        for m in METHODS.in_order():
            cls = METHODS.get_class(m)
            table.add_row(m, "yes" if cls.uses_labels else "no", (cls.__doc__ or "").strip().split("\n")[0])
        ui.console.print(table)
        return
    ui.console.print(f"options of {name} (--option KEY=VALUE):", highlight=False)
    for o in method_options(name):
        bounds = f"; {o.bounds}" if o.bounds else ""
        ui.console.print(f"  [bold]{o.name}[/] = {o.default!r}  ({o.type}{escape(bounds)}; in space: {o.in_space})")
        ui.console.print(f"      {escape(o.help)}", highlight=False)
    ui.console.print(
        "in space: yes = another value makes another space (vectors are compared only within one); no = it "
        "changes which rows are used, not the coordinates; when set = a space of its own once it differs from "
        "the default",
        highlight=False,
    )
