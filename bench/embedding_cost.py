"""The cost of a default 1,000-row vector, all datasets, measured again on one machine with the CPU to itself.

    python bench/embedding_cost.py          # writes bench/results/embedding_cost/{jobs/,embedding_cost.{json,md}}

``bench/embedding_quality.py`` keeps the seconds of each committed job as it was made, over several sessions,
machines and loads (jobs that shared the CPU are marked and left out of its cost). This runs every default
1,000-row half (A and B) of ``--method`` again, one after the other, and records its seconds and peak memory, and how
close the new vector is to the committed one (cosine, largest difference): the same code on another machine should
give the same vector up to float rounding. Nothing else may run on the machine meanwhile. Each finished job is one
small JSON under ``--out``/jobs, so an interrupted run continues; the vectors themselves are not kept.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np
import torch

from fute.evaluation.embedding_quality import cos, expected, run_job, write_atomic
from fute.evaluation.machine import machine

RESULTS = Path(__file__).resolve().parent / "results"


GOAL_SECONDS = 120.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--method", default="fisher")
    ap.add_argument("--dataset", action="append", help="only these datasets (default: every committed job)")
    ap.add_argument("--out", type=Path, default=RESULTS / "embedding_cost")
    args = ap.parse_args()
    torch.set_num_threads(2)
    from fute.surrogate import load_surrogate

    committed = RESULTS / "embedding_quality_jobs" / args.method
    (args.out / "jobs").mkdir(parents=True, exist_ok=True)
    sur = load_surrogate("default")
    rows = []
    for path in sorted(committed.glob("*-[AB].json")):
        old = json.loads(path.read_text())
        name, variant = old["dataset"], old["variant"]
        if old["rows"] < 1000 or (args.dataset and name not in args.dataset):
            continue
        if old["config"] != expected(args.method, variant, {})[0]:
            print(f"{path.name}: made with another config than today's defaults; skipped", flush=True)
            continue
        done = args.out / "jobs" / path.name
        if not done.exists():
            new = run_job(args.method, name, variant, Path(args.data) / name, sur, {})
            a, b = np.asarray(old["vector"]), np.asarray(new["vector"])
            job = {
                "dataset": name,
                "variant": variant,
                "rows": new["rows"],
                "seconds": new["seconds"],
                "peak_rss_mb": new["peak_rss_mb"],
                "committed_seconds": old["seconds"],
                "committed_shared_cpu": bool(old.get("shared_cpu")),
                "cosine_to_committed": round(cos(a, b), 7),
                "max_abs_difference": float(np.abs(a - b).max()),
                "finetune_epochs": new["training"]["finetune_epochs"],
                "committed_finetune_epochs": old["training"]["finetune_epochs"],
            }
            write_atomic(done, json.dumps(job, indent=1) + "\n")
            print(job, flush=True)
        rows.append(json.loads(done.read_text()))
    secs = [r["seconds"] for r in rows]
    result = {
        "command": "python bench/embedding_cost.py " + shlex.join(sys.argv[1:]),
        "method": args.method,
        "machine": machine(),
        "vectors": len(rows),
        "seconds_median": float(np.median(secs)) if secs else None,
        "seconds_max": max(secs, default=None),
        "within_goal": sum(s <= GOAL_SECONDS for s in secs),
        "rows": rows,
    }
    write_atomic(args.out / "embedding_cost.json", json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    md = [
        f"# Cost of a default 1,000-row `{args.method}` vector, one machine",
        "",
        f"Command: `{result['command']}`  ",
        f"{m['threads']} threads of {m['cpu']}, torch {m['torch']}. Each committed default 1,000-row half run again in "
        "turn; committed: the job's seconds when it was made (* it shared the CPU then).",
        "",
        f"**{result['within_goal']} of {len(rows)} within {GOAL_SECONDS:.0f} s**; median {result['seconds_median']} s, "
        f"max {result['seconds_max']} s.",
        "",
        "| dataset | half | seconds | peak RSS MB | committed seconds | fine-tuned epochs (committed) | cosine to the "
        "committed vector | largest difference |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r['dataset']} | {r['variant']} | {r['seconds']} | {r['peak_rss_mb']} | {r['committed_seconds']}"
            f"{' *' if r['committed_shared_cpu'] else ''} | {r['finetune_epochs']} ({r['committed_finetune_epochs']}) "
            f"| {r['cosine_to_committed']} | {r['max_abs_difference']:.2g} |"
            for r in rows
        ),
        "",
    ]
    write_atomic(args.out / "embedding_cost.md", "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
