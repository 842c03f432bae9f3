"""How fast does each target backend label the unlabeled corpus U here? Examples/s, CPU.

    python bench/label_speed.py                  # writes bench/results/label_speed.{json,md}
    python bench/label_speed.py --device cuda    # on a GPU (bfloat16 LLMs): bench/results/label_speed_cuda.*

Backends: a sequence classifier with the default surrogate's architecture (all-MiniLM-L6-v2 with a
fresh 2-way head: the speed of any fine-tuned MiniLM), and the offline LLMs SmolLM2-135M-Instruct and
gemma-3-270m (base), each with a vanilla and a chain-of-thought sentiment prompt. Each LLM's first
(uncached) load, which dequantizes the GGUF, and a cached load are timed too. Labels are not cached
during the timing.

    python bench/label_speed.py --served smollm2@http://127.0.0.1:8011/v1 --served-note "llama.cpp ..."

adds the ``openai`` backend: the same prompts sent to an OpenAI-compatible server (completions API,
top-20 log-probs), one request at a time and 8 in flight.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import transformers

from fute.corpus import default_corpus
from fute.device import describe, dtype_name, resolve_device
from fute.evaluation.machine import machine, matmul_peak
from fute.paths import default_surrogate_path
from fute.targets import split_endpoint
from fute.targets.hf_classifier import HFClassifier
from fute.targets.hf_lm import HFCausalLM, load_causal_lm
from fute.targets.openai_api import OpenAITarget
from fute.targets.prompts import load_prompt_set

RESULTS = Path(__file__).resolve().parent / "results"


def non_embedding_params(model) -> int:
    """Parameters a token's forward pass multiplies by: all but the input embedding table (and the output
    projection, which fute computes for the last position only)."""
    skip = {id(p) for p in model.get_input_embeddings().parameters()}
    out = model.get_output_embeddings()
    skip |= {id(p) for p in out.parameters()} if out is not None else set()
    return sum(p.numel() for p in model.parameters() if id(p) not in skip)


def flop_bound(target, texts, peak_gflops: float) -> dict:
    """Examples/s at the machine's matmul peak for the tokens ``target`` runs on these texts: 2 x non-embedding
    parameters x tokens per example (Kaplan et al.'s forward-pass estimate; attention and the last-position
    vocabulary projection left out). A CoT prompt runs the question, the reasoning (counted at its full cap: an
    upper bound on the work, so the fraction of the bound is, if anything, overstated) and the answer turn, counted
    whole as when it was run afresh (comparable with earlier runs); with the KV cache reused, fewer of its tokens
    run, so a CoT row's fraction overstates the efficiency of the work actually done."""
    p = target.prompt
    tokens = []
    for turn in target._rendered(texts, None):
        n = len(target._ids(target._context([turn])))
        if p.type == "cot":
            cap = target.max_reasoning_tokens
            n += cap + len(target._ids(target._context([turn, "x " * cap, p.answer])))
        tokens.append(n)
    flops = 2 * non_embedding_params(target.model) * float(np.mean(tokens))
    return {"tokens_per_example": float(np.mean(tokens)), "bound_examples_per_s": peak_gflops * 1e9 / flops}


