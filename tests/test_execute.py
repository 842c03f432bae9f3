"""Executors: embedding jobs keyed by content, skipped when stored, the driver as the only writer; Ray
runs the same jobs on a local 2-CPU cluster and survives a worker killed mid-job."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from fute.errors import ConfigError, FuteError
from fute.execute import EmbedSpec, Job, LocalExecutor, RayExecutor, embed_many, get_executor, run_embed_spec
from fute.store import LocalStore
from tests.conftest import make_classification, write_jsonl


def toy_dataset(folder: Path, name: str, seed: int, flip: bool = False) -> str:
    s = make_classification(16, seed=seed, flip=flip)
    rows = [{"text": t, "label": s.label_names[i]} for t, i in zip(s.texts, s.targets.argmax(1), strict=True)]
    return str(write_jsonl(folder / f"{name}.jsonl", rows))


@pytest.fixture
def specs(tmp_path, tiny_paths):
    opts = (("max_epochs", 1), ("max_examples", 16))
    return [
        EmbedSpec(
            f"d{i}",
            data=toy_dataset(tmp_path, f"d{i}", i, flip=i % 2 == 1),
            surrogate=str(tiny_paths["encoder"]),
            max_length=32,
            method_options=opts,
        )
        for i in range(3)
    ]


class CountingExecutor(LocalExecutor):
    def __init__(self) -> None:
        self.ran: list[str] = []

    def run(self, jobs, on_result, *, progress=True):
        self.ran += [j.label for j in jobs]
        return super().run(jobs, on_result, progress=progress)


def test_local_jobs_are_stored_and_skipped_on_rerun(tmp_path, specs):
    ex = CountingExecutor()
    first = embed_many(specs, store=tmp_path / "st", executor=ex, progress=False)
    assert [v.name for v in first] == ["d0", "d1", "d2"] and ex.ran == ["d0", "d1", "d2"]
    assert {v.name for v in LocalStore(tmp_path / "st").vectors()} == {"d0", "d1", "d2"}
    again = embed_many(specs, store=tmp_path / "st", executor=ex, progress=False)
    assert ex.ran == ["d0", "d1", "d2"]  # nothing recomputed
    assert all(np.array_equal(a.vector, b.vector) for a, b in zip(first, again, strict=True))
    Path(specs[1].data).write_text(Path(toy_dataset(tmp_path, "new", 7)).read_text())  # new rows: a new job
    with pytest.raises(FuteError, match="'d1' .* already stored .* --overwrite"):  # never replaced unasked
        embed_many(specs, store=tmp_path / "st", executor=ex, progress=False)
    assert ex.ran == ["d0", "d1", "d2"]
    embed_many(specs, store=tmp_path / "st", executor=ex, progress=False, overwrite=True)
    assert ex.ran[3:] == ["d1"]
    Path(specs[2].data).write_text(Path(specs[0].data).read_text())  # d0's rows: d0's vector, no job
    third = embed_many(specs, store=tmp_path / "st", executor=ex, progress=False, overwrite=True)
    assert ex.ran[4:] == [] and np.array_equal(third[2].vector, first[0].vector)


def test_one_key_for_the_api_and_the_cli(tmp_path, specs):
    """A vector made by either door is a cache hit for the other, under any name and from any copy of the file."""
    from fute.embed import embed_dataset

    kw = {"surrogate": specs[0].surrogate, "max_length": 32, "store": tmp_path / "st", "progress": False}
    opts = dict(specs[0].method_options)
    api = embed_dataset(specs[0].data, "by-api", **kw, **opts)
    ex = CountingExecutor()
    copy = tmp_path / "copy-of-d0.jsonl"
    copy.write_text(Path(specs[0].data).read_text())  # another file, name and modification time; same rows
    spec = EmbedSpec(
        "by-cli", data=str(copy), surrogate=specs[0].surrogate, max_length=32, method_options=specs[0].method_options
    )
    (cli,) = embed_many([spec], store=tmp_path / "st", executor=ex, progress=False)
    assert ex.ran == [] and np.array_equal(cli.vector, api.vector) and cli.card.key == api.card.key
    (made,) = embed_many([specs[1]], store=tmp_path / "st", executor=ex, progress=False)
    assert ex.ran == ["d1"]
    again = embed_dataset(specs[1].data, "d1-again", **kw, **opts)
    assert np.array_equal(again.vector, made.vector) and again.card.copied_from == "d1"


def test_long_work_says_what_and_how_long_then_refines_it(tmp_path, specs, monkeypatch):
    """Work expected to take over a minute gets one line first (from this machine's measured speed, a prior
    until it has one), then the time left after each vector; each finished vector refines the speed."""
    import json

    import fute.execute

    monkeypatch.setenv("FUTE_HOME", str(tmp_path / "home"))
    monkeypatch.setitem(fute.execute.PRIOR_SECONDS_PER_ROW, "fisher", 10.0)  # 16 rows: 160 s a vector
    said: list[str] = []
    embed_many(specs[:2], store=tmp_path / "st", progress=False, say=said.append)
    assert said[0].startswith("2 vector(s) to compute, about 5 min on this machine") and "Ctrl-C" in said[0]
    assert len(said) == 2 and said[1].startswith("  1 to go, about")
    measured = json.loads((tmp_path / "home" / "speed.json").read_text())["fisher"]
    assert 0 < measured < 10.0  # the tiny model is far faster than the prior
    said.clear()
    embed_many(specs[2:], store=tmp_path / "st", progress=False, say=said.append)
    assert said == []  # now known to take seconds: nothing to announce


def test_a_failed_job_loses_nothing_else(tmp_path, specs):
    bad = EmbedSpec("broken", data=str(tmp_path / "missing.jsonl"), surrogate=specs[0].surrogate, max_length=32)
    with pytest.raises(FuteError, match=r"1 of 4 jobs failed \(broken: .*missing.jsonl"):
        embed_many([*specs, bad], store=tmp_path / "st", progress=False)
    assert {v.name for v in LocalStore(tmp_path / "st").vectors()} == {"d0", "d1", "d2"}
    with pytest.raises(FuteError, match="missing.jsonl"):  # one job: its own one-line error
        embed_many([bad], store=tmp_path / "st", progress=False)


def test_bad_requests_fail_before_any_job(tmp_path, specs):
    with pytest.raises(ConfigError, match="unknown executor 'spark'"):
        get_executor("spark")
    with pytest.raises(ConfigError, match="same vector"):
        embed_many([specs[0], specs[0]], store=tmp_path / "st", progress=False)
    with pytest.raises(ConfigError, match="method"):
        embed_many([EmbedSpec("x", data=specs[0].data, method="nope")], store=tmp_path / "st", progress=False)


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import tests/
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_runs_the_same_jobs_to_the_same_vectors(tmp_path, specs, ray_cluster):
    local = embed_many(specs, store=tmp_path / "local", progress=False)
    remote = embed_many(specs, store=tmp_path / "ray", executor=RayExecutor(), progress=False)
    for a, b in zip(local, remote, strict=True):
        # the same job in another process: the same key, and the same vector up to float summation order (a Ray
        # worker of 1 CPU runs torch on 1 thread; at 2 threads fine-tuning's backward sums in another order)
        assert a.key == b.key
        np.testing.assert_allclose(a.vector, b.vector, rtol=1e-5, atol=1e-8)
    assert {v.name for v in LocalStore(tmp_path / "ray").vectors()} == {"d0", "d1", "d2"}
    assert {v.card.device for v in remote} == {"cpu"}  # a job that reserved no GPU computes on the CPU
    ex = CountingRay()
    embed_many(specs, store=tmp_path / "ray", executor=ex, progress=False)
    assert ex.ran == []


class CountingRay(RayExecutor):
    ran: list[str] = []

    def run(self, jobs, on_result, *, progress=True):
        self.ran = [j.label for j in jobs]
        return super().run(jobs, on_result, progress=progress)


def die_once(spec: EmbedSpec, marks: str) -> object:
    """The first attempt at each job records its worker's pid and waits to be killed; a retry embeds."""
    mark = Path(marks) / spec.name
    if not mark.exists():
        mark.write_text(str(os.getpid()))
        time.sleep(120)
    return run_embed_spec(spec)


