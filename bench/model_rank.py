"""Does a fine-tuned classifier's MTE land next to its own training dataset's DTE?

    python bench/model_rank.py            # writes bench/results/model_rank.{json,md}

For each of the --finetune datasets, the default surrogate's architecture (all-MiniLM-L6-v2 with a
fresh head) is fine-tuned on --train-examples training rows; its MTE is the surrogate's task
embedding of the shipped unlabeled corpus U labeled by it (pairs for pair tasks; every dataset of
the pool that U contains is excluded from U). Then the rank of its own dataset's DTE among the DTEs
of all --pool datasets is reported (1 = nearest), for each method. FUTE's premise is that this is
near 1. Classifiers, vectors and labels are cached (bench/work/, $FUTE_HOME), so a rerun resumes.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from fute.embed import embed_dataset, embed_model
from fute.paths import default_surrogate_path
from fute.rank import rank
from fute.samples import load_samples
from fute.targets.hf_classifier import HFClassifier
from fute.train import FinetuneConfig, evaluate_classifier, finetune_classifier

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"
POOL = "sst2,mr,cr,subj,agnews,trec,snli,mnli,rte,qqp,mrpc,cola,stsb"
FINETUNE = "sst2,agnews,trec,snli,qqp,cola"
IN_U = {"snli", "mnli", "qnli", "boolq", "stsb", "wnli"}  # sources of the shipped U


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--pool", default=POOL)
    ap.add_argument("--finetune", default=FINETUNE)
    ap.add_argument("--methods", default="fisher,prompt")
    ap.add_argument("--train-examples", type=int, default=1000)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--max-examples", type=int, default=500, help="cap for every DTE and MTE")
    ap.add_argument("--work", type=Path, default=HERE / "work")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args()
    pool, tuned, methods = args.pool.split(","), args.finetune.split(","), args.methods.split(",")
    store = args.work / "store"
    exclude = sorted(IN_U & set(pool))
    t0 = time.perf_counter()

    classifiers = {}
    for name in tuned:
        path = args.work / "models" / f"minilm-{name}-{args.train_examples}-{args.epochs:g}"
        if not (path / "config.json").is_file():
            train = load_samples(args.shared / name).take(args.train_examples, 0)
            finetune_classifier(default_surrogate_path(), train, path, FinetuneConfig(epochs=args.epochs))
        dev = load_samples(args.shared / name, split="dev").take(500, 0)
        classifiers[name] = {
            "path": str(path),
            "dev_score": evaluate_classifier(path, dev),
            "metric": "pearson" if dev.task == "regression" else "accuracy",
        }
        print(f"classifier {name}: dev {classifiers[name]['metric']} {classifiers[name]['dev_score']:.3f}", flush=True)

    rows = []
    for method in methods:
        opts = {"method": method, "store": store, "max_examples": args.max_examples, "progress": False}
        for name in pool:
            embed_dataset(args.shared / name, name, **opts)
        for name, info in classifiers.items():
            target = HFClassifier(info["path"])
            paired = load_samples(args.shared / name, split="dev").text_pairs is not None
            mte = embed_model(target, f"model:{name}", pairs=paired, exclude=exclude, **opts)
            ranked = rank(mte, store, kind="dataset", k=len(pool))
            names = [r.vector.name for r in ranked]
            rows.append(
                {
                    "method": method,
                    "classifier": name,
                    "own_rank": names.index(name) + 1,
                    "nearest": [[r.vector.name, round(r.score, 4)] for r in ranked[:3]],
                    "own_score": round(ranked[names.index(name)].score, 4),
                    "dev_score": info["dev_score"],
                }
            )
            print(rows[-1], flush=True)

    summary = {
        m: {
            "mean_rank": float(np.mean([r["own_rank"] for r in rows if r["method"] == m])),
            "top1": sum(r["own_rank"] == 1 for r in rows if r["method"] == m),
            "n": sum(r["method"] == m for r in rows),
        }
        for m in methods
    }
    result = {
        "command": "python bench/model_rank.py " + shlex.join(sys.argv[1:]),
        "pool": pool,
        "finetuned": classifiers,
        "u_excluded": exclude,
        "max_examples": args.max_examples,
        "train_examples": args.train_examples,
        "epochs": args.epochs,
        "rows": rows,
        "summary": summary,
        "seconds": time.perf_counter() - t0,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "model_rank.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        "# Rank of a classifier's own training dataset, from its MTE",
        "",
        f"Command: `{result['command']}`  ",
        f"Classifiers: all-MiniLM-L6-v2 + fresh head, fine-tuned on {args.train_examples} training rows for "
        f"{args.epochs:g} epochs. DTE pool: {len(pool)} datasets ({', '.join(pool)}). U: the shipped corpus "
        f"without {', '.join(exclude)}. Every DTE and MTE from at most {args.max_examples} examples. "
        "Rank 1 = the own dataset is the nearest DTE (cosine).",
        "",
        "| classifier | dev score | method | own rank | nearest three (cosine) |",
        "|---|---:|---|---:|---|",
    ]
    for r in rows:
        near = ", ".join(f"{n} {s:.3f}" for n, s in r["nearest"])
        md.append(f"| {r['classifier']} | {r['dev_score']:.3f} | {r['method']} | {r['own_rank']} | {near} |")
    md += ["", "| method | mean own rank | own dataset nearest |", "|---|---:|---:|"]
    md += [f"| {m} | {s['mean_rank']:.2f} | {s['top1']} of {s['n']} |" for m, s in summary.items()]
    md += ["", f"Total time: {result['seconds'] / 60:.0f} min on this machine.", ""]
    (args.out / "model_rank.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
