"""The paper's source-selection table, both halves: ρ and NDCG per ranker for classification/regression (CR) and
extractive QA targets, in-class (the sources of the target's own class) and all-class (every source).

    python bench/paper_table.py   # reads the CR, QA and all-class evals, writes bench/results/paper_table.{json,md}

It reads what the evals measured and computes nothing new: each cell is a ``fute bench transfer eval`` headline
with its 95% interval. The paper's classes are CR and QA, so its "in-class" for a CR target is every other CR
source, which is the CR eval's all-class scope (that eval's own in-class is finer: the target's category, e.g.
sentiment). The all-class columns come from the eval of the truth across the two runs (``fute bench transfer
across``): its all-class scope, summarised per class of target (``class CR``, ``class QA``). A column whose eval is
missing is marked so, never filled.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from fute.evaluation.embedding_quality import write_atomic

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
COLUMNS = ("CR in-class", "CR all-class", "QA in-class", "QA all-class")


def cells(eval_json: dict | None, scope: str, group: str = "overall") -> dict[str, dict]:
    """Each ranker's ρ and NDCG (with intervals) over ``group``'s targets in ``scope`` of an eval, and what it left
    out."""
    if eval_json is None:
        return {}
    out = {
        r: {k: m["summary"][scope][group].get(k) for k in ("rho", "rho_ci", "ndcg", "ndcg_ci", "targets")}
        for r, m in eval_json["metrics"].items()
        if m["summary"].get(scope, {}).get(group)
    }
    # left out, or ranking some targets only (LogME: the CR ones) and none of this group
    for r, why in {**eval_json.get("left_out", {}), **eval_json.get("partial", {})}.items():
        out.setdefault(r, {"left_out": why})
    return out


def truth_seeds(eval_path: Path) -> list[int]:
    """The training seeds of the truth an eval judged (``truth.json`` beside it): every score is their mean."""
    p = eval_path.parent / "truth.json"
    if not p.is_file():
        return []
    truth = json.loads(p.read_text())
    return truth.get("seeds") or [truth["settings"]["seed"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cr", type=Path, default=RESULTS / "transfer_truth3" / "transfer_eval.json")
    ap.add_argument("--qa", type=Path, default=RESULTS / "transfer_truth_qa" / "transfer_eval.json")
    ap.add_argument("--all", type=Path, default=RESULTS / "transfer_truth_all" / "transfer_eval.json")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    paths = (("cr", args.cr), ("qa", args.qa), ("all", args.all))
    read = {k: json.loads(p.read_text()) if p.is_file() else None for k, p in paths}
    # CR truth: CR sources only, so its all-class scope is the paper's CR in-class; the QA truth likewise
    table = {
        "CR in-class": cells(read["cr"], "all"),
        "CR all-class": cells(read["all"], "all", "class CR"),
        "QA in-class": cells(read["qa"], "all"),
        "QA all-class": cells(read["all"], "all", "class QA"),
    }
    which = {"CR in-class": "cr", "CR all-class": "all", "QA in-class": "qa", "QA all-class": "all"}
    sources = {col: read[k] and read[k]["command"] for col, k in which.items()}
    seeds = {col: truth_seeds(dict(paths)[k]) for col, k in which.items()}
    rankers = list(dict.fromkeys(r for col in table.values() for r in col))
    command = "python bench/paper_table.py " + shlex.join(sys.argv[1:])
    write_atomic(
        args.out / "paper_table.json",
        json.dumps({"command": command.strip(), "evals": sources, "seeds": seeds, "table": table}, indent=1) + "\n",
    )

    def show(c: dict | None) -> str:
        if c is None:
            return "—"
        if "left_out" in c:
            return "not defined for spans"
        lo, hi = c["rho_ci"] or (c["rho"], c["rho"])
        nlo, nhi = c["ndcg_ci"] or (c["ndcg"], c["ndcg"])
        return f"{c['rho']:.2f} [{lo:.2f}, {hi:.2f}] / {c['ndcg']:.3f} [{nlo:.3f}, {nhi:.3f}]"

    def provenance(col: str) -> str:
        if not sources[col]:
            return "not measured (its eval has not been run)"
        n = seeds[col]
        return f"`{sources[col]}` ({'seeds ' if len(n) > 1 else 'seed '}{', '.join(map(str, n))})"

    targets = {col: next((c["targets"] for c in table[col].values() if "targets" in c), 0) for col in COLUMNS}
    lines = [
        "# Source-dataset selection: the paper's table, both halves",
        "",
        f"Command: `{command.strip()}`. Each cell: ρ (mean rank of the truly best source, lower is better) / NDCG "
        "(higher is better), each with its 95% bootstrap interval over targets and seeds, from the eval named below. "
        "The paper's classes are CR and QA: in-class ranks the sources of the target's own class, all-class every "
        "source. The CR eval's all-class scope holds CR sources only, so it is this table's CR in-class.",
        "",
        *(f"- {col}: {provenance(col)}" for col in COLUMNS),
        "",
        "| ranker | " + " | ".join(f"{c} ({targets[c]} targets)" if targets[c] else c for c in COLUMNS) + " |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    for r in rankers:
        lines.append(f"| {r} | " + " | ".join(show(table[col].get(r)) for col in COLUMNS) + " |")
    lines += [
        "",
        "—: not measured (a truth not run, or a ranker not run on it).",
        "",
        "The paper's own numbers (Wang et al. 2024, its source-selection table; T5-base surrogate, the CrossFit "
        "U, full-size sources) are not beside these: no copy of the paper's table is reachable from this project's "
        "machines, and a number typed from memory would not be a measurement. Read them from arXiv 2402.14522.",
    ]
    write_atomic(args.out / "paper_table.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
