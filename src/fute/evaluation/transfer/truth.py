"""The transfer truth (the paper's first experiment): for every source S, fine-tune the task model on S; then for
every target T, fine-tune on T's limited training set from S's backbone (fresh head) and from the untouched base
(the no-transfer baseline), and score T's held-out rows. Each is a job keyed by the hash of everything it reads,
its result a JSON file written atomically under the run folder, so an interrupted run resumes where it stopped and
any executor (in-process, Ray) can run the jobs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from fute.errors import ConfigError, check_at_least
from fute.evaluation.jobs import JobFolder, run_folder, run_jobs
from fute.evaluation.transfer.data import (
    METRIC,
    SCORED,
    Dataset,
    TransferConfig,
    dev_split,
    load_datasets,
    scored_seed,
    scored_texts,
    train_split,
    without,
)
from fute.evaluation.transfer.stats import _mean, _se, tied_best
from fute.hashing import content_hash
from fute.paths import atomic_write
from fute.samples import load_samples


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
    from fute.train import save_classifier, train_task_model

    t0, c0 = time.perf_counter(), time.process_time()
    samples = train_split(dataset, config.source_examples, config.seed, held_out)
    model, tok, losses = train_task_model(
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
    from fute.train import save_classifier, score_answers, score_predictions, train_task_model

    t0, c0 = time.perf_counter(), time.process_time()
    train = train_split(target, config.target_examples, config.seed, held_out)
    dev = dev_split(target, config.dev_examples, scored_seed(config), config.score_split)
    model, tok, losses = train_task_model(
        config.base_path(),
        train,
        config.finetune(config.target_epochs),
        backbone_from=source_model,
        progress=False,
        device=device,
    )
    if train.task == "qa":  # SQuAD F1 is the score; exact match is kept beside it
        answers = score_answers(model, tok, dev, config.max_length, device=device)
        score, extra = answers["f1"], {"exact": answers["exact"]}
    else:
        scorer = HFClassifier(target.name, model=model, tokenizer=tok, max_length=config.max_length, device=device)
        score, extra = score_predictions(scorer, dev), {}
    out: dict[str, Any] = {
        "role": "pair" if source else "baseline",
        "target": target.name,
        "source": source,
        "score": score,
        **extra,
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
    finished_seeds: bool = False,
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
    if finished_seeds:
        keyed = [k for k in keyed if all(folder.get(key) is not None for keys in k[1:] for key in keys.values())]
        if not keyed:
            raise ConfigError(f"{run}: no seed of this run has every job finished yet; run it without --finished-seeds")
        results.update({key: folder.get(key) for k in keyed for keys in k[1:] for key in keys.values()})
        runs = [k[0] for k in keyed]

    def pairs_left(name: str, pair: dict[tuple[str, str], str]) -> bool:
        return any(folder.get(pair[name, b.name]) is None for b in datasets if b.name != name)

    # Seed by seed (the first seed's truth is whole before the second starts): its sources, its baselines, then its
    # pairs. A finished job's model is needed again only where something will read it: a source while its seed's
    # pairs are unfinished, and, with ``models``, the first seed's models (the eval's model-reading rankers); so a
    # run resumed on a new machine retrains no other model, and a finished one none.
    for i, (c, src, base, pair) in enumerate(keyed):
        if (only_seed is not None and c.seed != only_seed) or finished_seeds:
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
    first_src, first_base = keyed[0][1], keyed[0][2]

    def per_seed(get: Callable[[dict[str, str], dict[str, str], dict[tuple[str, str], str]], str]) -> list[float]:
        return [results[get(src, base, pair)]["score"] for _, src, base, pair in keyed]

    scores = {
        b.name: {a.name: per_seed(lambda s_, b_, p_, a=a, b=b: p_[a.name, b.name]) for a in datasets if a != b}
        for b in datasets
    }
    baseline = {d.name: per_seed(lambda s_, b_, p_, d=d: b_[d.name]) for d in datasets}
    record = run_record(
        cfg,
        datasets,
        {d.name: results[first_src[d.name]] for d in datasets},
        {d.name: results[first_base[d.name]] for d in datasets},
    )
    metric = {d.name: results[first_base[d.name]]["metric"] for d in datasets}
    seeds = [c.seed for c in runs]
    truth = assemble_truth(record, metric, seeds, cfg.seeds, scores, baseline, results.values(), command)
    atomic_write(run / "truth.json", lambda tmp: Path(tmp).write_text(json.dumps(truth, indent=1)))
    return truth


def assemble_truth(
    record: dict[str, Any],
    metric: dict[str, str],
    seeds: list[int],
    planned: int,
    scores: dict[str, dict[str, list[float]]],
    baseline: dict[str, list[float]],
    jobs: Any,
    command: str | None,
) -> dict[str, Any]:
    """A truth from its run's record (``run_record``) and every score per seed (``scores[target][source]``, one
    value per seed of ``seeds``): means, and with several seeds planned their standard errors and ties."""
    truth = {
        **record,
        "metric": metric,
        "baseline": {n: _mean(v) for n, v in baseline.items()},
        "scores": {t: {a: _mean(v) for a, v in row.items()} for t, row in scores.items()},
        "seconds": round(sum(r.get("seconds", 0.0) for r in jobs), 1),
        "command": command,
    }
    if planned > 1:
        truth["seeds"] = seeds
        if len(seeds) < planned:
            truth["seeds_planned"] = planned
        truth["scores_by_seed"] = scores
        truth["baseline_by_seed"] = baseline
        truth["scores_se"] = {t: {a: _se(v) for a, v in row.items()} for t, row in scores.items()}
        truth["baseline_se"] = {n: _se(v) for n, v in baseline.items()}
        truth["best_tied"] = {t: tied_best(truth["scores"][t], truth["scores_se"][t]) for t in truth["scores"]}
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


def load_truth(run_dir: str | Path | None = None) -> dict[str, Any]:
    p = run_folder(run_dir, "transfer") / "truth.json"
    if not p.exists():
        raise ConfigError(f"{p}: no transfer ground truth there; run `fute bench transfer truth DATA...` first")
    return json.loads(p.read_text())


def scored_rows(truth: dict[str, Any]) -> str:
    """How many rows each target is scored on: one number, or per part of a truth across runs."""
    parts = truth.get("parts")
    if not parts:
        return str(truth["settings"]["dev_examples"])
    return " or ".join(f"{p['settings']['dev_examples']} ({Path(p['run']).name})" for p in parts)


def truth_markdown(truth: dict[str, Any], command: str) -> str:
    """The score matrix: a row per target, a column per source, the no-transfer baseline first."""
    names = list(truth["datasets"])
    cfg = truth["settings"]
    several = len(truth.get("seeds", [])) > 1  # a standard error and ties need two seeds or more
    model = "the default surrogate (all-MiniLM-L6-v2)" if cfg["model"] == "default" else cfg["model"]
    lines = [
        "# Transfer ground truth",
        "",
        f"Command: `{command}`  ",
        f"Task model: {model} with a fresh head; {cfg['source_examples']} source examples "
        f"({cfg['source_epochs']:g} epochs), {cfg['target_examples']} target examples ({cfg['target_epochs']:g} "
        f"epochs), lr {cfg['learning_rate']:g}, batch {cfg['batch_size']}, {cfg['max_length']} tokens, "
        + (
            f"seeds {', '.join(map(str, truth['seeds']))}"
            + (f" of the {truth['seeds_planned']} planned (the finished ones)" if truth.get("seeds_planned") else "")
            + (" (each score their mean ± standard error)" if several else ": one seed, no standard error yet")
            if truth.get("seeds")
            else f"seed {cfg['seed']}"
        )
        + f"; scored on {scored_rows(truth)} {SCORED.get(cfg.get('score_split', 'dev'))} examples (accuracy; "
        "Pearson r for regression; SQuAD F1 for QA). "
        + (
            "Sources of every class (all-class): the in-class pairs and baselines are the named runs' own, and a "
            "pair across them trains and scores its target as the target's run does. "
            if truth.get("parts")
            else ""
        )
        + f"Compute: {truth['seconds'] / 60:.1f} min of jobs.",
        "",
        "Rows: targets; columns: the source of intermediate training; **bold**: the best source"
        + (", and every source within one standard error of it (tied)." if several else "."),
        "",
        "| target (class) | metric | none | " + " | ".join(names) + " |",
        "|---|---|---:|" + "---:|" * len(names),
    ]
    for t in names:
        row, se = truth["scores"][t], truth.get("scores_se", {}).get(t, {}) if several else {}
        best = set(truth["best_tied"][t]) if truth.get("best_tied") else {s for s in row if row[s] == max(row.values())}
        value = {s: f"{row[s]:.3f}" + (f" ± {se[s]:.3f}" if s in se else "") for s in row}
        cells = ["—" if s == t else (f"**{value[s]}**" if s in best else value[s]) for s in names]
        lines.append(
            f"| {t} ({truth['datasets'][t]['category']}) | {truth['metric'][t]} | "
            f"{truth['baseline'][t]:.3f} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


# --- evaluation ----------------------------------------------------------------------------------------
