"""`fute bench transfer|prompts ...`: the paper's experiments (``fute.evaluation``) on any data."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from fute.cli import common as ui
from fute.cli.common import (
    AddressOpt,
    CpusOpt,
    DeviceOpt,
    ExecutorOpt,
    GpusOpt,
    MaxLengthOpt,
    MethodOptionOpt,
    QuietOpt,
    SeedOpt,
    SurrogateOpt,
    app,
    executor_for,
)
from fute.errors import ConfigError
from fute.evaluation.transfer.data import TransferConfig
from fute.options import options_by_method
from fute.registry import RANKERS, SELECTORS

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


_T = TransferConfig()  # the options' defaults are the config's: one place for them


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
    source_examples: Annotated[int, typer.Option(help="Source training examples (seeded sample)")] = _T.source_examples,
    target_examples: Annotated[
        int, typer.Option(help="Target training examples (the limited-data regime)")
    ] = _T.target_examples,
    dev_examples: Annotated[
        int, typer.Option(help="Target rows scored (at most; a seeded sample of the --score-split split)")
    ] = _T.dev_examples,
    score_split: Annotated[
        str,
        typer.Option(
            help="Split a target is scored on: test (where it has one, else dev) or dev (else test; the split of "
            "truths made before this option)"
        ),
    ] = _T.score_split,
    source_epochs: Annotated[float, typer.Option(help="Epochs of intermediate training")] = _T.source_epochs,
    target_epochs: Annotated[float, typer.Option(help="Epochs on the target")] = _T.target_epochs,
    learning_rate: Annotated[float, typer.Option(help="AdamW learning rate")] = _T.learning_rate,
    batch_size: Annotated[int, typer.Option(help="Batch size")] = _T.batch_size,
    max_length: MaxLengthOpt = _T.max_length,
    seed: SeedOpt = _T.seed,
    seeds: Annotated[
        int,
        typer.Option(
            help="Training runs per source, baseline and pair (seeds SEED..SEED+N-1, the scored rows fixed): "
            "each score is their mean with a standard error, and sources within one SE of the best tie"
        ),
    ] = _T.seeds,
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
    finished_seeds: Annotated[
        bool,
        typer.Option(
            "--finished-seeds",
            help="Run nothing: assemble the truth from the seeds whose every job is finished (judge a long run's "
            "first seeds before the rest are done; the truth says which seeds it holds)",
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
        echo=ui.console.print,
        command=_command_line(),
        device=device,
        only_seed=only_seed,
        models=models,
        finished_seeds=finished_seeds,
    )
    if truth is None:  # one seed's jobs: no truth to write yet
        return
    md = truth_markdown(truth, truth["command"])
    write_results(results, "transfer_truth", truth, md)
    ui.console.print(md, highlight=False, markup=False, soft_wrap=True)


@transfer_app.command("across")
def transfer_across_cmd(
    runs: Annotated[
        list[str],
        typer.Argument(
            help="Run folders of finished in-class truths (e.g. a CR run and a QA run): each source of one is "
            "transferred to each target of the others"
        ),
    ],
    seeds: Annotated[
        int | None,
        typer.Option(help="The runs' first N seeds (default: all they have); a later, larger N continues the run"),
    ] = None,
    models: Annotated[
        bool,
        typer.Option(
            "--models",
            help="Also retrain the first seed's source and baseline models missing here (the eval's model-reading "
            "rankers read them)",
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
    """The all-class truth: finished in-class runs joined by the pairs across them (the paper's all-class columns).

    Each pair across trains and scores its target exactly as the target's own run does, from the source model its
    own run trained; rerun the same command to resume. Judge it with `fute bench transfer eval --run-dir RUN_DIR`.
    """
    from fute.evaluation.jobs import write_results
    from fute.evaluation.transfer.across import run_across
    from fute.evaluation.transfer.truth import truth_markdown

    truth = run_across(
        runs,
        run_dir=run_dir,
        seeds=seeds,
        executor=executor_for(executor, address, gpus_per_job, cpus_per_job),
        progress=not quiet,
        echo=ui.console.print,
        command=_command_line(),
        device=device,
        models=models,
    )
    md = truth_markdown(truth, truth["command"])
    write_results(results, "transfer_truth", truth, md)
    ui.console.print(md, highlight=False, markup=False, soft_wrap=True)


@transfer_app.command("eval")
def transfer_eval_cmd(
    ranker: Annotated[
        list[str] | None,
        typer.Option(help=f"Rankers to judge (repeatable; default: all: {', '.join(RANKERS.in_order())})"),
    ] = None,
    embed_examples: Annotated[
        int | None, typer.Option(help="Examples per embedding (default: the run's target examples)")
    ] = None,
    query_examples: Annotated[
        int | None,
        typer.Option(
            help="Examples of each target's own vector, the query, for the rankers that embed on the surrogate "
            "(fute-*, textemb; default: --embed-examples)",
            min=1,
        ),
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
        query_examples=query_examples,
        surrogate=surrogate,
        corpus=corpus,
        progress=not quiet,
        tables=run / "rankers",
        method_options=options_by_method(option),
    )
    judged, orders = run_eval(truth, ranker or RANKERS.in_order(), ctx, echo=ui.console.print)
    command = _command_line()
    record = eval_record(truth, judged, orders, ctx, command)
    notes = [f"Left out: {r}, {why}." for r, why in ctx.left_out.items()]
    notes += [f"Partly: {r} {why}; its overall figures are over those targets." for r, why in ctx.partial.items()]
    md = eval_markdown(truth, judged, command, notes=notes, paired=record["paired"])
    write_results(results, "transfer_eval", record, md)
    ui.console.print(md, highlight=False, markup=False, soft_wrap=True)
    plot = eval_plot(judged, f"{results}/transfer_eval.png")
    ui.console.print(f"plot: {plot}" if plot else "no plot: matplotlib is not installed (pip install 'fute[viz]')")


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
        echo=ui.console.print,
        command=_command_line(),
        device=device,
        finished_only=finished_only,
    )
    write_results(results, "prompts_truth", truth, indent=None)  # every label distribution: kept compact
    for line in truth_lines(truth):
        ui.console.print(line, highlight=False)


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
    u: Annotated[
        str,
        typer.Option(
            help="U of FUTE's prompt MTEs: shipped (the shipped corpus without the evaluated datasets) or dataset "
            "(each dataset's own evaluation inputs, labeled with the truth's recorded outputs: no LLM runs; its "
            "vectors in RUN_DIR/store_dataset_u unless --store, its results prompts_eval_dataset_u)"
        ),
    ] = "shipped",
) -> None:
    """Judge prompt selectors against a ground-truth run: Performance, Rate and NDCG per LLM and category."""

    from fute.errors import ConfigError
    from fute.evaluation.jobs import run_folder, write_results
    from fute.evaluation.prompts import (
        DatasetUVectors,
        eval_labels,
        eval_markdown,
        eval_store,
        load_truth,
        only_categories,
        run_eval,
    )
    from fute.select import VectorSource

    if u not in ("shipped", "dataset"):
        raise ConfigError(f"--u {u}: use shipped or dataset")
    truth = only_categories(load_truth(run_dir), category)
    common = {
        "dte_examples": dte_examples,
        "dtype": "float32",  # as the truth's jobs: MTEs made on a GPU and on a CPU are the same ones
        "method_options": options_by_method(option),
    }
    if u == "dataset":
        where = store or run_folder(run_dir, "prompts") / "store_dataset_u"
        vectors = DatasetUVectors(truth, where, **common)
    else:
        vectors = VectorSource(
            eval_store(store, run_dir),
            truth["settings"]["data"],
            mte_examples=mte_examples,
            max_reasoning_tokens=mte_reasoning_tokens or int(truth["settings"]["max_reasoning_tokens"]),
            label_cache=eval_labels(run_dir),
            **common,
        )
    judged = run_eval(truth, selector or SELECTORS.in_order(), vectors=vectors, echo=ui.console.print)
    command = _command_line()
    md = eval_markdown(truth, judged, command)
    stem = "prompts_eval" if u == "shipped" else "prompts_eval_dataset_u"
    write_results(results, stem, {"command": command, "truth_command": truth.get("command"), "u": u, **judged}, md)
    ui.console.print(md, highlight=False, markup=False, soft_wrap=True)


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
    fill_vectors(sets, tuple(llm or DEFAULT_LLMS), vectors, tuple(method or ("fisher", "prompt")), ui.console.print)
