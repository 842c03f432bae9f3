"""Executors run many jobs (embeddings now, transfer pairs later); only the driver writes to the store.

A job is a picklable function plus picklable arguments, keyed by a content hash, so that a rerun
skips what is already stored and any executor can run it anywhere. ``local`` (the default) runs
jobs one after another in this process; ``ray`` spreads them over a Ray cluster's workers, with
fractional CPU/GPU requests and retries when a worker dies. Results come back to the driver in
completion order and are stored at once, so an interrupted run keeps everything that finished.
"""

from __future__ import annotations

import contextlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from tqdm.auto import tqdm

from fute.errors import ConfigError, FuteError
from fute.hashing import content_hash, local_files
from fute.registry import EXECUTORS
from fute.space import TaskVector
from fute.store import VectorStore, open_store


@dataclass(frozen=True)
class Job:
    """One unit of work: ``fn(**kwargs)``, both picklable; ``key`` names its result by content."""

    key: str
    fn: Callable[..., Any]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""


@dataclass(frozen=True)
class JobFailure:
    job: Job
    error: str
    exception: BaseException | None = None


class Executor(ABC):
    """Runs jobs and hands each result to ``on_result`` in the driver process as soon as it finishes."""

    name: ClassVar[str]

    @classmethod
    def from_options(cls, **options: Any) -> Executor:
        """The executor for the CLI's executor options; one without options of its own ignores them."""
        return cls()

    @abstractmethod
    def run(
        self, jobs: Sequence[Job], on_result: Callable[[Job, Any], None], *, progress: bool = True
    ) -> list[JobFailure]:
        """Run every job; a job that raises is reported in the returned list, the others still run."""


class LocalExecutor(Executor):
    """In this process, one job after another (the default: no extra dependency)."""

    name = "local"

    def run(
        self, jobs: Sequence[Job], on_result: Callable[[Job, Any], None], *, progress: bool = True
    ) -> list[JobFailure]:
        failures = []
        for job in tqdm(jobs, desc="jobs", unit="job", disable=not progress or len(jobs) < 2):
            try:
                result = job.fn(**job.kwargs)
            except FuteError as e:
                failures.append(JobFailure(job, str(e), e))
                continue
            on_result(job, result)
        return failures


