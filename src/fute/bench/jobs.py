"""Benchmark jobs whose results are small JSON records: one file per finished job, so runs resume."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fute.errors import FuteError
from fute.paths import atomic_write, fute_home


def run_folder(run_dir: str | Path | None, bench: str) -> Path:
    """A benchmark's run folder: ``run_dir`` (``~`` expanded), else ``$FUTE_HOME/bench/BENCH``."""
    return Path(run_dir or fute_home() / "bench" / bench).expanduser()


class JobFolder:
    """One JSON file per finished job under ``run_dir/jobs``, written atomically."""

    def __init__(self, run_dir: str | Path) -> None:
        self.dir = Path(run_dir) / "jobs"

    def get(self, key: str) -> dict[str, Any] | None:
        p = self.dir / f"{key}.json"
        return json.loads(p.read_text()) if p.exists() else None

    def put(self, key: str, result: dict[str, Any]) -> None:
        atomic_write(self.dir / f"{key}.json", lambda tmp: Path(tmp).write_text(json.dumps(result)))


def write_results(
    folder: str | Path, stem: str, record: dict[str, Any], markdown: str | None = None, *, indent: int | None = 1
) -> None:
    """A benchmark's results: ``STEM.json`` (the record, which names the command that made it) and ``STEM.md``
    (the readable table), each written atomically into ``folder``."""
    out = Path(folder)
    atomic_write(out / f"{stem}.json", lambda tmp: Path(tmp).write_text(json.dumps(record, indent=indent)))
    if markdown is not None:
        atomic_write(out / f"{stem}.md", lambda tmp: Path(tmp).write_text(markdown))


def run_jobs(
    specs: Sequence[tuple[str, Callable[..., Any], dict[str, Any], str]],
    folder: JobFolder,
    executor: Any,
    *,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    valid: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run the ``(key, fn, kwargs, label)`` jobs not finished yet through ``executor``; each result is
    saved the moment it arrives. A saved result that ``valid`` rejects counts as not finished. Returns
    every job's result by key; raises after the others finish if any failed."""
    from fute.execute import Job

    results: dict[str, dict[str, Any]] = {}
    todo = []
    for key, fn, kwargs, label in specs:
        done = folder.get(key)
        if done is not None and (valid is None or valid(done)):
            results[key] = done
        else:  # looked up again when its turn comes: another process on the same folder may have done it since
            again = functools.partial(_unless_done, str(folder.dir.parent), key, valid, fn)
            todo.append(Job(key, again, kwargs, label))
    if todo:
        echo(f"{len(todo)} job(s) to run, {len(specs) - len(todo)} already done")

    def keep(job: Job, result: dict[str, Any]) -> None:
        if folder.get(job.key) != result:  # a result another process saved is not written again
            folder.put(job.key, result)
        results[job.key] = result

    failures = executor.run(todo, keep, progress=progress)
    if failures:
        lines = "; ".join(f"{f.job.label}: {f.error}" for f in failures)
        raise FuteError(
            f"{len(failures)} job(s) failed ({lines}); finished jobs are kept in {folder.dir}, "
            "and a rerun runs only the rest"
        )
    return results


def _unless_done(
    run_dir: str, key: str, valid: Callable[[dict[str, Any]], bool] | None, fn: Callable[..., Any], /, **kwargs: Any
) -> Any:
    """``fn(**kwargs)``, unless the job's result was saved in ``run_dir`` after the list of jobs to run was made
    (two processes sharing one run folder, e.g. one per dataset, then never repeat each other's work). The
    parameters are positional-only, so a job's own ``run_dir`` or ``key`` argument passes through."""
    done = JobFolder(run_dir).get(key)
    return done if done is not None and (valid is None or valid(done)) else fn(**kwargs)
