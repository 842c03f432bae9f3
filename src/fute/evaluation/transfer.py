"""Source-dataset selection, the paper's first experiment: what transfer really gives, and how well
rankers predict it.

``truth``: for every source dataset S, fine-tune the task model on S (intermediate training); then for
every target T, fine-tune on T's limited training set from S's backbone (fresh head) and from the
untouched base (the no-transfer baseline), and score T's dev set. Each of these is a job keyed by the
hash of everything it reads, its result a JSON file written atomically under the run folder, so an
interrupted run resumes where it stopped and any executor (in-process, Ray) can run the jobs.

``evaluate``: each ranker (``fute.bench.rankers``) orders the candidate sources of each target; the
order is judged by ρ (rank of the truly best source) and NDCG, in-class and all-class.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from fute.bench import metrics
from fute.bench.jobs import JobFolder, run_folder, run_jobs
from fute.errors import ConfigError, check_at_least
from fute.hashing import content_hash
from fute.paths import atomic_write
from fute.samples import Samples, load_first_split, load_samples

METRIC = {"classification": "accuracy", "regression": "pearson"}


@dataclass(frozen=True)
class TransferConfig:
    """The limited-data regime: how much of each dataset the task model sees, and how it trains."""

    model: str = "default"  # the task model's base: the default surrogate's architecture, a hub id or folder
    source_examples: int = 1000
    target_examples: int = 250
    dev_examples: int = 300
    source_epochs: float = 2.0
    target_epochs: float = 2.0
    learning_rate: float = 1e-4
    batch_size: int = 32
    max_length: int = 128
    seed: int = 0
    seeds: int = 1  # training runs per job, seeds seed .. seed + seeds - 1; scores are their mean, with an SE
    dev_seed: int | None = None  # the scored rows' draw (default: seed): one set of rows for every training seed
    # which held-out split a target is scored on: "test" (where there is one, else dev or validation) or "dev"
    # (dev, else validation, else test: the first truth's rows); ``dev_examples`` rows of it
    score_split: str = "test"

    def __post_init__(self) -> None:
        # epochs and rate as floats, as the CLI gives them: source_epochs=2 and 2.0 are one job key
        for name in ("source_epochs", "target_epochs", "learning_rate"):
            object.__setattr__(self, name, float(getattr(self, name)))

    def key(self) -> dict[str, Any]:
        """What a job's key reads of the config: every field, but ``score_split`` only where it is not "dev", so
        that jobs made before the field existed (when every target was scored on dev) keep their keys."""
        d = asdict(self)
        if d["score_split"] == "dev":
            del d["score_split"]
        return d

    def finetune(self, epochs: float) -> Any:
        from fute.train import FinetuneConfig

        return FinetuneConfig(
            epochs=epochs,
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            max_length=self.max_length,
            seed=self.seed,
        )

    def base_path(self) -> str:
        from fute.surrogate import default_surrogate_path

        return str(default_surrogate_path()) if self.model == "default" else self.model


@dataclass(frozen=True)
class Dataset:
    """A dataset of the benchmark: its name, where it is, its class (category), full training size and
    the fingerprint of its training split."""

    name: str
    path: str
    category: str
    train_size: int
    fingerprint: str


def load_datasets(paths: Sequence[str | Path]) -> list[Dataset]:
    """Datasets by path; the name and class come from each folder's ``dataset.json`` (else the path)."""
    from fute.embed import dataset_name

    out = []
    for p in paths:
        s = load_samples(p)
        out.append(
            Dataset(
                dataset_name(s, p),
                str(Path(p).expanduser().resolve()) if Path(p).expanduser().exists() else str(p),
                str(s.info.get("category") or "unknown"),
                len(s),
                s.fingerprint(),
            )
        )
    names = [d.name for d in out]
    if len(set(names)) != len(names):
        dup = ", ".join(sorted({n for n in names if names.count(n) > 1}))
        raise ConfigError(f"two datasets have the same name ({dup}); give each its own dataset.json name")
    for d in out:
        dev_split(d, 1, 0)  # fail now, not in a job an hour later
    if len(out) < 2:
        raise ConfigError("transfer needs at least two datasets (each is a source for the others)")
    return out


def train_split(d: Dataset, n: int, seed: int, held_out: frozenset[str] = frozenset()) -> Samples:
    """``n`` seeded training rows, drawn from the rows whose text is none of ``held_out`` (``normalized``)."""
    return without(load_samples(d.path), held_out)[0].take(n, seed)


def normalized(text: str, pair: str | None = None) -> str:
    """A row's text as duplicates are found: lower case, letters and digits only, single spaces (SST's
    sentences in MR's tokenisation, say, still match)."""
    out = " ".join(re.findall(r"[a-z0-9]+", text.lower()))
    return out if pair is None else out + " || " + " ".join(re.findall(r"[a-z0-9]+", pair.lower()))


def row_texts(samples: Samples) -> list[str]:
    pairs = samples.text_pairs or [None] * len(samples)
    return [normalized(t, p) for t, p in zip(samples.texts, pairs, strict=True)]


def without(samples: Samples, texts: frozenset[str]) -> tuple[Samples, int]:
    """``samples`` less the rows whose normalised text is in ``texts``, and how many were removed."""
    if not texts:
        return samples, 0
    keep = [i for i, t in enumerate(row_texts(samples)) if t not in texts]
    return samples.select(keep), len(samples) - len(keep)


