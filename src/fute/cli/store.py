"""`fute list`, `fute show`, `fute store check|repair`: what the store holds and its health."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from fute.cli import common as ui
from fute.cli.common import (
    StoreOpt,
    app,
)
from fute.space import Card, category_of

store_app = typer.Typer(help="The vector store's health: check it, repair it.", no_args_is_help=True)


app.add_typer(store_app, name="store")


@store_app.command("check")
def store_check_cmd(store: StoreOpt = None) -> None:
    """Read every space's table in full and say which are damaged (exit 1 if any is)."""
    from fute.store import open_store

    st = open_store(store)
    found = st.check()
    for h in found:
        ui.console.print(f"{h.space_id}: {h.status} ({h.detail})", highlight=False)
    damaged = [h for h in found if h.status != "ok"]
    ui.console.print(
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
        ui.console.print(f"{h.space_id}: {h.status} {h.detail}", highlight=False)
    ui.console.print(
        f"{len(done)} table(s) repaired" if done else "nothing to repair: every table reads", highlight=False
    )


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
        ui.console.print(f"no vectors in {getattr(st, 'path', st)}; add some with `fute embed dataset PATH`")
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
        ui.console.print(table)


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
        ui.console.print_json(json.dumps([v.card.to_dict() for v in found]))
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
        ui.console.print(table)


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
