"""The all-class truth (the paper's all-class columns): two or more finished in-class runs (a CR run, a QA run), each
a part, joined by the pairs that cross them: every source of one part transferred to every target of another.

Each part keeps its own settings (a QA run may score fewer rows) and its own jobs: a crossing pair reads the source
model its part trained (retrained where it is not on this machine, under the part's own job key) and trains and
scores the target exactly as the target's part does (its rows, its leak guard, its scored rows), so it sits in the
target's row of scores beside the in-class pairs. The one thing a crossing pair adds is checked, not assumed: no
source trains on a row that a target of another part is scored on."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from fute.errors import ConfigError, check_at_least
from fute.evaluation.jobs import JobFolder, run_folder, run_jobs
from fute.evaluation.transfer.data import (
    Dataset,
    TransferConfig,
    load_datasets,
    row_texts,
    scored_texts,
    train_split,
    truth_config,
)
from fute.evaluation.transfer.truth import (
    _key,
    assemble_truth,
    job_keys,
    load_truth,
    run_record,
    seed_configs,
    source_job,
    target_job,
)
from fute.paths import atomic_write


@dataclass
class Part:
    """One in-class run: its folder, config, datasets, leak guard and the job keys of each of its seeds."""

    run: Path
    config: TransferConfig
    datasets: list[Dataset]
    held_out: frozenset[str]
    keyed: list[tuple[TransferConfig, dict[str, str], dict[str, str], dict[tuple[str, str], str]]]

    @property
    def folder(self) -> JobFolder:
        return JobFolder(self.run)


def load_part(run_dir: str | Path) -> Part:
    """A finished in-class run, read from its ``truth.json``; its datasets must be the ones it was run on."""
    truth = load_truth(run_dir)
    cfg = replace(truth_config(truth), seeds=int(truth["settings"]["seeds"]))
    datasets = load_datasets([d["path"] for d in truth["datasets"].values()])
    changed = [d.name for d in datasets if d.fingerprint != truth["datasets"][d.name]["fingerprint"]]
    if changed:
        raise ConfigError(f"{run_dir}: {', '.join(changed)} changed since this run; rerun its truth first")
    held_out = scored_texts(datasets, cfg)
    return Part(
        Path(run_dir), cfg, datasets, held_out, [(c, *job_keys(datasets, c, held_out)) for c in seed_configs(cfg)]
    )


def part_job(part: Part, folder: JobFolder, key: str) -> dict[str, Any] | None:
    """A part's finished job: the part's own record where its model (if it has one) is on this machine, else the
    one retrained in the all-class run's ``folder`` under the same key, else the part's record (its model gone)."""
    found = part.folder.get(key)
    if found is not None and ("model_dir" not in found or Path(found["model_dir"]).is_dir()):
        return found
    return folder.get(key) or found


def has_model(job: dict[str, Any] | None) -> bool:
    return job is not None and Path(job["model_dir"]).is_dir()


def crossing_key(source_key: str, baseline_key: str) -> str:
    """A crossing pair's key: its source job's (in the source's part) and its target's baseline job's (in the
    target's part: the target's rows, settings and leak guard), so it moves with either."""
    return _key(["pair", source_key, baseline_key])


def check_no_leak(parts: Sequence[Part], seeds: int) -> int:
    """Raise where a source would train on a row a target of another part is scored on; else the number of source
    training rows checked (every seed's draw)."""
    checked = 0
    for a in parts:
        others = frozenset().union(*(b.held_out for b in parts if b is not a))
        for c, *_ in a.keyed[:seeds]:
            for d in a.datasets:
                rows = row_texts(train_split(d, c.source_examples, c.seed, a.held_out))
                shared = sum(t in others for t in rows)
                if shared:
                    raise ConfigError(
                        f"{d.name} (of {a.run}) would train on {shared} row(s) that a target of another part is "
                        "scored on; join runs whose scored rows no source of the other runs holds"
                    )
                checked += len(rows)
    return checked


def run_across(
    run_dirs: Sequence[str | Path],
    *,
    run_dir: str | Path | None = None,
    seeds: int | None = None,
    executor: Any = "local",
    progress: bool = True,
    echo: Callable[[str], None] = print,
    command: str | None = None,
    device: str = "auto",
    models: bool = False,
) -> dict[str, Any]:
    """Run every crossing pair of the parts' first ``seeds`` seeds (default: all the parts have), skipping finished
    ones, and write ``run_dir/truth.json``: the all-class truth, every dataset a target of every other.
    ``models``: also retrain the first seed's missing source and baseline models, which the eval's model-reading
    rankers read."""
    from fute.execute import get_executor

    if len(run_dirs) < 2:
        raise ConfigError("an all-class truth needs two finished runs or more (e.g. a CR run and a QA run)")
    parts = [load_part(d) for d in run_dirs]
    names = [d.name for p in parts for d in p.datasets]
    if len(set(names)) != len(names):
        raise ConfigError(
            f"a dataset is in two of the runs ({', '.join(sorted({n for n in names if names.count(n) > 1}))})"
        )
    planned = {tuple(c.seed for c, *_ in p.keyed) for p in parts}
    if len(planned) != 1:
        raise ConfigError("the runs have different seeds; join runs of the same seeds")
    n = len(next(iter(planned))) if seeds is None else seeds
    check_at_least("seeds", n, 1)
    if n > len(next(iter(planned))):
        raise ConfigError(f"--seeds {n}: the runs have {len(next(iter(planned)))} seed(s)")
    run = run_folder(run_dir, "transfer-across")
    folder = JobFolder(run)
    ex = get_executor(executor)
    checked = check_no_leak(parts, n)
    results: dict[str, dict[str, Any]] = {}

    def model_of(part: Part, key: str, spec: tuple[str, Callable[..., Any], dict[str, Any], str]) -> dict[str, Any]:
        """A part's job whose model is needed: the one whose model is here, else retrained here."""
        done = part_job(part, folder, key)
        if has_model(done):
            return done
        return run_jobs([spec], folder, ex, progress=progress, echo=echo, valid=has_model)[key]

    def common(part: Part, c: TransferConfig) -> dict[str, Any]:
        return {"config": c, "run_dir": str(run), "held_out": part.held_out, "device": device}

    for i in range(n):
        tag = f" seed {parts[0].keyed[i][0].seed}"
        unfinished = [x for x in crossings(parts, i) if folder.get(x.key) is None]
        # a part whose source models are all here first: its pairs need no retraining
        for a in sorted(
            parts, key=lambda p: sum(not has_model(part_job(p, folder, k)) for k in p.keyed[i][1].values())
        ):
            c, src, base, _ = a.keyed[i]
            left = [x for x in unfinished if x.source_key in src.values()]
            for d in a.datasets:
                if any(x.source == d.name for x in left) or (i == 0 and models):
                    spec = (src[d.name], source_job, {"dataset": d, **common(a, c)}, f"source {d.name}{tag}")
                    results[src[d.name]] = model_of(a, src[d.name], spec)
                if i == 0 and models:
                    spec = (base[d.name], target_job, {"target": d, **common(a, c)}, f"baseline {d.name}{tag}")
                    results[base[d.name]] = model_of(a, base[d.name], spec)
            specs = [
                (
                    x.key,
                    target_job,
                    {
                        "target": x.target_dataset,
                        "source": x.source,
                        "source_model": results[x.source_key]["model_dir"],
                        **common(x.target_part, x.target_part.keyed[i][0]),
                    },
                    f"{x.source} -> {x.target_dataset.name}{tag}",
                )
                for x in left
            ]
            if specs:
                results.update(run_jobs(specs, folder, ex, progress=progress, echo=echo))
    seed_store(parts, run / "store")
    return assemble_across(parts, run, n, checked, command)


def seed_store(parts: Sequence[Part], store: Path) -> None:
    """Copy the vectors the parts' evals kept (``RUN/store``) into ``store``, the eval's cache of this run: a vector
    made from the same rows the same way has the same job key, so the eval reads it instead of computing it again
    (one whose rows differ here, as a source model's U without the other part's texts, is computed anew and takes
    the slot)."""
    from fute.store import open_store

    out = None
    for part in parts:
        if not (part.run / "store").is_dir():
            continue
        src = open_store(part.run / "store")
        out = out or open_store(store)
        # an empty slot only: a vector the eval made here is never replaced
        new = [v for v in src.vectors() if not out.vectors(v.space_id, name=v.name, kind=v.kind)]
        out.put_many(new)


@dataclass(frozen=True)
class Crossing:
    """A pair whose source and target are of different parts, in one seed."""

    source: str
    source_key: str  # the source job's key in its part
    target_part: Part
    target_dataset: Dataset
    key: str


def crossings(parts: Sequence[Part], i: int) -> list[Crossing]:
    """Seed ``i``'s crossing pairs: every source of a part to every target of every other part."""
    return [
        Crossing(s.name, a.keyed[i][1][s.name], b, t, crossing_key(a.keyed[i][1][s.name], b.keyed[i][2][t.name]))
        for a in parts
        for b in parts
        if b is not a
        for s in a.datasets
        for t in b.datasets
    ]


def assemble_across(parts: Sequence[Part], run: Path, n: int, checked: int, command: str | None) -> dict[str, Any]:
    """The all-class truth of the parts' first ``n`` seeds: in-class pairs and baselines from the parts' folders,
    crossing pairs from ``run``'s; first-seed models where they are here (the part's, else retrained in ``run``)."""
    folder = JobFolder(run)

    def job(part: Part, key: str) -> dict[str, Any]:
        return part_job(part, folder, key) or _missing(part.run, key)

    crossing = {(x.source, x.target_dataset.name, i): x.key for i in range(n) for x in crossings(parts, i)}

    def score(b: Part, s: str, t: str, i: int) -> float:
        if (s, t, i) in crossing:
            return (folder.get(crossing[s, t, i]) or _missing(run, crossing[s, t, i]))["score"]
        return job(b, b.keyed[i][3][s, t])["score"]

    names = [d.name for p in parts for d in p.datasets]
    scores = {t.name: {s: [score(b, s, t.name, i) for i in range(n)] for s in names if s != t.name}
              for b in parts for t in b.datasets}  # fmt: skip
    baseline = {t.name: [job(b, b.keyed[i][2][t.name])["score"] for i in range(n)] for b in parts for t in b.datasets}
    sources = {d.name: job(p, p.keyed[0][1][d.name]) for p in parts for d in p.datasets}
    baselines = {d.name: job(p, p.keyed[0][2][d.name]) for p in parts for d in p.datasets}
    record = run_record(replace(parts[0].config, seeds=n), [d for p in parts for d in p.datasets], sources, baselines)
    record["parts"] = [
        {"run": str(p.run), "settings": asdict(replace(p.config, seeds=n)), "datasets": [d.name for d in p.datasets]}
        for p in parts
    ]
    record["crossing_rows_checked"] = checked
    jobs = [job(p, k) for p in parts for _, *keys in p.keyed[:n] for ks in keys for k in ks.values()]
    jobs += [folder.get(k) for k in crossing.values()]
    metric = {name: j["metric"] for name, j in baselines.items()}
    seeds = [c.seed for c, *_ in parts[0].keyed[:n]]
    truth = assemble_truth(record, metric, seeds, n, scores, baseline, jobs, command)
    atomic_write(run / "truth.json", lambda tmp: Path(tmp).write_text(json.dumps(truth, indent=1)))
    return truth


def _missing(run: Path, key: str) -> dict[str, Any]:
    raise ConfigError(f"{run}: job {key} is not finished; run that truth (or this command) to the end")
