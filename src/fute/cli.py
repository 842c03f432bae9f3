"""The `fute` command: a thin layer over the Python API (same functions, same errors)."""

from __future__ import annotations

import json
import sys
import warnings
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fute.errors import ConfigError, FuteError
from fute.registry import METHODS, PROJECTIONS, RANKERS, SELECTORS, TARGETS
from fute.space import Card, TaskVector, category_of
from fute.tables import gains_note, learned_nothing_notes, ranking_table, ties_note

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


embed_app = typer.Typer(help="Compute and store task embeddings.", no_args_is_help=True)
app.add_typer(embed_app, name="embed")
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


def parse_value(text: str) -> Any:
    """`--option k=v` values: ints, floats, true/false/none, else the string."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def method_options(option: list[str] | None, max_examples: int | None) -> dict[str, Any]:
    opts = {k: parse_value(v) for k, v in parse_pairs(option, "--option").items()}
    if max_examples is not None:
        opts["max_examples"] = max_examples
    return opts


def options_by_method(option: list[str] | None) -> dict[str, dict[str, Any]]:
    """``METHOD:KEY=VALUE`` items as {method: {key: value}}."""
    out: dict[str, dict[str, Any]] = {}
    for item in option or []:
        method, sep, pair = item.partition(":")
        if not sep or not method.strip():
            raise ConfigError(f"--option '{item}' needs the form METHOD:KEY=VALUE, e.g. fisher:keep_probe=false")
        out.setdefault(method.strip(), {}).update(method_options([pair], None))
    return out


def parse_pairs(items: list[str] | None, what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"{what} '{item}' needs the form KEY=VALUE")
        k, v = (part.strip() for part in item.split("=", 1))
        if not k or not v:
            raise ConfigError(f"{what} '{item}': the {'key' if not k else 'value'} is empty; give KEY=VALUE")
        out[k.replace("-", "_") if what == "--option" else k] = v
    return out


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
    from fute.embed import dataset_name
    from fute.execute import EmbedSpec, embed_many, read_data

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
        say=None if quiet else (lambda line: console.print(line, highlight=False)),
    )


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
    from fute.execute import EmbedSpec, embed_many
    from fute.targets import split_endpoint
    from fute.targets.prompts import load_prompt_set

    opts = method_options(option, max_examples)
    opts["seed"] = seed
    prompts: list = [None]
    if prompt:
        set_name, _, pid = prompt.rpartition(":") if ":" in prompt else (prompt, "", "")
        pset = load_prompt_set(set_name)
        prompts = [pset[pid]] if pid else list(pset)
        if "max_examples" not in opts:  # the API's default for an LLM with a prompt, written into each job's spec
            from fute.embed import LLM_U_ROWS

            opts["max_examples"] = LLM_U_ROWS
            if not quiet:
                console.print(
                    f"U: {LLM_U_ROWS} rows per prompt, the default for an LLM (labeling costs seconds per row on a "
                    "CPU: docs/speed.md); --max-examples N for more",
                    highlight=False,
                )
    served = split_endpoint(model)[1] is not None
    base = name or split_endpoint(model)[0].rstrip("/").split("/")[-1]
    lm_opts: dict[str, Any] = {"max_reasoning_tokens": max_reasoning_tokens} if prompt else {}
    if served:
        lm_opts["api"] = api
    common = {
        "model": model,
        "backend": backend,
        "target_options": tuple(sorted(lm_opts.items())),
        "corpus": corpus,
        "exclude": tuple(exclude or ()),
        "pairs": pairs,
        "category": category,
        "method": method,
        "surrogate": surrogate,
        "max_length": max_length,
        "method_options": tuple(sorted(opts.items())),
        "device": device,
        "dtype": dtype,
    }
    specs = [
        EmbedSpec(
            base if p is None or (name and len(prompts) == 1) else f"{base}/{p.id}",
            kind="model" if p is None else "prompt",
            prompt=p,
            **common,
        )
        for p in prompts
    ]

    embed_many(
        specs,
        store=store,
        executor=executor_for(executor, address, gpus_per_job, cpus_per_job),
        progress=not quiet,
        overwrite=overwrite,
        on_vector=_print_vector,
        say=None if quiet else (lambda line: console.print(line, highlight=False)),
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
    console.print(
        f"{out}: {card['size']} rows ({'pairs' if pairs else 'single texts'}) from {mix}; "
        f"fingerprint {card['fingerprint'][:16]}"
    )


store_app = typer.Typer(help="The vector store's health: check it, repair it.", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("check")
def store_check_cmd(store: StoreOpt = None) -> None:
    """Read every space's table in full and say which are damaged (exit 1 if any is)."""
    from fute.store import open_store

    st = open_store(store)
    found = st.check()
    for h in found:
        console.print(f"{h.space_id}: {h.status} ({h.detail})", highlight=False)
    damaged = [h for h in found if h.status != "ok"]
    console.print(
        f"{len(found)} space(s) in {getattr(st, 'path', st)}, {len(damaged)} damaged"
        + ("; `fute store repair` restores or sets them aside" if damaged else ""),
        highlight=False,
    )
    if damaged:
        raise typer.Exit(1)


