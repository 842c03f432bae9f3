"""How fast could a default ``fisher`` vector be at best? The FLOPs its run did, at the machine's matmul peak.

    python bench/fisher_cost_floor.py     # writes bench/results/fisher_cost_floor.{json,md}

For every default 1,000-row job of ``bench/embedding_quality.py`` (halves A and B), the work the run did is counted
from its rows' real token counts and its stored training report (how many fine-tuned epochs it ran):

- the frozen features for the probe: one forward pass per row;
- fine-tuning: per epoch, one forward and one backward pass with weight gradients (3 forward passes) per training row;
- the held-out loss before fine-tuning and after each epoch: one forward pass per held-out row;
- the Fisher: one forward pass and one backward pass to every layer's output (2 forward passes) per row.

A forward pass over T real tokens is 2 x non-embedding parameters x T (Kaplan et al., 2020) plus attention's
4 x layers x T^2 x hidden (its two T x T products); padding, the linear probe, norms and activations are left out.
At the measured float32 matmul peak this is the least time that run could take with every product at the peak:
set beside the 2-minute goal of the embedding-quality issue and the measured seconds.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np
import torch

from fute.evaluation.embedding_quality import halves
from fute.evaluation.machine import machine, matmul_peak
from fute.methods.training import holdout_split
from fute.samples import load_samples
from fute.surrogate import load_surrogate

RESULTS = Path(__file__).resolve().parent / "results"

GOAL_SECONDS = 120.0


def forward_flops(tokens: np.ndarray, params: int, layers: int, hidden: int) -> float:
    """Forward FLOPs of rows with these real token counts: the linear layers and attention's two T x T products."""
    t = tokens.astype(np.float64)
    return float((2 * params * t + 4 * layers * hidden * t * t).sum())


def job_flops(job: dict, tokens: np.ndarray, params: int, layers: int, hidden: int) -> float:
    """The FLOPs of one stored run (``tokens``: its capped rows' real token counts, in row order)."""
    t = job["training"]
    train, held = holdout_split(len(tokens), job["config"]["holdout_fraction"], job["config"]["seed"])
    every, epochs = np.arange(len(tokens)), t["finetune_epochs"]

    def f(idx: np.ndarray) -> float:
        return forward_flops(tokens[idx], params, layers, hidden)

    return f(every) + 3 * epochs * f(train) + (epochs + 1) * f(held) + 2 * f(every)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--jobs", default=str(RESULTS / "embedding_quality_jobs" / "fisher"))
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    torch.set_num_threads(2)
    peak = matmul_peak(torch.device("cpu"), dtype=torch.float32)["gflops"]
    sur = load_surrogate()
    model = sur.model
    params = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n and "pooler" not in n)
    layers, hidden = model.config.num_hidden_layers, model.config.hidden_size
    rows = []
    for path in sorted(Path(args.jobs).glob("*.json")):
        job = json.loads(path.read_text())
        if job["variant"] not in ("A", "B") or not job.get("training") or job["rows"] < 1000:
            continue
        a, b = halves(load_samples(Path(args.data) / job["dataset"]))
        data = (a if job["variant"] == "A" else b).take(job["config"]["max_examples"], job["config"]["seed"])
        tokens = np.array([len(x) for x in sur.encode(data).input_ids])
        flops = job_flops(job, tokens, params, layers, hidden)
        rows.append(
            {
                "dataset": job["dataset"],
                "variant": job["variant"],
                "rows": len(tokens),
                "mean_tokens": float(tokens.mean()),
                "finetune_epochs": job["training"]["finetune_epochs"],
                "tflop": flops / 1e12,
                "floor_seconds": flops / (peak * 1e9),
                "measured_seconds": job["seconds"],
                "shared_cpu": bool(job.get("shared_cpu")),
            }
        )
        print(rows[-1], flush=True)
    result = {
        "command": "python bench/fisher_cost_floor.py " + shlex.join(sys.argv[1:]),
        "machine": {**machine(), "matmul_peak_gflops": peak},
        "surrogate": {"non_embedding_params": params, "layers": layers, "hidden": hidden},
        "goal_seconds": GOAL_SECONDS,
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fisher_cost_floor.json").write_text(json.dumps(result, indent=2) + "\n")
    over = sorted({r["dataset"] for r in rows if r["floor_seconds"] > GOAL_SECONDS})
    md = [
        "# The least time a default fisher vector's run could take",
        "",
        f"Command: `{result['command']}`  ",
        f"{result['machine']['threads']} threads of {result['machine']['cpu']}, torch {result['machine']['torch']}; "
        f"float32 matmul peak measured {peak:.0f} GFLOP/s. The work each committed default 1,000-row job did "
        "(its rows' real tokens, its fine-tuned epochs), at that peak. Measured seconds are the job's own, on the "
        "machine that made it (* shared the CPU with other work).",
        "",
        "| dataset | half | mean tokens | fine-tuned epochs | TFLOP | floor s | measured s | floor / 120 s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r['dataset']} | {r['variant']} | {r['mean_tokens']:.0f} | {r['finetune_epochs']} | {r['tflop']:.1f} | "
            f"{r['floor_seconds']:.0f} | {r['measured_seconds']:.0f}{' *' if r['shared_cpu'] else ''} | "
            f"{r['floor_seconds'] / GOAL_SECONDS:.2f} |"
            for r in rows
        ),
        "",
        f"Runs whose floor alone is over {GOAL_SECONDS:.0f} s: {', '.join(over) or 'none'}.",
        "",
    ]
    (args.out / "fisher_cost_floor.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
