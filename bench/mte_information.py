"""How much do an LLM's labels of U say about the inputs, and how much of that did the surrogate learn?

For every prompt MTE in a prompt run's store whose labels of U are kept in the run folder (``RUN_DIR/labels``):

- *learnable gap*: the loss of a constant prediction (the entropy of the mean label distribution) minus the mean
  entropy of the label distributions, in nats, over the labeled U rows. It is the most any model of the inputs
  could lower its soft cross-entropy below the constant: the information the labels carry about the input
  (their mutual information under the empirical distribution). One-hot labels have a gap equal to the constant's
  loss; near-uniform soft labels, or one label for every input, have a gap near 0.
- *held-out gain*: how far the trained surrogate's held-out loss fell below the better constant (the card's
  ``training``), and *captured*, gain / gap (the gap taken over all labeled rows, the gain over the held-out
  slice: an estimate).

The ``learned`` flag of a card (held-out loss at least 1% below the constant's) reads the gain against the
constant's loss, which for soft labels can be many times the gap; this table shows both.

And, for every case of the prompt truth (``--truth``) whose labels of U are in the run folder, what the FUTE
cosine follows: its Spearman correlation over the prompts with their real scores and with how close each prompt's
label marginal on U is to the dataset's gold marginal.

    python bench/mte_information.py --run-dir bench/results/prompts_truth100
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fute.evaluation.prompts import kept_labels


def label_information(probs: np.ndarray) -> dict[str, float]:
    """Constant loss, mean entropy and their difference (the learnable gap) of label distributions [n, labels]."""
    from fute.selectors import entropy

    constant = float(entropy(probs.mean(axis=0)))
    mean_entropy = float(entropy(probs).mean())
    share = float(np.bincount(probs.argmax(axis=1)).max() / len(probs))
    return {"constant_loss": constant, "mean_entropy": mean_entropy, "gap": constant - mean_entropy, "top_share": share}


def rows(store_path: Path, labels: Path) -> list[dict]:
    from fute.methods.training import TrainingReport, constant_loss
    from fute.store import open_store

    out = []
    for v in open_store(store_path).vectors(kind="prompt"):
        probs = kept_labels(labels, v.card.target)
        tr = v.card.training or {}
        if probs is None or probs.ndim != 2 or len(probs) != (v.card.corpus or {}).get("size"):
            continue  # labels not in this run folder (or of another U sample)
        info = label_information(probs)
        # the better constant, as the card's `learned` flag reads it; an ensemble's gain is its members' mean
        reports = [TrainingReport(**r) for r in tr.get("members", [tr] if tr else [])]
        losses = [(constant_loss(r), r.heldout_loss) for r in reports]
        gains = [bar - held for bar, held in losses if bar is not None and held is not None]
        gain = float(np.mean(gains)) if gains else None
        out.append(
            {
                "mte": v.card.name,
                "llm": v.card.name.split("/")[0],
                "category": v.card.category,
                "method": v.card.space.method,
                "rows": len(probs),
                **{k: round(x, 4) for k, x in info.items()},
                "heldout_gain": None if gain is None else round(gain, 4),
                "captured": None if gain is None or info["gap"] <= 0 else round(gain / info["gap"], 3),
                "learned": tr.get("learned"),
            }
        )
    return sorted(out, key=lambda r: (r["llm"], r["category"], r["method"], r["mte"]))


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties); nan when either side is constant."""
    from fute.space import mean_ranks

    ra, rb = mean_ranks(np.asarray(a, dtype=float)), mean_ranks(np.asarray(b, dtype=float))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def nearness(run: Path, truth_path: Path) -> list[dict]:
    """What the FUTE selectors' cosine follows, per (LLM, dataset, method) of the truth: Spearman of the
    13 prompts' MTE-DTE cosines with their real scores, and with the closeness of the prompt's label marginal
    on U to the dataset's gold label marginal (minus their total-variation distance). The vectors are the
    eval's own (``VectorSource`` on the run's store, where the eval left them; one missing would be computed)."""
    import json

    from fute.samples import load_samples
    from fute.select import VectorSource
    from fute.space import cosine_scores
    from fute.targets.prompts import load_prompt_set

    truth = json.loads(truth_path.read_text())
    data = truth["settings"]["data"]
    src = VectorSource(
        run / "store",
        data,
        max_reasoning_tokens=truth["settings"]["max_reasoning_tokens"],
        progress=False,
        label_cache=run / "labels",
    )
    out = []
    for c in truth["cases"].values():
        prompts = [load_prompt_set(c["category"])[p] for p in c["prompts"]]
        gold = np.asarray(load_samples(data[c["category"]][c["dataset"]]).targets, dtype=float).mean(axis=0)
        for method in ("fisher", "prompt"):
            dte = src.dte(c["dataset"], method)
            labels = dte.card.data.labels or None
            mtes = [src.mte(c["llm"], p, method, labels=labels) for p in prompts]
            marg = [kept_labels(run / "labels", v.card.target) for v in mtes]
            if any(m is None for m in marg):
                continue
            cos = cosine_scores(dte.vector, np.stack([v.vector for v in mtes]))  # as the FUTE selectors score
            match = [-0.5 * float(np.abs(m.mean(axis=0) - gold).sum()) for m in marg]
            score = [c["prompts"][p.id]["score"] for p in prompts]
            out.append(
                {
                    "llm": c["llm"],
                    "dataset": c["dataset"],
                    "method": method,
                    "cos_vs_score": round(spearman(cos, score), 3),
                    "cos_vs_marginal_match": round(spearman(cos, match), 3),
                    "pick": prompts[int(np.argmax(cos))].id,
                    "closest_marginal": prompts[int(np.argmax(match))].id,
                }
            )
    return out