@store_app.command("repair")
def store_repair_cmd(store: StoreOpt = None) -> None:
    """Restore each damaged table's newest version that reads in full, or move it to .quarantine/ (nothing
    is deleted); sound tables are left as they are."""
    from fute.store import open_store

    st = open_store(store)
    done = st.repair()
    for h in done:
        console.print(f"{h.space_id}: {h.status} {h.detail}", highlight=False)
    console.print(f"{len(done)} table(s) repaired" if done else "nothing to repair: every table reads", highlight=False)


@app.command("list")
def list_cmd(
    kind: Annotated[str | None, typer.Option(help="dataset | model | prompt")] = None,
    space: Annotated[str | None, typer.Option(help="Only this space id")] = None,
    store: StoreOpt = None,
) -> None:
    """List stored vectors, grouped by space."""
    from fute.space import check_kind
    from fute.store import open_store

    check_kind(kind)
    st = open_store(store)
    vectors = st.vectors(space, kind=kind)
    if not vectors:
        console.print(f"no vectors in {getattr(st, 'path', st)}; add some with `fute embed dataset PATH`")
        return
    for sid in sorted({v.space_id for v in vectors}):
        group = [v for v in vectors if v.space_id == sid]
        table = Table(title=f"space {sid}: {group[0].card.space.describe()}", title_justify="left")
        for col in ("name", "kind", "dim", "examples", "task", "category", "created"):
            table.add_column(col)
        for v in group:
            d = v.card.data
            table.add_row(
                v.name,
                v.kind,
                str(v.vector.size),
                f"{d.n_used}/{d.n_total}",
                d.task,
                category_of(v.card, ""),
                v.card.created,
            )
        console.print(table)


@app.command("show")
def show_cmd(
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print cards as JSON")] = False,
    history: Annotated[
        bool, typer.Option("--history", help="Every version the vector had, oldest first (one replaced too)")
    ] = False,
    store: StoreOpt = None,
) -> None:
    """Show the provenance card(s) of a stored vector."""
    from fute.store import open_store

    st = open_store(store)
    found = st.history(name) if history else st.vectors(name=name)
    if not found:
        raise st.not_found(name)
    if as_json:
        console.print_json(json.dumps([v.card.to_dict() for v in found]))
        return
    for v in found:
        c = v.card
        s = c.space.surrogate
        table = Table(title=f"{v.name} ({v.kind})", show_header=False, title_justify="left")
        rows = [
            ("space", v.space_id),
            ("method", c.space.method),
            ("config", json.dumps(c.method_config)),
            ("surrogate", _describe_surrogate(s)),
            ("weights sha256", str(s.get("weights_sha256", "?"))),
            ("data", c.data.source),
            ("fingerprint", c.data.fingerprint),
            ("examples", f"{c.data.n_used} used of {c.data.n_total}"),
            ("task", f"{c.data.task} {c.data.labels or ''}".strip()),
            ("seed", str(c.seed)),
            ("dim", str(v.vector.size)),
            ("norm", f"{float((v.vector.astype('float64') ** 2).sum() ** 0.5):.4g}"),
            ("fute", c.fute_version),
            ("created", c.created),
            ("seconds", str(c.seconds)),
        ]
        if "table_version" in c.extra:
            rows.append(("stored", f"table version {c.extra['table_version']}, {c.extra['committed']}"))
        rows[8:8] = _card_extras(c)
        for k, val in rows:
            table.add_row(k, escape(val))  # values are text: "[encoder, ...]" is not rich markup
        console.print(table)


