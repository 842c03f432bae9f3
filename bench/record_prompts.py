"""Record an LLM's outputs for the prompt benchmark where the LLM runs (a GPU), so that the benchmark itself runs
on the recordings anywhere (`--llm recorded:DIR`; no LLM there).

    python bench/record_prompts.py --llm MODEL --data sentiment=../shared/data/sst2 ... --out DIR --device cuda

For every prompt of each category's shipped set, one file ``DIR/SET/ID.jsonl`` (``fute.targets.recorded``): the
label distributions on every input the benchmark asks about: each dataset's evaluation sample (``--examples``,
``--seed``, as ``fute bench prompts truth`` draws it) and the U rows of the prompts' MTEs (the shipped corpus
without the evaluation datasets, ``--mte-examples`` rows, as ``fute bench prompts vectors`` draws them).
A prompt whose file exists is skipped, so an interrupted run resumes. ``bench/recorded_prompts.sh`` runs this and
then the benchmark in one command.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from fute.embed import unlabeled_rows
from fute.evaluation.prompts import eval_split
from fute.paths import atomic_write
from fute.select import prompted_llm
from fute.targets.prompts import load_prompt_set


def inputs(data: dict[str, dict[str, str]], category: str, examples: int, seed: int, mte_examples: int) -> list:
    """(text, pair) of every row the benchmark will ask the LLM about for this category, each once."""
    pset = load_prompt_set(category)
    rows: dict[tuple[str, str | None], None] = {}
    for path in data[category].values():
        s = eval_split(path, examples, seed)
        for t, p in zip(s.texts, s.text_pairs or [None] * len(s), strict=True):
            rows[(t, p)] = None
    every = tuple(name for names in data.values() for name in names)  # U without every evaluation dataset
    u = unlabeled_rows(None, every, pset.input == "pair", mte_examples, 0)
    for t, p in zip(u.texts, u.text_pairs or [None] * len(u), strict=True):
        rows[(t, p)] = None
    return list(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llm", required=True, help="hub id, folder, .gguf or alias, as load_target takes it")
    ap.add_argument("--data", action="append", required=True, help="CATEGORY=PATH (repeatable), as the benchmark's")
    ap.add_argument("--examples", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mte-examples", type=int, default=128)
    ap.add_argument("--max-reasoning-tokens", type=int, default=32)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="float32", help="float32 keeps the labels those of the CPU runs")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    data: dict[str, dict[str, str]] = {}
    for item in args.data:
        category, _, path = item.partition("=")
        data.setdefault(category, {})[Path(path).name] = path
    for category in data:
        rows = inputs(data, category, args.examples, args.seed, args.mte_examples)
        texts, pairs = [t for t, _ in rows], [p for _, p in rows]
        pairs_or_none = None if all(p is None for p in pairs) else pairs
        for prompt in load_prompt_set(category):
            path = args.out / category / f"{prompt.id}.jsonl"
            if path.is_file():
                continue
            lm = prompted_llm(
                args.llm, prompt, max_reasoning_tokens=args.max_reasoning_tokens, device=args.device, dtype=args.dtype
            )
            t0 = time.perf_counter()
            probs = lm.predict(texts, pairs_or_none, progress=True)
            lines = []
            for t, p, r in zip(texts, pairs, probs, strict=True):
                row = {"text": t, **({"text_pair": p} if p is not None else {})}
                lines.append(json.dumps({**row, "probs": dict(zip(prompt.labels, r.tolist(), strict=True))}))
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda tmp, text="\n".join(lines) + "\n": Path(tmp).write_text(text, encoding="utf-8"))
            meta = {"model": args.llm, "prompt": prompt.id, "max_reasoning_tokens": args.max_reasoning_tokens}
            path.with_suffix(".json").write_text(json.dumps(meta) + "\n")
            print(f"{path}: {len(rows)} inputs in {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