def scored_texts(datasets: Sequence[Dataset], config: TransferConfig) -> frozenset[str]:
    """The normalised texts of every row any target is scored on: no source or target trains on them (SST is
    built from MR's sentences: without this, sst2 and mr each trained on the other's scored rows)."""
    return frozenset(
        t
        for d in datasets
        for t in row_texts(dev_split(d, config.dev_examples, scored_seed(config), config.score_split))
    )


SCORE_SPLITS = {"test": ("test", "dev", "validation"), "dev": ("dev", "validation", "test")}
SCORED = {"test": "held-out (test split, else dev)", "dev": "dev"}  # how a truth's table names the scored rows


def dev_split(d: Dataset, n: int, seed: int, split: str = "dev") -> Samples:
    """The ``n`` seeded rows a target is scored on, from the first of ``SCORE_SPLITS[split]`` it has."""
    if split not in SCORE_SPLITS:
        raise ConfigError(f"score_split must be one of {', '.join(SCORE_SPLITS)}, not '{split}'")
    return load_first_split(d.path, SCORE_SPLITS[split], "to score the target on").take(n, seed)


def scored_seed(config: TransferConfig) -> int:
    return config.seed if config.dev_seed is None else config.dev_seed


# --- jobs ----------------------------------------------------------------------------------------------


def _key(obj: Any) -> str:
    return content_hash(obj, 24)


def source_job(
    dataset: Dataset,
    config: TransferConfig,
    run_dir: str,
    held_out: frozenset[str] = frozenset(),
    device: str = "auto",
) -> dict[str, Any]:
    """Intermediate training on a source, on none of the rows any target is scored on (``held_out``): the saved
    model and its loss curve (CurveGrad reads it). ``device`` is where it trains, not part of the job's key."""
    from fute.train import save_classifier, train_classifier

    t0, c0 = time.perf_counter(), time.process_time()
    samples = train_split(dataset, config.source_examples, config.seed, held_out)
    model, tok, losses = train_classifier(
        config.base_path(), samples, config.finetune(config.source_epochs), progress=False, device=device
    )
    out = Path(run_dir) / "models" / f"source-{dataset.name}-{_key([asdict(dataset), config.key()])[:12]}"
    save_classifier(model, tok, out)
    return {
        "role": "source",
        "dataset": dataset.name,
        "model_dir": str(out),
        "losses": losses,
        "examples": len(samples),
        "removed_as_scored_elsewhere": without(load_samples(dataset.path), held_out)[1],
        "seconds": round(time.perf_counter() - t0, 2),
        "cpu_seconds": round(time.process_time() - c0, 2),  # all threads; not inflated by a paused or crowded machine
    }


def target_job(
    target: Dataset,
    config: TransferConfig,
    run_dir: str,
    source: str | None = None,
    source_model: str | None = None,
    held_out: frozenset[str] = frozenset(),
    device: str = "auto",
) -> dict[str, Any]:
    """Fine-tune on the target's limited set (from the source's backbone, or from the base when no
    source) and score its dev set. The no-transfer model is kept: it is the target's own model that
    the model-specific rankers (TaskEmb, TuPaTE as originally proposed) embed with."""
    from fute.targets.hf_classifier import HFClassifier
    from fute.train import save_classifier, score_predictions, train_classifier

    t0, c0 = time.perf_counter(), time.process_time()
    train = train_split(target, config.target_examples, config.seed, held_out)
    dev = dev_split(target, config.dev_examples, scored_seed(config), config.score_split)
    model, tok, losses = train_classifier(
        config.base_path(),
        train,
        config.finetune(config.target_epochs),
        backbone_from=source_model,
        progress=False,
        device=device,
    )
    scorer = HFClassifier(target.name, model=model, tokenizer=tok, max_length=config.max_length, device=device)
    score = score_predictions(scorer, dev)
    out: dict[str, Any] = {
        "role": "pair" if source else "baseline",
        "target": target.name,
        "source": source,
        "score": score,
        "metric": METRIC[train.task],
        "dev_examples": len(dev),
        "losses": losses,
    }
    if source is None:
        path = Path(run_dir) / "models" / f"target-{target.name}-{_key([asdict(target), config.key()])[:12]}"
        out["model_dir"] = str(save_classifier(model, tok, path))
    out["seconds"] = round(time.perf_counter() - t0, 2)
    out["cpu_seconds"] = round(time.process_time() - c0, 2)
    return out


def seed_configs(config: TransferConfig) -> list[TransferConfig]:
    """The one-seed configs a run of ``config.seeds`` seeds trains with, first seed first: each scores the same
    rows (``dev_seed``), so seeds differ in training only."""
    if config.seeds == 1:
        return [config]
    return [replace(config, seed=config.seed + i, seeds=1, dev_seed=scored_seed(config)) for i in range(config.seeds)]


def job_keys(
    datasets: Sequence[Dataset], config: TransferConfig, held_out: frozenset[str]
) -> tuple[dict[str, str], dict[str, str], dict[tuple[str, str], str]]:
    """The job keys of one seed's run (``seed_configs``): sources and baselines by name, pairs by (source, target)."""
    st, dedup = config.key(), content_hash(sorted(held_out), 16)
    src = {d.name: _key(["source", d.fingerprint, st, dedup]) for d in datasets}
    base = {d.name: _key(["baseline", d.fingerprint, st, dedup]) for d in datasets}
    pair = {
        (a.name, b.name): _key(["pair", src[a.name], b.fingerprint, st])
        for a in datasets
        for b in datasets
        if a.name != b.name
    }
    return src, base, pair


