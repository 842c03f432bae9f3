"""Do the vectors measure the task? Self-retrieval, cap and seed stability, the label-count confound, cost. The
benchmark's library: the script is ``bench/embedding_quality.py``, and the benchmarks that read its jobs import
from here.

For every dataset D of the data folder and every method:
- ``A`` and ``B``: two disjoint halves of D's training split (a seed-0 shuffle, even and odd positions),
  each embedded apart at the method's defaults (``max_examples`` 1,000, seed 0);
- ``A250``: half A capped at 250 rows; ``A-seed1``: half A with seed 1 (another sample, held-out slice
  and initialisation).

Measures (all from cosines of the stored vectors):
- self-retrieval: the nearest of the other 2N-1 half-vectors to each half is its own other half
  (count, and the margin: cosine to the own half minus the best other dataset's);
- cap stability: cos(D@250, D@1000) against the nearest other dataset at 250 rows, max_E cos(D@250, E@250);
- seed stability: cos(D seed 0, D seed 1) against D's nearest other dataset (seed 0);
- label-count confound: mean cosine of pairs in different categories with the same number of labels,
  against pairs in the same category with different numbers of labels (the second should be higher);
- cost: seconds and peak resident memory of each 1,000-row vector (halves A and B: nothing cached yet).

Every (method, dataset, variant) job writes one small JSON under ``--jobs`` as it finishes, so an
interrupted run, or a run on another machine with the committed files, continues where it stopped.
``--ensemble fisher=2`` adds ``fisher-ens2``: every vector the mean of two seeds' unit vectors, as
``ensemble_seeds=2`` makes it, combined from single-seed jobs (``A-seed2`` ...; the missing ones are run),
and compared with one seed dataset by dataset.

    python bench/embedding_quality.py --data ../shared/data --method fisher --method textemb

A variant of a method (``--option fisher:KEY=VALUE``) gets its own ``--jobs`` folder; ``--carry-from`` names
folders whose jobs it may take without training where ``rederive`` shows the variant computes the same vector
(e.g. ``fine_tune=unless-probe-learns`` from probe-only and ``keep_probe=false`` jobs); ``--check-derived K``
retrains K of them to confirm. ``--variant A --variant B`` runs the halves only, and ``--paired-with JOBS`` compares
them dataset by dataset with another folder's (e.g. ``--option fisher:max_examples=2000`` against the defaults).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import threading
import time
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path("bench") / "results"  # run from the repository root; the script passes its own folder
VARIANTS = ("A", "B", "A250", "A-seed1")
# Task families, fixed before any vector was looked at: the pack's categories, with STS-B's "similarity"
# joined to "paraphrase" (both judge whether two sentences mean the same).
FAMILY = {"similarity": "paraphrase"}
# Where method settings may be chosen: the 8 datasets outside the transfer benchmark's (docs/experiments.md).
# The other 12 are held out; the tables report both splits apart.
DEVELOPMENT = ("agnews", "cb", "imdb", "mpqa", "qnli", "sst5", "subj", "wnli")


def halves(samples):
    """Two disjoint halves of a training split: a seed-0 shuffle, even and odd positions. Extractive QA is split by
    context (its shuffled distinct contexts alternate), so that no passage is read by both halves."""
    if samples.task == "qa":
        contexts = list(dict.fromkeys(samples.text_pairs))
        perm = np.random.default_rng(0).permutation(len(contexts))
        side = {contexts[k]: i % 2 for i, k in enumerate(perm)}
        sides = np.array([side[c] for c in samples.text_pairs])
        return samples.select(np.flatnonzero(sides == 0)), samples.select(np.flatnonzero(sides == 1))
    perm = np.random.default_rng(0).permutation(len(samples))
    return samples.select(np.sort(perm[0::2])), samples.select(np.sort(perm[1::2]))


class PeakRSS:
    """Peak resident memory of this process while the block runs (sampled every 20 ms)."""

    def __enter__(self) -> PeakRSS:
        import psutil

        self._proc, self.peak, self._stop = psutil.Process(), 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            self._stop.wait(0.02)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def split_variant(variant: str) -> tuple[str, int]:
    """``"A250-seed1"`` -> ``("A250", 1)``; a variant without ``-seedN`` is at seed 0."""
    base, _, seed = variant.partition("-seed")
    return base, int(seed or 0)


def join_variant(base: str, seed: int) -> str:
    return base if seed == 0 else f"{base}-seed{seed}"


def member_variants(variant: str, n: int) -> list[str]:
    """The single-seed jobs whose vectors an ``n``-seed ensemble of ``variant`` averages (as
    ``ensemble_seeds=n`` does in the library: ``fute.methods.base.member_seeds``)."""
    from fute.methods.base import member_seeds

    base, seed = split_variant(variant)
    return [join_variant(base, s) for s in member_seeds(seed, n)]


def variant_options(variant: str, options: dict) -> dict:
    base, seed = split_variant(variant)
    return {
        **options,
        **({"max_examples": 250} if base == "A250" else {}),
        **({"seed": seed} if seed else {}),
    }


def ensemble_jobs(jobs: dict, n: int) -> dict:
    """The jobs of ``n``-seed ensembles {(dataset, variant): job}, from the single-seed jobs {(dataset, variant):
    job} of their members: the vector is ``combine_members`` of theirs (the library's rule), the cost their sum."""
    from fute.methods.base import combine_members

    out = {}
    for d, v in sorted({(d, v) for d, v in jobs if v in VARIANTS}):
        members = [jobs.get((d, m)) for m in member_variants(v, n)]
        if any(j is None for j in members):
            continue
        first = members[0]
        out[(d, v)] = {
            **first,
            "method": f"{first['method']}-ens{n}",
            "variant": v,
            "members": member_variants(v, n),
            "seconds": round(sum(j["seconds"] for j in members), 2),
            "peak_rss_mb": max(j["peak_rss_mb"] for j in members),
            "shared_cpu": any(j.get("shared_cpu") for j in members),
            "training": None,
            "trainings": [j["training"] for j in members if j.get("training")],
            "vector": combine_members([np.asarray(j["vector"]) for j in members]).tolist(),
        }
    return out


def expected(method: str, variant: str, options: dict) -> tuple[dict, int]:
    """The config and code revision a job of this method and variant is made with today."""
    from fute.methods import get_method

    m = get_method(method, **variant_options(variant, options))
    return m.config.to_dict(), m.revision


def _carried(job: dict, config: dict, note: str, **changes) -> dict:
    earlier = job.get("derived_from")
    return {**job, **changes, "config": config, "derived_from": f"{earlier}; then {note}" if earlier else note}


def _probe_learned(training: dict) -> bool:
    """The library's test (``fute.methods.training.probe_learned``) on a job's stored training report."""
    from fute.methods.training import TrainingReport, probe_learned

    return probe_learned(TrainingReport.from_dict(training))


def under_growth_rule(job: dict, config: dict) -> dict | None:
    """``job``'s training entry as a run of ``config``, where ``job`` was made before the growth rule and ``config``
    is the same with the rule, which would stop at this first attempt (``as_first_attempt``: learned with a margin,
    or every row of the half used); else None."""
    from fute.methods.report import as_first_attempt

    rows, cap = job.get("rows", 0), job["config"].get("max_examples")
    available = rows if cap is None or rows < cap else math.inf  # under the cap: the half's every row
    return as_first_attempt(job.get("training"), dict(job["config"]), config, rows, available, job.get("seconds", 0.0))


def all_rows_either_way(job: dict, config: dict) -> bool:
    """Whether ``job`` took all its rows (fewer than its cap) and ``config`` differs only in a cap that takes them all:
    ``Samples.take`` then returns the rows untouched, so the two compute the same vector."""
    old, cap = dict(job["config"]), config.get("max_examples")
    rows = job.get("rows", 0)
    if old.get("max_examples") is None or not 0 < rows < old["max_examples"] or (cap is not None and cap < rows):
        return False
    return old != config and {**old, "max_examples": cap} == config


def rederive(job: dict, config: dict) -> dict | None:
    """A committed fisher job carried to ``config`` without training, where that provably gives the vector the
    config computes (up to the 6 significant digits the job stored); anything else: None (the job is run again).

    - made with the probe's state a candidate, carried to ``keep_probe=false`` when its first fine-tuned epoch
      beat the probe (the stopping rule's margin): from there both runs keep and try the same states;
    - carried to ``fine_tune="unless-probe-learns"``: a probe-only job (``max_epochs=0``) whose probe learned (the
      probe's state, nothing fine-tuned), or a ``keep_probe=false`` job whose probe did not (the same run);
    - made with ``layer_normalize=true`` (each block L2-normalised), carried to the current ``block_normalize``:
      a positive per-block scale changes no rank and no centred direction;
    - any method's job that used all its half's rows, carried to another row cap that still takes them all
      (``all_rows_either_way``)."""
    from fute.methods.fisher import normalize_blocks

    old, training = dict(job["config"]), job.get("training") or {}
    grown = under_growth_rule(job, config)
    if grown is not None:
        note = "made before the growth rule, which stops at this first attempt: the same run; training not rerun"
        return _carried(job, config, note, training=grown)
    if all_rows_either_way(job, config):
        return _carried(job, config, f"all {job['rows']} rows under either row cap: the same rows; training not rerun")
    if job["method"] != "fisher":
        return None
    if config.get("fine_tune") == "unless-probe-learns" and old.get("fine_tune", "always") == "always":
        rest = {k: v for k, v in config.items() if k != "fine_tune"}
        if old.get("max_epochs") == 0 and {**old, "max_epochs": config["max_epochs"]} == rest:
            if not _probe_learned(training):
                return None
            note = "a probe-only job whose probe learned: the same state; training not rerun"
            return _carried(job, config, note, training={**training, "stopped": "probe-learned"})
        if old.get("keep_probe") is False and {k: v for k, v in old.items() if k != "keep_probe"} == rest:
            if _probe_learned(training):
                return None
            return _carried(job, config, "a keep_probe=false job whose probe did not learn: the same run")
        return None
    if config.get("keep_probe") is False and old.get("keep_probe", True):
        h = training.get("history") or []
        same = {**old, "keep_probe": False} == config
        if not same or len(h) < 2 or not h[1] < h[0] - 1e-4 * abs(h[0]):
            return None
        note = "the default job, whose first fine-tuned epoch beat the probe: the same states; training not rerun"
        return _carried(job, config, note)
    if old.pop("layer_normalize", None) is not True or "block_normalize" not in config:
        return None
    if old != {k: v for k, v in config.items() if k != "block_normalize"} or config["features"] != "activations":
        return None
    v = np.asarray(job["vector"], dtype=np.float64)
    blocks = v.reshape(unit_blocks(v), -1)
    new = normalize_blocks(blocks, config["block_normalize"]).ravel()
    return {
        **job,
        "config": config,
        "vector": [float(f"{x:.6g}") for x in new],
        "derived_from": "the committed vector made with layer_normalize=true (per-block L2); training not rerun",
    }


def run_job(method: str, name: str, variant: str, folder: Path, sur, options: dict) -> dict:
    from fute.methods import get_method
    from fute.samples import load_samples

    a, b = halves(load_samples(folder))
    data = b if split_variant(variant)[0] == "B" else a
    m = get_method(method, **variant_options(variant, options))
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        vec = m.embed(data, sur, progress=False)
        seconds = time.perf_counter() - t0
    training = getattr(m, "training_", None)
    return {
        "method": method,
        "dataset": name,
        "variant": variant,
        "rows": min(len(data), m.config.max_examples),
        "config": m.config.to_dict(),
        "revision": m.revision,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(mem.peak / 2**20),
        "training": training.as_dict() if training is not None else None,
        "vector": [float(f"{x:.6g}") for x in vec],
    }


def families(data: Path, names: list[str]) -> dict[str, dict]:
    """Each dataset's task family and number of labels (1 for regression), from its ``dataset.json``."""
    info = {}
    for d in names:
        meta = json.loads((data / d / "dataset.json").read_text())
        labels = meta.get("labels") or meta.get("label_names") or []
        n = len(labels) if meta.get("task_type", "classification") == "classification" else 1
        info[d] = {"family": FAMILY.get(meta.get("category"), meta.get("category")), "labels": n}
    return info


def cos(a: np.ndarray, b: np.ndarray) -> float:
    d = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / d) if d > 0 else 0.0


