"""`fute demo`: embed the bundled samples of public datasets and show each one's nearest others."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from rich.console import Console

from fute.embed import embed_dataset
from fute.rank import rank
from fute.space import category_of
from fute.tables import learned_nothing_notes, ranking_table, ties_note


def demo_datasets() -> list[Path]:
    """Folders of the bundled demo data (see its NOTICE for sources and licenses)."""
    root = Path(str(resources.files("fute") / "data" / "demo"))
    return sorted(p for p in root.iterdir() if (p / "train.jsonl").is_file())


def run_demo(
    *,
    method: str = "fisher",
    store: str | None = None,
    progress: bool = True,
    console: Console | None = None,
    map_out: str | Path | None = None,
    overwrite: bool = False,
    device: str = "auto",
) -> dict[str, list[tuple[str, float]]]:
    """Embed every demo dataset (on ``device``), rank the others for each, and draw them (``map_out``.png/.html,
    when given and the viz extra is installed); returns {name: [(neighbour, score)]}."""
    console = console or Console()
    folders = demo_datasets()
    t0 = time.perf_counter()
    vectors = {}
    for i, folder in enumerate(folders, 1):
        t = time.perf_counter()
        vectors[folder.name] = embed_dataset(
            folder, folder.name, method=method, store=store, progress=progress, overwrite=overwrite, device=device
        )
        console.print(
            f"[{i}/{len(folders)}] {folder.name}: {vectors[folder.name].vector.size}-d {method} vector "
            f"({time.perf_counter() - t:.1f} s)"
        )
    result, same, notes = {}, 0, set()
    for name, vec in vectors.items():
        ranked = rank(vec, store, kind="dataset", k=len(vectors) - 1)
        console.print(ranking_table(f"{name} ({vec.card.data.category or '?'})", ranked))
        result[name] = [(r.vector.name, r.score) for r in ranked]
        same += bool(ranked) and category_of(ranked[0].vector.card) == category_of(vec.card)
        notes.update((ties_note(ranked, vec.space_id), *learned_nothing_notes(vec, ranked)))
    for note in sorted(filter(None, notes)):
        console.print(note, highlight=False)
    console.print(
        f"nearest neighbour in the same category for {same} of {len(vectors)} datasets; "
        f"{len(vectors)} datasets embedded in {time.perf_counter() - t0:.0f} s"
    )
    if map_out is not None and next(iter(vectors.values())).vector.size > 1:
        from fute.viz import build_map, write_map

        paths = write_map(build_map(list(vectors.values()), projection="pca"), map_out)
        console.print(f"map of the {len(vectors)} datasets: {' and '.join(str(p) for p in paths)}")
    console.print(next_commands(store), highlight=False)
    return result


def _command() -> str:
    """How this ``fute`` was called, so the printed commands run as they are (``.venv/bin/fute`` after make)."""
    import shutil
    import sys

    exe = Path(sys.argv[0])
    on_path = shutil.which("fute")
    if exe.name != "fute" or (on_path and Path(on_path).resolve() == exe.resolve()):
        return "fute"
    try:
        return str(exe.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return "fute" if exe.parent == Path() else str(exe)


def next_commands(store: str | Path | None) -> str:
    """The commands to go on from the demo's vectors, exactly as they reach its store."""
    import os
    import shlex

    from fute.store import default_store_path

    where = Path(store) if store else default_store_path()
    prefix = "" if store is None and "FUTE_HOME" not in os.environ else f"--store {shlex.quote(str(where))} "
    lines = ["next, on these vectors:"]
    for cmd in ("list", "rank sst2", "map --out demo-space", "report --out demo-report"):
        verb, _, rest = cmd.partition(" ")
        lines.append(f"  {_command()} {verb} {prefix}{rest}".rstrip())
    return "\n".join(lines)
