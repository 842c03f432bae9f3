"""Where a chain-of-thought example's labeling time goes: the reasoning (generation) against the answer turn.

The answer turn scores the label words after the question, the reasoning and the answer cue. Run afresh
(``HFCausalLM.answer_contexts`` then ``score_words``) it computes that whole context again; its share of the time
bounds what reusing the generation's KV cache can give: at most 1 / (1 - share) times faster, the generation
alone setting the ceiling. ``HFCausalLM.predict`` reuses the cache (``_answer_from_cache``); it is timed too,
beside its largest difference from the fresh answer turn's label distributions.

    python bench/cot_split.py     # writes bench/results/cot_split.{json,md}
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from fute.corpus import default_corpus
from fute.device import dtype_name
from fute.evaluation.jobs import write_results
from fute.targets.hf_lm import HFCausalLM
from fute.targets.prompts import load_prompt_set

RESULTS = Path(__file__).resolve().parent / "results"


def split(llm: str, prompt_id: str, texts: list[str], cap: int, repeats: int, dtype: str = "auto") -> dict:
    """Seconds of ``HFCausalLM.answer_contexts`` (the generation) and of the answer turn (``score_words``), the two
    steps of ``_predict``, for ``texts`` (the median of ``repeats`` timings of each)."""
    t = HFCausalLM(llm, load_prompt_set("sentiment")[prompt_id], max_reasoning_tokens=cap, device="cpu", dtype=dtype)
    t._predict(texts[:2], None)  # warm-up
    gens, answers = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        contexts = t.answer_contexts(texts)  # fitting, rendering and the generation
        gens.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        t.score_words(contexts)
        answers.append(time.perf_counter() - t0)
    probs, reads = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        probs.append(t.predict(texts, progress=False, cache=False))  # the library's path: the cache reused
        reads.append(time.perf_counter() - t0)
    fresh = t.label_distribution(t.score_words(contexts))  # the answer turn run afresh
    gen, answer, read = float(np.median(gens)), float(np.median(answers)), float(np.median(reads))
    questions = [t._context([r]) for r in t._rendered(texts, None)]  # the generation's input
    return {
        "llm": llm,
        "dtype": dtype_name(t.dtype),
        "prompt": prompt_id,
        "examples": len(texts),
        "reasoning_cap": cap,
        "repeats": repeats,
        "generation_s": round(gen, 2),
        "generation_s_all": [round(x, 2) for x in gens],
        "answer_turn_s": round(answer, 2),
        "answer_turn_s_all": [round(x, 2) for x in answers],
        "answer_share": round(answer / (gen + answer), 3),
        "examples_per_s": round(len(texts) / (gen + answer), 2),
        "ceiling_without_answer_turn": round(len(texts) / gen, 2),
        "with_cache_s": round(read, 2),
        "with_cache_s_all": [round(x, 2) for x in reads],
        "with_cache_examples_per_s": round(len(texts) / read, 2),
        "with_cache_max_abs_diff": float(np.abs(probs[-1] - fresh).max()),
        "question_tokens": round(float(np.mean([len(t._ids(q)) for q in questions])), 1),
        "answer_context_tokens": round(float(np.mean([len(t._ids(c)) for c in contexts])), 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=32)
    ap.add_argument("--reasoning-tokens", type=int, default=32, help="the CoT cap (the prompt benchmark's: 32)")
    ap.add_argument("--llm", action="append", help="default: smollm2 and gemma-3-270m")
    ap.add_argument("--repeats", type=int, default=3, help="timings of each part; the median is reported")
    ap.add_argument("--dtype", default="auto", help="the LLM's precision (HFCausalLM's dtype)")
    ap.add_argument("--out", default=str(RESULTS / "cot_split"))
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    texts = default_corpus().texts[: args.examples]
    rows = [
        split(llm, "cot-step-by-step", texts, args.reasoning_tokens, args.repeats, args.dtype)
        for llm in args.llm or ["smollm2", "gemma-3-270m"]
    ]
    command = "python bench/cot_split.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    out = Path(args.out)
    lines = [
        "# Chain-of-thought labeling: generation against the answer turn (CPU)",
        "",
        f"Command: `{command}`; {torch.get_num_threads()} threads, batch 32, the shipped U's first"
        f" {args.examples} texts, sentiment:cot-step-by-step, reasoning cap {args.reasoning_tokens}; the median of"
        f" {args.repeats} timings of each part. The first columns run the answer turn afresh; 'with the cache' is"
        " `HFCausalLM.predict`, which reads it from the generation's KV cache, and its largest difference from the"
        " fresh answer turn's label probabilities.",
        "",
        "| LLM | dtype | generation s | answer turn s | answer share | examples/s | ceiling if the answer turn were"
        " free | with the cache: s | examples/s | max abs diff | question tokens | answer-turn context tokens |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['llm']} | {r['dtype']} | {r['generation_s']} | {r['answer_turn_s']} | {r['answer_share']:.0%} |"
        f" {r['examples_per_s']} | {r['ceiling_without_answer_turn']} | {r['with_cache_s']} |"
        f" {r['with_cache_examples_per_s']} | {r['with_cache_max_abs_diff']:.1e} | {r['question_tokens']} |"
        f" {r['answer_context_tokens']} |"
        for r in rows
    ]
    record = {"command": command, "threads": torch.get_num_threads(), "rows": rows}
    write_results(out.parent, out.name, record, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
