"""`fute corpus build`: the unlabeled corpus U from datasets."""

from __future__ import annotations

from typing import Annotated

import typer

from fute.cli import common as ui
from fute.cli.common import (
    app,
)

corpus_app = typer.Typer(help="The unlabeled corpus U.", no_args_is_help=True)


app.add_typer(corpus_app, name="corpus")


@corpus_app.command("build")
def corpus_build_cmd(
    paths: Annotated[list[str], typer.Argument(help="Datasets whose inputs go into U (labels are dropped)")],
    out: Annotated[str, typer.Option(help="Output JSONL")],
    exclude: Annotated[
        list[str] | None, typer.Option(help="Datasets never to include (those under evaluation)")
    ] = None,
    size: Annotated[int, typer.Option(help="Rows in U, in equal shares per dataset")] = 1000,
    pairs: Annotated[bool, typer.Option(help="Pairs (premise, hypothesis) from paired datasets only")] = False,
    split: Annotated[str, typer.Option(help="Split to draw from")] = "train",
    seed: Annotated[int, typer.Option(help="Seed")] = 0,
) -> None:
    """Build U from datasets: mixed inputs, labels dropped, exclusions applied, fingerprinted."""
    from fute.corpus import build_corpus

    u = build_corpus(
        paths,
        exclude=exclude or (),
        size=size,
        pairs=pairs,
        split=split,
        seed=seed,
        name=out.rsplit("/", 1)[-1].removesuffix(".jsonl"),
    )
    u.save(out)
    card = u.card()
    mix = ", ".join(f"{k} {v}" for k, v in card["sources"].items())
    ui.console.print(
        f"{out}: {card['size']} rows ({'pairs' if pairs else 'single texts'}) from {mix}; "
        f"fingerprint {card['fingerprint'][:16]}"
    )
