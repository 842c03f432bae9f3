"""samples -> surrogate -> method -> TaskVector -> store, with the store as a content-keyed cache."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fute.corpus import Corpus, default_corpus, load_corpus
from fute.device import describe, out_of_memory_hint
from fute.errors import ConfigError
from fute.lookup import check_free, reuse
from fute.methods import Method, get_method
from fute.registry import METHODS
from fute.samples import Samples, dataset_name, load_samples
from fute.space import KINDS, TaskVector, content_key, make_card
from fute.store import VectorStore, open_store
from fute.surrogate import Surrogate, load_surrogate
from fute.targets.base import TargetModel


def embed_samples(
    samples: Samples,
    name: str,
    *,
    kind: str = "dataset",
    method: str | Method = "fisher",
    surrogate: str | Surrogate = "default",
    store: str | Path | VectorStore | None = None,
    max_length: int = 128,
    progress: bool = True,
    extra_card: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    device: Any = "auto",
    dtype: Any = "auto",
    **method_options: Any,
) -> TaskVector:
    """Embed samples and store the vector; a stored vector with the same job key is returned instead.

    ``device`` and ``dtype`` (``fute.device``) say where and in what precision a surrogate named by string runs.

    The job key hashes the space (surrogate identity, method, config), the data fingerprint and the
    full config, so re-embedding the same data the same way is a cache hit, under any name. A name
    already stored in the space from other data or options is refused unless ``overwrite``.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown kind '{kind}'; use one of {', '.join(KINDS)}")
    m = method if isinstance(method, Method) else get_method(method, **method_options)
    sur = (
        surrogate
        if isinstance(surrogate, Surrogate)
        else load_surrogate(surrogate, max_length=max_length, device=device, dtype=dtype)
    )
    st = open_store(store)
    st.ensure_writable()  # a store that cannot take the vector fails now, not after the compute
    sid, key = content_key(samples, m, sur.identity)
    check_free(st, sid, kind, name, key, overwrite=overwrite)
    hit = st.find_key(sid, key)
    if hit is not None:
        return reuse(st, hit, name, kind, extra_card)
    vec = compute_vector(samples, name, kind=kind, method=m, surrogate=sur, progress=progress, extra_card=extra_card)
    st.put(vec)
    return vec


def compute_vector(
    samples: Samples,
    name: str,
    *,
    kind: str,
    method: Method,
    surrogate: Surrogate,
    progress: bool = True,
    extra_card: Mapping[str, Any] | None = None,
) -> TaskVector:
    """The vector and its card, touching no store: what a job on any worker computes. The card records the
    device it was computed on (not part of the space)."""
    t0 = time.perf_counter()
    with out_of_memory_hint(f"embedding {name}", "the batch size (--option batch_size=8) or --max-length"):
        vector = method.embed(samples, surrogate, progress=progress)
    extra = {"device": describe(surrogate.device), **dict(extra_card or {})}
    training = method.training_card()
    if training is not None:  # how the surrogate learned the task: steps, losses, converged
        extra["training"] = training
    windows = method.windows_card()
    if windows is not None:  # QA: contexts cut to the window that holds the answer, and questions dropped
        extra["windows"] = windows
    card = make_card(
        name=name,
        kind=kind,
        samples=samples,
        method=method,
        surrogate=surrogate.identity,
        seconds=time.perf_counter() - t0,
        extra=extra,
    )
    return TaskVector(vector, card)


def embed_dataset(
    path: str | Path | Samples,
    name: str | None = None,
    *,
    split: str = "train",
    columns: Mapping[str, str] | None = None,
    task: str | None = None,
    category: str | None = None,
    **kwargs: Any,
) -> TaskVector:
    """The dataset task embedding (DTE) of labeled data: a path, hub name or Samples (see ``embed_samples``).
    ``category`` is recorded on the card (over a ``dataset.json``'s); maps colour by it."""
    samples = path if isinstance(path, Samples) else load_samples(path, split=split, columns=columns, task=task)
    if name is None and not isinstance(path, Samples):
        name = dataset_name(samples, path)
    if not name:
        raise ConfigError("embed_dataset: give a name for the vector")
    if category:
        kwargs["extra_card"] = {**dict(kwargs.get("extra_card") or {}), "category": category}
    return embed_samples(samples, name, kind="dataset", **kwargs)


