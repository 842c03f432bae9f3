"""The measured transfer gains that `fute rank` shows beside each source, from a committed transfer truth.

    python tools/build_transfer_evidence.py [TRUTH ...]   # writes src/fute/data/transfer_evidence.json

TRUTH defaults to the leak-free 3-seed truths: classification and regression (``bench/results/transfer_truth3``) and
extractive QA (``bench/results/transfer_truth_qa``), each ``truth.json``. A target in two truths takes the first's.

For every (source, target) pair of the truth (a MiniLM trained on the source, then on the target's small training
set, scored on the target's held-out rows), the gain is the pair's score minus the target's score without the
source, in points (accuracy, or Pearson r x 100 for regression), averaged over the truth's seeds. Its noise is the
standard error of that gain: over seeds, of each seed's pair minus the same seed's baseline; with one seed, the
binomial standard error of a difference of two accuracies on the target's scored rows. Datasets are named by the
fingerprint of their training split, which a DTE's card carries (``card.data.fingerprint``), so the evidence is
shown for the very data it was measured on, whatever the vector's name.

The tool also counts, per pair, the target's scored rows whose normalised text is among the rows the source
trained on (any seed). A truth with the leak guard has none; the first truth (made before it) has some, where SST
is built from MR's sentences: a gain measured on rows the source trained on is not a transfer gain, and `fute rank`
marks those pairs. Reads the datasets where the truth names them (``../shared/data``).
"""

from __future__ import annotations

import json
import math
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRUTHS = [ROOT / "bench" / "results" / run / "truth.json" for run in ("transfer_truth3", "transfer_truth_qa")]
OUT = ROOT / "src" / "fute" / "data" / "transfer_evidence.json"


def main(argv: list[str]) -> None:
    from fute.paths import atomic_write

    record: dict = {"command": shlex.join(["python", "tools/build_transfer_evidence.py", *argv]), "truths": []}
    for key in ("truth_of", "names", "metric", "gain_points", "noise_points", "overlap_rows", "scored_rows"):
        record[key] = {}
    for i, path in enumerate([Path(a) for a in argv] or TRUTHS):
        one = evidence(path)
        record["truths"].append(one.pop("about"))
        for target in one["gain_points"]:
            if target in record["truth_of"]:
                continue
            record["truth_of"][target] = i
            for key in ("gain_points", "noise_points", "overlap_rows", "scored_rows"):
                if target in one[key]:
                    record[key][target] = one[key][target]
        record["names"] = {**one["names"], **record["names"]}
        record["metric"] = {**one["metric"], **record["metric"]}
    atomic_write(OUT, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1) + "\n"))
    marked = sum(len(o) for o in record["overlap_rows"].values())
    pairs = sum(len(g) for g in record["gain_points"].values())
    print(f"{OUT}: gains of {pairs} pairs over {len(record['gain_points'])} targets, {marked} marked")


def evidence(path: Path) -> dict:
    """One truth's gains, their noise and overlaps, by training-split fingerprint, and what it was (``about``)."""
    import numpy as np

    from fute.evaluation.rankers import RankContext
    from fute.evaluation.transfer.data import dev_split, row_texts, scored_seed, truth_config, truth_datasets
    from fute.evaluation.transfer.truth import seed_configs

    truth = json.loads(path.read_text())
    cfg, datasets = truth_config(truth), truth_datasets(truth)
    fp = {d.name: d.fingerprint for d in datasets}
    ctx = RankContext(truth, store=None)  # each source's training rows as the run's jobs drew them
    scored = {d.name: row_texts(dev_split(d, cfg.dev_examples, scored_seed(cfg), cfg.score_split)) for d in datasets}
    trained = {
        d.name: {t for c in seed_configs(cfg) for t in row_texts(ctx.samples(d.name).take(cfg.source_examples, c.seed))}
        for d in datasets
    }
    overlap = {fp[t]: {fp[s]: n for s in fp if s != t and (n := sum(x in trained[s] for x in scored[t]))} for t in fp}
    pairs = truth.get("scores_by_seed") or {t: {s: [v] for s, v in row.items()} for t, row in truth["scores"].items()}
    base = truth.get("baseline_by_seed") or {t: [v] for t, v in truth["baseline"].items()}
    gains: dict[str, dict[str, float]] = {}
    noise: dict[str, dict[str, float]] = {}
    for target, by_source in pairs.items():
        gains[fp[target]], noise[fp[target]] = {}, {}
        for source, scores in by_source.items():
            diff = 100 * (np.asarray(scores) - np.asarray(base[target]))
            if len(diff) > 1:
                se = float(np.std(diff, ddof=1) / math.sqrt(len(diff)))
            else:  # one seed: the binomial SE of a difference of two accuracies on the scored rows
                p = min(max(float(np.mean(base[target])), 0.05), 0.95)
                se = 100 * math.sqrt(2 * p * (1 - p) / len(scored[target]))
            gains[fp[target]][fp[source]] = round(float(diff.mean()), 2)
            noise[fp[target]][fp[source]] = round(se, 2)
    return {
        "about": {
            "truth": str(path.resolve().relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else str(path),
            "truth_command": truth["command"],
            "settings": truth["settings"],
            "seeds": len(next(iter(base.values()))),
        },
        "names": {v: k for k, v in fp.items()},
        "metric": truth["metric"],
        "gain_points": gains,
        "noise_points": noise,  # target -> source -> standard error of the gain, in points
        "overlap_rows": {t: o for t, o in overlap.items() if o},  # target -> source -> scored rows it trained on
        "scored_rows": {fp[n]: len(v) for n, v in scored.items()},
    }


if __name__ == "__main__":
    main(sys.argv[1:])
