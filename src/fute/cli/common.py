"""What every command shares: the root app, the consoles, the options' declarations and the parsing of
``--option`` and ``--column`` values. Parsing and printing only: every rule lives in the API."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

from fute.registry import METHODS
from fute.space import TaskVector
from fute.tables import learning_line

app = typer.Typer(
    help="Task embeddings of datasets, models and prompts in one space (FUTE).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from fute import __version__

        typer.echo(f"fute {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print fute's version and exit")
    ] = False,
) -> None:
    """Task embeddings of datasets, models and prompts in one space (FUTE)."""


console = Console()
err = Console(stderr=True)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store folder or postgresql:// URL (default: "
        "$FUTE_STORE, else $FUTE_HOME/store, else "
        "~/.cache/fute/store)",
    ),
]
MethodOpt = Annotated[str, typer.Option(help=" | ".join(METHODS.names()))]
# a model's MTE is the method run on the labels the model gives U: a method that ignores labels makes one vector of all
ModelMethodOpt = Annotated[
    str, typer.Option(help=" | ".join(METHODS.names_where(uses_labels=True)) + " (the methods that read labels)")
]
SurrogateOpt = Annotated[
    str,
    typer.Option(
        help="Surrogate: 'default' (all-MiniLM-L6-v2), hub id or path; vectors compare only within one surrogate"
    ),
]
MaxExamplesOpt = Annotated[int | None, typer.Option(help="Seeded sample cap (default: the method's, 1000)")]
SeedOpt = Annotated[int, typer.Option(help="Seed (sampling, initialisation, shuffling)")]
MaxLengthOpt = Annotated[int, typer.Option(help="Token limit of the surrogate")]
OptionOpt = Annotated[
    list[str] | None, typer.Option(help="Method option KEY=VALUE, e.g. max_epochs=2 (`fute methods NAME` lists them)")
]
MethodOptionOpt = Annotated[
    list[str] | None,
    typer.Option(help="METHOD:KEY=VALUE for every embedding of METHOD (repeatable), e.g. fisher:keep_probe=false"),
]
QuietOpt = Annotated[bool, typer.Option(help="No progress bars")]
OverwriteOpt = Annotated[
    bool, typer.Option(help="Replace a vector of the same name made from other data or options (refused otherwise)")
]
ExecutorOpt = Annotated[str, typer.Option(help="local (in this process) | ray (pip install 'fute\\[ray]')")]
AddressOpt = Annotated[
    str | None,
    typer.Option(help="ray: cluster address ('auto' joins a running one; default: a local cluster on this machine)"),
]
GpusOpt = Annotated[
    float,
    typer.Option(
        help="ray: GPUs reserved per job (0.5: two jobs share one); each job computes on the GPU Ray gives it"
    ),
]
CpusOpt = Annotated[float, typer.Option(help="ray: CPUs per job")]
DeviceOpt = Annotated[
    str,
    typer.Option(help="auto (CUDA, then MPS, then CPU) | cpu | cuda | cuda:N | mps; recorded, not part of the space"),
]
DtypeOpt = Annotated[
    str,
    typer.Option(
        help="auto | float32 | bfloat16 | float16. auto: float32 for the surrogate (the Fisher needs it), bfloat16 "
        "for LLMs and classifiers on a GPU, float32 on a CPU (bfloat16 is faster on CPUs with AMX but moves the "
        "labels: docs/devices.md); a surrogate below float32 makes another space"
    ),
]


def executor_for(executor: str, address: str | None, gpus_per_job: float, cpus_per_job: float) -> Any:
    from fute.execute import get_executor

    return get_executor(executor, address=address, gpus_per_job=gpus_per_job, cpus_per_job=cpus_per_job)


def _print_vector(vec: TaskVector, cached: bool) -> None:
    """One line per vector as soon as embed_many knows it: what it is, from what, and how it came (computed
    now, with its seconds, or a cache hit, possibly a copy of another name's)."""
    d = vec.card.data
    if not cached:
        took = f"{vec.card.seconds:.1f} s"
    else:
        took = f"cached, copy of {vec.card.copied_from}" if vec.card.copied_from else "cached"
    if vec.kind == "dataset":
        head, rows = f"[bold]{vec.name}[/]: ", f"{d.n_used} of {d.n_total} examples"
    else:
        head, rows = f"[bold]{vec.name}[/] ({vec.kind}): ", f"{d.n_used} corpus rows"
    console.print(
        f"{head}{vec.vector.size}-d {vec.card.space.method} vector in space [cyan]{vec.space_id}[/] "
        f"from {rows} ({took})"
    )
    line = learning_line(vec.card.training)
    if line:
        console.print(f"  {line}", highlight=False)