def analyse(jobs: dict, info: dict) -> dict:
    """Every measure for one method, from its jobs {(dataset, variant): job}."""
    names = sorted({d for d, _ in jobs})
    vec = {k: np.asarray(j["vector"], dtype=np.float64) for k, j in jobs.items()}
    out: dict = {"datasets": names}
    # self-retrieval over the 2N half-vectors
    halves_ = [(d, h) for d in names for h in ("A", "B") if (d, h) in vec]
    hits, family_hits, rows = 0, 0, []
    for d, h in halves_:
        other = "B" if h == "A" else "A"
        if (d, other) not in vec:
            continue
        sims = {(e, g): cos(vec[(d, h)], vec[(e, g)]) for e, g in halves_ if (e, g) != (d, h)}
        nearest = max(sims, key=sims.get)
        best_other = max((v for (e, _), v in sims.items() if e != d), default=-1.0)
        hit = nearest == (d, other)
        hits += hit
        family_hits += info[nearest[0]]["family"] == info[d]["family"]
        rows.append(
            {
                "half": f"{d}/{h}",
                "own": round(sims[(d, other)], 4),
                "best_other": round(best_other, 4),
                "nearest": f"{nearest[0]}/{nearest[1]}",
                "margin": round(sims[(d, other)] - best_other, 4),
                "hit": hit,
            }
        )
    out["self_retrieval"] = {"hits": hits, "of": len(rows), "nearest_in_family": family_hits, "rows": rows}
    out["misses"] = misses_by_cause(rows, jobs, info)

    # cap and seed stability: is a dataset's vector nearer its own variant than the nearest other dataset's vector?
    def stability(d: str, variant: str, near_in: str, own_key: str, near_key: str) -> dict[str, Any] | None:
        if (d, variant) not in vec or (d, "A") not in vec:
            return None
        others = [e for e in names if e != d and (e, near_in) in vec]
        near = max(others, key=lambda e: cos(vec[(d, near_in)], vec[(e, near_in)]), default=None)
        nv = None if near is None else cos(vec[(d, near_in)], vec[(near, near_in)])
        own = cos(vec[(d, variant)], vec[(d, "A")])
        return {
            "dataset": d,
            own_key: round(own, 4),
            near_key: near,
            "nearest_other_cos": None if nv is None else round(nv, 4),
            "holds": nv is not None and own > nv,
        }

    cap = [r for d in names if (r := stability(d, "A250", "A250", "cap_250_vs_1000", "nearest_other_at_250"))]
    seed = [r for d in names if (r := stability(d, "A-seed1", "A", "seed0_vs_seed1", "nearest_other"))]
    out["cap_stability"] = {"holds": sum(r["holds"] for r in cap), "of": len(cap), "rows": cap}
    out["seed_stability"] = {"holds": sum(r["holds"] for r in seed), "of": len(seed), "rows": seed}
    for key, rows_, other in (("cap_stability", cap, "A250"), ("seed_stability", seed, "A-seed1")):
        # the same test where the surrogate learned the task in both vectors compared
        kept = [r for r in rows_ if all(learned(jobs[(r["dataset"], v)]) is not False for v in ("A", other))]
        out[key]["learned"] = {"holds": sum(r["holds"] for r in kept), "of": len(kept)}
    # label-count confound, on the A halves
    same_labels, same_family = [], []
    for d, e in combinations([n for n in names if (n, "A") in vec], 2):
        fd, fe = info[d]["family"], info[e]["family"]
        c = cos(vec[(d, "A")], vec[(e, "A")])
        if fd != fe and info[d]["labels"] == info[e]["labels"]:
            same_labels.append((d, e, c))
        if fd == fe and info[d]["labels"] != info[e]["labels"]:
            same_family.append((d, e, c))
    out["label_count_confound"] = {
        "different_family_same_labels": {"mean": _mean([c for *_, c in same_labels]), "pairs": len(same_labels)},
        "same_family_different_labels": {
            "mean": _mean([c for *_, c in same_family]),
            "pairs": len(same_family),
            "list": [[d, e, round(c, 4)] for d, e, c in same_family],
        },
    }
    lc = out["label_count_confound"]
    lc["holds"] = (lc["same_family_different_labels"]["mean"] or -2) > (lc["different_family_same_labels"]["mean"] or 2)
    # cost of the cold 1,000-row vectors
    cold = [j for (d, v), j in jobs.items() if v in ("A", "B") and j["rows"] >= 1000 and not j.get("shared_cpu")]
    out["cost"] = {
        "vectors": len(cold),
        "seconds_median": _median([j["seconds"] for j in cold]),
        "seconds_max": max((j["seconds"] for j in cold), default=None),
        "peak_rss_mb_max": max((j["peak_rss_mb"] for j in cold), default=None),
        "within_2_min": sum(j["seconds"] <= 120 for j in cold),
    }
    # where the task signal lives: per block of the vector, the own other half against the other datasets
    blocks = _blocks(jobs)
    if blocks and len(halves_) > 2:
        rows_b = []
        for k in range(blocks):
            bv = {key: v.reshape(blocks, -1)[k] for key, v in vec.items()}
            own_b = [cos(bv[(d, "A")], bv[(d, "B")]) for d in names if (d, "A") in bv and (d, "B") in bv]
            pairs = [(d, e) for d, e in combinations(names, 2) if (d, "A") in bv and (e, "A") in bv]
            cross_b = [cos(bv[(d, "A")], bv[(e, "A")]) for d, e in pairs]
            rows_b.append({"block": k, "own_half": _mean(own_b), "other_datasets": _mean(cross_b)})
        out["blocks"] = rows_b
    trained = [t for j in jobs.values() for t in ([j["training"]] if j.get("training") else j.get("trainings", []))]
    out["converged"] = {"converged": sum(t["converged"] for t in trained), "of": len(trained)}
    return out