class RayExecutor(Executor):
    """Jobs as Ray tasks. ``address``: None starts a local cluster (``num_cpus`` of this machine),
    "auto" joins the running one, or ``ray://host:port``. Each job asks for ``cpus_per_job`` CPUs and
    ``gpus_per_job`` GPUs (fractions share a GPU); a task whose worker dies is retried up to
    ``max_retries`` times; a task that raises is not retried (the same inputs would raise again).

    Ray shows a task only the GPUs it reserved (``CUDA_VISIBLE_DEVICES``), so a job's ``device="auto"`` is the
    GPU it was given, and a job that reserved none computes on the CPU even on a GPU machine."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        cpus_per_job: float = 1.0,
        gpus_per_job: float = 0.0,
        max_retries: int = 3,
        num_cpus: int | None = None,
    ) -> None:
        self.address = address
        self.cpus_per_job = cpus_per_job
        self.gpus_per_job = gpus_per_job
        self.max_retries = max_retries
        self.num_cpus = num_cpus

    @classmethod
    def from_options(cls, **options: Any) -> Executor:
        return cls(**options)

    def _init(self) -> Any:
        try:
            import ray
        except ImportError:
            raise ConfigError("the ray executor needs Ray: pip install 'fute[ray]'") from None
        if not ray.is_initialized():
            opts: dict[str, Any] = {
                "ignore_reinit_error": True,
                "log_to_driver": False,
                "include_dashboard": False,
                "logging_level": "ERROR",
            }
            if self.address:
                opts["address"] = self.address
            elif self.num_cpus:
                opts["num_cpus"] = self.num_cpus
            try:
                ray.init(**opts)
            except ConnectionError as e:
                raise ConfigError(f"ray: cannot reach a cluster at {self.address}: {e}") from None
        return ray

    def check_devices(self, devices: Sequence[str]) -> None:
        """Before any job: a job told to use CUDA must reserve a GPU, or Ray hides every GPU from it."""
        cuda = sorted({d for d in devices if d.startswith("cuda")})
        if cuda and self.gpus_per_job <= 0:
            raise ConfigError(
                f"--device {cuda[0]} with the ray executor needs --gpus-per-job above 0 (e.g. 1, or 0.5 for two "
                "jobs per GPU): Ray hides the GPUs from jobs that reserve none; or use --device auto"
            )

    def run(
        self, jobs: Sequence[Job], on_result: Callable[[Job, Any], None], *, progress: bool = True
    ) -> list[JobFailure]:
        if not jobs:
            return []
        ray = self._init()
        if self.gpus_per_job > 0:
            have = float(ray.cluster_resources().get("GPU", 0))
            if have < self.gpus_per_job:  # Ray would wait for them forever
                raise ConfigError(
                    f"--gpus-per-job {self.gpus_per_job:g}: the Ray cluster has {have:g} GPU(s); "
                    "use --gpus-per-job 0, or join a cluster with GPUs (--address)"
                )
        task = ray.remote(_call).options(
            num_cpus=self.cpus_per_job, num_gpus=self.gpus_per_job, max_retries=self.max_retries, retry_exceptions=False
        )
        pending = {task.remote(job.fn, dict(job.kwargs)): job for job in jobs}
        failures = []
        with tqdm(total=len(jobs), desc="jobs", unit="job", disable=not progress) as bar:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(done[0])
                try:
                    result = ray.get(done[0])
                except (ray.exceptions.RayTaskError, ray.exceptions.WorkerCrashedError) as e:
                    cause = getattr(e, "cause", None)
                    text = str(cause) if isinstance(cause, FuteError) else str(e).strip().splitlines()[-1]
                    failures.append(JobFailure(job, text, cause if isinstance(cause, FuteError) else None))
                else:
                    on_result(job, result)
                bar.update()
        return failures


def _call(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    return fn(**kwargs)


def get_executor(name: str | Executor = "local", **options: Any) -> Executor:
    """An executor by name (a plug-in in ``fute.registry.EXECUTORS``: ``local``, ``ray``, ...). ``options``
    (e.g. ``address``, ``gpus_per_job``) go to an executor that takes options; the in-process one, which has
    none, ignores them."""
    if isinstance(name, Executor):
        return name
    return EXECUTORS.get_class(name).from_options(**options)


# --- embedding jobs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbedSpec:
    """Everything one embedding job reads, as plain values: a dataset's DTE (``data``) or a model's MTE
    (``model``, with ``prompt`` for an LLM). ``method_options`` and ``target_options`` are sorted pairs."""

    name: str
    kind: str = "dataset"
    data: str | None = None
    split: str = "train"
    columns: tuple[tuple[str, str], ...] = ()
    task: str | None = None
    model: str | None = None
    backend: str = "auto"
    prompt: Any = None  # a fute.targets.prompts.Prompt
    target_options: tuple[tuple[str, Any], ...] = ()
    corpus: str | None = None
    exclude: tuple[str, ...] = ()
    pairs: bool | None = None
    category: str | None = None
    method: str = "fisher"
    method_options: tuple[tuple[str, Any], ...] = ()
    surrogate: str = "default"
    max_length: int = 128
    device: str = "auto"  # where the job runs (``fute.device``); resolved by the worker, not part of the key
    dtype: str = "auto"

    def key(self) -> str:
        """Content hash of the spec and of the local files it reads (names, sizes, modification times); the
        device is left out: a vector computed on a GPU is the one a CPU would compute."""
        d = asdict(self)
        del d["device"]
        if self.dtype == "auto":
            del d["dtype"]  # keys of jobs made before precision could be chosen stay as they were
        d["prompt"] = self.prompt.card() if self.prompt is not None else None
        from fute.paths import surrogate_path

        surrogate = surrogate_path(self.surrogate)[0]
        model = self.model.removeprefix("recorded:") if self.model else None  # a recording: its file's state
        d["files"] = {p: files_state(p) for p in (self.data, model, self.corpus, surrogate) if p}
        return content_hash(d, 32)

    def samples(self) -> Any:
        """The dataset's samples (a dataset job), read once per process while its files are unchanged."""
        return read_data(self.data, self.split, self.columns, self.task)


def read_data(
    data: str, split: str = "train", columns: tuple[tuple[str, str], ...] = (), task: str | None = None
) -> Any:
    """``load_samples`` of a dataset, cached per process and keyed by its files' state: the CLI (for a default
    name), the cache lookup, the time estimate and a local job all read one file once."""
    return _read_data(data, split, tuple(columns), task, tuple(map(tuple, files_state(data) or ())))