def summary(table: list[dict]) -> list[dict]:
    out = []
    for (llm, category, method), rs in sorted(_groups(table, ("llm", "category", "method")).items()):
        gaps = [r["gap"] for r in rs]
        captured = [r["captured"] for r in rs if r["captured"] is not None]
        out.append(
            {
                "llm": llm,
                "category": category,
                "method": method,
                "mtes": len(rs),
                "gap_median": round(float(np.median(gaps)), 4),
                "gap_range": [min(gaps), max(gaps)],
                "constant_loss_median": round(float(np.median([r["constant_loss"] for r in rs])), 4),
                "captured_median": round(float(np.median(captured)), 3) if captured else None,
                "learned": sum(bool(r["learned"]) for r in rs),
            }
        )
    return out


def markdown(record: dict) -> str:
    lines = [
        "# How much do the LLM's labels of U say about the inputs?",
        "",
        f"Command: `{record['command']}`",
        "",
        "Gap: constant loss minus mean entropy of the labels of U (nats): the most a model of the inputs can gain. "
        "Captured: the surrogate's held-out gain over the constant / gap (an estimate). Learned: the card's flag "
        "(held-out loss at least 1% of the constant's below it).",
        "",
        "| LLM | category | method | MTEs | gap, median [min, max] | constant loss, median | captured, median | "
        "learned |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for s in record["summary"]:
        lo, hi = s["gap_range"]
        lines.append(
            f"| {s['llm']} | {s['category']} | {s['method']} | {s['mtes']} | {s['gap_median']} [{lo}, {hi}] | "
            f"{s['constant_loss_median']} | {s['captured_median']} | {s['learned']} of {s['mtes']} |"
        )
    lines += [
        "",
        "| MTE | method | rows | top label share | constant loss | mean entropy | gap | held-out gain | captured | "
        "learned |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in record["mtes"]:
        lines.append(
            f"| {r['mte']} | {r['method']} | {r['rows']} | {r['top_share']} | {r['constant_loss']} | "
            f"{r['mean_entropy']} | {r['gap']} | {r['heldout_gain']} | {r['captured']} | {r['learned']} |"
        )
    near = record.get("nearness") or []
    if near:
        lines += [
            "",
            "## What the FUTE cosine follows",
            "",
            "Per truth case and method: Spearman, over the 13 prompts, of the MTE-DTE cosine with the prompt's real "
            "score, and with how close the prompt's label marginal on U is to the dataset's gold marginal (minus "
            "their total-variation distance); FUTE's pick and the prompt of the closest marginal.",
            "",
            "| LLM | method | cases | mean ρ(cos, score) | mean ρ(cos, marginal match) | pick = closest marginal |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for (llm, method), rs in sorted(_groups(near, ("llm", "method")).items()):
            a = np.nanmean([r["cos_vs_score"] for r in rs])
            b = np.nanmean([r["cos_vs_marginal_match"] for r in rs])
            same = sum(r["pick"] == r["closest_marginal"] for r in rs)
            lines.append(f"| {llm} | {method} | {len(rs)} | {a:+.3f} | {b:+.3f} | {same} of {len(rs)} |")
        lines += ["", "| LLM | dataset | method | ρ(cos, score) | ρ(cos, marginal match) | pick | closest marginal |"]
        lines.append("|---|---|---|---:|---:|---|---|")
        for r in near:
            lines.append(
                f"| {r['llm']} | {r['dataset']} | {r['method']} | {r['cos_vs_score']} | {r['cos_vs_marginal_match']} "
                f"| {r['pick']} | {r['closest_marginal']} |"
            )
    return "\n".join(lines) + "\n"


def _groups(rows: list[dict], keys: tuple[str, ...]) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


def main(argv: list[str] | None = None) -> int:
    from fute.evaluation.jobs import write_results

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run-dir", default="bench/results/prompts_truth100")
    ap.add_argument("--results", default=None, help="default: the run folder")
    ap.add_argument(
        "--truth",
        default="bench/results/prompts_truth.json",
        help="the prompt truth whose cases the nearness table reads (skipped when missing)",
    )
    args = ap.parse_args(argv)
    run = Path(args.run_dir)
    table = rows(run / "store", run / "labels")
    if not table:
        print(f"{run}: no MTE whose labels of U are in {run / 'labels'}; run `fute bench prompts vectors` first")
        return 1
    record = {
        "command": shlex.join(["python", "bench/mte_information.py", *(argv if argv is not None else sys.argv[1:])]),
        "summary": summary(table),
        "mtes": table,
        "nearness": nearness(run, Path(args.truth)) if Path(args.truth).exists() else [],
    }
    md = markdown(record)
    write_results(args.results or run, "mte_information", record, md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