def _describe_surrogate(s: dict[str, Any]) -> str:
    """The surrogate's line of a card; a field that an older or foreign card lacks is left out, not a crash."""
    parts = [str(s[k]) for k in ("architecture",) if k in s]
    parts += [f"{label} {s[k]}" for k, label in (("pooling", "pooling"), ("max_length", "max")) if k in s]
    tokens = " tokens" if "max_length" in s else ""
    return f"{s.get('name', '?')}" + (f" [{', '.join(parts)}{tokens}]" if parts else "")


def _card_extras(c: Card) -> list[tuple[str, str]]:
    """What a card holds beyond the common fields: a model's target and U, the category, how the surrogate
    trained, and what a copy was copied from."""
    rows = []
    category = category_of(c, "")
    if category:
        rows.append(("category", category))
    t = c.target
    if t:
        rows.append(("model", f"{t.get('model', '?')} [{t.get('backend', '?')}]"))
        if t.get("weights_sha256"):
            rows.append(("model sha256", str(t["weights_sha256"])))
        if t.get("dtype"):
            rows.append(("model dtype", str(t["dtype"])))
        if t.get("prompt"):
            pr = t["prompt"]
            cap = f", reasoning cap {t['max_reasoning_tokens']}" if "max_reasoning_tokens" in t else ""
            rows.append(("prompt", f"{pr.get('id', '?')} ({pr.get('type', '?')}{cap})"))
    u = c.corpus
    if u:
        sources = ", ".join(f"{k} {v}" for k, v in u.get("sources", {}).items())
        rows.append(("corpus U", f"{u.get('name', '?')}: {u.get('size', '?')} rows ({sources})"))
        rows.append(("U fingerprint", str(u.get("fingerprint", "?"))))
    tr = c.training
    if tr and tr.get("members"):  # an ensemble of seeds
        rows.append(
            (
                "training",
                f"an ensemble of {len(tr['members'])} seeds; held-out loss "
                + ", ".join(str(m.get("heldout_loss")) for m in tr["members"])
                + f"; converged {tr.get('converged')}, learned {tr.get('learned')}",
            )
        )
    elif tr:
        rows.append(
            (
                "training",
                f"stopped by {tr.get('stopped', '?')} after {tr.get('finetune_epochs', 0)} epochs; held-out loss "
                f"{tr.get('heldout_loss')} (constant prediction {tr.get('prior_heldout_loss')}); "
                f"converged {tr.get('converged')}, learned {tr.get('learned')}",
            )
        )
    precision = c.space.surrogate.get("precision")
    if precision:
        rows.append(("surrogate precision", f"{precision} (autocast; another space than float32)"))
    if c.device:
        rows.append(("computed on", c.device))
    if c.copied_from:
        rows.append(("copied from", c.copied_from))
    return rows


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
            err.print(f"the catalog is in space {cat.space_id}, '{q.name}' in {q.space_id}: ranked without it")
    ranked = rank(q, st, kind=kind, k=k, catalog=extra)
    gains = measured_gains(q)
    console.print(ranking_table(q.name, ranked, gains))
    for note in (ties_note(ranked, q.space_id), gains_note(ranked, gains), *learned_nothing_notes(q, ranked)):
        if note:
            console.print(note, highlight=False)


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
    console.print(table)
    console.print(f"task types: {', '.join(cat.task_types)} (datasets of other types are not in it)", highlight=False)
    console.print(f"made by: {cat.command}", highlight=False)


