"""The shipped catalog's structure: each DTE's nearest others, by task class and category, and the hubs.

    python bench/catalog_structure.py     # writes bench/results/catalog_structure.{json,md,png}
    python bench/catalog_structure.py --catalog bench/results/learnability/catalog_growth.json \
        --out bench/results/learnability/catalog_structure_growth      # another catalog file: its own pages

No model runs: it reads the catalog (``fute.load_catalog``). For each vector: its nearest other vector (cosine),
whether that one is of the same class of task (classification and regression, "CR", against extractive QA, as
FUTE's paper splits them) and of the same category, and how many vectors have it as their nearest (a hub is the
nearest of many, which says more about the hub than about them). The map colours the two classes of task
(FUTE's first figure: CR and QA apart, BoolQ, a yes/no classification over evidence, nearer the CR tasks).
Category structure is reported, not a goal: a good source for a task is often of another category.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from fute.catalog import load_catalog
from fute.evaluation.embedding_quality import write_atomic
from fute.viz import build_map, write_png

RESULTS = Path(__file__).resolve().parent / "results"


def task_class(task: str) -> str:
    return "QA" if task == "qa" else "CR"


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--catalog", type=Path, help="a catalog file (default: the shipped one)")
    ap.add_argument("--out", type=Path, default=RESULTS / "catalog_structure", help="path stem of the pages")
    args = ap.parse_args()
    cat = load_catalog(args.catalog) if args.catalog else load_catalog()
    vecs = cat.vectors
    x = np.stack([v.vector / np.linalg.norm(v.vector) for v in vecs]).astype(np.float64)
    sim = x @ x.T
    np.fill_diagonal(sim, -np.inf)
    nearest = sim.argmax(axis=1)
    hubs = Counter(int(j) for j in nearest)
    rows = []
    for i, v in enumerate(vecs):
        j = int(nearest[i])
        order = [int(k) for k in np.argsort(-sim[i]) if k != i]
        same_class = [k for k in order if task_class(vecs[k].card.data.task) == task_class(v.card.data.task)]
        rows.append(
            {
                "dataset": v.name,
                "class": task_class(v.card.data.task),
                "category": v.card.data.category,
                "learned": bool((v.card.training or {}).get("learned")),
                "nearest": vecs[j].name,
                "cosine": round(float(sim[i, j]), 4),
                "nearest_same_class": task_class(vecs[j].card.data.task) == task_class(v.card.data.task),
                "nearest_same_category": vecs[j].card.data.category == v.card.data.category,
                "rank_of_first_same_class": order.index(same_class[0]) + 1 if same_class else None,
                "nearest_of": hubs.get(i, 0),
            }
        )
    by_class = {
        c: {
            "vectors": sum(r["class"] == c for r in rows),
            "nearest_same_class": sum(r["nearest_same_class"] for r in rows if r["class"] == c),
        }
        for c in ("CR", "QA")
    }
    command = "python bench/catalog_structure.py " + shlex.join(sys.argv[1:])
    out = {"command": command.strip(), "space_id": cat.space_id, "by_class": by_class, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out.with_suffix(".json"), json.dumps(out, indent=1) + "\n")
    tmap = build_map(vecs, projection="tsne", color_by="task", symbol_by="kind")
    write_png(tmap, args.out.with_suffix(".png"), labels=True)
    lines = [
        "# The shipped catalog's structure" if args.catalog is None else f"# The structure of {args.catalog.name}",
        "",
        f"Command: `{command.strip()}`; catalog space `{cat.space_id}`, {len(vecs)} DTEs. CR: classification and "
        "regression; QA: extractive QA.",
        "",
        "| class | vectors | nearest other vector of the same class |",
        "|---|---:|---:|",
        *[f"| {c} | {b['vectors']} | {b['nearest_same_class']} |" for c, b in by_class.items()],
        "",
        "| dataset | class | category | learned | nearest | cosine | same class | same category "
        "| rank of the first of its class | nearest of |",
        "|---|---|---|---|---|---:|---|---|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['class']} | {r['category']} | {'yes' if r['learned'] else 'no'} | {r['nearest']} "
            f"| {r['cosine']} | {'yes' if r['nearest_same_class'] else 'no'} | "
            f"{'yes' if r['nearest_same_category'] else 'no'} | {r['rank_of_first_same_class']} | {r['nearest_of']} |"
        )
    lines += ["", f"![the catalog, coloured by class of task]({args.out.name}.png)"]
    write_atomic(args.out.with_suffix(".md"), "\n".join(lines) + "\n")
    print(f"{args.out.with_suffix('.md')}: {by_class}")


if __name__ == "__main__":
    main()
