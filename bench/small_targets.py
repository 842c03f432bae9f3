"""Do small targets rank sources as well as large ones? The transfer truth judged with each target's own vector
made from 100, 300 and 1,000 of its rows, the sources' vectors at the benchmark's cap.

    python bench/small_targets.py                      # fute-fisher and textemb, on results/transfer_truth3
    python bench/small_targets.py --rows 100 --ranker fute-fisher

Each row count is one ``fute bench transfer eval --query-examples N`` (its JSON and table under ``--out``/qN/),
run against a copy of the run's store under bench/work/ (the committed store is not written to), so each finished
eval is kept and a rerun only reads it. Writes ``--out``/small_targets.{json,md}: per ranker and row count, ρ and
NDCG in-class and all-class with their 95% intervals. The goal (docs/methods.md): the ranking from 300 rows within
0.5 ρ of the 1,000-row one.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from fute.evaluation.embedding_quality import write_atomic

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run-dir", type=Path, default=RESULTS / "transfer_truth3")
    ap.add_argument("--rows", type=int, action="append", help="rows of each target's vector (default 100, 300, 1000)")
    ap.add_argument("--ranker", action="append", help="default: fute-fisher, textemb")
    ap.add_argument("--out", type=Path, default=RESULTS / "transfer_truth3" / "small_targets")
    args = ap.parse_args()
    rows, rankers = args.rows or [100, 300, 1000], args.ranker or ["fute-fisher", "textemb"]
    store = ROOT / "bench" / "work" / "small_targets_store"
    if not store.exists():
        shutil.copytree(args.run_dir / "store", store)
    fute = str(Path(sys.executable).parent / "fute")
    evals = {}
    for n in rows:
        out = args.out / f"q{n}"
        if not (out / "transfer_eval.json").is_file():
            cmd = [fute, "bench", "transfer", "eval", "--run-dir", str(args.run_dir), "--store", str(store)]
            cmd += ["--query-examples", str(n), "--results", str(out), "--quiet"]
            cmd += [x for r in rankers for x in ("--ranker", r)]
            print(f"{n} rows: {shlex.join(cmd)}", flush=True)
            subprocess.run(cmd, check=True, cwd=ROOT)
        evals[n] = json.loads((out / "transfer_eval.json").read_text())
    base = evals[rows[0]]["embed_examples"]
    table = {
        r: {
            n: {
                scope: {
                    k: e["metrics"][r]["summary"][scope]["overall"][k] for k in ("rho", "rho_ci", "ndcg", "ndcg_ci")
                }
                for scope in ("in", "all")
            }
            for n, e in evals.items()
        }
        for r in rankers
    }
    command = "python bench/small_targets.py " + shlex.join(sys.argv[1:])
    goal = {}
    if 300 in rows and 1000 in rows:
        goal = {
            r: {s: abs(table[r][300][s]["rho"] - table[r][1000][s]["rho"]) <= 0.5 for s in ("in", "all")}
            for r in rankers
        }
    write_atomic(
        args.out / "small_targets.json",
        json.dumps({"command": command.strip(), "source_rows": base, "table": table, "goal_met": goal}, indent=1)
        + "\n",
    )
    lines = [
        "# Small targets: each target's vector from fewer or more rows, the sources' at the benchmark's cap",
        "",
        f"Command: `{command.strip()}`; sources embedded from {base} rows (the run's target examples); the truth: "
        f"`{args.run_dir.relative_to(ROOT)}` (3 seeds). ρ: rank of the truly best source (lower is better); 95% "
        "intervals. Goal: 300 rows within 0.5 ρ of 1,000 rows.",
        "",
        "| ranker | target rows | in-class ρ | in-class NDCG | all-class ρ | all-class NDCG |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rankers:
        for n in rows:
            c = table[r][n]
            lines.append(
                f"| {r} | {n} | {c['in']['rho']:.2f} [{c['in']['rho_ci'][0]:.2f}, {c['in']['rho_ci'][1]:.2f}] "
                f"| {c['in']['ndcg']:.3f} | {c['all']['rho']:.2f} [{c['all']['rho_ci'][0]:.2f}, "
                f"{c['all']['rho_ci'][1]:.2f}] | {c['all']['ndcg']:.3f} |"
            )
    if goal:
        lines += [
            "",
            "Goal (300 rows within 0.5 ρ of 1,000): "
            + "; ".join(
                f"{r}: in-class {'met' if g['in'] else 'not met'}, all-class {'met' if g['all'] else 'not met'}"
                for r, g in goal.items()
            ),
        ]
    write_atomic(args.out / "small_targets.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
