"""Can the surrogate learn these tasks at all? The held-out loss that fute's training reaches, against a constant.

    python bench/learnability.py --dataset cola --dataset rte --probe-only --surrogate default --surrogate PATH
    python bench/learnability.py --dataset cola --option learning_rate=2e-5 --option patience=4 --option max_epochs=40
    python bench/learnability.py --dataset boolq --max-length 256 --out bench/results/learnability/length256

A task vector measures a task only where the surrogate learned it (``fute.methods.training``). For each surrogate,
dataset and half (the two disjoint halves of ``bench/embedding_quality.py``, capped at 1,000 rows as the defaults
cap them), this runs fute's own training and reports its best held-out loss beside the better constant prediction's
(uniform, or the training rows' label frequencies) and the library's ``learned`` test (1% below the constant):

- ``--probe-only``: the linear probe on the surrogate's frozen pooled features (cheap for any surrogate: one forward
  pass per row), i.e. whether the frozen features hold the task linearly;
- otherwise: ``fisher``'s whole training (probe, then fine-tuning) with ``--option KEY=VALUE`` over its defaults.

    python bench/learnability.py --truncation            # per dataset: inputs cut by the 128-token window
    python bench/learnability.py --table                 # the study's one table, from every run that measured it

``--table`` runs nothing: it reads the runs that measured learning (the catalog's cards before and after the growth
rule, the embedding-quality bench's 1,000- and 2,000-row halves, FUTE's schedule, the probe and the quality tier)
and writes ``table.{json,md}``: dataset x setting -> rows, held-out loss / constant, learned with the 0.90 margin,
seconds, peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import sys
import time
from pathlib import Path

from fute.evaluation.embedding_quality import halves, write_atomic
from fute.methods import get_method
from fute.methods.training import constant_loss, train_task
from fute.options import method_options
from fute.samples import load_samples
from fute.surrogate import load_surrogate

RESULTS = Path(__file__).resolve().parent / "results"


ROOT = Path(__file__).resolve().parents[1]
CR = (
    "agnews boolq cb cola cr imdb mnli mpqa mr mrpc qnli qqp rte snli sst2 sst5 stsb subj trec wnli".split()
)  # the 20 classification and regression sets of ../shared/data


def truncation(data: Path, out: Path) -> None:
    """Per dataset, its training split through the default surrogate's tokenizer: how many inputs the 128-token
    window cuts, and the median and 95th-percentile length, so that a length setting can be read from the data."""
    import numpy as np

    sur = load_surrogate("default")
    rows = []
    for d in CR:
        samples = load_samples(data / d)
        ids = sur.tokenizer(samples.texts, samples.text_pairs, truncation=False)["input_ids"]
        n = np.array([len(x) for x in ids])
        rows.append(
            {
                "dataset": d,
                "rows": len(n),
                "cut_at_128": int((n > sur.max_length).sum()),
                "share_cut": round(float((n > sur.max_length).mean()), 4),
                "median_tokens": int(np.median(n)),
                "p95_tokens": int(np.percentile(n, 95)),
            }
        )
    command = "python bench/learnability.py --truncation"
    write_atomic(out / "truncation.json", json.dumps({"command": command, "rows": rows}, indent=2) + "\n")
    md = [
        "# Inputs cut by the default surrogate's 128-token window (training splits)",
        "",
        f"Command: `{command}`",
        "",
        "| dataset | rows | cut at 128 | share cut | median tokens | 95th percentile |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {r['dataset']} | {r['rows']} | {r['cut_at_128']} | {r['share_cut']:.1%} | {r['median_tokens']} | "
            f"{r['p95_tokens']} |"
            for r in rows
        ),
        "",
    ]
    write_atomic(out / "truncation.md", "\n".join(md))
    print("\n".join(md))


def _report_ratio(training: dict) -> float | None:
    from fute.methods.report import TrainingReport

    return TrainingReport.from_dict(training).loss_ratio()


def _catalog_rows(catalog: dict, setting: str) -> list[dict]:
    """One row per dataset of a catalog file: its last training, or each attempt of the growth rule."""
    out = []
    for v in catalog["vectors"]:
        card = v["card"]
        name, t = card["name"], card.get("training") or {}
        if name not in CR:
            continue
        tries = t.get("attempts") or [
            {"rows": card["data"]["n_used"], "loss_ratio": _report_ratio(t), "seconds": card["seconds"]}
        ]
        for i, a in enumerate(tries):
            out.append(
                {
                    "dataset": name,
                    "setting": setting if len(tries) == 1 else f"{setting}, try {i + 1}",
                    "rows": a["rows"],
                    "loss_ratio": a["loss_ratio"],
                    "seconds": round(a["seconds"], 1),
                    "peak_mb": None,
                    "kept": i == len(tries) - 1,
                }
            )
    return out


def _job_rows(folder: Path, setting: str, suffix: str = "") -> list[dict]:
    """The embedding-quality bench's jobs: each dataset's halves A and B, averaged."""
    out = []
    for d in CR:
        jobs = [json.loads((folder / f"{d}-{h}{suffix}.json").read_text()) for h in "AB"]
        ratios = [_report_ratio(j["training"]) for j in jobs]
        out.append(
            {
                "dataset": d,
                "setting": setting,
                "rows": max(j["rows"] for j in jobs),
                "loss_ratio": sum(ratios) / 2,
                "halves": [round(r, 4) for r in ratios],
                "seconds": round(sum(j["seconds"] for j in jobs) / 2, 1),
                "peak_mb": max(j.get("peak_rss_mb") or 0 for j in jobs) or None,
            }
        )
    return out


def table(out: Path) -> None:
    """The study's one table (dataset x setting), from the runs that measured each setting; runs nothing."""
    from fute.catalog import CATALOG
    from fute.methods.report import LEARN_MARGIN

    res = ROOT / "bench" / "results"
    shipped = json.loads(CATALOG.read_text())  # made without the rule, which is not the default
    rows = [
        *_catalog_rows(shipped, "shipped catalog, no growth (1,000 rows)"),
        *_catalog_rows(json.loads((out / "catalog_growth.json").read_text()), "catalog, growth rule"),
        *_job_rows(res / "embedding_quality_jobs" / "fisher", "halves, 1,000 rows"),
        *_job_rows(res / "embedding_quality_rows2000_jobs" / "fisher", "halves, 2,000 rows"),
    ]
    for r in json.loads((out / "fisher.json").read_text())["rows"]:  # FUTE's schedule (cola)
        rows.append({"dataset": r["dataset"], "setting": f"FUTE's schedule, half {r['half']}", "rows": r["rows"],
                     "loss_ratio": r["ratio"], "seconds": r["seconds"], "peak_mb": None})  # fmt: skip
    for r in json.loads((out / "probe.json").read_text())["rows"]:
        tier = "mpnet" if "mpnet" in r["surrogate"] else "default"
        rows.append({"dataset": r["dataset"], "setting": f"probe only, {tier}, half {r['half']}", "rows": r["rows"],
                     "loss_ratio": r["ratio"], "seconds": r["seconds"], "peak_mb": None})  # fmt: skip
    longer = out / "length256" / "fisher.json"  # a 256-token window: another space, a lever measured apart
    for r in json.loads(longer.read_text())["rows"] if longer.is_file() else []:
        rows.append({"dataset": r["dataset"], "setting": f"256-token window, half {r['half']}", "rows": r["rows"],
                     "loss_ratio": r["ratio"], "seconds": r["seconds"], "peak_mb": r["peak_mb"]})  # fmt: skip
    for r in json.loads((res / "surrogate_tiers" / "surrogate_tiers.json").read_text())["rows"]:
        if r["device"] == "cpu" and r["setting"] == "default":
            rows.append({"dataset": r["dataset"], "setting": f"surrogate {r['tier']}", "rows": r["rows_used"],
                         "loss_ratio": r["ratio"], "seconds": r["seconds"], "peak_mb": r["peak_rss_mb"]})  # fmt: skip
    for r in rows:
        r["learned"] = None if r["loss_ratio"] is None else r["loss_ratio"] <= LEARN_MARGIN
    counts = {}
    for setting in ("shipped catalog, no growth (1,000 rows)", "catalog, growth rule"):
        kept = [r for r in rows if r["setting"].startswith(setting) and r.get("kept", True)]
        counts[setting] = {"learned": sum(bool(r["learned"]) for r in kept), "of": len(kept)}
    command = "python bench/learnability.py --table"
    write_atomic(out / "table.json", json.dumps({"command": command, "margin": LEARN_MARGIN, "counts": counts,
                                                 "rows": rows}, indent=2) + "\n")  # fmt: skip
    md = [
        "# Which setting makes the surrogate learn the task? (learnability study, issue #41)",
        "",
        f"Command: `{command}` (reads the runs below; runs nothing). Learned: held-out loss at most {LEARN_MARGIN} x "
        "the better constant prediction's. The rule: `rule.md`; inputs cut by the window: `truncation.md`.",
        "",
        *(f"- {s}: **{c['learned']} of {c['of']}** learned" for s, c in counts.items()),
        "",
        "| dataset | setting | rows | loss / constant | learned | seconds | peak MB |",
        "|---|---|---:|---:|---|---:|---:|",
        *(
            f"| {r['dataset']} | {r['setting']} | {r['rows']:,} | "
            f"{'' if r['loss_ratio'] is None else format(r['loss_ratio'], '.3f')} | "
            f"{'yes' if r['learned'] else 'no'} | {r['seconds']} | {r['peak_mb'] or ''} |"
            for r in sorted(rows, key=lambda r: (r["dataset"], r["setting"]))
        ),
        "",
        "Sources: the shipped catalog and the catalog under the rule (`catalog_growth.json`: "
        "`python tools/build_catalog.py --grow-rows 10000 --out bench/results/learnability/catalog_growth.json`); "
        "halves: "
        "`embedding_quality_jobs` and `embedding_quality_rows2000_jobs` (mean of the two disjoint halves); FUTE's "
        "schedule and the probe: `fisher.md`, `probe.md`; the 256-token window: `length256/` (three of its four rows "
        "shared the CPU with another job: their seconds are not a cost, `rule.md`); the surrogates: "
        "`../surrogate_tiers/surrogate_tiers.md`.",
        "",
    ]
    write_atomic(out / "table.md", "\n".join(md))
    print("\n".join(md[:8]))


