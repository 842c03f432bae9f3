"""How far bfloat16 moves an LLM's labels of U from float32's: the price of ``--dtype bfloat16`` on the CPU.

On a CPU with AMX, bfloat16 labels 2-2.5x faster than float32 (``bench/label_speed.py --dtype bfloat16``), but an
MTE is trained on the label distributions, and the differences between prompts that it must see are small. This
measures, per LLM and prompt, the share of U texts whose argmax label agrees and the largest label-probability
difference per text (its mean, 95th percentile and maximum), each precision from a freshly loaded float32 copy
(rounding to bfloat16 is one-way). For scale, the same per-text difference between two different prompts' float32
labels of U, from a prompt benchmark run's label cache (``--reference-run``; its fisher MTEs' labels).

    python bench/label_precision.py      # writes bench/results/label_precision.{json,md}
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

import numpy as np
import torch

from fute.corpus import default_corpus
from fute.evaluation.jobs import write_results
from fute.targets.hf_lm import HFCausalLM, load_causal_lm
from fute.targets.prompts import load_prompt_set

RESULTS = Path(__file__).resolve().parent / "results"
PROMPTS = (("review-sentiment", "vanilla"), ("cot-step-by-step", "cot"))


def labels(llm: str, prompt_id: str, texts: list[str], dtype: str, cap: int) -> np.ndarray:
    model, tok = load_causal_lm(llm, torch.device("cpu"))  # a fresh float32 copy for each precision
    prompt = load_prompt_set("sentiment")[prompt_id]
    t = HFCausalLM(llm, prompt, model=model, tokenizer=tok, max_reasoning_tokens=cap, device="cpu", dtype=dtype)
    return t.predict(texts, progress=False, cache=False)


def compare(a: np.ndarray, b: np.ndarray) -> dict:
    d = np.abs(a - b).max(axis=1)
    return {
        "argmax_agreement": round(float((a.argmax(1) == b.argmax(1)).mean()), 4),
        "max_abs_diff_mean": round(float(d.mean()), 4),
        "max_abs_diff_p95": round(float(np.quantile(d, 0.95)), 4),
        "max_abs_diff_max": round(float(d.max()), 4),
        "mean_label_p_float32": [round(float(x), 4) for x in a.mean(0)],
        "mean_label_p_bfloat16": [round(float(x), 4) for x in b.mean(0)],
    }


def shown(path: str) -> str:
    """``path`` relative to the repository when it is inside it (as a committed report should name it)."""
    p, root = Path(path).resolve(), RESULTS.parent.parent
    return str(p.relative_to(root)) if p.is_relative_to(root) else str(p)


def between_prompts(run: Path) -> list[dict]:
    """Per (LLM, category) of a prompt benchmark run: the mean per-text largest label-probability difference
    between two prompts' float32 labels of U, over every pair of prompts (median, 10th percentile, minimum)."""
    import itertools

    from fute.evaluation.prompts import kept_labels
    from fute.store import open_store

    groups: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for v in open_store(run / "store").vectors(kind="prompt"):
        probs = kept_labels(run / "labels", v.card.target) if v.card.space.method == "fisher" else None
        if probs is not None and probs.ndim == 2:
            groups.setdefault((v.card.name.split("/")[0], v.card.category), {})[v.card.name] = probs
    out = []
    for (llm, category), got in sorted(groups.items()):
        d = [
            float(np.abs(got[a] - got[b]).max(axis=1).mean())
            for a, b in itertools.combinations(sorted(got), 2)
            if got[a].shape == got[b].shape
        ]
        if d:
            out.append(
                {
                    "llm": llm,
                    "category": category,
                    "prompts": len(got),
                    "pairs": len(d),
                    "median": round(float(np.median(d)), 4),
                    "p10": round(float(np.quantile(d, 0.1)), 4),
                    "min": round(float(np.min(d)), 4),
                }
            )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=256, help="U texts per vanilla prompt")
    ap.add_argument("--cot-examples", type=int, default=64, help="U texts per chain-of-thought prompt")
    ap.add_argument("--reasoning-tokens", type=int, default=32, help="the CoT cap (the prompt benchmark's: 32)")
    ap.add_argument("--llm", action="append", help="default: smollm2 and gemma-3-270m")
    ap.add_argument("--out", default=str(RESULTS / "label_precision"))
    ap.add_argument("--reference-run", default=str(RESULTS / "prompts_truth100"), help="prompt benchmark run folder")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    texts = default_corpus().texts
    rows = []
    for llm in args.llm or ["smollm2", "gemma-3-270m"]:
        for prompt_id, kind in PROMPTS:
            n = args.cot_examples if kind == "cot" else args.examples
            pair = [labels(llm, prompt_id, texts[:n], dt, args.reasoning_tokens) for dt in ("float32", "bfloat16")]
            rows.append({"llm": llm, "prompt": f"sentiment:{prompt_id}", "examples": n, **compare(*pair)})
            print(rows[-1], flush=True)
    reference = between_prompts(Path(args.reference_run)) if Path(args.reference_run, "store").exists() else []
    command = "python bench/label_precision.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    out = Path(args.out)
    lines = [
        "# bfloat16 against float32 labels of U (CPU)",
        "",
        f"Command: `{command}`; the shipped U's first texts, CoT reasoning capped at {args.reasoning_tokens} tokens."
        " Per text, the largest difference between the two label distributions; its mean, 95th percentile and"
        " maximum over the texts.",
        "",
        "| LLM | prompt | texts | argmax agrees | mean | p95 | max | mean label p, float32 | bfloat16 |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    lines += [
        f"| {r['llm']} | {r['prompt']} | {r['examples']} | {r['argmax_agreement']:.0%} | {r['max_abs_diff_mean']}"
        f" | {r['max_abs_diff_p95']} | {r['max_abs_diff_max']} | {r['mean_label_p_float32']} |"
        f" {r['mean_label_p_bfloat16']} |"
        for r in rows
    ]
    if reference:
        lines += [
            "",
            f"For scale, between two prompts' float32 labels of U ({shown(args.reference_run)}, its fisher MTEs):"
            " the mean per-text largest difference, over every pair of prompts.",
            "",
            "| LLM | category | prompts | pairs | median | p10 | min |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r['llm']} | {r['category']} | {r['prompts']} | {r['pairs']} | {r['median']} | {r['p10']} |"
            f" {r['min']} |"
            for r in reference
        ]
    record = {"command": command, "rows": rows, "between_prompts": reference}
    write_results(out.parent, out.name, record, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
