"""How fast can CoT labeling be on this CPU at best? Its matrix products alone, timed on the LLM's own weights.

    python bench/decode_bound.py        # writes bench/results/decode_bound.{json,md}

A CoT example runs three parts, batch by batch as ``HFCausalLM`` batches them (``_reasoning_batches``: similar
lengths, the shared prefix run once): the prefill of its context, ``cap`` greedy reasoning tokens (one row per
text, each also projecting onto the whole vocabulary), and the answer turn (the tokens after the reasoning that the
KV cache does not hold). This times only the matrix products of those parts, with the model's own linear layers
(shapes and weights read from the loaded model, not written here), in float32 and bfloat16:

- prefill and answer: each batch's real tokens as one matrix per layer (no padding; a large matrix runs near the
  peak), the vocabulary projected for the last position of each row (prefill) or not at all (the answer turn scores
  the label words only);
- decode: ``cap - 1`` steps of one row per text through every layer and the vocabulary projection (the prefill gives
  the first reasoning token; the last one enters the cache with the answer turn, so it is counted there).

Attention, norms, activations, the KV cache and Python are taken as free, so the examples/s here is an upper bound
on what any code around these products can reach. The answer turn is counted as the tokens a one-token reasoning
adds to the question's context (that token, the chat template's closing and the answer cue).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch
from torch import nn

from fute.corpus import default_corpus
from fute.evaluation.machine import machine, matmul_peak
from fute.targets.hf_lm import HFCausalLM, load_causal_lm
from fute.targets.prompts import load_prompt_set

RESULTS = Path(__file__).resolve().parent / "results"
WORKLOADS = ((64, 16), (32, 128))  # (cap, texts): the first CoT measurement's, the prompt benchmark's


class Products:
    """The model's linear layers in one dtype, timed on random inputs of a given number of rows."""

    def __init__(self, model: nn.Module, dtype: torch.dtype) -> None:
        self.layers = [m.weight.detach().to(dtype) for m in model.get_decoder().modules() if isinstance(m, nn.Linear)]
        self.head = model.get_output_embeddings().weight.detach().to(dtype)
        self.dtype, self._seconds = dtype, {}

    def seconds(self, rows: int, head_rows: int, repeats: int = 5) -> float:
        """Fastest of ``repeats`` timings of every decoder layer on ``rows`` rows plus the vocabulary projection of
        ``head_rows`` rows."""
        key = (rows, head_rows)
        if key not in self._seconds:
            torch.manual_seed(0)
            inputs = {w.shape[1]: torch.randn(rows, w.shape[1], dtype=self.dtype) for w in self.layers}
            last = torch.randn(head_rows, self.head.shape[1], dtype=self.dtype)

            def run() -> None:
                for w in self.layers:
                    nn.functional.linear(inputs[w.shape[1]], w)
                if head_rows:
                    nn.functional.linear(last, self.head)

            run()
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                run()
                best = min(best, time.perf_counter() - t)
            self._seconds[key] = best
        return self._seconds[key]


def plan(target: HFCausalLM, texts: list[str]) -> list[dict]:
    """Each batch's work, as ``HFCausalLM._generations`` batches these texts (``_reasoning_batches``): rows, real
    prefill tokens (the shared prefix once), answer-turn tokens per row."""
    rendered = target._rendered(texts, None)
    ids = [target._ids(target._context([r]))[-target.max_length :] for r in rendered]
    answer = [
        len(target._ids(target._context([r, "x", target.prompt.answer]))) - len(i)
        for r, i in zip(rendered, ids, strict=True)
    ]
    return [
        {
            "rows": len(rows),
            "prefill_tokens": p + sum(len(ids[j]) - p for j in rows),
            "answer_tokens": sum(answer[j] for j in rows),
        }
        for rows, p in target._reasoning_batches(ids)
    ]


def bound(products: Products, batches: list[dict], cap: int) -> dict:
    parts = {"prefill": 0.0, "decode": 0.0, "answer": 0.0}
    for b in batches:
        parts["prefill"] += products.seconds(b["prefill_tokens"], b["rows"])
        parts["decode"] += (cap - 1) * products.seconds(b["rows"], b["rows"])
        parts["answer"] += products.seconds(b["answer_tokens"], 0)
    total = sum(parts.values())
    texts = sum(b["rows"] for b in batches)
    return {"seconds": parts, "max_examples_per_s": texts / total}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llm", default="smollm2")
    ap.add_argument("--prompt", default="sentiment:cot-step-by-step")
    ap.add_argument("--batch-size", type=int, default=32, help="HFCausalLM's default")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    torch.set_num_threads(2)
    model, tok = load_causal_lm(args.llm, "cpu")
    prompt_set, prompt_id = args.prompt.split(":")
    prompt = load_prompt_set(prompt_set)[prompt_id]
    u = default_corpus()
    rows = []
    for dtype in (torch.float32, torch.bfloat16):
        products = Products(model, dtype)
        for cap, n in WORKLOADS:
            target = HFCausalLM(
                args.llm, prompt, model=model, tokenizer=tok, max_reasoning_tokens=cap, batch_size=args.batch_size
            )
            batches = plan(target, u.texts[:n])
            rows.append({"dtype": str(dtype).removeprefix("torch."), "cap": cap, "texts": n, "batches": batches})
            rows[-1] |= bound(products, batches, cap)
            print(rows[-1], flush=True)
    result = {
        "command": "python bench/decode_bound.py " + shlex.join(sys.argv[1:]),
        "llm": args.llm,
        "prompt": args.prompt,
        "batch_size": args.batch_size,
        "machine": {
            **machine(),
            "matmul_peak_gflops": {
                d: matmul_peak(torch.device("cpu"), dtype=getattr(torch, d))["gflops"] for d in ("float32", "bfloat16")
            },
        },
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "decode_bound.json").write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    peaks = ", ".join(f"{d} {g:.0f}" for d, g in m["matmul_peak_gflops"].items())
    md = [
        "# CoT labeling at best: its matrix products alone",
        "",
        f"Command: `{result['command']}`  ",
        f"{m['threads']} threads of {m['cpu']}, torch {m['torch']}; matmul peaks measured (GFLOP/s): {peaks}. "
        f"{args.llm} with {args.prompt}, batch {args.batch_size}, the shipped U's first texts. The model's own linear "
        "layers; attention, norms, the KV cache and everything else taken as free (an upper bound).",
        "",
        "| dtype | cap | texts | batches | prefill s | decode s | answer s | at most examples/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r['dtype']} | {r['cap']} | {r['texts']} | {len(r['batches'])} | {r['seconds']['prefill']:.2f} | "
            f"{r['seconds']['decode']:.2f} | {r['seconds']['answer']:.2f} | {r['max_examples_per_s']:.2f} |"
            for r in rows
        ),
        "",
    ]
    (args.out / "decode_bound.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
