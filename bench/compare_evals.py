"""One ranker in two evals of the same truth (e.g. fute-fisher on the default surrogate and on the quality tier):
the paired test the eval runs between rankers, run between the two settings.

    python bench/compare_evals.py bench/results/transfer_truth3/mpnet/transfer_eval.json \\
        bench/results/transfer_truth3/transfer_eval.json --ranker fute-fisher \\
        --out bench/results/transfer_truth3/mpnet/compare

A is the first eval, B the second; both must judge the same truth (same targets, same seeds). Per scope
(all-class, in-class): the mean difference A minus B of ρ and NDCG with its nested 95% bootstrap interval over
targets and their seeds, and the two-sided p of a paired sign-flip permutation test over targets
(``fute.evaluation.transfer.stats.paired_tests``). Writes ``--out``.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from fute.evaluation.embedding_quality import write_atomic
from fute.evaluation.transfer.stats import paired_tests


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--ranker", default="fute-fisher")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    a, b = (json.loads(p.read_text()) for p in (args.a, args.b))
    if a["truth_command"] != b["truth_command"]:
        sys.exit(f"{args.a} and {args.b} judge different truths; compare evals of one truth")
    name_a, name_b = f"{args.ranker} (A)", f"{args.ranker} (B)"
    judged = {name_a: a["metrics"][args.ranker], name_b: b["metrics"][args.ranker]}
    tests = {scope: paired_tests(judged, fute=[name_a], scope=scope)[name_a][name_b] for scope in ("all", "in")}
    summary = {
        side: {s: judged[n]["summary"][s]["overall"] for s in ("all", "in")}
        for side, n in (("A", name_a), ("B", name_b))
    }
    command = "python bench/compare_evals.py " + shlex.join(sys.argv[1:])
    record = {
        "command": command,
        "a": {"eval": str(args.a), "command": a["command"]},
        "b": {"eval": str(args.b), "command": b["command"]},
        "ranker": args.ranker,
        "summary": summary,
        "paired": tests,
    }
    write_atomic(args.out.with_suffix(".json"), json.dumps(record, indent=1) + "\n")

    def cell(c: dict, k: str, fmt: str) -> str:
        lo, hi = c[f"{k}_diff_ci"]
        return f"{format(c[f'{k}_diff'], fmt)} [{format(lo, fmt)}, {format(hi, fmt)}] (p {c[f'{k}_p']:.3f})"

    lines = [
        f"# {args.ranker}: two evals of one truth, paired",
        "",
        f"Command: `{command}`  ",
        f"A: `{a['command']}`  ",
        f"B: `{b['command']}`",
        "",
        "| scope | ρ A | ρ B | Δρ A − B (lower: A better) | NDCG A | NDCG B | ΔNDCG A − B |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scope, label in (("all", "all-class"), ("in", "in-class")):
        sa, sb, t = summary["A"][scope], summary["B"][scope], tests[scope]
        lines.append(
            f"| {label} | {sa['rho']:.2f} | {sb['rho']:.2f} | {cell(t, 'rho', '+.2f')} | {sa['ndcg']:.3f} | "
            f"{sb['ndcg']:.3f} | {cell(t, 'ndcg', '+.3f')} |"
        )
    lines += [
        "",
        "Intervals: 95% bootstrap over targets, nested over each target's seeds; p: paired sign-flip permutation "
        "test over targets.",
    ]
    write_atomic(args.out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
