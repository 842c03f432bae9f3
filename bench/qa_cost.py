"""The cost of a default QA vector against a classification vector of the same rows, on one machine.

    python bench/qa_cost.py                                   # squad_v1 and qnli, default fisher
    python bench/qa_cost.py --qa quoref --qa bioasq --cr qnli  # others

Each dataset's training split is embedded at fute's defaults (as ``fute embed dataset`` does: 1,000 rows, the
default surrogate's 128-token window), one after the other in this process, with nothing else running, and its
seconds and peak memory recorded beside what the card says (rows used, QA windows cut and dropped, fine-tuned
epochs, held-out loss against the constant, learned). The QA goal: within 3x the classification vector's
seconds. Each finished run is one JSON under ``--out``/jobs, so an interrupted run continues. Writes
``--out``/qa_cost.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import torch

from fute.evaluation.embedding_quality import write_atomic
from fute.evaluation.machine import machine, measure_vector

RESULTS = Path(__file__).resolve().parent / "results"
GOAL_RATIO = 3.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--qa", action="append", help="QA datasets (default: squad_v1)")
    ap.add_argument("--cr", action="append", help="classification datasets to compare with (default: qnli)")
    ap.add_argument("--out", type=Path, default=RESULTS / "qa_cost")
    args = ap.parse_args()
    torch.set_num_threads(2)
    (args.out / "jobs").mkdir(parents=True, exist_ok=True)
    rows = []
    for name in [*(args.qa or ["squad_v1"]), *(args.cr or ["qnli"])]:
        job = args.out / "jobs" / f"{name}.json"
        if not job.exists():
            print(f"{name}: embedding (a few minutes)", flush=True)
            write_atomic(job, json.dumps(measure_vector(args.data / name), indent=1) + "\n")
        rows.append(json.loads(job.read_text()))
        print(rows[-1], flush=True)
    cr = [r["seconds"] for r in rows if r["task"] != "qa"]
    for r in rows:
        r["x_classification"] = round(r["seconds"] / (sum(cr) / len(cr)), 2) if cr else None
    qa = [r for r in rows if r["task"] == "qa"]
    met = bool(qa and cr) and all(r["x_classification"] <= GOAL_RATIO for r in qa)
    command = "python bench/qa_cost.py " + shlex.join(sys.argv[1:])
    out = {"command": command, "machine": machine(), "goal": f"QA within {GOAL_RATIO:g}x", "met": met, "rows": rows}
    write_atomic(args.out / "qa_cost.json", json.dumps(out, indent=1) + "\n")
    m = out["machine"]
    lines = [
        "# Cost of a default QA vector against a classification vector of the same rows",
        "",
        f"Command: `{command.strip()}`  ",
        f"{m['threads']} threads of {m['cpu']}, torch {m['torch']}. Default `fisher`, default surrogate (128-token "
        "window), each run alone, one after the other. Goal: a QA vector within 3x the classification vector's "
        f"seconds: **{'met' if met else 'not met'}**.",
        "",
        "| dataset | task | rows given | rows used | contexts cut | questions dropped | seconds | x classification "
        "| peak RSS MB | fine-tuned epochs | held-out loss / constant | learned |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        w = r["windows"] or {}
        lines.append(
            f"| {r['dataset']} | {r['task']} | {r['rows_given']} | {r['rows_used']} | {w.get('cut', '')} | "
            f"{w.get('dropped', '')} | {r['seconds']} | {r['x_classification']} | {r['peak_rss_mb']} | "
            f"{r['finetune_epochs']} | {r['ratio']} | {'yes' if r['learned'] else 'no'} |"
        )
    write_atomic(args.out / "qa_cost.md", "\n".join(lines) + "\n")
    print(f"{args.out / 'qa_cost.md'}: goal {'met' if met else 'not met'}")


if __name__ == "__main__":
    main()
