from __future__ import annotations

from pathlib import Path

import pytest

from fute.errors import FuteError
from fute.evaluation.jobs import JobFolder, run_jobs
from fute.execute import get_executor

CALLS: list[str] = []


def work(name: str, folder: str | None = None, other: str | None = None) -> dict:
    """A job; with ``folder``/``other`` it also saves job ``other``'s result, as a second process would."""
    CALLS.append(name)
    if folder and other:
        JobFolder(folder).put(other, {"value": f"{other} by the other process"})
    return {"value": name}


def test_a_job_another_process_finished_meanwhile_is_not_run_again(tmp_path):
    CALLS.clear()
    folder = JobFolder(tmp_path)
    specs = [
        ("a", work, {"name": "a", "folder": str(tmp_path), "other": "b"}, "job a"),
        ("b", work, {"name": "b"}, "job b"),
        ("c", work, {"name": "c"}, "job c"),
    ]
    results = run_jobs(specs, folder, get_executor("local"), progress=False, echo=lambda _: None)
    assert CALLS == ["a", "c"]  # b was saved by "another process" while a ran
    assert results["b"] == {"value": "b by the other process"} == folder.get("b")
    assert results["a"] == folder.get("a") == {"value": "a"}
    CALLS.clear()
    again = run_jobs(specs, folder, get_executor("local"), progress=False, echo=lambda _: None)
    assert CALLS == [] and again == results  # a rerun runs nothing


def test_a_rejected_result_is_run_again(tmp_path):
    CALLS.clear()
    folder = JobFolder(tmp_path)
    folder.put("a", {"value": "stale"})
    specs = [("a", work, {"name": "a"}, "job a")]
    results = run_jobs(specs, folder, get_executor("local"), progress=False, valid=lambda r: r["value"] != "stale")
    assert CALLS == ["a"] and results["a"] == {"value": "a"} == folder.get("a")


def boom() -> dict:
    raise FuteError("broken input")


def test_a_failed_job_keeps_the_others(tmp_path):
    folder = JobFolder(tmp_path)
    specs = [("x", boom, {}, "job x"), ("y", work, {"name": "y"}, "job y")]
    with pytest.raises(FuteError, match="1 job\\(s\\) failed"):
        run_jobs(specs, folder, get_executor("local"), progress=False, echo=lambda _: None)
    assert folder.get("y") == {"value": "y"} and folder.get("x") is None


def named_like_the_wrapper(run_dir: str, key: str, fn: str, valid: str) -> dict:
    return {"value": [run_dir, key, fn, valid]}


def test_a_job_may_take_arguments_named_like_the_runners_own(tmp_path):
    kwargs = {"run_dir": "elsewhere", "key": "k", "fn": "f", "valid": "v"}
    results = run_jobs(
        [("j", named_like_the_wrapper, kwargs, "job j")], JobFolder(tmp_path), get_executor("local"), progress=False
    )
    assert results["j"] == {"value": ["elsewhere", "k", "f", "v"]}


def claim_as(folder: JobFolder, key: str, pid: int, host: str | None = None, start: str | None = None) -> None:
    """A claim file as another process (``pid``, started at ``start``, on ``host``) writes it."""
    import json
    import socket

    folder.dir.mkdir(parents=True, exist_ok=True)
    holder = {"host": host or socket.gethostname(), "pid": pid, "start": start}
    (folder.dir / f"{key}.claim").write_text(json.dumps(holder))


def dead_pid() -> int:
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_job_another_live_process_holds_is_waited_for_after_the_rest(tmp_path, monkeypatch):
    """The claim of a live process on this machine: this process runs the next job first, then takes the other's
    result once saved, without running it; every claim is released once its result is saved."""
    import os
    import threading

    import fute.evaluation.jobs as jobs

    monkeypatch.setattr(jobs, "CLAIM_POLL_S", 0.01)
    CALLS.clear()
    folder = JobFolder(tmp_path)
    claim_as(folder, "a", os.getppid())  # the test runner's parent: alive, not this process
    assert folder.claimed("a") and not folder.claim("a")

    def the_other_process_finishes() -> None:
        while "b" not in CALLS:
            threading.Event().wait(0.01)
        folder.put("a", {"value": "a by the other process"})
        folder.release("a")

    other = threading.Thread(target=the_other_process_finishes)
    other.start()
    specs = [(k, work, {"name": k}, f"job {k}") for k in ("a", "b")]
    messages: list[str] = []
    results = run_jobs(specs, folder, get_executor("local"), progress=False, echo=messages.append)
    other.join()
    assert CALLS == ["b"] and results["a"] == {"value": "a by the other process"}
    assert "waiting for 1 job(s) that another process is running" in messages
    assert not list(folder.dir.glob("*.claim"))


def test_an_abandoned_claim_is_taken_over(tmp_path, monkeypatch):
    """A claim whose process died on this machine, or one from another machine older than FOREIGN_CLAIM_S, does not
    stop the job; a young claim from another machine does."""
    import os
    import time

    CALLS.clear()
    folder = JobFolder(tmp_path)
    claim_as(folder, "a", dead_pid())
    claim_as(folder, "b", 1, host="another-machine")
    old = time.time() - 13 * 3600
    os.utime(folder.dir / "b.claim", (old, old))
    claim_as(folder, "c", 1, host="another-machine")
    assert not folder.claimed("a") and not folder.claimed("b") and folder.claimed("c")
    parent = os.getppid()
    if Path(f"/proc/{parent}/stat").exists():  # where start times are known, a reused pid is not its old holder
        from fute.evaluation.jobs import _started

        claim_as(folder, "d", parent, start=_started(parent))
        claim_as(folder, "e", parent, start="1")
        assert folder.claimed("d") and not folder.claimed("e")
    specs = [(k, work, {"name": k}, f"job {k}") for k in ("a", "b")]
    run_jobs(specs, folder, get_executor("local"), progress=False, echo=lambda _: None)
    assert CALLS == ["a", "b"] and not (folder.dir / "a.claim").exists()


WORKER = """
import os, sys, time
from fute.evaluation.jobs import JobFolder, run_jobs
from fute.execute import get_executor

def job(i, log):
    with open(log, "a") as f:
        f.write(f"{os.getpid()} {i}\\n")
    time.sleep(0.3)
    return {"i": i}

run_dir, log = sys.argv[1], sys.argv[2]
open(f"{log}.ready.{os.getpid()}", "w").close()
while not os.path.exists(f"{log}.go"):  # both start together, whatever their import times
    time.sleep(0.01)
specs = [(f"j{i}", job, {"i": i, "log": log}, f"job {i}") for i in range(6)]
out = run_jobs(specs, JobFolder(run_dir), get_executor("local"), progress=False, echo=lambda _: None)
assert sorted(out) == [f"j{i}" for i in range(6)], out
"""


def test_two_processes_on_the_same_jobs_run_each_job_once(tmp_path):
    """Two processes started together on one list and one folder: between them every job runs exactly once (each
    takes the jobs the other has not claimed), and both end with all the results."""
    import subprocess
    import sys
    import time

    log = tmp_path / "log"
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path / "run"), str(log)], stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    deadline = time.time() + 120
    while len(list(tmp_path.glob("log.ready.*"))) < 2 and time.time() < deadline:
        time.sleep(0.01)
    (tmp_path / "log.go").touch()
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read().decode()
    runs = [line.split() for line in log.read_text().splitlines()]
    assert sorted(int(i) for _, i in runs) == list(range(6))
    assert len({pid for pid, _ in runs}) == 2  # both worked