def run_truth(
    paths: Sequence[str | Path],
    config: TransferConfig | None = None,
    *,
    run_dir: str | Path | None = None,
    executor: Any = "local",
    progress: bool = True,
    echo: Callable[[str], None] = print,
    command: str | None = None,
    device: str = "auto",
    only_seed: int | None = None,
    models: bool = False,
) -> dict[str, Any] | None:
    """Every source, baseline and (source, target) pair, skipping finished jobs; returns the score matrix.

    Writes ``run_dir/truth.json`` (scores, baselines, loss curves, model folders, settings). ``device`` is where
    the jobs train (``fute.device``); it is not part of their keys, so a run resumes on another machine.
    ``only_seed``: run that seed's jobs alone and return None, so a second worker (another process or machine,
    its job files shared through the run folder) takes a later seed while the first works through the earlier
    ones; a run without it assembles the truth. ``models``: also retrain the first seed's finished models that are
    missing (a run resumed on another machine), which the eval's model-reading rankers read where their vectors and
    score tables are not kept (``RankContext.model_dir`` says so); without it, a finished job's model is retrained
    only while its seed's pairs still need it.
    """
    from fute.execute import get_executor

    cfg = config or TransferConfig()
    check_at_least("seeds", cfg.seeds, 1)
    run = run_folder(run_dir, "transfer")
    datasets = load_datasets(paths)
    folder = JobFolder(run)
    ex = get_executor(executor)
    results: dict[str, dict[str, Any]] = {}

    def jobs_of(specs: list[tuple[str, Callable[..., Any], dict[str, Any], str]], models: bool = True) -> None:
        # with ``models``, a finished job whose saved model has gone (a cleaned cache, a new machine) is run again
        results.update(
            run_jobs(
                specs,
                folder,
                ex,
                progress=progress,
                echo=echo,
                valid=(lambda r: "model_dir" not in r or Path(r["model_dir"]).is_dir()) if models else None,
            )
        )

    held_out = scored_texts(datasets, cfg)  # no training row is a row any target is scored on
    runs = seed_configs(cfg)
    if only_seed is not None and only_seed not in [c.seed for c in runs]:
        raise ConfigError(
            f"--only-seed {only_seed}: this run's seeds are {', '.join(str(c.seed) for c in runs)}; pick one of them"
        )
    keyed = [(c, *job_keys(datasets, c, held_out)) for c in runs]
    echo(progress_line(folder, [k for k in keyed if only_seed is None or k[0].seed == only_seed]))

    def pairs_left(name: str, pair: dict[tuple[str, str], str]) -> bool:
        return any(folder.get(pair[name, b.name]) is None for b in datasets if b.name != name)

    # Seed by seed (the first seed's truth is whole before the second starts): its sources, its baselines, then its
    # pairs. A finished job's model is needed again only where something will read it: a source while its seed's
    # pairs are unfinished, and, with ``models``, the first seed's models (the eval's model-reading rankers); so a
    # run resumed on a new machine retrains no other model, and a finished one none.
    for i, (c, src, base, pair) in enumerate(keyed):
        if only_seed is not None and c.seed != only_seed:
            continue
        tag = f" seed {c.seed}" if cfg.seeds > 1 else ""
        common = {"config": c, "run_dir": str(run), "held_out": held_out, "device": device}
        sources = [
            (
                (src[d.name], source_job, {"dataset": d, **common}, f"source {d.name}{tag}"),
                (i == 0 and models) or pairs_left(d.name, pair),
            )
            for d in datasets
        ] + [
            ((base[d.name], target_job, {"target": d, **common}, f"baseline {d.name}{tag}"), i == 0 and models)
            for d in datasets
        ]
        jobs_of([spec for spec, needed in sources if needed])
        jobs_of([spec for spec, needed in sources if not needed], models=False)
        jobs_of(
            [
                (
                    pair[a.name, b.name],
                    target_job,
                    {"target": b, "source": a.name, "source_model": results[src[a.name]]["model_dir"], **common},
                    f"{a.name} -> {b.name}{tag}",
                )
                for a in datasets
                for b in datasets
                if a.name != b.name
            ]
        )
    if only_seed is not None:
        echo(f"seed {only_seed}'s jobs are done; the same command without --only-seed assembles the truth")
        return None
    first_src, first_base, _ = keyed[0][1], keyed[0][2], keyed[0][3]

    def per_seed(get: Callable[[dict[str, str], dict[str, str], dict[tuple[str, str], str]], str]) -> list[float]:
        return [results[get(src, base, pair)]["score"] for _, src, base, pair in keyed]

    scores = {
        b.name: {a.name: per_seed(lambda s_, b_, p_, a=a, b=b: p_[a.name, b.name]) for a in datasets if a != b}
        for b in datasets
    }
    baseline = {d.name: per_seed(lambda s_, b_, p_, d=d: b_[d.name]) for d in datasets}
    truth = {
        **run_record(
            cfg,
            datasets,
            {d.name: results[first_src[d.name]] for d in datasets},
            {d.name: results[first_base[d.name]] for d in datasets},
        ),
        "metric": {d.name: results[first_base[d.name]]["metric"] for d in datasets},
        "baseline": {n: _mean(v) for n, v in baseline.items()},
        "scores": {t: {a: _mean(v) for a, v in row.items()} for t, row in scores.items()},
        "seconds": round(sum(r.get("seconds", 0.0) for r in results.values()), 1),
        "command": command,
    }
    if cfg.seeds > 1:
        truth["seeds"] = [c.seed for c in runs]
        truth["scores_by_seed"] = scores
        truth["baseline_by_seed"] = baseline
        truth["scores_se"] = {t: {a: _se(v) for a, v in row.items()} for t, row in scores.items()}
        truth["baseline_se"] = {n: _se(v) for n, v in baseline.items()}
        truth["best_tied"] = {t: tied_best(truth["scores"][t], truth["scores_se"][t]) for t in truth["scores"]}
    atomic_write(run / "truth.json", lambda tmp: Path(tmp).write_text(json.dumps(truth, indent=1)))
    return truth