@app.command("map")
def map_cmd(
    out: Annotated[str, typer.Option(help="Output name: writes OUT.png and OUT.html")] = "fute-map",
    kind: Annotated[
        list[str] | None, typer.Option(help="Only these kinds (repeatable): dataset | model | prompt")
    ] = None,
    color_by: Annotated[str, typer.Option(help="category | kind | model | prompt-type")] = "category",
    symbol_by: Annotated[
        str,
        typer.Option(help="category | kind | model | prompt-type | shape (kind, with vanilla vs CoT prompts apart)"),
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
    console.print(
        f"{len(tmap.points)} vectors of space {tmap.space_id} ({tmap.space}): {' and '.join(str(p) for p in paths)}",
        highlight=False,
    )
    if len(st.spaces()) > 1:
        console.print(f"spaces in the store: {describe_spaces(st)}", highlight=False)


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
    console.print(f"report: {page} (open it in a browser; the folder is self-contained)", highlight=False)


@app.command("prompts")
def prompts_cmd(prompt_set: Annotated[str | None, typer.Argument(help="A shipped set name or a file")] = None) -> None:
    """List the shipped prompt sets, or the prompts of one set."""
    from fute.targets.prompts import load_prompt_set, shipped_prompt_sets

    if not prompt_set:
        table = Table(title="shipped prompt sets", title_justify="left")
        for col in ("set", "input", "labels", "prompts"):
            table.add_column(col)
        for set_name in shipped_prompt_sets():
            pset = load_prompt_set(set_name)
            types = sorted({p.type for p in pset})
            counts = ", ".join(f"{sum(p.type == t for p in pset)} {t}" for t in types)
            table.add_row(pset.name, pset.input, ", ".join(pset.labels), counts)
        console.print(table)
        console.print("fute prompts SET shows a set's prompts; --prompt SET:ID picks one for fute embed model")
        return
    pset = load_prompt_set(prompt_set)
    table = Table(title=f"{pset.name} ({pset.input}; labels: {', '.join(pset.labels)})", title_justify="left")
    for col in ("id", "type", "template", "label words"):
        table.add_column(col)
    for p in pset:
        words = "; ".join(f"{k}: {'/'.join(v)}" for k, v in p.verbalizer.items())
        table.add_row(p.id, p.type, p.template.replace("\n", " / "), words)
    console.print(table)


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
        console.print(table)
        return
    console.print(f"options of {name} (--option KEY=VALUE):", highlight=False)
    for o in method_options(name):
        bounds = f"; {o.bounds}" if o.bounds else ""
        console.print(f"  [bold]{o.name}[/] = {o.default!r}  ({o.type}{escape(bounds)}; in space: {o.in_space})")
        console.print(f"      {escape(o.help)}", highlight=False)
    console.print(
        "in space: yes = another value makes another space (vectors are compared only within one); no = it "
        "changes which rows are used, not the coordinates; when set = a space of its own once it differs from "
        "the default",
        highlight=False,
    )


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
    """Embed the bundled sample datasets with the default surrogate, rank each one's neighbours, draw a map."""
    from fute.demo import run_demo
    from fute.paths import fute_home

    run_demo(
        method=method,
        store=store,
        progress=not quiet,
        console=console,
        map_out=map_out or fute_home() / "demo-map",
        overwrite=overwrite,
        device=device,
    )


bench_app = typer.Typer(
    help="The paper's experiments, on any data: ground truth, rankers, tables.", no_args_is_help=True
)
app.add_typer(bench_app, name="bench")
transfer_app = typer.Typer(
    help="Source-dataset selection: real transfer scores, and how well rankers predict them.", no_args_is_help=True
)
bench_app.add_typer(transfer_app, name="transfer")
RunDirOpt = Annotated[
    str | None, typer.Option(help="Run folder: finished jobs, models, vectors (default: $FUTE_HOME/bench/transfer)")
]
ResultsOpt = Annotated[str, typer.Option(help="Where the tables go (JSON + markdown)")]


def _command_line() -> str:
    import shlex
    from pathlib import Path

    return shlex.join(["fute", *sys.argv[1:]]) if Path(sys.argv[0]).name == "fute" else shlex.join(sys.argv)


@transfer_app.command("truth")
def transfer_truth_cmd(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Datasets (folders with train and dev splits); each is a source for every other and a target"
        ),
    ],
    model: Annotated[
        str, typer.Option(help="Task model base: 'default' (the default surrogate's architecture) or any HF id/folder")
    ] = "default",
    source_examples: Annotated[int, typer.Option(help="Source training examples (seeded sample)")] = 1000,
    target_examples: Annotated[int, typer.Option(help="Target training examples (the limited-data regime)")] = 250,
    dev_examples: Annotated[
        int, typer.Option(help="Target rows scored (at most; a seeded sample of the --score-split split)")
    ] = 1000,
    score_split: Annotated[
        str,
        typer.Option(
            help="Split a target is scored on: test (where it has one, else dev) or dev (else test; the split of "
            "truths made before this option)"
        ),
    ] = "test",
    source_epochs: Annotated[float, typer.Option(help="Epochs of intermediate training")] = 2.0,
    target_epochs: Annotated[float, typer.Option(help="Epochs on the target")] = 2.0,
    learning_rate: Annotated[float, typer.Option(help="AdamW learning rate")] = 1e-4,
    batch_size: Annotated[int, typer.Option(help="Batch size")] = 32,
    max_length: MaxLengthOpt = 128,
    seed: SeedOpt = 0,
    seeds: Annotated[
        int,
        typer.Option(
            help="Training runs per source, baseline and pair (seeds SEED..SEED+N-1, the scored rows fixed): "
            "each score is their mean with a standard error, and sources within one SE of the best tie"
        ),
    ] = 1,
    only_seed: Annotated[
        int | None,
        typer.Option(
            help="Run only this seed's jobs (a second worker on the same run folder, e.g. the last seed while "
            "another process works through the first ones); the command without it assembles the truth"
        ),
    ] = None,
    models: Annotated[
        bool,
        typer.Option(
            "--models",
            help="Also retrain the first seed's finished models that are missing here (a run resumed on another "
            "machine): the eval's model-reading rankers need them where their vectors and score tables are not kept",
        ),
    ] = False,
    run_dir: RunDirOpt = None,
    results: ResultsOpt = "bench/results",
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    gpus_per_job: GpusOpt = 0.0,
    cpus_per_job: CpusOpt = 1.0,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Fine-tune on each source, then on each target from it (and from nothing): the real transfer scores.

    Every job is cached in the run folder: rerun the same command to resume after an interruption.
    """

    from fute.evaluation.jobs import write_results
    from fute.evaluation.transfer.data import TransferConfig
    from fute.evaluation.transfer.truth import run_truth, truth_markdown

    cfg = TransferConfig(
        model=model,
        source_examples=source_examples,
        target_examples=target_examples,
        dev_examples=dev_examples,
        score_split=score_split,
        source_epochs=source_epochs,
        target_epochs=target_epochs,
        learning_rate=learning_rate,
        batch_size=batch_size,
        max_length=max_length,
        seed=seed,
        seeds=seeds,
    )
    truth = run_truth(
        paths,
        cfg,
        run_dir=run_dir,
        executor=executor_for(executor, address, gpus_per_job, cpus_per_job),
        progress=not quiet,
        echo=console.print,
        command=_command_line(),
        device=device,
        only_seed=only_seed,
        models=models,
    )
    if truth is None:  # one seed's jobs: no truth to write yet
        return
    md = truth_markdown(truth, truth["command"])
    write_results(results, "transfer_truth", truth, md)
    console.print(md, highlight=False, markup=False, soft_wrap=True)


@transfer_app.command("eval")
def transfer_eval_cmd(
    ranker: Annotated[
        list[str] | None,
        typer.Option(help=f"Rankers to judge (repeatable; default: all: {', '.join(RANKERS.in_order())})"),
    ] = None,
    embed_examples: Annotated[
        int | None, typer.Option(help="Examples per embedding (default: the run's target examples)")
    ] = None,
    corpus_single: Annotated[
        str | None,
        typer.Option(help="U for single-text source models (default: the shipped U without the run's datasets)"),
    ] = None,
    corpus_pair: Annotated[str | None, typer.Option(help="U for text-pair source models")] = None,
    surrogate: SurrogateOpt = "default",
    run_dir: RunDirOpt = None,
    results: ResultsOpt = "bench/results",
    store: Annotated[str | None, typer.Option(help="Vector store (default: RUN_DIR/store)")] = None,
    option: MethodOptionOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Judge rankers of source datasets against a transfer run: ρ and NDCG, in-class and all-class."""
    from fute.evaluation.jobs import run_folder, write_results
    from fute.evaluation.rankers import RankContext
    from fute.evaluation.transfer.report import eval_markdown, eval_plot, eval_record, run_eval
    from fute.evaluation.transfer.truth import load_truth
    from fute.store import open_store

    truth = load_truth(run_dir)
    run = run_folder(run_dir, "transfer")
    corpus = {k: v for k, v in (("single", corpus_single), ("pair", corpus_pair)) if v}
    ctx = RankContext(
        truth,
        open_store(store or run / "store"),
        embed_examples=embed_examples,
        surrogate=surrogate,
        corpus=corpus,
        progress=not quiet,
        tables=run / "rankers",
        method_options=options_by_method(option),
    )
    judged, orders = run_eval(truth, ranker or RANKERS.in_order(), ctx, echo=console.print)
    command = _command_line()
    record = eval_record(truth, judged, orders, ctx, command)
    md = eval_markdown(truth, judged, command, paired=record["paired"])
    write_results(results, "transfer_eval", record, md)
    console.print(md, highlight=False, markup=False, soft_wrap=True)
    plot = eval_plot(judged, f"{results}/transfer_eval.png")
    console.print(f"plot: {plot}" if plot else "no plot: matplotlib is not installed (pip install 'fute[viz]')")


prompts_bench_app = typer.Typer(
    help="Prompt selection without labels: real scores of every prompt, and how well selectors pick.",
    no_args_is_help=True,
)
bench_app.add_typer(prompts_bench_app, name="prompts")
PromptRunDirOpt = Annotated[
    str | None, typer.Option(help="Run folder: finished jobs, LLM labels of U (default: $FUTE_HOME/bench/prompts)")
]
PromptDataOpt = Annotated[
    list[str],
    typer.Option(
        help="CATEGORY=PATH (repeatable): an evaluation dataset of a prompt set (shipped: sentiment, nli), "
        "e.g. nli=../shared/data/rte"
    ),
]
PromptLlmOpt = Annotated[
    list[str] | None,
    typer.Option(
        help="LLMs (repeatable): alias (smollm2, gemma-3-270m), .gguf, folder or hub id, or MODEL@URL for a model "
        "behind an OpenAI-compatible endpoint, e.g. qwen@http://127.0.0.1:8000/v1 (completions API, key from "
        "$OPENAI_API_KEY)"
    ),
]
MteExamplesOpt = Annotated[int, typer.Option(help="U rows per prompt MTE, when one must be computed")]
DteExamplesOpt = Annotated[
    int, typer.Option(help="Training rows per dataset DTE (a stored DTE of another size is recomputed)")
]


def _prompt_data(data: list[str]) -> dict[str, dict[str, str]]:
    """``--data CATEGORY=PATH`` items as {category: {dataset name: path}}."""
    from fute.embed import dataset_name
    from fute.samples import load_first_split

    sets: dict[str, dict[str, str]] = {}
    for item in data:
        category, sep, path = item.partition("=")
        if not sep or not path:
            raise ConfigError(f"--data '{item}' needs the form CATEGORY=PATH, e.g. sentiment=../shared/data/sst2")
        rows = load_first_split(path, ("train", "test", "dev", "validation"), "to read its name from")
        sets.setdefault(category, {})[dataset_name(rows, path)] = path
    return sets


@prompts_bench_app.command("truth")
def prompts_truth_cmd(
    data: PromptDataOpt,
    llm: PromptLlmOpt = None,
    examples: Annotated[
        int, typer.Option(help="Evaluation examples per dataset (seeded sample of test, else dev)")
    ] = 32,
    max_reasoning_tokens: Annotated[int, typer.Option(help="Cap on chain-of-thought reasoning")] = 32,
    seed: SeedOpt = 0,
    run_dir: PromptRunDirOpt = None,
    results: ResultsOpt = "bench/results",
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    gpus_per_job: GpusOpt = 0.0,
    cpus_per_job: CpusOpt = 1.0,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
    finished_only: Annotated[
        bool,
        typer.Option(
            help="Run nothing: write the truth of the (LLM, dataset) cases whose jobs are all finished (an interim "
            "look; the others are named)"
        ),
    ] = False,
) -> None:
    """Run every LLM with every prompt of each category on its datasets: real scores, label distributions."""

    from fute.evaluation.jobs import write_results
    from fute.evaluation.prompts import DEFAULT_LLMS, PromptBench, run_truth, truth_lines

    bench = PromptBench(
        tuple(llm or DEFAULT_LLMS),
        _prompt_data(data),
        examples=examples,
        seed=seed,
        max_reasoning_tokens=max_reasoning_tokens,
    )
    truth = run_truth(
        bench,
        run_dir=run_dir,
        executor=executor_for(executor, address, gpus_per_job, cpus_per_job),
        progress=not quiet,
        echo=console.print,
        command=_command_line(),
        device=device,
        finished_only=finished_only,
    )
    write_results(results, "prompts_truth", truth, indent=None)  # every label distribution: kept compact
    for line in truth_lines(truth):
        console.print(line, highlight=False)


@prompts_bench_app.command("eval")
def prompts_eval_cmd(
    selector: Annotated[
        list[str] | None,
        typer.Option(help=f"Selectors (repeatable; default: all: {', '.join(SELECTORS.in_order())})"),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            help="Vector store with (or for) the prompts' MTEs and the datasets' DTEs (default: RUN_DIR/store)"
        ),
    ] = None,
    mte_examples: MteExamplesOpt = 128,
    mte_reasoning_tokens: Annotated[
        int | None,
        typer.Option(
            help="Cap on chain-of-thought reasoning when labeling U for a prompt MTE (default: the truth's own cap, "
            "so that the MTE describes the target the truth measured)"
        ),
    ] = None,
    dte_examples: DteExamplesOpt = 1000,
    run_dir: PromptRunDirOpt = None,
    results: ResultsOpt = "bench/results",
    category: Annotated[
        list[str] | None,
        typer.Option(help="Judge only these categories (repeatable; default: all of the truth's)"),
    ] = None,
    option: MethodOptionOpt = None,
) -> None:
    """Judge prompt selectors against a ground-truth run: Performance, Rate and NDCG per LLM and category."""

    from fute.evaluation.jobs import write_results
    from fute.evaluation.prompts import eval_labels, eval_markdown, eval_store, load_truth, only_categories, run_eval
    from fute.select import VectorSource

    truth = only_categories(load_truth(run_dir), category)
    vectors = VectorSource(
        eval_store(store, run_dir),
        truth["settings"]["data"],
        mte_examples=mte_examples,
        dte_examples=dte_examples,
        max_reasoning_tokens=mte_reasoning_tokens or int(truth["settings"]["max_reasoning_tokens"]),
        label_cache=eval_labels(run_dir),
        dtype="float32",  # as the truth's jobs: MTEs made on a GPU and on a CPU are the same ones
        method_options=options_by_method(option),
    )
    judged = run_eval(truth, selector or SELECTORS.in_order(), vectors=vectors, echo=console.print)
    command = _command_line()
    md = eval_markdown(truth, judged, command)
    write_results(results, "prompts_eval", {"command": command, "truth_command": truth.get("command"), **judged}, md)
    console.print(md, highlight=False, markup=False, soft_wrap=True)