@pytest.mark.slow
def test_ray_worker_killed_mid_job_is_retried_and_nothing_is_lost(tmp_path, specs, ray_cluster):
    marks = tmp_path / "marks"
    marks.mkdir()
    jobs = [Job(s.key(), die_once, {"spec": s, "marks": str(marks)}, label=s.name) for s in specs[:2]]
    store = LocalStore(tmp_path / "st")
    killed: list[int] = []

    def killer() -> None:
        deadline = time.time() + 600  # a loaded machine starts Ray workers slowly; it ends when both are killed
        while len(killed) < len(jobs) and time.time() < deadline:
            for m in marks.iterdir():
                pid = int(m.read_text() or 0)
                if pid and pid not in killed:
                    time.sleep(0.2)
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.1)

    thread = threading.Thread(target=killer)
    thread.start()
    failures = RayExecutor(max_retries=2).run(jobs, lambda job, vec: store.put(vec), progress=False)
    thread.join()
    assert len(killed) == 2 and failures == []
    expected = {s.name: run_embed_spec(s) for s in specs[:2]}
    got = {v.name: v for v in store.vectors()}
    assert set(got) == {"d0", "d1"}
    for name, vec in expected.items():
        np.testing.assert_allclose(got[name].vector, vec.vector, rtol=1e-5, atol=1e-8)  # 1 thread there, 2 here