def progress_line(folder: JobFolder, keyed: Sequence[tuple[Any, dict, dict, dict]]) -> str:
    """How far a run is: jobs finished of all, and the time left at the finished jobs' pace (mean seconds per role: a
    source trains on more rows than a pair). A job's time is the lower of its wall and CPU seconds: a paused or
    crowded process's clock runs on while its CPU time does not, and a multi-thread job's CPU time exceeds its wall
    time."""
    roles = [
        (role, folder.get(key))
        for _, src, base, pair in keyed
        for role, keys in (("source", src), ("baseline", base), ("pair", pair))
        for key in keys.values()
    ]
    done = [(role, j) for role, j in roles if j is not None]
    line = f"{len(done)} of {len(roles)} jobs done"
    if not done or len(done) == len(roles):
        return line
    seconds: dict[str, list[float]] = {}
    for role, j in done:
        seconds.setdefault(role, []).append(min(j.get("seconds", 0.0), j.get("cpu_seconds", float("inf"))))
    overall = float(np.mean([t for ts in seconds.values() for t in ts]))
    left = sum(float(np.mean(seconds[r])) if r in seconds else overall for r, j in roles if j is None)
    return f"{line}; about {f'{left / 3600:.1f} h' if left >= 3600 else f'{left / 60:.0f} min'} left at their pace"


def first_seed_truth(
    paths: Sequence[str | Path], config: TransferConfig | None = None, run_dir: str | Path | None = None
) -> dict[str, Any]:
    """What the eval's rankers read of a run whose first seed's sources and baselines are done, before its pairs
    are: datasets, settings, models and loss curves, as ``truth.json`` will hold them, without scores. So the
    vectors the eval caches in its store can be made while the truth still runs (``bench/transfer_vectors.py``).
    ``config`` must be the run's: a job missing under its keys is a one-line error."""
    cfg = config or TransferConfig()
    run = run_folder(run_dir, "transfer")
    datasets = load_datasets(paths)
    held_out = scored_texts(datasets, cfg)
    src, base, _ = job_keys(datasets, seed_configs(cfg)[0], held_out)
    folder = JobFolder(run)
    sources = {d.name: folder.get(src[d.name]) for d in datasets}
    baselines = {d.name: folder.get(base[d.name]) for d in datasets}
    missing = [n for n in sources if sources[n] is None or baselines[n] is None]
    if missing:
        raise ConfigError(
            f"{run}: no finished source and baseline of the first seed for {', '.join(missing)} under these "
            "settings; run the truth until they are done, with the same datasets and options"
        )
    return run_record(cfg, datasets, sources, baselines)


def truth_datasets(truth: dict[str, Any]) -> list[Dataset]:
    """The datasets a truth (``truth.json``) was run on, as it recorded them."""
    return [
        Dataset(n, d["path"], d["category"], d["train_size"], d["fingerprint"]) for n, d in truth["datasets"].items()
    ]


def truth_config(truth: dict[str, Any]) -> TransferConfig:
    """The config a truth was run with; one written before ``score_split`` existed scored every target on dev."""
    return TransferConfig(**{"score_split": "dev", **truth["settings"]})