@prompts_bench_app.command("vectors")
def prompts_vectors_cmd(
    data: PromptDataOpt,
    llm: PromptLlmOpt = None,
    method: Annotated[
        list[str] | None, typer.Option(help="Task-embedding methods (repeatable; default: fisher and prompt)")
    ] = None,
    store: Annotated[str | None, typer.Option(help="Vector store the eval will read (default: RUN_DIR/store)")] = None,
    mte_examples: MteExamplesOpt = 128,
    max_reasoning_tokens: Annotated[
        int, typer.Option(help="Cap on chain-of-thought reasoning: the truth's own (its default is 32)")
    ] = 32,
    dte_examples: DteExamplesOpt = 1000,
    run_dir: PromptRunDirOpt = None,
    device: DeviceOpt = "auto",
    option: MethodOptionOpt = None,
) -> None:
    """Compute ahead the MTEs and DTEs that `fute bench prompts eval` would compute on its first run (the same
    settings and store), e.g. on another machine or beside the truth; stored vectors are skipped."""

    from fute.evaluation.prompts import DEFAULT_LLMS, eval_labels, eval_store, fill_vectors
    from fute.select import VectorSource

    sets = _prompt_data(data)
    vectors = VectorSource(
        eval_store(store, run_dir),
        sets,
        mte_examples=mte_examples,
        dte_examples=dte_examples,
        max_reasoning_tokens=max_reasoning_tokens,
        device=device,
        label_cache=eval_labels(run_dir),
        dtype="float32",  # as the truth's jobs: MTEs made on a GPU and on a CPU are the same ones
        method_options=options_by_method(option),
    )
    fill_vectors(sets, tuple(llm or DEFAULT_LLMS), vectors, tuple(method or ("fisher", "prompt")), console.print)