@lru_cache(maxsize=32)
def _read_data(data: str, split: str, columns: tuple[tuple[str, str], ...], task: str | None, state: tuple) -> Any:
    from fute.samples import load_samples

    return load_samples(data, split=split, columns=dict(columns) or None, task=task)


def files_state(path: str) -> list[tuple[str, int, int]] | None:
    """What a job key sees of local files: (name, size, modification time) of each; None for a hub id."""
    files = local_files(path)
    return None if files is None else [(name, f.stat().st_size, f.stat().st_mtime_ns) for name, f in files]


@lru_cache(maxsize=2)
def _surrogate(name: str, max_length: int, device: str = "auto", dtype: str = "auto") -> Any:
    from fute.surrogate import load_surrogate

    return load_surrogate(name, max_length=max_length, device=device, dtype=dtype)


def _target(spec: EmbedSpec) -> Any:
    from fute.targets import load_target

    return load_target(
        spec.model,
        backend=spec.backend,
        prompt=spec.prompt,
        device=spec.device,
        dtype=spec.dtype,
        **dict(spec.target_options),
    )


def run_embed_spec(spec: EmbedSpec, *, progress: bool = False) -> TaskVector:
    """Compute one spec's vector (no store involved); the card records the job key."""
    from fute.embed import compute_vector, label_corpus
    from fute.methods import get_method

    method = get_method(spec.method, **dict(spec.method_options))
    sur = _surrogate(spec.surrogate, spec.max_length, spec.device, spec.dtype)
    extra: dict[str, Any] = {"job_key": spec.key(), **({"category": spec.category} if spec.category else {})}
    if spec.data is not None:
        samples = spec.samples()
    elif spec.model is not None:
        samples, more = label_corpus(
            _target(spec), method, corpus=spec.corpus, exclude=spec.exclude, pairs=spec.pairs, progress=progress
        )
        extra.update(more)
    else:
        raise ConfigError(f"job '{spec.name}': give data (a dataset) or model (a target)")
    return compute_vector(
        samples, spec.name, kind=spec.kind, method=method, surrogate=sur, progress=progress, extra_card=extra
    )


def _remembered(
    store: VectorStore, spec: EmbedSpec, spec_key: str, memo: Any, *, overwrite: bool = False
) -> TaskVector | None:
    """A dataset spec's stored vector found through ``memo`` of its content key (``fute.lookup.KeyMemo``): no
    model is loaded and torch is not imported. None when the memo does not know the spec or the store lacks it."""
    from fute.lookup import check_free, reuse

    known = memo.get(spec_key) if spec.data is not None else None
    if known is None:
        return None
    sid, key = known
    check_free(store, sid, spec.kind, spec.name, key, overwrite=overwrite)
    hit = store.find_key(sid, key)
    asked = {"category": spec.category} if spec.category else None
    return None if hit is None else reuse(store, hit, spec.name, spec.kind, asked)


def _stored(
    store: VectorStore, spec: EmbedSpec, spec_key: str, memo: Any, *, overwrite: bool = False
) -> TaskVector | None:
    """The stored vector a spec would make, if any. A dataset's is found by the one content key that the API
    uses too (``fute.embed.content_key``: space, data fingerprint, config), under any name; a model's by the
    spec's key (its content key needs the labels, which only the job computes). A dataset's content key goes
    into ``memo``, so the next run of the same spec finds it without loading the model."""
    from fute.lookup import check_free, reuse

    if spec.data is None:
        same = store.vectors(name=spec.name, kind=spec.kind)
        stored = [v for v in same if v.card.job_key == spec_key]
        other = [v for v in same if v.card.job_key not in (None, spec_key)]
        if other and not overwrite:  # made by another spec (model, prompt, U, options): refused before labeling
            check_free(store, other[0].space_id, spec.kind, spec.name, spec_key, overwrite=False)
        return stored[0] if stored else None
    from fute.methods import get_method
    from fute.space import content_key

    try:
        samples = spec.samples()
    except FuteError:
        return None  # the job reports it, beside the others that run
    method = get_method(spec.method, **dict(spec.method_options))
    sid, key = content_key(
        samples, method, _surrogate(spec.surrogate, spec.max_length, spec.device, spec.dtype).identity
    )
    memo.put(spec_key, sid, key)
    check_free(store, sid, spec.kind, spec.name, key, overwrite=overwrite)
    hit = store.find_key(sid, key)
    asked = {"category": spec.category} if spec.category else None
    return None if hit is None else reuse(store, hit, spec.name, spec.kind, asked)