def rate(target, texts, pairs=None, repeats: int = 2) -> dict:
    """Examples/s labeling ``texts``: the fastest of ``repeats`` passes, after a warm-up on two of them. A first
    pass pays one-time costs that a long labeling run does not (oneDNN builds a bfloat16 kernel for each new
    shape); ``seconds_all`` keeps every pass."""
    target.predict(texts[:2], None if pairs is None else pairs[:2], progress=False, cache=False)  # warm-up
    passes = []
    for _ in range(repeats):
        t = time.perf_counter()
        target.predict(texts, pairs, progress=False, cache=False)
        passes.append(time.perf_counter() - t)
    secs = min(passes)
    return {"examples": len(texts), "seconds": secs, "seconds_all": passes, "examples_per_s": len(texts) / secs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--examples", type=int, default=128)
    ap.add_argument("--cot-examples", type=int, default=16)
    ap.add_argument("--reasoning-tokens", type=int, default=64)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument(
        "--served",
        action="append",
        default=[],
        metavar="MODEL@URL",
        help="also time the openai backend against this OpenAI-compatible server",
    )
    ap.add_argument("--served-note", default="", help="what serves it (recorded with the results)")
    ap.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | mps | auto (results named by device)")
    ap.add_argument("--batch-size", type=int, default=32, help="LLM batch size (HFCausalLM's default: 32)")
    ap.add_argument("--dtype", default="auto", help="the LLMs' precision (HFCausalLM's dtype; default: its auto)")
    args = ap.parse_args()
    device = resolve_device(args.device)

    peaks = {name: matmul_peak(device, dtype=getattr(torch, name))["gflops"] for name in ("float32", "bfloat16")}
    print(f"matmul peaks, GFLOP/s: {peaks}", flush=True)
    u = default_corpus()
    texts = u.texts[: args.examples]
    rows = []

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    clf = AutoModelForSequenceClassification.from_pretrained(default_surrogate_path(), num_labels=2)
    target = HFClassifier(
        "all-MiniLM-L6-v2 + 2-way head",
        model=clf,
        tokenizer=AutoTokenizer.from_pretrained(default_surrogate_path()),
        device=device,
        dtype="auto" if device.type == "cpu" else "bfloat16",
    )
    rows.append({"backend": "hf-classifier", "model": "all-MiniLM-L6-v2 (22.7M)", "prompt": "", **rate(target, texts)})
    print(rows[-1], flush=True)

    sentiment = load_prompt_set("sentiment")
    loads = {}
    for llm, display in (("smollm2", "SmolLM2-135M-Instruct"), ("gemma-3-270m", "gemma-3-270m (base)")):
        with tempfile.TemporaryDirectory() as home:
            old = os.environ.get("FUTE_HOME")
            os.environ["FUTE_HOME"] = home
            t = time.perf_counter()
            load_causal_lm(llm, device)
            first = time.perf_counter() - t
            t = time.perf_counter()
            model, tok = load_causal_lm(llm, device)
            loads[display] = {"first": first, "cached": time.perf_counter() - t}
            if old is None:
                del os.environ["FUTE_HOME"]
            else:
                os.environ["FUTE_HOME"] = old
        for pid, n in (("review-sentiment", args.examples), ("cot-step-by-step", args.cot_examples)):
            target = HFCausalLM(
                llm,
                sentiment[pid],
                model=model,
                tokenizer=tok,
                max_reasoning_tokens=args.reasoning_tokens,
                device=device,
                batch_size=args.batch_size,
                dtype=args.dtype,
            )
            # the peak beside the row, the higher of before and after: this VM's speed drifts by up to 30% within
            # minutes, so a peak taken at the start set some rows' bounds at another speed than they ran at
            before = matmul_peak(device, dtype=target.dtype)["gflops"]
            measured = rate(target, texts[:n])
            peak = max(before, matmul_peak(device, dtype=target.dtype)["gflops"])
            bound = flop_bound(target, texts[:n], peak)
            rows.append(
                {
                    "backend": "hf-lm",
                    "model": display,
                    "prompt": f"sentiment:{pid}",
                    "chat_template": target.chat,
                    "dtype": dtype_name(target.dtype),
                    "batch_size": args.batch_size,
                    **measured,
                    "peak_gflops": peak,
                    **bound,
                    "fraction_of_bound": measured["examples_per_s"] / bound["bound_examples_per_s"],
                }
            )
            print(rows[-1], flush=True)

    for spec in args.served:
        model, url = split_endpoint(spec)
        if url is None:
            ap.error(f"--served {spec}: give MODEL@URL, e.g. smollm2@http://127.0.0.1:8011/v1")
        for pid, n in (("review-sentiment", args.examples), ("cot-step-by-step", args.cot_examples)):
            for concurrency in (1, 8):
                target = OpenAITarget(
                    model,
                    sentiment[pid],
                    base_url=url,
                    concurrency=concurrency,
                    max_reasoning_tokens=args.reasoning_tokens,
                )
                rows.append(
                    {
                        "backend": "openai",
                        "model": f"{model} (served){' *' if args.served_note else ''}",
                        "prompt": f"sentiment:{pid}",
                        "concurrency": concurrency,
                        **rate(target, texts[:n]),
                    }
                )
                print(rows[-1], flush=True)

    result = {
        "command": "python bench/label_speed.py " + shlex.join(sys.argv[1:]),
        "machine": {
            **machine(),
            "transformers": transformers.__version__,
            "arch": platform.machine(),
            "device": describe(device),
            "matmul_peak_gflops": peaks["float32"],
            "matmul_peaks_gflops": peaks,
        },
        "corpus": "shipped U, single texts",
        "reasoning_tokens": args.reasoning_tokens,
        "llm_load_seconds": loads,
        "served_note": args.served_note,
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "label_speed" if device.type == "cpu" else f"label_speed_{device.type}"  # the CPU rows stay beside
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        f"# Labeling throughput ({result['machine']['device']})",
        "",
        f"Command: `{result['command']}`  ",
        f"{result['machine']['threads']} threads of {result['machine']['cpu']}, torch {result['machine']['torch']}, "
        f"transformers {result['machine']['transformers']}; corpus: {result['corpus']}; "
        f"CoT reasoning capped at {args.reasoning_tokens} tokens.",
        "",
        f"LLM batch size {args.batch_size}; measured matmul peak at the start {peaks['float32']:.1f} GFLOP/s in "
        f"float32, {peaks['bfloat16']:.1f} in bfloat16. FLOP bound: examples/s at the peak of the LLM's dtype "
        "measured beside the row (the higher of just before and just after it) for 2 x non-embedding "
        "parameters x tokens per example (CoT: reasoning counted at its cap).",
        "",
        "| backend | model | dtype | prompt | in flight | examples | examples/s | tokens/example | peak GFLOP/s "
        "| bound | % of bound |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    md += [
        f"| {r['backend']} | {r['model']} | {r.get('dtype', '')} | {r['prompt']} | {r.get('concurrency', '')} | "
        f"{r['examples']} | "
        f"{r['examples_per_s']:.2f} | "
        + (
            f"{r['tokens_per_example']:.0f} | {r['peak_gflops']:.0f} | {r['bound_examples_per_s']:.1f} | "
            f"{100 * r['fraction_of_bound']:.0f}% |"
            if "fraction_of_bound" in r
            else " | | | |"
        )
        for r in rows
    ]
    md += [""] + [
        f"{m} load: first {v['first']:.1f} s (GGUF dequantized and cached as safetensors), then "
        f"{v['cached']:.2f} s from the cache."
        for m, v in loads.items()
    ]
    md += ["", f"\\* served by: {args.served_note}"] if args.served_note else []
    md += [""]
    (args.out / f"{stem}.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
