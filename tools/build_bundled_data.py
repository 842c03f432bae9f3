"""Rebuild the data that ships inside the package from ../shared/data (see each NOTICE):

    python tools/build_bundled_data.py [--shared ../shared/data]

- src/fute/data/demo/NAME/: 300-row seed-0 samples of nine training splits, for `fute demo`;
- src/fute/data/corpus/{single,pair}.jsonl: the default unlabeled corpus U (labels dropped), mixed in
  equal shares from the openly licensed datasets only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fute.corpus import build_corpus

ROOT = Path(__file__).resolve().parents[1] / "src" / "fute" / "data"
DEMO = ["sst2", "mr", "cr", "agnews", "trec", "snli", "mnli", "qqp", "mrpc"]
OPEN = ["snli", "mnli", "qnli", "boolq", "stsb", "wnli"]  # CC BY-SA / CC BY / permissive (MANIFEST.md)
HEADER = [
    "Rights stay with the original authors; the licenses below are as recorded by the data pack they",
    "were taken from (source repository at a commit, then the original dataset). 'unknown' means the",
    "original release states no license: use these samples for research and evaluation only.",
    "",
]


def source_line(shared: Path, name: str) -> str:
    info = json.loads((shared / name / "dataset.json").read_text())
    s = info["source"]
    return (
        f"- {name} ({info['category']}): license: {info['license']}; source: {s['repo']}@{s['commit'][:7]} "
        f"{', '.join(s['paths'])}"
    )


def build_demo(shared: Path, n: int = 300) -> None:
    notice = [
        "fute demo data",
        "==============",
        "",
        f"Each folder holds a seed-0 random sample of {n} rows of the training split of a public dataset,",
        "in fute's JSONL format (text, text_pair, label). They ship only so that `fute demo` runs offline.",
        *HEADER,
    ]
    for name in DEMO:
        rows = (shared / name / "train.jsonl").read_text(encoding="utf-8").splitlines()
        idx = np.sort(np.random.RandomState(0).permutation(len(rows))[:n])
        out = ROOT / "demo" / name
        out.mkdir(parents=True, exist_ok=True)
        (out / "train.jsonl").write_text("".join(rows[i] + "\n" for i in idx), encoding="utf-8")
        info = json.loads((shared / name / "dataset.json").read_text())
        keep = {
            k: info[k]
            for k in ("name", "category", "task_type", "labels", "input", "domain", "license", "source")
            if k in info
        }
        keep["sample"] = f"{n} of {len(rows)} train rows, numpy RandomState(0) permutation, source order kept"
        (out / "dataset.json").write_text(json.dumps(keep, indent=2))
        notice.append(source_line(shared, name))
    (ROOT / "demo" / "NOTICE").write_text("\n".join(notice) + "\n")


def build_corpus_files(shared: Path, size: int = 1200) -> None:
    out = ROOT / "corpus"
    paths = [shared / n for n in OPEN]
    build_corpus(paths, size=size, name="fute-default-single").save(out / "single.jsonl")
    build_corpus(paths, size=size, pairs=True, name="fute-default-pair").save(out / "pair.jsonl")
    notice = [
        "fute default unlabeled corpus U",
        "===============================",
        "",
        f"single.jsonl: {size} input texts (the first text of each example); pair.jsonl: {size} text pairs.",
        "Equal shares of the training splits of the openly licensed datasets below, seed 0, labels dropped;",
        "each row names its source dataset, so `--exclude NAME` removes the datasets under evaluation.",
        *HEADER,
        *(source_line(shared, n) for n in OPEN),
    ]
    (out / "NOTICE").write_text("\n".join(notice) + "\n")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = ap.parse_args()
    build_demo(args.shared)
    build_corpus_files(args.shared)