def learned(job: dict) -> bool | None:
    """Whether the job's surrogate learned its task (every run's ``learned``, for an ensemble); None: no training."""
    runs = [job["training"]] if job.get("training") else job.get("trainings") or []
    return all(t.get("learned", True) for t in runs) if runs else None


def misses_by_cause(rows: list[dict], jobs: dict, info: dict) -> dict:
    """Each self-retrieval miss put down to the first of: its nearest is another dataset of the same task family;
    the surrogate learned nothing from one of the dataset's halves (``learned``: held-out loss not 1% below a
    constant prediction's); other. Also the hits among the halves whose dataset was learned from both halves."""
    out = {"same_family": [], "not_learned": [], "other": []}
    learned_halves = learned_hits = 0
    for x in rows:
        d = x["half"].split("/")[0]
        both = all(learned(jobs[(d, h)]) is not False for h in "AB")
        learned_halves += both
        learned_hits += both and x["hit"]
        if x["hit"]:
            continue
        near = x["nearest"].split("/")[0]
        cause = "same_family" if info[near]["family"] == info[d]["family"] else "other" if both else "not_learned"
        out[cause].append(x["half"])
    trained = any(learned(j) is not None for j in jobs.values())
    return {**out, "trained": trained, "learned_halves": learned_halves, "learned_hits": learned_hits}


