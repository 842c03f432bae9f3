"""What the quality tier costs: a default DTE on the default surrogate (all-MiniLM-L6-v2) and on the quality tier
(``--surrogate mpnet``, all-mpnet-base-v2), at fute's defaults and probe-only (the head fitted on cached frozen
features, no fine-tuning: what fits where fine-tuning a base-size model does not), on one machine.

    make mpnet && python bench/surrogate_tiers.py                      # sst2 and rte, both tiers, both settings
    python bench/surrogate_tiers.py --dataset qqp --surrogate mpnet --device cuda   # a GPU's rows (bench/gpu_rows.sh)

Each run is alone in this process, one after the other, cheapest first; each finished run is one JSON under
``--out``/jobs (keyed by device, surrogate, setting and dataset), so an interrupted or partial run continues, and a
GPU's rows are added beside the CPU's. Writes ``--out``/surrogate_tiers.{json,md}: seconds and peak memory per
1,000 rows, the card's learned verdict and held-out loss against the constant, and each tier's cost against the
default's.
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
SETTINGS = {"default": {}, "probe-only": {"max_epochs": 0}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--dataset", action="append", help="default: sst2, rte")
    ap.add_argument("--surrogate", action="append", help="default: default, mpnet")
    ap.add_argument("--setting", action="append", choices=list(SETTINGS), help="default: both")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=RESULTS / "surrogate_tiers")
    args = ap.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(2)
    (args.out / "jobs").mkdir(parents=True, exist_ok=True)
    runs = [
        (s, setting, d)
        for s in args.surrogate or ["default", "mpnet"]
        for setting in args.setting or ["probe-only", "default"]
        for d in args.dataset or ["sst2", "rte"]
    ]
    for s, setting, d in runs:
        job = args.out / "jobs" / f"{args.device}-{s}-{setting}-{d}.json"
        if job.exists():
            continue
        print(f"{d} on {s} ({setting}, {args.device}): embedding", flush=True)
        row = measure_vector(args.data / d, s, device=args.device, **SETTINGS[setting])
        write_atomic(job, json.dumps({**row, "tier": s, "setting": setting, "device": args.device}, indent=1) + "\n")
        print(row, flush=True)
    rows = [json.loads(p.read_text()) for p in sorted((args.out / "jobs").glob("*.json"))]
    for r in rows:
        r["seconds_per_1000_rows"] = round(1000 * r["seconds"] / r["rows_used"], 1)
        base = [
            b
            for b in rows
            if (b["tier"], b["setting"], b["dataset"], b["device"])
            == ("default", r["setting"], r["dataset"], r["device"])
        ]
        r["x_default"] = round(r["seconds"] / base[0]["seconds"], 2) if base else None
    command = "python bench/surrogate_tiers.py " + shlex.join(sys.argv[1:])
    out = {"command": command.strip(), "machine": machine(), "rows": rows}
    write_atomic(args.out / "surrogate_tiers.json", json.dumps(out, indent=1) + "\n")
    m = out["machine"]
    lines = [
        "# The quality tier's cost: default surrogate against all-mpnet-base-v2",
        "",
        f"Command: `{command.strip()}`  ",
        f"{m['threads']} threads of {m['cpu']}, torch {m['torch']}. `fisher` at fute's defaults (up to 1,000 rows, "
        "128-token window; the probe, then fine-tuning with early stopping) and probe-only (`--option "
        "max_epochs=0`), each run alone. x default: seconds against the default surrogate's, same setting, dataset "
        "and device.",
        "",
        "| device | tier | setting | dataset | rows used | seconds | s / 1,000 rows | x default | peak RSS MB | "
        "fine-tuned epochs | held-out loss / constant | learned |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["device"], r["dataset"], r["setting"], r["tier"])):
        lines.append(
            f"| {r['device']} | {r['tier']} | {r['setting']} | {r['dataset']} | {r['rows_used']} | {r['seconds']} | "
            f"{r['seconds_per_1000_rows']} | {r['x_default']} | {r['peak_rss_mb']} | {r['finetune_epochs']} | "
            f"{r['ratio']} | {'yes' if r['learned'] else 'no'} |"
        )
    write_atomic(args.out / "surrogate_tiers.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
