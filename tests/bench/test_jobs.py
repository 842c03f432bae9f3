from __future__ import annotations

import pytest

from fute.bench.jobs import JobFolder, run_jobs
from fute.errors import FuteError
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