def run_record(
    config: TransferConfig,
    datasets: Sequence[Dataset],
    sources: dict[str, dict[str, Any]],
    baselines: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """A truth's description of its run, from the first seed's source and baseline jobs: settings, datasets,
    loss curves, model folders, and the training rows the leak guard removed."""
    return {
        "settings": asdict(config),
        "datasets": {
            d.name: {"path": d.path, "category": d.category, "train_size": d.train_size, "fingerprint": d.fingerprint}
            for d in datasets
        },
        "source_losses": {n: j["losses"] for n, j in sources.items()},
        "source_models": {n: j["model_dir"] for n, j in sources.items()},
        "target_models": {n: j["model_dir"] for n, j in baselines.items()},
        "removed_as_scored_elsewhere": {n: j.get("removed_as_scored_elsewhere", 0) for n, j in sources.items()},
    }


def _mean(v: Sequence[float]) -> float:
    return float(np.mean(v))


def _se(v: Sequence[float]) -> float:
    """Standard error of the mean over seeds (sample standard deviation / sqrt(n))."""
    return float(np.std(v, ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0


def tied_best(means: dict[str, float], se: dict[str, float]) -> list[str]:
    """The sources that cannot be told apart from the best: mean within the larger of the two standard errors
    of the best mean (one SE rule; with one seed, only exact ties)."""
    best = max(means, key=lambda s: means[s])
    return sorted(s for s in means if means[best] - means[s] <= max(se.get(best, 0.0), se.get(s, 0.0)))


def load_truth(run_dir: str | Path | None = None) -> dict[str, Any]:
    p = run_folder(run_dir, "transfer") / "truth.json"
    if not p.exists():
        raise ConfigError(f"{p}: no transfer ground truth there; run `fute bench transfer truth DATA...` first")
    return json.loads(p.read_text())


def truth_markdown(truth: dict[str, Any], command: str) -> str:
    """The score matrix: a row per target, a column per source, the no-transfer baseline first."""
    names = list(truth["datasets"])
    cfg = truth["settings"]
    model = "the default surrogate (all-MiniLM-L6-v2)" if cfg["model"] == "default" else cfg["model"]
    lines = [
        "# Transfer ground truth",
        "",
        f"Command: `{command}`  ",
        f"Task model: {model} with a fresh head; {cfg['source_examples']} source examples "
        f"({cfg['source_epochs']:g} epochs), {cfg['target_examples']} target examples ({cfg['target_epochs']:g} "
        f"epochs), lr {cfg['learning_rate']:g}, batch {cfg['batch_size']}, {cfg['max_length']} tokens, "
        + (
            f"seeds {', '.join(map(str, truth['seeds']))} (each score their mean ± standard error)"
            if truth.get("seeds")
            else f"seed {cfg['seed']}"
        )
        + f"; scored on {cfg['dev_examples']} {SCORED.get(cfg.get('score_split', 'dev'))} examples (accuracy; Pearson"
        " r for regression). "
        f"Compute: {truth['seconds'] / 60:.1f} min of jobs.",
        "",
        "Rows: targets; columns: the source of intermediate training; **bold**: the best source"
        + (", and every source within one standard error of it (tied)." if truth.get("seeds") else "."),
        "",
        "| target (class) | metric | none | " + " | ".join(names) + " |",
        "|---|---|---:|" + "---:|" * len(names),
    ]
    for t in names:
        row, se = truth["scores"][t], truth.get("scores_se", {}).get(t, {})
        best = set(truth["best_tied"][t]) if truth.get("best_tied") else {s for s in row if row[s] == max(row.values())}
        value = {s: f"{row[s]:.3f}" + (f" ± {se[s]:.3f}" if s in se else "") for s in row}
        cells = ["—" if s == t else (f"**{value[s]}**" if s in best else value[s]) for s in names]
        lines.append(
            f"| {t} ({truth['datasets'][t]['category']}) | {truth['metric'][t]} | "
            f"{truth['baseline'][t]:.3f} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


# --- evaluation ----------------------------------------------------------------------------------------


def candidates(truth: dict[str, Any], target: str, scope: str) -> list[str]:
    """The sources ranked for ``target``: every other dataset (``all``), or those of its class (``in``)."""
    ds = truth["datasets"]
    return [s for s in ds if s != target and (scope == "all" or ds[s]["category"] == ds[target]["category"])]


def _order_metrics(scores: dict[str, float], best: list[str] | None, draws: list[list[str]]) -> dict[str, float]:
    """ρ, NDCG (linear, exponential) and Regret@1, @3 of ``draws`` (orders; their mean) against one target's
    ``scores``, with ``best`` the sources counted as best (None: the highest score)."""
    orders = [[s for s in o if s in scores] for o in draws]
    vals = {
        "rho": float(np.mean([metrics.rank_of_best(scores, o, best) for o in orders])),
        "ndcg": float(np.mean([metrics.ndcg(scores, o) for o in orders])),
        "ndcg_exp": float(np.mean([metrics.ndcg(scores, o, gain="exponential") for o in orders])),
    }
    if max(scores.values()) > 0:  # regret is relative to the best score
        for k in (1, 3):
            vals[f"regret{k}"] = float(np.mean([metrics.regret_at_k(scores, o, k) for o in orders]))
    return vals


def _interval(cell: dict[str, list[Any]], k: str, weights: list[float]) -> list[float]:
    """95% bootstrap interval of metric ``k`` over a cell's targets: nested over their seeds where it has them."""
    nested = bool(cell[f"{k}_resampled"][0])
    return list(metrics.bootstrap_ci(cell[f"{k}_resampled"] if nested else cell[k], weights=weights or None))


def judge(truth: dict[str, Any], orders: dict[str, dict[str, list[list[str]]]]) -> dict[str, Any]:
    """Metrics of each ranker: ``orders[ranker][target]`` is a list of rankings of all-class candidates
    (one, or many draws for random); in-class rankings are the same orders restricted to the class.

    Returns, per ranker, per scope (in, all) and per class plus ``overall``: mean ρ, NDCG (linear and
    exponential), Regret@1 and @3, each with a 95% bootstrap interval, and the number of targets; and per
    target each metric. With several seeds the metrics are scored on the seeds' mean (a best source within one
    SE ties), and the interval is nested: targets resampled, then each target's seeds (``seed_resamples``).
    """
    ds = truth["datasets"]
    by_seed = truth.get("scores_by_seed") if truth.get("seeds") else None
    resamples = metrics.seed_resamples(len(truth["seeds"])) if by_seed else []
    weights = [w for _, w in resamples]

    def under(t: str, cands: list[str], seeds: tuple[int, ...]) -> tuple[dict[str, float], list[str]]:
        runs = {s: [by_seed[t][s][i] for i in seeds] for s in cands}
        means = {s: _mean(v) for s, v in runs.items()}
        return means, tied_best(means, {s: _se(v) for s, v in runs.items()})

    out: dict[str, Any] = {}
    for ranker, per_target in orders.items():
        rows: dict[str, dict[str, dict[str, list[Any]]]] = {}
        per: dict[str, dict[str, float]] = {}
        resampled: dict[str, dict[str, list[float]]] = {}
        for t, draws in per_target.items():
            for scope in ("in", "all"):
                cands = candidates(truth, t, scope)
                if len(cands) < 2:
                    continue  # one candidate (or none) is no ranking
                scores = {s: truth["scores"][t][s] for s in cands}
                se = truth.get("scores_se", {}).get(t)  # several seeds: a best source within one SE ties
                vals = _order_metrics(scores, tied_best(scores, {s: se[s] for s in cands}) if se else None, draws)
                spread = [_order_metrics(*under(t, cands, seeds), draws) for seeds, _ in resamples]
                # each metric under each seed resample (one whose best score is not positive has no regret: the
                # point value stands in)
                under_seeds = {k: [m.get(k, v) for m in spread] for k, v in vals.items()}
                for group in (ds[t]["category"], "overall"):
                    cell = rows.setdefault(scope, {}).setdefault(group, {})
                    for k, v in vals.items():
                        cell.setdefault(k, []).append(v)
                        cell.setdefault(f"{k}_resampled", []).append(under_seeds[k])
                per.setdefault(t, {}).update({f"{scope}_{k}": v for k, v in vals.items()})
                if spread:  # what the paired intervals resample
                    resampled.setdefault(t, {}).update({f"{scope}_{k}": under_seeds[k] for k in ("rho", "ndcg")})
        out[ranker] = {
            "draws": len(next(iter(per_target.values()))),
            "summary": {
                scope: {
                    g: {
                        **{k: float(np.mean(v)) for k, v in cell.items() if not k.endswith("_resampled")},
                        **{f"{k}_ci": _interval(cell, k, weights) for k in cell if not k.endswith("_resampled")},
                        "targets": len(cell["rho"]),
                    }
                    for g, cell in groups.items()
                }
                for scope, groups in rows.items()
            },
            "per_target": per,
            **({"per_target_resampled": resampled, "seed_resample_weights": weights} if resampled else {}),
        }
    return out


def paired_tests(
    judged: dict[str, Any], fute: Sequence[str] | None = None, scope: str = "all"
) -> dict[str, dict[str, dict[str, float]]]:
    """Each FUTE ranker (``fute``, default: the registered rankers marked ``is_fute``) against each other
    ranker, over the targets both rank in ``scope`` (all-class, or in-class): the mean difference of ρ and of
    NDCG with its 95% bootstrap interval (``diff_ci``: nested over each target's seeds where the truth has them,
    both rankers scored on the same resample, so the truth's seed noise is in it), the two-sided p of a paired
    sign-flip permutation test over the targets, and that p Holm-adjusted over the FUTE ranker's comparisons
    (``p_holm``: one family per FUTE ranker, scope and metric)."""
    from fute.registry import RANKERS

    fute = RANKERS.names_where(is_fute=True) if fute is None else fute
    out: dict[str, dict[str, dict[str, float]]] = {}
    for f in (r for r in judged if r in fute):
        for other in (r for r in judged if r != f):
            a, b = judged[f]["per_target"], judged[other]["per_target"]
            common = [t for t in a if t in b and f"{scope}_rho" in a[t] and f"{scope}_rho" in b[t]]
            if len(common) < 2:
                continue
            cell = {}
            for k in ("rho", "ndcg"):
                x, y = [a[t][f"{scope}_{k}"] for t in common], [b[t][f"{scope}_{k}"] for t in common]
                cell[f"{k}_diff"] = float(np.mean(x) - np.mean(y))
                cell[f"{k}_diff_ci"] = _paired_interval(judged[f], judged[other], common, f"{scope}_{k}")
                cell[f"{k}_p"] = metrics.paired_p_value(x, y)
            out.setdefault(f, {})[other] = cell
        for k in ("rho", "ndcg"):
            family = list(out.get(f, {}).values())
            for cell, adjusted in zip(family, metrics.holm([c[f"{k}_p"] for c in family]), strict=True):
                cell[f"{k}_p_holm"] = adjusted
    return out


def _paired_interval(a: dict[str, Any], b: dict[str, Any], targets: list[str], key: str) -> list[float]:
    """95% bootstrap interval of mean(a - b) over ``targets``: nested over each target's seed resamples when both
    judged rankers kept them (the same resample for both: they are scored against the same truth)."""
    ra, rb = a.get("per_target_resampled", {}), b.get("per_target_resampled", {})
    if all(key in ra.get(t, {}) and key in rb.get(t, {}) for t in targets):
        d = [np.subtract(ra[t][key], rb[t][key]) for t in targets]
        return list(metrics.bootstrap_ci(d, weights=a["seed_resample_weights"]))
    return list(metrics.bootstrap_ci([a["per_target"][t][key] - b["per_target"][t][key] for t in targets]))


def paired_by_scope(judged: dict[str, Any]) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """``paired_tests`` all-class and in-class: what the eval's JSON keeps and its markdown shows."""
    return {scope: paired_tests(judged, scope=scope) for scope in ("all", "in")}


def run_eval(
    truth: dict[str, Any], rankers: Sequence[str], context: Any, echo: Callable[[str], None] = print
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fit each ranker (``fute.bench.rankers``) on the run, order every target's candidates, judge them. The
    rankers that read the run's models keep their score tables in ``context.tables`` (``fit_kept``).

    Returns (metrics per ranker, orders per ranker and target).
    """
    from fute.bench.rankers import fit_kept, get_ranker, rank_all

    fitted = []
    for name in rankers:
        r = get_ranker(name)
        echo(f"ranker {name}: fitting")
        t0 = time.perf_counter()
        fitted.append(fit_kept(r, context))
        echo(f"ranker {name}: ready ({time.perf_counter() - t0:.0f} s)")
    if any(get_ranker(name).reads_u for name in rankers):  # a kept table does not count U's cleaning: count it
        context.u_removed_counts()
    orders = rank_all(fitted, truth)
    return judge(truth, orders), orders


def eval_record(
    truth: dict[str, Any], judged: dict[str, Any], orders: dict[str, Any], ctx: Any, command: str
) -> dict[str, Any]:
    """The JSON of an eval: how it was made (commands, rows per embedding, surrogate, U), the metrics, and
    each ranker's order of sources per target."""
    return {
        "command": command,
        "truth_command": truth.get("command"),
        "embed_examples": ctx.embed_examples,
        "surrogate": ctx.surrogate,
        "corpus": ctx.corpus or "shipped U without the run's datasets",
        "u_rows_removed_as_evaluated_text": ctx.u_removed,
        **({"method_options": ctx.method_options} if ctx.method_options else {}),
        "metrics": judged,
        "paired": paired_by_scope(judged),
        "orders": {r: {t: o[0] for t, o in per.items()} for r, per in orders.items()},
    }


def eval_plot(judged: dict[str, Any], path: str | Path) -> Path | None:
    """The eval's headline as a figure: each ranker's ρ and NDCG, in-class and all-class, with its 95% interval
    (FUTE rankers in one colour, the others in another, random's point as a dashed line). None (nothing written)
    without matplotlib, the ``viz`` extra."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fute.paths import atomic_write
    from fute.registry import RANKERS

    fute = set(RANKERS.names_where(is_fute=True))
    names = list(judged)[::-1]  # the table's order, top to bottom
    panels = [(s, k) for s in ("all", "in") for k in ("rho", "ndcg")]
    fig, axes = plt.subplots(1, 4, figsize=(16, 0.42 * len(names) + 1.6), sharey=True)
    for ax, (scope, k) in zip(axes, panels, strict=True):
        for y, r in enumerate(names):
            cell = judged[r]["summary"].get(scope, {}).get("overall", {})
            if k not in cell:
                continue
            lo, hi = cell.get(f"{k}_ci", (cell[k], cell[k]))
            colour = "tab:blue" if r in fute else "tab:grey"
            ax.plot([lo, hi], [y, y], color=colour, lw=2)
            ax.plot(cell[k], y, "o", color=colour)
            if r == "random":
                ax.axvline(cell[k], color="tab:red", ls="--", lw=1)
        better = "lower is better" if k == "rho" else "higher is better"
        ax.set(title=f"{'all' if scope == 'all' else 'in'}-class {'ρ' if k == 'rho' else 'NDCG'} ({better})")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(names)), names)
    fig.suptitle("Source-dataset selection: point and 95% interval per ranker (blue: FUTE; dashed: random)")
    fig.tight_layout()
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return out


def eval_markdown(
    truth: dict[str, Any],
    judged: dict[str, Any],
    command: str,
    notes: Sequence[str] = (),
    paired: dict[str, Any] | None = None,
) -> str:
    """The paper-shaped tables: methods x (ρ, NDCG) in-class and all-class; per class; per target. ``paired``: the
    record's ``paired_by_scope`` (computed here when not given)."""
    names = list(truth["datasets"])
    classes = sorted({d["category"] for d in truth["datasets"].values()})

    def cell(r: str, scope: str, group: str, k: str, fmt: str = ".3f") -> str:
        v = judged[r]["summary"].get(scope, {}).get(group)
        return "—" if v is None or k not in v else format(v[k], fmt)

    def interval(r: str, k: str, fmt: str = ".3f", scope: str = "all") -> str:
        v = judged[r]["summary"].get(scope, {}).get("overall", {}).get(f"{k}_ci")
        return "" if v is None else f"[{format(v[0], fmt)}, {format(v[1], fmt)}]"

    n_in = next(iter(judged.values()))["summary"].get("in", {}).get("overall", {}).get("targets", 0)
    lines = [
        "# Source-dataset selection",
        "",
        f"Command: `{command}`  ",
        f"Ground truth: `{truth.get('command', 'fute bench transfer truth')}` (transfer_truth.md).",
        "",
        "ρ: mean rank of the truly best source in the predicted ranking (lower is better). NDCG: over the "
        "whole ranking, relevance = the target's score after transfer from that source, min-max scaled "
        "over the candidates; **linear gain is the headline**, exponential (2^rel - 1) in brackets. "
        f"All-class: the {len(names) - 1} other datasets; in-class: those of the target's class "
        f"({n_in} targets have two or more). random: mean of {judged.get('random', {}).get('draws', 1000)} "
        "seeded orders.",
        *notes,
        "",
        "| method | in-class ρ ↓ | in-class NDCG ↑ | all-class ρ ↓ | all-class NDCG ↑ | Regret@1 ↓ | Regret@3 ↓ |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in judged:
        lines.append(
            f"| {r} | {cell(r, 'in', 'overall', 'rho', '.2f')} {interval(r, 'rho', '.2f', 'in')} | "
            f"{cell(r, 'in', 'overall', 'ndcg')} ({cell(r, 'in', 'overall', 'ndcg_exp')}) "
            f"{interval(r, 'ndcg', scope='in')} | {cell(r, 'all', 'overall', 'rho', '.2f')} "
            f"{interval(r, 'rho', '.2f')} | {cell(r, 'all', 'overall', 'ndcg')} "
            f"({cell(r, 'all', 'overall', 'ndcg_exp')}) {interval(r, 'ndcg')} | "
            f"{cell(r, 'all', 'overall', 'regret1', '.1f')} {interval(r, 'regret1', '.1f')} | "
            f"{cell(r, 'all', 'overall', 'regret3', '.1f')} {interval(r, 'regret3', '.1f')} |"
        )
    paired = paired_by_scope(judged) if paired is None else paired
    if paired["all"]:
        lines += [
            "",
            "Square brackets: a 95% bootstrap interval over targets"
            + (
                " and, within each target, its seeds (nested: the truth's scores re-averaged over a resample of them)"
                if truth.get("seeds")
                else ""
            )
            + " (for exponential-gain NDCG, in the JSON); Regret@k (all-class): the relative loss in % of the best "
            "real score among the top k against the best.",
            "",
            "## Paired tests (per target): FUTE against each other ranker",
            "",
            "Mean difference (FUTE minus the other; ρ lower and NDCG higher is better for FUTE) with its 95% "
            "bootstrap interval over the targets"
            + (" and their seeds (nested; both rankers on the same resample)" if truth.get("seeds") else "")
            + ", and the two-sided p of a paired sign-flip permutation test over the targets; * marks p < 0.05, ** a "
            "p that stays below 0.05 after Holm's correction for the FUTE ranker's comparisons (one family per "
            "ranker, scope and metric).",
            "",
            "| FUTE ranker | against | all-class Δρ | p | ΔNDCG | p | in-class Δρ | p | ΔNDCG | p |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]

        def test(c: dict[str, float] | None, k: str, fmt: str) -> str:
            if c is None:
                return "— | —"
            star = "**" if c[f"{k}_p_holm"] < 0.05 else "*" if c[f"{k}_p"] < 0.05 else ""
            lo, hi = c[f"{k}_diff_ci"]
            return f"{format(c[f'{k}_diff'], fmt)} [{format(lo, fmt)}, {format(hi, fmt)}] | {c[f'{k}_p']:.3f}{star}"

        for f, others in paired["all"].items():
            for o, c in others.items():
                inner = paired["in"].get(f, {}).get(o)
                lines.append(
                    f"| {f} | {o} | {test(c, 'rho', '+.2f')} | {test(c, 'ndcg', '+.3f')} | "
                    f"{test(inner, 'rho', '+.2f')} | {test(inner, 'ndcg', '+.3f')} |"
                )
    lines += [
        "",
        "## All-class, per class of the target (ρ / NDCG)",
        "",
        "| method | "
        + " | ".join(f"{c} ({sum(d['category'] == c for d in truth['datasets'].values())})" for c in classes)
        + " |",
        "|---|" + "---:|" * len(classes),
    ]
    for r in judged:
        lines.append(
            f"| {r} | "
            + " | ".join(f"{cell(r, 'all', c, 'rho', '.2f')} / {cell(r, 'all', c, 'ndcg')}" for c in classes)
            + " |"
        )
    lines += [
        "",
        "## Per target: the best source, and the rank each method gives it (all-class)",
        "",
        *(
            [
                "With seeds: the best mean first, then the sources tied with it (within one SE); a rank is that of the "
                "first of them in the method's order.",
                "",
            ]
            if truth.get("best_tied")
            else []
        ),
        "| target | no transfer | best source | " + " | ".join(judged) + " |",
        "|---|---:|---|" + "---:|" * len(judged),
    ]
    for t in names:
        row = truth["scores"][t]
        best = max(row, key=lambda s: row[s])
        tied = [s for s in sorted(truth.get("best_tied", {}).get(t, []), key=lambda s: -row[s]) if s != best]
        ranks = [judged[r]["per_target"].get(t, {}).get("all_rho") for r in judged]
        lines.append(
            f"| {t} | {truth['baseline'][t]:.3f} | {best} ({row[best]:.3f})"
            + (f"; tied: {', '.join(tied)}" if tied else "")
            + " | "
            + " | ".join("—" if v is None else f"{v:g}" if float(v).is_integer() else f"{v:.2f}" for v in ranks)
            + " |"
        )
    return "\n".join(lines) + "\n"