def paired(single: dict, ensemble: dict, datasets: list[str]) -> dict:
    """The ensemble against its single-seed method on ``datasets``: per dataset, the mean over its two halves of
    the self-retrieval margin (own other half minus best other dataset) and of the own-half cosine, ensemble
    minus single; their mean with a 95% bootstrap interval over datasets and a paired sign-flip p-value.
    (Datasets are not independent draws: each margin's best other comes from the same pool; an approximation.)"""
    from fute.evaluation.metrics import bootstrap_ci, paired_p_value

    def per_dataset(result: dict, key: str) -> dict[str, float]:
        rows = [x for x in result["self_retrieval"]["rows"] if x["half"].split("/")[0] in datasets]
        return {d: float(np.mean([x[key] for x in rows if x["half"].split("/")[0] == d])) for d in datasets}

    out = {"datasets": len(datasets)}
    for key in ("margin", "own"):
        a, b = per_dataset(ensemble, key), per_dataset(single, key)
        diff = [a[d] - b[d] for d in datasets]
        lo, hi = bootstrap_ci(diff)
        out[key] = {
            "difference": round(float(np.mean(diff)), 4),
            "ci95": [round(lo, 4), round(hi, 4)],
            "p": round(paired_p_value([a[d] for d in datasets], [b[d] for d in datasets]), 4),
            "higher": sum(x > 0 for x in diff),
        }
    return out


