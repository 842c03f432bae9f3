"""Can the surrogate learn these tasks at all? The held-out loss that fute's training reaches, against a constant.

    python bench/learnability.py --dataset cola --dataset rte --probe-only --surrogate default --surrogate PATH
    python bench/learnability.py --dataset cola --option learning_rate=2e-5 --option patience=4 --option max_epochs=40

A task vector measures a task only where the surrogate learned it (``fute.methods.training``). For each surrogate,
dataset and half (the two disjoint halves of ``bench/embedding_quality.py``, capped at 1,000 rows as the defaults
cap them), this runs fute's own training and reports its best held-out loss beside the better constant prediction's
(uniform, or the training rows' label frequencies) and the library's ``learned`` test (1% below the constant):

- ``--probe-only``: the linear probe on the surrogate's frozen pooled features (cheap for any surrogate: one forward
  pass per row), i.e. whether the frozen features hold the task linearly;
- otherwise: ``fisher``'s whole training (probe, then fine-tuning) with ``--option KEY=VALUE`` over its defaults.
"""

from __future__ import annotations

import argparse
import json
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--dataset", action="append", required=True)
    ap.add_argument("--surrogate", action="append", help="alias, hub id or folder (default: fute's default)")
    ap.add_argument("--probe-only", action="store_true", help="the linear probe on frozen features only")
    ap.add_argument("--option", action="append", default=[], help="KEY=VALUE for fisher's training")
    ap.add_argument("--out", type=Path, default=RESULTS / "learnability")
    args = ap.parse_args()
    options = method_options(args.option, None)  # as `fute embed --option` parses them
    if args.probe_only:
        options["max_epochs"] = 0
    rows = []
    for name in args.surrogate or ["default"]:
        sur = load_surrogate(name)
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
        "| surrogate | dataset | half | rows | held-out loss | constant | ratio | learned | fine-tuned epochs | s |",
        "|---|---|---|---:|---:|---:|---:|---|---:|---:|",
        *(
            f"| {Path(r['surrogate']).name} | {r['dataset']} | {r['half']} | {r['rows']} | {r['heldout_loss']:.4f} | "
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