# Seconds per embedded row before this machine has measured its own: a first guess for the expected time, written by
# tools/build_speed_prior.py from the embedding-quality benchmark's vectors; each finished vector refines it. A method
# it does not know (a plug-in) is guessed at the slowest known rate; DataSize reads no model.
SPEED_PRIOR = Path(__file__).resolve().parent / "data" / "speed_prior.json"
PRIOR_SECONDS_PER_ROW: dict[str, float] = {"datasize": 0.0, **json.loads(SPEED_PRIOR.read_text())["seconds_per_row"]}


class SpeedLog:
    """Measured seconds per embedded row, per method, on this machine ($FUTE_HOME/speed.json): what the
    expected time of the next run is computed from. Each finished vector refines it (a running mean)."""

    def __init__(self) -> None:
        from fute.paths import fute_home

        self.path = fute_home() / "speed.json"
        try:
            self.rates: dict[str, float] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.rates = {}

    def rate(self, method: str) -> float:
        return self.rates.get(method, PRIOR_SECONDS_PER_ROW.get(method, max(PRIOR_SECONDS_PER_ROW.values())))

    def record(self, vec: TaskVector) -> None:
        from fute.paths import atomic_write

        method, rows = vec.card.space.method, max(vec.card.data.n_used, 1)
        measured = vec.card.seconds / rows
        self.rates[method] = measured if method not in self.rates else (self.rates[method] + measured) / 2
        with contextlib.suppress(OSError):  # a read-only home: the estimate just stays the prior
            atomic_write(self.path, lambda tmp: Path(tmp).write_text(json.dumps(self.rates)))


def _rows(spec: EmbedSpec) -> int:
    """How many rows a job will embed: the data's size (datasets) or U's, capped as the method caps it."""
    cap = dict(spec.method_options).get("max_examples", 1000)
    if spec.data is None:
        return int(cap or 1000)
    try:
        n = len(spec.samples())
    except FuteError:
        return 0  # the job reports it
    return min(n, cap) if cap else n


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def model_specs(
    model: str,
    *,
    name: str | None = None,
    prompt: str | None = None,
    method_options: dict[str, Any] | None = None,
    target_options: dict[str, Any] | None = None,
    **common: Any,
) -> list[EmbedSpec]:
    """The jobs of one model's MTEs: one job for a classifier; for an LLM, one per prompt that ``prompt`` names
    (``SET_OR_FILE[:ID]``, ``fute.targets.prompts.resolve_prompts``). Each is named ``name`` (a lone prompt, or
    no prompt), else MODEL/PROMPT_ID, MODEL being the model's last path part (a recording's file stem). An LLM labels
    ``fute.embed.LLM_U_ROWS`` rows of U unless ``method_options`` sets ``max_examples`` (``with_llm_u_rows``).
    ``common``: the other ``EmbedSpec`` fields (corpus, exclude, method, surrogate, ...)."""
    from fute.embed import with_llm_u_rows
    from fute.targets import split_endpoint
    from fute.targets.prompts import resolve_prompts

    opts = with_llm_u_rows(method_options or {}, bool(prompt))
    prompts: list[Any] = resolve_prompts(prompt) if prompt else [None]
    base = name or split_endpoint(model)[0].rstrip("/").split("/")[-1]
    recorded = None
    if model.startswith("recorded:"):  # a recording: named after its file, a prompt's MTE if it names the prompt
        from fute.targets.recorded import recorded_prompt

        base, recorded = name or Path(model.removeprefix("recorded:")).stem, recorded_prompt(model)
    return [
        EmbedSpec(
            base if p is None or (name and len(prompts) == 1) else f"{base}/{p.id}",
            kind="model" if p is None and not recorded else "prompt",
            model=model,
            prompt=p,
            method_options=tuple(sorted(opts.items())),
            target_options=tuple(sorted((target_options or {}).items())),
            **common,
        )
        for p in prompts
    ]