def read_jobs(folder: Path, names: list[str]) -> dict:
    """A method's finished half jobs {(dataset, "A" | "B"): job} in ``folder``."""
    paths = {(d, h): folder / f"{d}-{h}.json" for d in names for h in ("A", "B")}
    return {k: json.loads(f.read_text()) for k, f in paths.items() if f.exists()}


def compare_jobs(jobs: dict, base: dict, info: dict) -> dict:
    """``jobs`` against ``base`` (the same method made otherwise, e.g. at another row cap), per split: the datasets
    whose two halves both hold, each side scored among them alone, then ``paired`` per dataset (``jobs`` minus
    ``base``) beside each side's self-retrieval count and mean margin."""
    out = {}
    for split, dev in (("development", True), ("held_out", False)):
        names = sorted(
            {d for d, _ in jobs if (d in DEVELOPMENT) == dev and all((d, h) in x for h in "AB" for x in (jobs, base))}
        )
        if len(names) < 2:
            continue
        a, b = ({(d, h): x[(d, h)] for d in names for h in "AB"} for x in (jobs, base))
        ra, rb = analyse(a, info), analyse(b, info)
        out[split] = {
            **paired(rb, ra, names),
            "self_retrieval": {
                "this": ra["self_retrieval"]["hits"],
                "base": rb["self_retrieval"]["hits"],
                "of": ra["self_retrieval"]["of"],
            },
            "mean_margin": {
                k: _mean([x["margin"] for x in r["self_retrieval"]["rows"]]) for k, r in (("this", ra), ("base", rb))
            },
        }
    return out


def _blocks(jobs: dict) -> int:
    """How many unit-norm blocks a method's vectors are made of (fisher: layers + 2), else 0."""
    j = next(iter(jobs.values()))
    if j["method"] != "fisher" or j["config"].get("block_normalize", "none") == "none":
        return 0
    return unit_blocks(j["vector"])


def unit_blocks(vector) -> int:
    """How many blocks a vector of unit-norm blocks holds: its squared norm, plus the blocks a task leaves at zero
    (a QA span head reads no pooled output, so that block is zero), i.e. the next count that divides its length."""
    n = int(round(float(np.sum(np.square(vector)))))
    while n and len(vector) % n:
        n += 1
    return n


def _mean(x: list[float]) -> float | None:
    return round(float(np.mean(x)), 4) if x else None


def _median(x: list[float]) -> float | None:
    return round(float(np.median(x)), 2) if x else None


def compared_markdown(method: str, compared: dict) -> list[str]:
    """The table of ``compare_jobs``: this run's jobs of ``method`` against another folder's, split by split."""
    lines = [
        "",
        f"{method} against the jobs in `{compared['jobs']}`, each split scored among its own datasets; per dataset"
        " (mean of its two halves), this run minus those: mean, 95% bootstrap interval over datasets, paired"
        " sign-flip p, datasets where this run is higher.",
        "",
        "| split | self-retrieval (this / those) | mean margin (this / those) | margin difference | interval | p |"
        " higher | own-half cosine difference | interval | p | higher |",
        "|---|---:|---:|---:|---|---:|---:|---:|---|---:|---:|",
    ]
    for split, x in compared["splits"].items():
        sr, mm = x["self_retrieval"], x["mean_margin"]
        lines.append(
            f"| {split.replace('_', '-')} ({x['datasets']}) | {sr['this']} / {sr['base']} of {sr['of']} | "
            f"{mm['this']:+} / {mm['base']:+} | {_paired_cells(x)} |"
        )
    return lines


def _paired_cells(x: dict) -> str:
    """A ``paired`` result as table cells: for the margin, then the own-half cosine, the difference, its interval,
    p and how many datasets are higher."""
    return " | ".join(
        f"{g['difference']:+} | [{g['ci95'][0]:+}, {g['ci95'][1]:+}] | {g['p']} | {g['higher']}"
        for g in (x["margin"], x["own"])
    )


