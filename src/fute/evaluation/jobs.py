"""Benchmark jobs whose results are small JSON records: one file per finished job, so runs resume."""

from __future__ import annotations

import functools
import json
import os
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fute.errors import FuteError
from fute.paths import atomic_write, fute_home


def run_folder(run_dir: str | Path | None, bench: str) -> Path:
    """A benchmark's run folder: ``run_dir`` (``~`` expanded), else ``$FUTE_HOME/bench/BENCH``."""
    return Path(run_dir or fute_home() / "bench" / bench).expanduser()


# a claim by a process on another machine (a shared folder) is taken as abandoned once this old: its process
# cannot be asked whether it still runs
FOREIGN_CLAIM_S = 12 * 3600.0
CLAIM_POLL_S = 5.0  # how often a process waiting for another's job looks again


class JobFolder:
    """One JSON file per finished job under ``run_dir/jobs``, written atomically; a job in progress holds a claim
    (``KEY.claim``: host, process id and its start time), so that processes sharing the folder each take other
    jobs."""

    def __init__(self, run_dir: str | Path) -> None:
        self.dir = Path(run_dir) / "jobs"

    def get(self, key: str) -> dict[str, Any] | None:
        p = self.dir / f"{key}.json"
        return json.loads(p.read_text()) if p.exists() else None

    def put(self, key: str, result: dict[str, Any]) -> None:
        atomic_write(self.dir / f"{key}.json", lambda tmp: Path(tmp).write_text(json.dumps(result)))

    def claim(self, key: str) -> bool:
        """Mark ``key`` as in progress in this process (created exclusively, so two processes never both get it);
        False while another live process holds it. A claim whose process is gone is taken over."""
        p = self.dir / f"{key}.claim"
        self.dir.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if self.claimed(key):
                    return False
                p.unlink(missing_ok=True)  # abandoned: its process died without releasing it
                continue
            with os.fdopen(fd, "w") as f:
                json.dump({"host": socket.gethostname(), "pid": os.getpid(), "start": _started(os.getpid())}, f)
            return True
        return False

    def claimed(self, key: str) -> bool:
        """Whether another process holds ``key``'s claim and may still run it: on this machine, while that process
        lives; on another (a shared folder), until the claim is ``FOREIGN_CLAIM_S`` old."""
        p = self.dir / f"{key}.claim"
        try:
            holder, age = json.loads(p.read_text() or "{}"), time.time() - p.stat().st_mtime
        except FileNotFoundError:
            return False
        except json.JSONDecodeError:
            return True  # being written this instant
        if holder.get("host") != socket.gethostname():
            return age < FOREIGN_CLAIM_S
        pid = int(holder.get("pid", 0))
        if pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)  # signal 0: is it alive (PermissionError: yes, another user's)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        started = holder.get("start")  # a live process with another start time took over a dead one's pid
        return started is None or _started(pid) in (None, started)

    def release(self, key: str) -> None:
        (self.dir / f"{key}.claim").unlink(missing_ok=True)


def _started(pid: int) -> str | None:
    """When process ``pid`` started, in clock ticks since boot (Linux's /proc); None where that is not known."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


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
    run_dir = str(folder.dir.parent)
    original = {}
    for key, fn, kwargs, label in specs:
        done = folder.get(key)
        if done is not None and (valid is None or valid(done)):
            results[key] = done
        else:  # looked up again when its turn comes: another process on the same folder may have done it since
            todo.append(Job(key, functools.partial(_unless_done, run_dir, key, valid, fn), kwargs, label))
            original[key] = fn
    if todo:
        echo(f"{len(todo)} job(s) to run, {len(specs) - len(todo)} already done")
    busy: list[Job] = []

    def keep(job: Job, result: dict[str, Any] | _Busy) -> None:
        if isinstance(result, _Busy):  # another process is running it: wait for it after the rest
            busy.append(job)
            return
        if folder.get(job.key) != result:  # a result another process saved is not written again
            folder.put(job.key, result)
        folder.release(job.key)
        results[job.key] = result

    failures = executor.run(todo, keep, progress=progress)
    if busy:
        echo(f"waiting for {len(busy)} job(s) that another process is running")
        waits = [
            Job(j.key, functools.partial(_after_others, run_dir, j.key, valid, original[j.key]), j.kwargs, j.label)
            for j in busy
        ]
        failures += executor.run(waits, keep, progress=progress)
    for f in failures:  # a worker that died holding a claim
        folder.release(f.job.key)
    if failures:
        lines = "; ".join(f"{f.job.label}: {f.error}" for f in failures)
        raise FuteError(
            f"{len(failures)} job(s) failed ({lines}); finished jobs are kept in {folder.dir}, "
            "and a rerun runs only the rest"
        )
    return results


class _Busy:
    """What a job returns when another process holds its claim (``JobFolder.claim``)."""


def _finished(folder: JobFolder, key: str, valid: Callable[[dict[str, Any]], bool] | None) -> dict[str, Any] | None:
    done = folder.get(key)
    return done if done is not None and (valid is None or valid(done)) else None


def _claimed(
    folder: JobFolder, key: str, valid: Callable[[dict[str, Any]], bool] | None, fn: Callable[..., Any], kwargs: Any
) -> Any:
    """``fn(**kwargs)`` under the job's claim; ``_Busy`` if another process holds it, and the saved result if one
    appeared between the last look and the claim. The driver releases the claim once the result is saved (a worker
    that released it on returning would leave a moment with neither, when another process could start the job)."""
    if not folder.claim(key):
        return _Busy()
    try:
        done = _finished(folder, key, valid)
        return done if done is not None else fn(**kwargs)
    except BaseException:
        folder.release(key)
        raise


def _unless_done(
    run_dir: str, key: str, valid: Callable[[dict[str, Any]], bool] | None, fn: Callable[..., Any], /, **kwargs: Any
) -> Any:
    """``fn(**kwargs)``, unless the job's result was saved in ``run_dir`` after the list of jobs to run was made, or
    another process holds its claim (then ``_Busy``: this process takes the next job, and waits for that one at
    the end). So processes sharing one run folder (one per dataset, or two on the same list) never repeat each
    other's work. The parameters are positional-only, so a job's own ``run_dir`` or ``key`` argument passes
    through."""
    folder = JobFolder(run_dir)
    done = _finished(folder, key, valid)
    return done if done is not None else _claimed(folder, key, valid, fn, kwargs)


def _after_others(
    run_dir: str, key: str, valid: Callable[[dict[str, Any]], bool] | None, fn: Callable[..., Any], /, **kwargs: Any
) -> Any:
    """A job another process was running: its result once saved; run here if that process stopped without one."""
    folder = JobFolder(run_dir)
    while (done := _finished(folder, key, valid)) is None:
        if not isinstance(out := _claimed(folder, key, valid, fn, kwargs), _Busy):
            return out
        time.sleep(CLAIM_POLL_S)
    return done