def embed_many(
    specs: Sequence[EmbedSpec],
    *,
    store: str | Path | VectorStore | None = None,
    executor: str | Executor = "local",
    progress: bool = True,
    on_vector: Callable[[TaskVector, bool], None] | None = None,
    overwrite: bool = False,
    say: Callable[[str], None] | None = None,
) -> list[TaskVector]:
    """Embed every spec through ``executor``; specs whose vector is already stored (same name, kind and
    job key) are skipped, and each new vector is stored by this process as soon as it arrives. A name
    already stored from other data or options is refused (before any work where the key allows) unless
    ``overwrite``. ``on_vector(vector, cached)`` is called for each vector as soon as it is known: the
    stored ones first (``cached=True``), then each new one when it is stored. ``say`` gets one line before
    work expected to take over a minute (what, and how long at this machine's measured speed), and the
    refined time left after each vector.

    Raises one error listing the failed jobs after all the others are stored.
    """
    st = open_store(store)
    st.ensure_writable()  # a store that cannot take the vectors fails now, not after the compute
    ex = get_executor(executor)
    names = [(s.kind, s.name) for s in specs]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError(f"two jobs would write the same vector: {', '.join(f'{k} {n}' for k, n in dup)}")
    from fute.lookup import KeyMemo, check_free

    memo = KeyMemo()
    keys = {id(spec): spec.key() for spec in specs}  # each reads the state of the spec's files: once
    results: dict[str, TaskVector] = {}
    pending = []
    for spec in specs:  # what the memo of content keys finds is a lookup: no model loads, torch is not imported
        hit = _remembered(st, spec, keys[id(spec)], memo, overwrite=overwrite)
        if hit is None:
            pending.append(spec)
            continue
        results[keys[id(spec)]] = hit
        if on_vector:
            on_vector(hit, True)
    if pending:
        from fute.device import check_device, resolve_device
        from fute.methods import get_method

        for method, options in {(s.method, s.method_options) for s in pending}:  # bad options fail before work
            get_method(method, **dict(options))
        devices = [check_device(s.device) for s in pending]
        if isinstance(ex, RayExecutor):
            ex.check_devices(devices)
        elif ex.name == "local":  # jobs run here: a device that is not here fails now, before any reading
            for d in sorted(set(devices)):
                resolve_device(d)
    jobs = []
    for spec in pending:
        key = keys[id(spec)]
        hit = _stored(st, spec, key, memo, overwrite=overwrite)
        if hit is not None:
            results[key] = hit
            if on_vector:
                on_vector(hit, True)
        else:
            jobs.append(
                Job(key, run_embed_spec, {"spec": spec, "progress": progress and ex.name == "local"}, label=spec.name)
            )

    refused: list[JobFailure] = []
    speed = SpeedLog()
    todo = {job.key: (job.kwargs["spec"].method, _rows(job.kwargs["spec"])) for job in jobs} if say else {}

    def left() -> float:
        return sum(speed.rate(m) * rows for m, rows in todo.values())

    told = bool(say) and left() > 60
    if told:
        labels = " (LLM labeling not included)" if any(s.data is None for s in specs) else ""
        say(
            f"{len(jobs)} vector(s) to compute, about {_minutes(left())} on this machine{labels}; "
            "each is printed when it is stored (Ctrl-C keeps them)"
        )

    def keep(job: Job, vec: TaskVector) -> None:
        try:  # a model's key is known only now: a name stored from other labels is still not replaced unasked
            check_free(st, vec.space_id, vec.kind, vec.name, vec.key, overwrite=overwrite)
        except ConfigError as e:
            refused.append(JobFailure(job, str(e), e))
            return
        st.put(vec)
        results[job.key] = vec
        speed.record(vec)
        todo.pop(job.key, None)
        if on_vector:
            on_vector(vec, False)
        if told and todo:
            say(f"  {len(todo)} to go, about {_minutes(left())} left")

    failures = ex.run(jobs, keep, progress=progress) + refused
    if len(jobs) == 1 and failures and failures[0].exception is not None:
        raise failures[0].exception  # one job: its own error, as the single-dataset API gives it
    if failures:
        lines = "; ".join(f"{f.job.label}: {f.error}" for f in failures)
        raise FuteError(
            f"{len(failures)} of {len(jobs)} jobs failed ({lines}); the other vectors are stored, "
            "and a rerun computes only the failed ones"
        )
    return [results[keys[id(s)]] for s in specs]
