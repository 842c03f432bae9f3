"""`fute embed dataset` and `fute embed model`: parse, build the jobs' specs, print each vector."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fute.cli import common as ui
from fute.cli.common import (
    AddressOpt,
    CpusOpt,
    DeviceOpt,
    DtypeOpt,
    ExecutorOpt,
    GpusOpt,
    MaxExamplesOpt,
    MaxLengthOpt,
    MethodOpt,
    ModelMethodOpt,
    OptionOpt,
    OverwriteOpt,
    QuietOpt,
    SeedOpt,
    StoreOpt,
    SurrogateOpt,
    _print_vector,
    app,
    executor_for,
)
from fute.errors import ConfigError
from fute.options import method_options, parse_pairs
from fute.registry import TARGETS

embed_app = typer.Typer(help="Compute and store task embeddings.", no_args_is_help=True)


app.add_typer(embed_app, name="embed")


@embed_app.command("dataset")
def embed_dataset_cmd(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Files (JSONL/CSV/TSV/Parquet), folders of splits, HF datasets "
            "folders, or hub dataset names; one job each"
        ),
    ],
    name: Annotated[
        str | None, typer.Option(help="Name of the vector (one PATH only; default: the dataset's name)")
    ] = None,
    method: MethodOpt = "fisher",
    surrogate: SurrogateOpt = "default",
    split: Annotated[str, typer.Option(help="Split to embed")] = "train",
    column: Annotated[list[str] | None, typer.Option(help="Field mapping FIELD=COLUMN, e.g. text=sentence")] = None,
    task: Annotated[str | None, typer.Option(help="classification | regression | qa (default: inferred)")] = None,
    category: Annotated[
        str | None,
        typer.Option(help="Category recorded on the cards (default: the dataset.json's, if any); maps color by it"),
    ] = None,
    max_examples: MaxExamplesOpt = None,
    seed: SeedOpt = 0,
    max_length: MaxLengthOpt = 128,
    option: OptionOpt = None,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    gpus_per_job: GpusOpt = 0.0,
    cpus_per_job: CpusOpt = 1.0,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "auto",
    store: StoreOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Embed labeled datasets (their DTEs) and store them; already stored ones are skipped."""
    from fute.execute import EmbedSpec, embed_many, read_data
    from fute.samples import dataset_name

    if name and len(paths) > 1:
        raise ConfigError("--name names one vector; give one PATH, or leave --name out")
    opts = method_options(option, max_examples)
    opts["seed"] = seed
    columns = tuple(sorted(parse_pairs(column, "--column").items()))
    common = {
        "split": split,
        "columns": columns,
        "task": task,
        "category": category,
        "method": method,
        "surrogate": surrogate,
        "max_length": max_length,
        "method_options": tuple(sorted(opts.items())),
        "device": device,
        "dtype": dtype,
    }
    # a default name needs the data's own: read here, read again by the job (which may run elsewhere)
    specs = [
        EmbedSpec(
            name or dataset_name(read_data(p, split, columns, task), p),
            data=p,
            **common,
        )
        for p in paths
    ]

    embed_many(
        specs,
        store=store,
        executor=executor_for(executor, address, gpus_per_job, cpus_per_job),
        progress=not quiet,
        overwrite=overwrite,
        on_vector=_print_vector,
        say=None if quiet else (lambda line: ui.console.print(line, highlight=False)),
    )


@embed_app.command("model")
def embed_model_cmd(
    model: Annotated[
        str,
        typer.Argument(
            help="Classifier or LLM: hub id, folder, .gguf file, 'smollm2', or a served LLM as "
            "MODEL@URL (an OpenAI-compatible endpoint, e.g. llama3@http://127.0.0.1:8000/v1; key from $OPENAI_API_KEY)"
        ),
    ],
    name: Annotated[
        str | None, typer.Option(help="Name of the vector (default: the model name, plus /PROMPT_ID per prompt)")
    ] = None,
    prompt: Annotated[
        str | None,
        typer.Option(
            help="For an LLM: SET_OR_FILE:ID, or SET_OR_FILE for every prompt of the set (shipped sets: sentiment, nli)"
        ),
    ] = None,
    corpus: Annotated[str | None, typer.Option(help="Unlabeled corpus U (default: the shipped U)")] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Drop these datasets' rows from U (those under evaluation)")
    ] = None,
    pairs: Annotated[
        bool | None,
        typer.Option(
            "--pairs/--single",
            help="Shipped U as text pairs (a pair "
            "classifier) or single texts (default: "
            "the prompt's form, else single)",
        ),
    ] = None,
    category: Annotated[
        str | None,
        typer.Option(help="Category recorded on the card (e.g. of the model's training data); maps color by it"),
    ] = None,
    backend: Annotated[
        str, typer.Option(help=" | ".join(["auto", *(b for b in TARGETS.names() if b != "callable")]))
    ] = "auto",
    api: Annotated[str, typer.Option(help="A served LLM (MODEL@URL): completions | chat")] = "completions",
    max_reasoning_tokens: Annotated[int, typer.Option(help="Cap on chain-of-thought reasoning")] = 64,
    method: ModelMethodOpt = "fisher",
    surrogate: SurrogateOpt = "default",
    max_examples: MaxExamplesOpt = None,
    seed: SeedOpt = 0,
    max_length: MaxLengthOpt = 128,
    option: OptionOpt = None,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    gpus_per_job: GpusOpt = 0.0,
    cpus_per_job: CpusOpt = 1.0,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "auto",
    store: StoreOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Embed a model (its MTE): U labeled by the model, embedded in the space of datasets (fisher, prefix, prompt)."""
    from fute.embed import LLM_U_ROWS
    from fute.execute import embed_many, model_specs
    from fute.targets import split_endpoint

    opts = {**method_options(option, max_examples), "seed": seed}
    lm_opts: dict[str, Any] = {"max_reasoning_tokens": max_reasoning_tokens} if prompt else {}
    if split_endpoint(model)[1] is not None:
        lm_opts["api"] = api
    specs = model_specs(
        model,
        name=name,
        prompt=prompt,
        method_options=opts,
        target_options=lm_opts,
        backend=backend,
        corpus=corpus,
        exclude=tuple(exclude or ()),
        pairs=pairs,
        category=category,
        method=method,
        surrogate=surrogate,
        max_length=max_length,
        device=device,
        dtype=dtype,
    )
    if prompt and "max_examples" not in opts and not quiet:
        ui.console.print(
            f"U: {LLM_U_ROWS} rows per prompt, the default for an LLM (labeling is slow on a CPU: docs/speed.md "
            "has the measured speed); --max-examples N for more",
            highlight=False,
        )

    embed_many(
        specs,
        store=store,
        executor=executor_for(executor, address, gpus_per_job, cpus_per_job),
        progress=not quiet,
        overwrite=overwrite,
        on_vector=_print_vector,
        say=None if quiet else (lambda line: ui.console.print(line, highlight=False)),
    )
