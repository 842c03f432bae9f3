"""The measured transfer gains that `fute rank` shows beside each source, from the committed transfer truth.

    python tools/build_transfer_evidence.py      # writes src/fute/data/transfer_evidence.json

For every (source, target) pair of ``bench/results/transfer_truth.json`` (a MiniLM trained on the source, then on
the target's small training set, scored on the target's held-out rows), the gain is the pair's score minus the
target's score without the source, in points (accuracy, or Pearson r x 100 for regression). Datasets are named
by the fingerprint of their training split, which a DTE's card carries (``card.data.fingerprint``), so the
evidence is shown for the very data it was measured on, whatever the vector's name. The noise figure is the
standard error of a difference of two accuracies on the target's scored rows (binomial, one seed each).

The truth was made before sources were de-duplicated against the scored rows, so the tool also counts, per pair,
the target's scored rows whose normalised text is in the source's training rows (SST is built from MR's
sentences: a gain measured on rows the source trained on is not a transfer gain); `fute rank` marks those pairs.
Reads the datasets where the truth names them (``../shared/data``).
"""

from __future__ import annotations

import json
import math
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRUTH = ROOT / "bench" / "results" / "transfer_truth.json"
OUT = ROOT / "src" / "fute" / "data" / "transfer_evidence.json"


def main() -> None:
    from fute.bench.transfer import Dataset, dev_split, row_texts, train_split
    from fute.paths import atomic_write

    truth = json.loads(TRUTH.read_text())
    fp = {name: d["fingerprint"] for name, d in truth["datasets"].items()}
    rows, seed = truth["settings"]["dev_examples"], truth["settings"]["seed"]
    ds = {
        n: Dataset(n, d["path"], d["category"], d["train_size"], d["fingerprint"]) for n, d in truth["datasets"].items()
    }
    scored = {n: row_texts(dev_split(d, rows, seed)) for n, d in ds.items()}
    trained = {n: set(row_texts(train_split(d, truth["settings"]["source_examples"], seed))) for n, d in ds.items()}
    overlap = {fp[t]: {fp[s]: n for s in ds if s != t and (n := sum(x in trained[s] for x in scored[t]))} for t in ds}
    gains: dict[str, dict[str, float]] = {}
    noise: dict[str, float] = {}
    for target, by_source in truth["scores"].items():
        base = truth["baseline"][target]
        gains[fp[target]] = {fp[s]: round(100 * (score - base), 2) for s, score in by_source.items()}
        p = min(max(base, 0.05), 0.95)
        noise[fp[target]] = round(100 * math.sqrt(2 * p * (1 - p) / rows), 2)  # sd of a difference of two scores
    record = {
        "command": "python tools/build_transfer_evidence.py " + shlex.join(sys.argv[1:]),
        "truth_command": truth["command"],
        "settings": truth["settings"],
        "names": {v: k for k, v in fp.items()},
        "metric": truth["metric"],
        "gain_points": gains,
        "noise_points": noise,
        "overlap_rows": {t: o for t, o in overlap.items() if o},  # target -> source -> scored rows it trained on
        "scored_rows": rows,
    }
    atomic_write(OUT, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1) + "\n"))
    print(f"{OUT}: gains of {sum(len(g) for g in gains.values())} pairs over {len(gains)} targets")


if __name__ == "__main__":
    main()
