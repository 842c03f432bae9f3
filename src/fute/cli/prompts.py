"""`fute prompts` and `fute select-prompt`: the shipped prompt sets, and prompt selection for a dataset."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from fute.cli import common as ui
from fute.cli.common import (
    DeviceOpt,
    DtypeOpt,
    QuietOpt,
    SeedOpt,
    StoreOpt,
    app,
)
from fute.options import parse_pairs


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
        ui.console.print(table)
        ui.console.print("fute prompts SET shows a set's prompts; --prompt SET:ID picks one for fute embed model")
        return
    pset = load_prompt_set(prompt_set)
    table = Table(title=f"{pset.name} ({pset.input}; labels: {', '.join(pset.labels)})", title_justify="left")
    for col in ("id", "type", "template", "label words"):
        table.add_column(col)
    for p in pset:
        words = "; ".join(f"{k}: {'/'.join(v)}" for k, v in p.verbalizer.items())
        table.add_row(p.id, p.type, p.template.replace("\n", " / "), words)
    ui.console.print(table)


@app.command("select-prompt")
def select_prompt_cmd(
    prompts: Annotated[str, typer.Option(help="Prompt set: shipped name (sentiment, nli) or YAML file")],
    dataset: Annotated[
        str, typer.Option(help="The new dataset: labeled (train split for its DTE) or a corpus of unlabeled inputs")
    ],
    model: Annotated[
        str | None,
        typer.Option(
            help="The LLM: alias (smollm2, gemma-3-270m), .gguf, folder or hub id, or MODEL@URL behind an "
            "OpenAI-compatible endpoint; with --recorded, only its name (default: the folder's)"
        ),
    ] = None,
    recorded: Annotated[
        str | None,
        typer.Option(
            help="A folder of the LLM's outputs recorded elsewhere, one file per prompt: ID.jsonl, ID.parquet or "
            "ID.npy (docs/models.md, 'Recorded outputs'); then no LLM runs here"
        ),
    ] = None,
    u: Annotated[
        str | None,
        typer.Option(
            "--u",
            help="U of FUTE's prompt MTEs: shipped (the shipped corpus) or dataset (the dataset's own inputs of "
            "--split: transductive); default: dataset with --recorded, else shipped",
        ),
    ] = None,
    selector: Annotated[
        list[str] | None,
        typer.Option(
            help="Selectors (repeatable; default: globale for --mode dataset, mi-agl for --mode input; "
            "docs/experiments.md, 'Two modes', gives the evidence for each)"
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
    mode: Annotated[
        str,
        typer.Option(
            help="dataset: one prompt for the whole dataset; input: a prompt for each input (every prompt then "
            "runs at inference; the share of inputs each prompt takes is shown)"
        ),
    ] = "dataset",
    out: Annotated[
        str | None, typer.Option(help="--mode input: write each input's prompt and answer to this JSONL")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Rank a prompt set's prompts for an LLM on a new dataset, without using its labels to score prompts."""
    from pathlib import Path

    from fute.errors import ConfigError
    from fute.select import select_prompts

    if not model and not recorded:
        raise ConfigError("give the LLM (--model) or a folder of its recorded outputs (--recorded)")
    model = model or Path(recorded or "").expanduser().resolve().name
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
        recorded=recorded,
        u=u,
        mode=mode,
    )
    if sel.note:
        ui.err.print(f"[yellow]note:[/] {sel.note}", highlight=False)
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
    ui.console.print(table)
    if sel.per_input_prompt is None:
        ui.console.print("picks: " + ", ".join(f"{n} -> {p}" for n, p in picks.items()), highlight=False)
        return
    labels = sel.prompts[0].labels
    rows = [
        {"text": t, "text_pair": tp, "prompt": sel.prompts[int(i)].id, "answer": labels[int(np.argmax(a))]}
        for (t, tp), i, a in zip(sel.inputs or [], sel.per_input_prompt, sel.per_input_answer, strict=True)
    ]
    ui.console.print(
        f"a prompt per input ({names[0]}): {len(rows)} inputs over {len(set(r['prompt'] for r in rows))} prompts",
        highlight=False,
    )
    if out:
        import json

        from fute.paths import atomic_write

        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        atomic_write(out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        ui.console.print(f"each input's prompt and answer: {out}", highlight=False)