# U rows that an LLM with a prompt labels unless ``max_examples`` says otherwise: an LLM labels each row with a
# forward pass (a generation for CoT), far slower on a CPU than the surrogate's training, so fewer rows than the
# method's 1,000-row default.
LLM_U_ROWS = 256


def with_llm_u_rows(options: dict[str, Any], prompted: bool) -> dict[str, Any]:
    """``options`` with the LLM default for U's rows (``LLM_U_ROWS``) when ``prompted`` and no ``max_examples``
    is given: the one rule that ``embed_model`` and the CLI's jobs (``fute.execute.model_specs``) both apply."""
    return {"max_examples": LLM_U_ROWS, **options} if prompted else dict(options)


def embed_model(
    target: TargetModel,
    name: str,
    *,
    corpus: str | Path | Corpus | None = None,
    exclude: tuple[str, ...] | list[str] = (),
    pairs: bool | None = None,
    kind: str | None = None,
    category: str | None = None,
    method: str | Method = "fisher",
    progress: bool = True,
    **kwargs: Any,
) -> TaskVector:
    """The model task embedding (MTE): U labeled by ``target`` (soft labels), embedded like a dataset.

    ``corpus`` defaults to the shipped U: pairs when ``pairs`` (default: the prompt's input form; single
    texts for other targets), else single texts. An LLM with a prompt labels ``LLM_U_ROWS`` rows of it unless
    ``max_examples`` is given (the CLI's default too); other targets, the method's cap. ``exclude`` drops the
    rows of datasets under evaluation. ``kind`` is "prompt" for an LLM with a prompt, else "model". The card records the
    target's identity and U's fingerprint, and ``category`` (e.g. the category of the model's
    training data) when given, for maps and reports.
    """
    embed_opts = {
        k: kwargs.pop(k) for k in ("surrogate", "store", "max_length", "overwrite", "device", "dtype") if k in kwargs
    }
    if not isinstance(method, Method):
        kwargs = with_llm_u_rows(kwargs, getattr(target, "prompt", None) is not None)
    m = method if isinstance(method, Method) else get_method(method, **kwargs)
    samples, extra = label_corpus(target, m, corpus=corpus, exclude=exclude, pairs=pairs, progress=progress)
    prompted = getattr(target, "prompt", None) is not None or getattr(target, "prompt_id", None)  # LLM + prompt
    kind = kind or ("prompt" if prompted else "model")
    extra.update({"category": category} if category else {})
    return embed_samples(samples, name, kind=kind, method=m, progress=progress, extra_card=extra, **embed_opts)


def unlabeled_rows(
    corpus: str | Path | Corpus | None,
    exclude: Sequence[str],
    pairs: bool,
    cap: int | None,
    seed: int,
    *,
    qa: bool = False,
) -> Corpus:
    """The rows of U a model labels: the given corpus (or the shipped one, pairs, single texts or, for a QA model,
    question + passage pairs) without the excluded datasets, capped with the method's seeded draw before labeling
    (labeling rows that the method would drop is wasted work)."""
    if isinstance(corpus, Corpus):
        u = corpus
    elif corpus is not None:
        u = load_corpus(corpus)
    else:
        u = default_corpus(pairs=pairs, qa=qa)
    return u.excluding(exclude).take(cap, seed)


def label_corpus(
    target: TargetModel,
    method: Method,
    *,
    corpus: str | Path | Corpus | None = None,
    exclude: tuple[str, ...] | list[str] = (),
    pairs: bool | None = None,
    progress: bool = True,
) -> tuple[Samples, dict[str, Any]]:
    """U (shipped or given, minus ``exclude``, capped as ``method`` would cap it) labeled by ``target``,
    and the card entries that say so."""
    prompt = getattr(target, "prompt", None)
    if pairs is None:  # the prompt's input form, or a recording's (the form of the inputs it was recorded on)
        pairs = (prompt.input if prompt is not None else getattr(target, "input", "single")) == "pair"
    if not method.uses_labels:
        raise ConfigError(
            f"method '{method.name}' ignores labels, so every model's MTE would be the same vector; "
            f"use one of {', '.join(METHODS.names_where(uses_labels=True))}"
        )
    qa = getattr(target, "input", None) == "qa"
    u = unlabeled_rows(corpus, exclude, pairs or qa, method.config.max_examples, method.config.seed, qa=qa)
    samples = target.label(u, progress=progress)
    return samples, {"target": target.identity(), "corpus": u.card()}