def test_a_cuda_job_under_ray_must_reserve_a_gpu(tmp_path, specs):
    """Ray hides the GPUs from a job that reserves none: said before any job starts, not as a CUDA error in each."""
    cuda = [dataclasses.replace(s, device="cuda") for s in specs]
    with pytest.raises(ConfigError, match="--device cuda with the ray executor needs --gpus-per-job above 0"):
        embed_many(cuda, store=tmp_path / "st", executor=RayExecutor(), progress=False)


@pytest.mark.slow
def test_gpus_per_job_on_a_cluster_without_gpus_is_an_error_not_a_wait(tmp_path, specs, ray_cluster):
    with pytest.raises(ConfigError, match=r"--gpus-per-job 0.5: the Ray cluster has 0 GPU\(s\)"):
        embed_many(specs, store=tmp_path / "st", executor=RayExecutor(gpus_per_job=0.5), progress=False)


def test_model_specs_expand_a_prompt_set_and_name_each_job_as_the_cli_does():
    from fute.embed import LLM_U_ROWS
    from fute.execute import model_specs
    from fute.targets.prompts import load_prompt_set

    every = model_specs("org/smollm2", prompt="sentiment", exclude=("sst2",))
    ids = [p.id for p in load_prompt_set("sentiment")]
    assert [s.name for s in every] == [f"smollm2/{i}" for i in ids] and {s.kind for s in every} == {"prompt"}
    assert all(dict(s.method_options)["max_examples"] == LLM_U_ROWS and s.exclude == ("sst2",) for s in every)
    (one,) = model_specs("smollm2", name="mine", prompt=f"sentiment:{ids[0]}", method_options={"max_examples": 9})
    assert one.name == "mine" and one.prompt.id == ids[0] and dict(one.method_options) == {"max_examples": 9}
    (clf,) = model_specs("./models/clf", method_options={"seed": 1})
    assert clf.name == "clf" and clf.kind == "model" and clf.prompt is None and clf.method_options == (("seed", 1),)


_CLI_IN_PROCESS = """
import sys
from fute.cli import main
sys.argv = ["fute", *sys.argv[1:]]
try:
    main()
except SystemExit as e:
    code = e.code or 0
print("TORCH", "torch" in sys.modules, "CODE", code)
"""


def test_a_repeated_embed_and_a_rank_are_lookups_that_load_no_model(tmp_path, tiny_paths):
    """The second `fute embed dataset` of the same file finds its vector through the memo of its spec's content
    key, importing no torch; `fute rank NAME` too. A changed surrogate file is a miss (the content key is
    computed again: torch loads), never a wrong hit."""
    import os
    import subprocess
    import sys

    from tests.conftest import write_jsonl

    rows = [{"text": f"{'good' if i % 2 else 'bad'} film {i}", "label": "pos" if i % 2 else "neg"} for i in range(24)]
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    model = tmp_path / "sur"
    import shutil

    shutil.copytree(tiny_paths["encoder"], model)
    env = {**os.environ, "FUTE_HOME": str(tmp_path / "home")}
    embed = ["embed", "dataset", str(data), "--surrogate", str(model), "--store", str(tmp_path / "st"), "--quiet"]
    embed += ["--option", "max_epochs=1", "--max-length", "32"]

    def fute(*args: str) -> str:
        r = subprocess.run([sys.executable, "-c", _CLI_IN_PROCESS, *args], capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        return r.stdout

    first = fute(*embed)
    assert "TORCH True" in first and "(cached)" not in first
    again = fute(*embed)
    assert "(cached)" in again and "TORCH False CODE 0" in again
    ranked = fute("rank", "d", "--store", str(tmp_path / "st"), "--no-catalog")
    assert "nearest to d" in ranked and "TORCH False CODE 0" in ranked
    (model / "config.json").touch()  # the surrogate's files changed (here only their time): the memo misses
    os.utime(model / "config.json", ns=(1, 1))
    third = fute(*embed)
    assert "(cached)" in third and "TORCH True CODE 0" in third  # found again by its content key, computed anew
