"""How fast can CoT reasoning be on this CPU at best? The decode steps' matrix products alone, timed.

    python bench/decode_bound.py        # writes bench/results/decode_bound.{json,md}

A CoT example's reasoning is ``cap`` decode steps, each a forward pass with one row per text of the batch. This
times only those steps' matrix products, with SmolLM2-135M's shapes (30 layers x q, k, v, o, gate, up, down, then
its 49,152-word output matrix) on random float32 weights, for batches of 16 and 32 rows: the fastest labeling the
CPU's matmul kernels allow at that batch and cap, with the prefill, attention, the KV cache and the answer turn taken
as free. Thin matrices (one row per text) run far below the peak that large ones reach, so this bound is well below
the FLOP bound of ``label_speed.py``.
"""

from __future__ import annotations

import json
import platform
import shlex
import sys
import time
from pathlib import Path

import torch
from label_speed import cpu_model

RESULTS = Path(__file__).resolve().parent / "results"
LAYER = [(576, 576), (192, 576), (192, 576), (576, 576), (1536, 576), (1536, 576), (576, 1536)]  # out, in
LAYERS, VOCAB, HIDDEN = 30, 49152, 576


def step_seconds(rows: int, repeats: int = 5) -> float:
    """The fastest of ``repeats`` timings of one decode step's matrix products for ``rows`` texts."""
    torch.manual_seed(0)
    weights = [torch.randn(o, i) for o, i in LAYER * LAYERS] + [torch.randn(VOCAB, HIDDEN)]
    x, h = torch.randn(rows, HIDDEN), torch.randn(rows, 1536)

    def step() -> None:
        for w in weights:
            torch.nn.functional.linear(h if w.shape[1] == 1536 else x, w)

    step()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    torch.set_num_threads(2)
    rows = []
    for batch in (16, 32):
        secs = step_seconds(batch)
        flops = 2 * batch * (sum(o * i for o, i in LAYER) * LAYERS + VOCAB * HIDDEN)
        for cap in (64, 32):
            rows.append(
                {
                    "texts_per_batch": batch,
                    "cap": cap,
                    "step_ms": 1e3 * secs,
                    "gflops": flops / secs / 1e9,
                    "max_examples_per_s": batch / (cap * secs),
                }
            )
    from embed_speed import matmul_peak

    result = {
        "command": "python bench/decode_bound.py " + shlex.join(sys.argv[1:]),
        "machine": {
            "threads": torch.get_num_threads(),
            "cpu": cpu_model(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "matmul_peak_gflops": matmul_peak(torch.device("cpu"), dtype=torch.float32)["gflops"],
        },
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "decode_bound.json").write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    md = [
        "# CoT reasoning at best: the decode steps' matrix products alone",
        "",
        f"Command: `{result['command']}`  ",
        f"{m['threads']} threads of {m['cpu']}, torch {m['torch']}; float32 matmul peak measured "
        f"{m['matmul_peak_gflops']:.0f} GFLOP/s. SmolLM2-135M's shapes, random weights; prefill, attention, cache and "
        "answer turn taken as free.",
        "",
        "| texts per batch | cap | ms a step | GFLOP/s | at most examples/s |",
        "|---:|---:|---:|---:|---:|",
        *(
            f"| {r['texts_per_batch']} | {r['cap']} | {r['step_ms']:.1f} | {r['gflops']:.0f} | "
            f"{r['max_examples_per_s']:.2f} |"
            for r in rows
        ),
        "",
    ]
    (RESULTS / "decode_bound.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
