"""Build the shipped catalog: the DTE of every dataset of ../shared/data at the default space.

    python tools/build_catalog.py                     # writes src/fute/data/catalog/catalog.json
    python tools/build_catalog.py --grow-rows 10000 --out bench/results/learnability/catalog_growth.json

Each dataset of the catalog's task types (``fute.catalog.TASK_TYPES``, read from dataset.json's ``task_type``):
its training split, at every default (method, surrogate, row cap, seed), exactly as ``fute embed dataset PATH``
makes it. Vectors go through a store under bench/work/catalog_store, so an
interrupted run resumes; the catalog file is rewritten after each vector. The vectors of the catalog being
rewritten are put in that store first, so a vector whose dataset, space and settings are unchanged is found
there by its content key and kept as it is: adding datasets embeds only those. From nothing, about 25 minutes
on 2 CPU cores (imdb and qnli, whose texts fill the token window, take most of it) and a few more per QA set.

``--grow-rows N`` builds it under fisher's growth rule (the learnability study's catalog, not the shipped one): a
shipped vector that the rule would leave as it is is carried under the rule's key (``under_growth_rule``), and only
the others are embedded again.
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def under_growth_rule(vec: Any, options: dict[str, Any]) -> Any:
    """A vector made before fisher's growth rule (``grow_rows``), under the rule's job key, where the rule would have
    stopped at its first attempt (learned with a margin, no held-out judgement to make, or every row used): that
    attempt is the computation that made the vector, so the vector is the same bit for bit (tested in
    tests/methods/test_training.py; checked on real datasets by bench/learnability.py --check-carried). None
    where the rule would have drawn more rows, or the vector is not one the rule changes."""
    from fute.methods import get_method
    from fute.methods.report import as_first_attempt
    from fute.space import TaskVector, job_key

    now = get_method(vec.card.space.method, **options).config.to_dict()
    data = vec.card.data
    training = as_first_attempt(
        vec.card.training, vec.card.method_config, now, data.n_used, data.n_total, vec.card.seconds
    )
    if training is None:
        return None
    key = job_key(vec.space_id, data.fingerprint, now)
    return TaskVector(vec.vector, vec.card.replace(key=key, method_config=now, training=training))


def main() -> None:
    from fute.catalog import CATALOG, TASK_TYPES, CatalogEntry, load_catalog, write_catalog
    from fute.embed import embed_dataset
    from fute.store import open_store

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--out", type=Path, default=CATALOG)
    ap.add_argument("--store", type=Path, default=ROOT / "bench" / "work" / "catalog_store")
    ap.add_argument("--grow-rows", type=int, help="fisher's growth rule at this row budget (a study, not the default)")
    args = ap.parse_args()
    options = {} if args.grow_rows is None else {"grow_rows": args.grow_rows}
    command = "python tools/build_catalog.py " + shlex.join(sys.argv[1:])
    folders = [
        p
        for p in sorted(args.shared.iterdir())
        if (p / "dataset.json").is_file()
        and json.loads((p / "dataset.json").read_text()).get("task_type", "classification") in TASK_TYPES
    ]
    store = open_store(args.store)
    # today's vectors, found again by their content keys (a name holds one vector a space: the file's go last)
    seeds = [under_growth_rule(v, options) for v in load_catalog(CATALOG).vectors] if options else []
    seeds += load_catalog(args.out).vectors if args.out.is_file() else []
    for v in seeds:
        if v is not None and store.find_key(v.space_id, v.card.key) is None:
            store.put(v)
    entries = []
    t0 = time.perf_counter()
    for i, folder in enumerate(folders, 1):
        info = json.loads((folder / "dataset.json").read_text())
        t = time.perf_counter()
        # overwrite: this tool's own store, where a vector made before a change of defaults keeps the name
        name = info.get("name", folder.name)
        vec = embed_dataset(folder, name, store=store, progress=False, overwrite=True, **options)
        origin = {"source": info.get("source"), "license": info.get("license"), "domain": info.get("domain")}
        entries.append(CatalogEntry(vec, origin))
        write_catalog(args.out, entries, command)
        done = time.perf_counter() - t0
        print(
            f"[{i}/{len(folders)}] {vec.name}: {time.perf_counter() - t:.0f} s, peak memory of the run so far "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB; "
            f"about {done / i * (len(folders) - i) / 60:.0f} min left",
            flush=True,
        )
    minutes = (time.perf_counter() - t0) / 60
    print(f"{args.out}: {len(entries)} vectors in space {entries[0].vector.space_id}, {minutes:.1f} min")


if __name__ == "__main__":
    main()
