"""Build the shipped catalog: the DTE of every dataset of ../shared/data at the default space.

    python tools/build_catalog.py                     # writes src/fute/data/catalog/catalog.json

Each dataset of the catalog's task types (``fute.catalog.TASK_TYPES``, read from dataset.json's ``task_type``):
its training split, at every default (method, surrogate, row cap, seed), exactly as ``fute embed dataset PATH``
makes it. Vectors go through a store under bench/work/catalog_store, so an
interrupted run resumes; the catalog file is rewritten after each vector. The vectors of the catalog being
rewritten are put in that store first, so a vector whose dataset, space and settings are unchanged is found
there by its content key and kept as it is: adding datasets embeds only those. From nothing, about 25 minutes
on 2 CPU cores (imdb and qnli, whose texts fill the token window, take most of it) and a few more per QA set.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def main() -> None:
    from fute.catalog import CATALOG, TASK_TYPES, CatalogEntry, load_catalog, write_catalog
    from fute.embed import embed_dataset
    from fute.store import open_store

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--out", type=Path, default=CATALOG)
    ap.add_argument("--store", type=Path, default=ROOT / "bench" / "work" / "catalog_store")
    args = ap.parse_args()
    command = "python tools/build_catalog.py " + shlex.join(sys.argv[1:])
    folders = [
        p
        for p in sorted(args.shared.iterdir())
        if (p / "dataset.json").is_file()
        and json.loads((p / "dataset.json").read_text()).get("task_type", "classification") in TASK_TYPES
    ]
    store = open_store(args.store)
    if args.out.is_file():  # today's vectors, found again by their content keys
        for vec in load_catalog(args.out).vectors:
            if store.find_key(vec.space_id, vec.card.key) is None:
                store.put(vec)
    entries = []
    t0 = time.perf_counter()
    for i, folder in enumerate(folders, 1):
        info = json.loads((folder / "dataset.json").read_text())
        t = time.perf_counter()
        vec = embed_dataset(folder, info.get("name", folder.name), store=store, progress=False)
        origin = {"source": info.get("source"), "license": info.get("license"), "domain": info.get("domain")}
        entries.append(CatalogEntry(vec, origin))
        write_catalog(args.out, entries, command)
        done = time.perf_counter() - t0
        print(
            f"[{i}/{len(folders)}] {vec.name}: {time.perf_counter() - t:.0f} s; "
            f"about {done / i * (len(folders) - i) / 60:.0f} min left",
            flush=True,
        )
    minutes = (time.perf_counter() - t0) / 60
    print(f"{args.out}: {len(entries)} vectors in space {entries[0].vector.space_id}, {minutes:.1f} min")


if __name__ == "__main__":
    main()