@app.command("select-prompt")
def select_prompt_cmd(
    model: Annotated[
        str,
        typer.Option(
            help="The LLM: alias (smollm2, gemma-3-270m), .gguf, folder or hub id, or "
            "MODEL@URL behind an OpenAI-compatible endpoint"
        ),
    ],
    prompts: Annotated[str, typer.Option(help="Prompt set: shipped name (sentiment, nli) or YAML file")],
    dataset: Annotated[
        str, typer.Option(help="The new dataset: labeled (train split for its DTE) or a corpus of unlabeled inputs")
    ],
    selector: Annotated[
        list[str] | None,
        typer.Option(
            help="Selectors (repeatable; default: globale, label-free, chosen on this project's prompt benchmark: "
            "docs/experiments.md, 'Prompt selection without labels', says why and how the others did)"
        ),
    ] = None,
    split: Annotated[str, typer.Option(help="Split whose inputs the LLM labels")] = "test",
    column: Annotated[
        list[str] | None, typer.Option(help="A labeled file's field mapping FIELD=COLUMN, e.g. text=review")
    ] = None,
    examples: Annotated[int, typer.Option(help="Inputs labeled per prompt")] = 32,
    max_reasoning_tokens: Annotated[int, typer.Option(help="Cap on chain-of-thought reasoning")] = 32,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "auto",
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Rank a prompt set's prompts for an LLM on a new dataset, without using its labels to score prompts."""
    from fute.select import select_prompts

    sel = select_prompts(
        model,
        prompts,
        dataset,
        selectors=selector,
        split=split,
        columns=parse_pairs(column, "--column") or None,
        examples=examples,
        seed=seed,
        max_reasoning_tokens=max_reasoning_tokens,
        store=store,
        progress=not quiet,
        device=device,
        dtype=dtype,
    )
    if sel.note:
        err.print(f"[yellow]note:[/] {sel.note}", highlight=False)
    names = list(sel.scores)
    table = Table(
        title=f"prompts of {prompts} for {model} on {dataset} (higher is better; * = pick)", title_justify="left"
    )
    for col in ("prompt", "type", *names):
        table.add_column(col, justify="left" if col in ("prompt", "type") else "right")
    picks = {n: sel.pick(n) for n in names}
    order = np.argsort(-sel.scores[names[0]], kind="stable")
    for i in order:
        p = sel.prompts[int(i)]
        table.add_row(p.id, p.type, *[f"{sel.scores[n][i]:.4f}{' *' if picks[n] == p.id else ''}" for n in names])
    console.print(table)
    console.print("picks: " + ", ".join(f"{n} -> {p}" for n, p in picks.items()), highlight=False)


EXIT_ERROR = 2  # a FuteError: one line on stderr, nothing half-done (what was stored stays stored)
EXIT_SKIPPED = 3  # the command finished, but passed over damaged spaces of the store, each named on stderr
EXIT_INTERRUPTED = 130

_skipped_spaces: list[str] = []


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    from fute.errors import DamagedSpaceWarning

    if issubclass(category, DamagedSpaceWarning):
        _skipped_spaces.append(str(message))
    err.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


class Interrupted(BaseException):
    """Ctrl-C, raised instead of KeyboardInterrupt so that it reaches ``main`` (typer turns a KeyboardInterrupt
    into a silent exit 130) and says what was kept."""


def _on_interrupt(signum: int, frame: object) -> None:
    raise Interrupted


def main() -> None:
    """The ``fute`` command. Exit codes: 0 done; 1 a check found damage (``fute store check``); 2 a FuteError,
    printed as one line (``FUTE_DEBUG=1`` shows its traceback); 3 done, but damaged spaces of the store were
    passed over, each named in one line on stderr; 130 Ctrl-C. Every vector stored before an error stays stored."""
    import os
    import signal

    from fute.errors import DamagedSpaceWarning

    previous = signal.signal(signal.SIGINT, _on_interrupt)
    _skipped_spaces.clear()
    try:
        with warnings.catch_warnings():  # restores the caller's warning settings (tests, notebooks)
            warnings.simplefilter("always", DamagedSpaceWarning)  # every skip is said, and counted, every time
            warnings.showwarning = _one_line_warning
            app()
    except SystemExit as e:
        if e.code in (0, None) and _skipped_spaces:
            sys.exit(EXIT_SKIPPED)
        raise
    except FuteError as e:
        if os.environ.get("FUTE_DEBUG") == "1":
            raise
        err.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_ERROR)
    except (KeyboardInterrupt, Interrupted):
        err.print("interrupted; everything stored before this point is kept (rerun the command to go on)")
        sys.exit(EXIT_INTERRUPTED)
    finally:
        signal.signal(signal.SIGINT, previous)  # main() called in-process (tests, notebooks) leaves it as it was


if __name__ == "__main__":
    main()