def check_carried(data: Path, names: list[str], out: Path) -> None:
    """The catalog tool carries a vector made before the growth rule where the rule would stop at its first attempt
    (``tools/build_catalog.py``, ``under_growth_rule``). Here such datasets are embedded afresh under the rule and
    compared with the catalog's vector, bit for bit."""
    import numpy as np

    from fute.catalog import load_catalog
    from fute.embed import compute_vector
    from fute.methods import get_method

    shipped = {v.name: v for v in load_catalog().vectors}
    sur, rows = load_surrogate("default"), []
    for d in names:
        t = time.perf_counter()
        fresh = compute_vector(load_samples(data / d), d, kind="dataset", method=get_method("fisher"), surrogate=sur,
                               progress=False)  # fmt: skip
        old = shipped[d]
        rows.append({"dataset": d, "same_key": fresh.card.key == old.card.key,
                     "bit_identical": bool(np.array_equal(fresh.vector, old.vector)),
                     "max_abs_difference": float(np.abs(fresh.vector - old.vector).max()),
                     "seconds": round(time.perf_counter() - t, 1)})  # fmt: skip
        print(rows[-1], flush=True)
    command = "python bench/learnability.py --check-carried " + " ".join(names)
    write_atomic(out / "carried.json", json.dumps({"command": command, "rows": rows}, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--dataset", action="append")
    ap.add_argument("--truncation", action="store_true", help="measure the inputs the window cuts, per dataset")
    ap.add_argument("--check-carried", nargs="+", metavar="DATASET", help="recompute carried catalog vectors")
    ap.add_argument("--table", action="store_true", help="assemble the study's table from the runs (runs nothing)")
    ap.add_argument("--surrogate", action="append", help="alias, hub id or folder (default: fute's default)")
    ap.add_argument("--probe-only", action="store_true", help="the linear probe on frozen features only")
    ap.add_argument("--option", action="append", default=[], help="KEY=VALUE for fisher's training")
    ap.add_argument("--max-length", type=int, default=128, help="the surrogate's token window (another space)")
    ap.add_argument("--out", type=Path, default=RESULTS / "learnability")
    args = ap.parse_args()
    if args.truncation:
        return truncation(Path(args.data), args.out)
    if args.table:
        return table(args.out)
    if args.check_carried:
        return check_carried(Path(args.data), args.check_carried, args.out)
    if not args.dataset:
        ap.error("give --dataset (or --truncation, --table)")
    options = method_options(args.option, None)  # as `fute embed --option` parses them
    if args.probe_only:
        options["max_epochs"] = 0
    rows = []
    for name in args.surrogate or ["default"]:
        sur = load_surrogate(name, max_length=args.max_length)
        for d in args.dataset:
            a, b = halves(load_samples(Path(args.data) / d))
            for half, data in (("A", a), ("B", b)):
                method = get_method("fisher", **options)
                capped = data.take(method.config.max_examples, method.config.seed)
                t = time.perf_counter()
                if args.probe_only:  # no Fisher pass: the probe and its held-out loss only
                    _, report = train_task(sur, sur.encode(capped), capped, method.config, params=[], progress=False)
                else:
                    method.embed(capped, sur, progress=False)
                    report = method.training_
                bar = constant_loss(report)
                rows.append(
                    {
                        "surrogate": name,
                        "max_length": sur.max_length,
                        "dataset": d,
                        "half": half,
                        "rows": len(capped),
                        "heldout_loss": report.heldout_loss,
                        "constant_loss": bar,
                        "ratio": None if bar is None else report.heldout_loss / bar,
                        "learned": report.learned,
                        "probe_epochs": report.probe_epochs,
                        "finetune_epochs": report.finetune_epochs,
                        "history": report.history,
                        "seconds": round(time.perf_counter() - t, 1),
                        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                    }
                )
                print(rows[-1], flush=True)
    command = "python bench/learnability.py " + shlex.join(sys.argv[1:])
    stem = "probe" if args.probe_only else "fisher"
    write_atomic(
        args.out / f"{stem}.json", json.dumps({"command": command, "options": options, "rows": rows}, indent=2) + "\n"
    )
    md = [
        f"# Can the surrogate learn the task? ({'linear probe on frozen features' if args.probe_only else 'fisher'})",
        "",
        f"Command: `{command}`  ",
        f"Training options over fisher's defaults: {options or 'none'}. Held-out loss: the best that training kept; "
        "constant: the better constant prediction (uniform, or the training rows' label frequencies); learned: "
        "held-out loss below 0.99 x constant (the library's test).",
        "",
        "| surrogate | tokens | dataset | half | rows | held-out loss | constant | ratio | learned | fine-tuned epochs "
        "| s |",
        "|---|---:|---|---|---:|---:|---:|---:|---|---:|---:|",
        *(
            f"| {Path(r['surrogate']).name} | {r.get('max_length', 128)} | {r['dataset']} | {r['half']} | "
            f"{r['rows']} | {r['heldout_loss']:.4f} | "
            f"{r['constant_loss']:.4f} | {r['ratio']:.3f} | {'yes' if r['learned'] else 'no'} | "
            f"{r['finetune_epochs']} | {r['seconds']} |"
            for r in rows
        ),
        "",
    ]
    write_atomic(args.out / f"{stem}.md", "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