def markdown(results: dict, command: str) -> str:
    lines = [
        "# Embedding quality: do the vectors measure the task?",
        "",
        f"Command: `{command}`",
        "",
        "| method | self-retrieval | mean margin | cap 250 vs 1000 holds | seed 0 vs 1 holds | "
        "same family, other label count | other family, same label count | confound gone | "
        "s / cold vector of 1,000+ rows (median, max) | peak RSS MB | converged |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for m, r in results["methods"].items():
        sr, lc, c = r["self_retrieval"], r["label_count_confound"], r["cost"]
        margin = _mean([x["margin"] for x in sr["rows"]])
        lines.append(
            f"| {m} | {sr['hits']} of {sr['of']} | {margin} | {r['cap_stability']['holds']} of "
            f"{r['cap_stability']['of']} | {r['seed_stability']['holds']} of {r['seed_stability']['of']} | "
            f"{lc['same_family_different_labels']['mean']} | {lc['different_family_same_labels']['mean']} | "
            f"{'yes' if lc['holds'] else 'no'} | {c['seconds_median']}, {c['seconds_max']} | "
            f"{c['peak_rss_mb_max']} | {r['converged']['converged']} of {r['converged']['of']} |"
        )
    lines += [
        "",
        f"Settings are chosen on the development datasets ({', '.join(results.get('development', []))}) only;"
        " the others are held out. Each split is scored among its own datasets:",
        "",
        "| method | split | self-retrieval | cap holds | seed holds |",
        "|---|---|---:|---:|---:|",
    ]
    for m, r in results["methods"].items():
        for split, x in r.get("splits", {}).items():
            lines.append(
                f"| {m} | {split.replace('_', '-')} ({len(x['datasets'])}) | {x['self_retrieval']['hits']} of "
                f"{x['self_retrieval']['of']} | {x['cap_stability']['holds']} of {x['cap_stability']['of']} | "
                f"{x['seed_stability']['holds']} of {x['seed_stability']['of']} |"
            )
    pairs = [(m, r["paired_with_single"]) for m, r in results["methods"].items() if r.get("paired_with_single")]
    if pairs:
        lines += [
            "",
            "Each ensemble against its single-seed method, per dataset (mean of its two halves), ensemble minus single:"
            " mean, 95% bootstrap interval over datasets, paired sign-flip p, datasets where the ensemble is higher."
            " Margin: own other half minus the best other dataset (among all 20).",
            "",
            "| ensemble | split | margin difference | interval | p | higher | own-half cosine difference | interval |"
            " p | higher |",
            "|---|---|---:|---|---:|---:|---:|---|---:|---:|",
        ]
        for m, pw in pairs:
            for split, x in pw.items():
                lines.append(f"| {m} | {split.replace('_', '-')} ({x['datasets']}) | {_paired_cells(x)} |")
    for m, r in results["methods"].items():
        if r.get("paired_with_jobs"):
            lines += compared_markdown(m, r["paired_with_jobs"])
    lines += ["", "Nearest other vector of the same task family (own other half included):", ""]
    lines += [
        f"- {m}: {r['self_retrieval'].get('nearest_in_family')} of {r['self_retrieval']['of']}"
        for m, r in results["methods"].items()
    ]
    lines += ["", "Cap and seed stability where the surrogate learned the task in both vectors compared:", ""]
    lines += [
        f"- {m}: cap {r['cap_stability']['learned']['holds']} of {r['cap_stability']['learned']['of']}, seed "
        f"{r['seed_stability']['learned']['holds']} of {r['seed_stability']['learned']['of']}"
        for m, r in results["methods"].items()
        if r["cap_stability"].get("learned") and r["misses"].get("trained")
    ]
    lines += [
        "",
        "Self-retrieval misses by cause (the first that applies), and hits where both halves were learned:",
        "",
    ]
    for m, r in results["methods"].items():
        x = r.get("misses")
        if x:
            family = (
                f"- {m}: nearest a dataset of the same family {len(x['same_family'])} ({', '.join(x['same_family'])})"
            )
            if not x.get("trained", True):
                lines.append(f"{family}; other {len(x['other'])} ({', '.join(x['other'])}); no training")
                continue
            lines.append(
                f"{family}; the surrogate learned nothing from a half {len(x['not_learned'])} "
                f"({', '.join(x['not_learned'])}); other {len(x['other'])} ({', '.join(x['other'])}). Datasets "
                f"learned from both halves: {x['learned_hits']} of their {x['learned_halves']} halves found their own "
                "other half"
            )
    if results.get("derived_check"):
        lines += [
            "",
            "Carried jobs (``derived_from``) trained again in full: cosine of carried and computed vectors: "
            + ", ".join(f"{x['job']} {x['cosine']}" for x in results["derived_check"]),
        ]
    for m, r in results["methods"].items():
        if r.get("blocks"):
            lines += [
                "",
                f"## {m}: where the task signal lives (mean cosine per block of the vector)",
                "",
                "| block | own other half | other datasets | gap |",
                "|---|---:|---:|---:|",
            ]
            lines += [
                f"| {b['block']} | {b['own_half']} | {b['other_datasets']} | "
                f"{round(b['own_half'] - b['other_datasets'], 4)} |"
                for b in r["blocks"]
            ]
    for m, r in results["methods"].items():
        lines += [
            "",
            f"## {m}",
            "",
            "| dataset | own other half | best other | nearest | cap 250 vs 1000 | "
            "nearest other @250 | seed 0 vs 1 | nearest other |",
            "|---|---:|---:|---|---:|---|---:|---|",
        ]
        cap = {x["dataset"]: x for x in r["cap_stability"]["rows"]}
        seed = {x["dataset"]: x for x in r["seed_stability"]["rows"]}
        for x in r["self_retrieval"]["rows"]:
            d, h = x["half"].split("/")
            if h != "A":
                continue
            cp, sd = cap.get(d, {}), seed.get(d, {})
            lines.append(
                f"| {d} | {x['own']} | {x['best_other']} | {x['nearest']} | {cp.get('cap_250_vs_1000')} | "
                f"{cp.get('nearest_other_at_250')} ({cp.get('nearest_other_cos')}) | "
                f"{sd.get('seed0_vs_seed1')} | {sd.get('nearest_other')} ({sd.get('nearest_other_cos')}) |"
            )
    return "\n".join(lines) + "\n"


def _check_derived(jobs_dir: Path, data: Path, k: int, options: dict, finished: dict) -> None:
    """Run the K cheapest carried jobs of this run (finished, and made for today's config) in full and store
    cos(carried, computed) in derived_check.json."""
    from fute.surrogate import load_surrogate

    carried = [job for job in finished.values() if job.get("derived_from")]
    carried.sort(key=lambda j: (j["seconds"], j["dataset"], j["variant"]))
    sur, rows = load_surrogate("default"), []
    for job in carried[:k]:
        m, d = job["method"], job["dataset"]
        fresh = run_job(m, d, job["variant"], data / d, sur, options.get(m, {}))
        a, b = np.asarray(job["vector"]), np.asarray(fresh["vector"])
        rows.append(
            {
                "job": f"{m}:{d}-{job['variant']}",
                "cosine": round(cos(a, b), 6),
                "max_abs_difference": float(f"{np.abs(a - b).max():.3g}"),
            }
        )
        print(f"carried vs computed, {rows[-1]['job']}: cosine {rows[-1]['cosine']}", flush=True)
    write_atomic(jobs_dir / "derived_check.json", json.dumps(rows, indent=1))


def write_atomic(path: Path, text: str) -> None:
    """``text`` into ``path``, whole or not at all (a temporary file beside it, then one rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None, results: Path = RESULTS, data: Path = Path("../shared/data")) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(data))
    p.add_argument(
        "--method", action="append", help="fisher, prefix, prompt, textemb (repeat); default fisher, textemb"
    )
    p.add_argument("--dataset", action="append", help="only these datasets (default: every folder in --data)")
    p.add_argument("--jobs", default=str(results / "embedding_quality_jobs"))
    p.add_argument("--results", default=str(results / "embedding_quality"))
    p.add_argument("--report-only", action="store_true", help="tables from the finished jobs; compute nothing")
    p.add_argument(
        "--carry-from",
        action="append",
        default=[],
        metavar="JOBS",
        help="another jobs folder: a job missing here is taken from it, as is or carried (rederive); repeatable",
    )
    p.add_argument(
        "--check-derived",
        type=int,
        default=0,
        metavar="K",
        help="train K of the carried jobs (the cheapest) again and record how close the carried vectors are",
    )
    p.add_argument("--option", action="append", default=[], help="METHOD:KEY=VALUE for every job of METHOD")
    p.add_argument(
        "--variant", action="append", choices=VARIANTS, help="only these variants (repeat); default all four"
    )
    p.add_argument(
        "--paired-with",
        metavar="JOBS",
        help="another jobs folder of the same methods (e.g. at another row cap): per split, each dataset's two"
        " halves compared with that folder's, both scored among the split's own datasets",
    )
    p.add_argument(
        "--ensemble",
        action="append",
        default=[],
        metavar="METHOD=N",
        help="also report METHOD-ensN: each vector the ensemble of N seeds (ensemble_seeds=N), from single-seed"
        " jobs of METHOD (those missing are run); repeatable",
    )
    p.add_argument(
        "--not-for-cost",
        action="append",
        default=[],
        metavar="METHOD:DATASET-VARIANT",
        help="mark this finished job as having shared the CPU with other work (stored in its file): its time is"
        " left out of the cost; repeatable",
    )
    args = p.parse_args(argv)
    from fute.options import options_by_method  # METHOD:KEY=VALUE, read as the CLI reads it

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    methods = args.method or ["fisher", "textemb"]
    data = Path(args.data)
    names = args.dataset or sorted(d.name for d in data.iterdir() if (d / "train.jsonl").is_file())
    options = {m: {} for m in methods} | options_by_method(args.option)
    ensembles = [(m, int(n)) for m, n in (e.split("=", 1) for e in args.ensemble)]
    jobs_dir = Path(args.jobs)
    variants = tuple(args.variant or VARIANTS)
    wanted = [(m, d, v) for m in methods for d in names for v in variants]
    for m, n in ensembles:  # members after the plain jobs, variant by variant: the self-retrieval ones first
        extra = [x for v in VARIANTS for x in member_variants(v, n)]
        wanted += [(m, d, x) for x in extra for d in names if (m, d, x) not in wanted]
    todo, stale, derived = [], [], []
    finished: dict[tuple[str, str, str], dict] = {}  # each job file read once, kept as the report reads it
    for m, d, v in wanted:
        f = jobs_dir / m / f"{d}-{v}.json"
        want, revision = expected(m, v, options.get(m, {}))
        sources = [x for x in [f, *(Path(c) / m / f.name for c in args.carry_from)] if x.exists()]
        for source in sources:
            job = json.loads(source.read_text())
            if job.get("revision", 0) != revision:
                continue
            if job["config"] == want:
                if source != f:
                    write_atomic(f, json.dumps(job))
                finished[m, d, v] = job
                break
            carried = rederive(job, want)
            if carried is not None:
                write_atomic(f, json.dumps(carried))
                finished[m, d, v] = carried
                derived.append(f"{m}:{d}-{v}")
                break
        else:
            if f.exists():
                stale.append((m, d, v))  # left out of the report unless run again below
            todo.append((m, d, v))
    for entry in args.not_for_cost:
        m, dv = entry.split(":", 1)
        f = jobs_dir / m / f"{dv}.json"
        if not f.exists():
            raise SystemExit(f"--not-for-cost {entry}: no finished job {f}")
        key = next((k for k in finished if k[0] == m and f"{k[1]}-{k[2]}" == dv), None)
        job = finished[key] if key else json.loads(f.read_text())
        if not job.get("shared_cpu"):
            job = {**job, "shared_cpu": True}
            write_atomic(f, json.dumps(job))
            if key:
                finished[key] = job
    if derived:
        print(f"{len(derived)} jobs carried to the current config without retraining (see rederive)", flush=True)
    if stale:
        print(f"{len(stale)} jobs were made with another config: run again", flush=True)
    if args.check_derived and not args.report_only:
        _check_derived(jobs_dir, data, args.check_derived, options, finished)
    if todo and not args.report_only:
        from fute.surrogate import load_surrogate

        sur = load_surrogate("default")
        print(
            f"{len(todo)} jobs to run ({len(wanted) - len(todo)} done)",
            flush=True,
        )
        t_start = time.perf_counter()
        for i, (m, d, v) in enumerate(todo, 1):
            job = run_job(m, d, v, data / d, sur, options.get(m, {}))
            write_atomic(jobs_dir / m / f"{d}-{v}.json", json.dumps(job))
            finished[m, d, v] = job
            per = (time.perf_counter() - t_start) / i
            print(
                f"[{i}/{len(todo)}] {m} {d} {v}: {job['seconds']} s, {job['peak_rss_mb']} MB"
                f"{'' if not job['training'] else ', ' + job['training']['stopped']}; "
                f"about {per * (len(todo) - i) / 60:.0f} min left",
                flush=True,
            )
    info = families(data, names)
    results = {
        "command": "python bench/embedding_quality.py " + shlex.join(sys.argv[1:] if argv is None else argv),
        "variants": list(variants),
        "families": info,
        "not_for_cost": [],
        "development": list(DEVELOPMENT),
        "methods": {},
    }
    check = jobs_dir / "derived_check.json"
    if check.exists():
        results["derived_check"] = json.loads(check.read_text())
    plain = {m: {(d, v): j for (m_, d, v), j in finished.items() if m_ == m and v in VARIANTS} for m in methods}
    rows = list(plain.items())
    rows += [
        (f"{m}-ens{n}", ensemble_jobs({(d, v): j for (m_, d, v), j in finished.items() if m_ == m}, n))
        for m, n in ensembles
    ]
    for m, got in rows:
        if got:
            results["not_for_cost"] += [f"{m}:{d}-{v}" for (d, v), j in sorted(got.items()) if j.get("shared_cpu")]
            results["methods"][m] = analyse(got, info)
            for split, keep in (("development", True), ("held_out", False)):
                part = {k: j for k, j in got.items() if (k[0] in DEVELOPMENT) == keep}
                if len({d for d, _ in part}) > 1:
                    a = analyse(part, info)
                    results["methods"][m].setdefault("splits", {})[split] = {
                        "datasets": a["datasets"],
                        "self_retrieval": {k: a["self_retrieval"][k] for k in ("hits", "of")},
                        "cap_stability": {k: a["cap_stability"][k] for k in ("holds", "of")},
                        "seed_stability": {k: a["seed_stability"][k] for k in ("holds", "of")},
                    }
    for m, n in ensembles:
        single, ens = results["methods"].get(m), results["methods"].get(f"{m}-ens{n}")
        if single and ens:
            both = sorted(set(single["datasets"]) & set(ens["datasets"]))
            ens["paired_with_single"] = {
                split: paired(single, ens, [d for d in both if (d in DEVELOPMENT) == dev])
                for split, dev in (("development", True), ("held_out", False))
            }
    if args.paired_with:
        for m, got in plain.items():
            base = read_jobs(Path(args.paired_with) / m, names)
            if got and base:
                results["methods"][m]["paired_with_jobs"] = {
                    "jobs": args.paired_with,
                    "splits": compare_jobs(got, base, info),
                }
    out = Path(args.results)
    write_atomic(out.with_suffix(".json"), json.dumps(results, indent=1))
    write_atomic(out.with_suffix(".md"), markdown(results, results["command"]))
    print(markdown(results, results["command"]).split("\n## ")[0])
    return 0
