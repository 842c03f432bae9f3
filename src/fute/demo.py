"""`fute demo`: the product's main job on bundled data. Each bundled sample (300 rows of a public dataset) plays a
user's dataset: it is embedded, then the shipped catalog is ranked as its transfer sources, with the evidence each
rank rests on; its own dataset's catalog entry is left out, as it would be absent for data of one's own."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from rich.console import Console

from fute.embed import embed_dataset
from fute.rank import measured_gains, rank
from fute.tables import gains_note, not_learned_notes, ranking_table, ties_note

TOP = 5  # sources shown per sample


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
    """Embed every demo sample (on ``device``); rank the shipped catalog's datasets as its sources (the others
    in the store where the catalog is of another space, e.g. another ``method``); draw the samples and the catalog
    (``map_out``.png/.html, when given and the viz extra is installed). Returns {sample: [(source, score)]}."""
    from fute.catalog import load_catalog
    from fute.errors import ConfigError

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
    first = next(iter(vectors.values()))
    try:
        catalog = load_catalog()
        catalog = catalog if catalog.space_id == first.space_id else None
    except ConfigError:
        catalog = None
    if catalog is None:
        console.print("the shipped catalog is of another space than these vectors: each sample ranks the others")
    result, notes = {}, set()
    for name, vec in vectors.items():
        if catalog is not None:  # the catalog as the sources, less the sample's own dataset
            sources = [v for v in catalog.vectors if v.name != name]
            ranked = rank(vec, store, kind="dataset", k=TOP, catalog=sources, stored=False)
        else:
            ranked = rank(vec, store, kind="dataset", k=len(vectors) - 1)
        gains = measured_gains(vec)
        title = f"{name}: a {vec.card.data.n_used}-row sample ({vec.card.data.category or '?'})"
        console.print(ranking_table(title, ranked, gains))
        result[name] = [(r.vector.name, r.score) for r in ranked]
        notes.update((ties_note(ranked, vec.space_id), gains_note(ranked, gains), *not_learned_notes(vec, ranked)))
    for note in sorted(filter(None, notes)):
        console.print(note, highlight=False)
    where = f"the {len(catalog.vectors)} datasets of the shipped catalog" if catalog is not None else "each other"
    console.print(
        f"{len(vectors)} samples embedded in {time.perf_counter() - t0:.0f} s and ranked against {where}",
        highlight=False,
    )
    if map_out is not None and first.vector.size > 1:
        from fute.space import TaskVector
        from fute.viz import build_map, write_map

        samples = [TaskVector(v.vector, v.card.replace(name=f"{v.name} (sample)")) for v in vectors.values()]
        shown = [*samples, *(catalog.vectors if catalog is not None else [])]
        paths = write_map(build_map(shown, projection="pca"), map_out)
        console.print(f"map of the samples and the catalog: {' and '.join(str(p) for p in paths)}")
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
