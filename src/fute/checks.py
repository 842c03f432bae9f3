"""Conformance checks that every plug-in passes, in the package so that plug-in authors run them too
(scikit-learn's ``check_estimator``, for fute's kinds):

    from fute.checks import check_method, check_target, check_store

    check_method("my-method", surrogate, max_epochs=1)   # a registered method, on any surrogate
    check_target(MyTarget(...))                          # a target model instance
    check_store(lambda: "mystore://.../fresh-db")        # a URL of a new, empty store per call

Each runs every check of its kind and raises ``AssertionError`` naming the check that failed; the lists
``METHOD_CHECKS``, ``TARGET_CHECKS`` and ``STORE_CHECKS`` let a test suite run them one by one
(fute's own tests do). The toy data below are small seeded tasks any tokenizer can read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from fute.errors import CapabilityError, ConfigError, FuteError, StoreError
from fute.samples import Samples
from fute.space import TaskVector

WORDS = (
    "the a an is was not very good bad great awful movie film plot actor food service place "
    "what who where when how why city river person year number team won lost game market "
    "stock price rose fell people walk run sit dog cat man woman child car street house red "
    "blue big small happy sad loved hated boring fun question answer paris london positive negative "
    "yes no maybe sentiment review"
).split()


# -- toy data -------------------------------------------------------------------------------------
def toy_classification(n: int = 24, seed: int = 0, pair: bool = False, flip: bool = False) -> Samples:
    """A toy sentiment-like task: 'good' words -> positive; ``flip`` swaps the labels (another task)."""
    rng = np.random.default_rng(seed)
    pos, neg = ["good", "great", "loved", "fun"], ["bad", "awful", "hated", "boring"]
    texts, labels = [], []
    for i in range(n):
        y = i % 2
        words = list(rng.choice(WORDS[:20], 4)) + [rng.choice(pos if y else neg)]
        texts.append(" ".join(words))
        labels.append(["negative", "positive"][y ^ int(flip)])
    pairs = [" ".join(rng.choice(WORDS, 3)) for _ in range(n)] if pair else None
    return Samples.from_labels(texts, labels, pairs, source=f"toy-{seed}")


def toy_regression(n: int = 20, seed: int = 0) -> Samples:
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, 5)) for _ in range(n)]
    return Samples.from_labels(texts, [float(x) for x in rng.uniform(0, 5, n)], source="toy-regression")


def toy_qa(n: int = 12) -> Samples:
    from fute.samples import rows_to_samples

    rows = []
    for i in range(n):
        ans = "paris" if i % 2 else "london"
        ctx = f"the city {ans} is big and the river is blue"
        rows.append(
            {
                "question": "what city is big",
                "context": ctx,
                "answers": {"text": [ans], "answer_start": [ctx.index(ans)]},
            }
        )
    return rows_to_samples(rows, "toy-qa")


def toy_vector(name: str, values: Any, space: str = "s1", kind: str = "dataset", key: str | None = None) -> TaskVector:
    """A stored-vector stand-in for store checks: any values, a minimal card."""
    return TaskVector(
        np.asarray(values, dtype=np.float32),
        {
            "name": name,
            "kind": kind,
            "space_id": space,
            "key": key or f"k-{name}-{space}",
            "space": {"method": "fisher", "surrogate": {"name": "x", "weights_sha256": "0" * 64}},
            "data": {"category": "c"},
        },
    )


@contextlib.contextmanager
def raises(exc: type[BaseException], match: str = "") -> Iterator[None]:
    """``pytest.raises`` without pytest: the block must raise ``exc`` with a message matching ``match``."""
    try:
        yield
    except exc as e:
        if not re.search(match, str(e)):
            raise AssertionError(f"{exc.__name__} raised, but '{e}' does not match '{match}'") from e
        return
    raise AssertionError(f"{exc.__name__} was not raised")


@contextlib.contextmanager
def temporary_home() -> Iterator[None]:
    """A fresh, empty $FUTE_HOME for the block (label caches, models): a check never reads the user's."""
    old = os.environ.get("FUTE_HOME")
    with tempfile.TemporaryDirectory(prefix="fute-check-") as home:
        os.environ["FUTE_HOME"] = home
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("FUTE_HOME", None)
            else:
                os.environ["FUTE_HOME"] = old


def _run_all(checks: list[Callable[..., None]], *args: Any) -> None:
    for check in checks:
        try:
            check(*args)
        except AssertionError as e:
            raise AssertionError(f"{check.__name__}: {e}") from e


# -- methods ---------------------------------------------------------------------------------------
def _method(name: str, options: dict[str, Any], **kw: Any) -> Any:
    from fute.methods import get_method

    return get_method(name, **{**options, **kw})


def check_config_round_trips(name: str, surrogate: Any, options: dict[str, Any]) -> None:
    """The config is a dataclass that saves and loads as JSON; the row cap is out of the space, the seed
    in; unknown options are one-line errors."""
    cfg = _method(name, {}).config
    assert dataclasses.is_dataclass(cfg), "the config is not a dataclass"
    assert type(cfg).from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg, "the config does not round-trip"
    space = cfg.space_dict()
    assert "max_examples" not in space and "seed" in space, "max_examples must be out of the space, seed in it"
    ensemble = _method(name, {"ensemble_seeds": 2}).config.space_dict()
    assert "ensemble_seeds" in ensemble, "an ensemble of seeds needs its own space"
    with raises(ConfigError, "unknown option"):
        _method(name, {}, no_such_option=1)


def check_vector_is_deterministic(name: str, surrogate: Any, options: dict[str, Any]) -> None:
    """A finite float32 vector of fixed size, bit for bit the same for the same inputs; another task moves it."""
    data = toy_classification(16)
    a = _method(name, options).embed(data, surrogate, progress=False)
    b = _method(name, options).embed(data, surrogate, progress=False)
    other = _method(name, options).embed(toy_classification(16, seed=5, flip=True), surrogate, progress=False)
    assert a.dtype == np.float32 and a.ndim == 1 and np.isfinite(a).all(), "not a finite float32 vector"
    assert a.shape == other.shape, "the dimension depends on the data"
    assert np.array_equal(a, b), "the same inputs and seed gave another vector"
    if _method(name, {}).score == "cosine":  # compared by direction, so it must move with the task
        assert not np.allclose(a, other), "a different task gave the same vector"


def check_surrogate_unchanged(name: str, surrogate: Any, options: dict[str, Any]) -> None:
    """Embedding trains copies: the shared surrogate's weights are as they were."""
    from fute.surrogate import weights_hash

    before = weights_hash(surrogate.model)
    _method(name, options).embed(toy_classification(8), surrogate, progress=False)
    assert weights_hash(surrogate.model) == before, "embedding changed the surrogate's weights"


def check_sample_cap_is_seeded(name: str, surrogate: Any, options: dict[str, Any]) -> None:
    """The row cap draws a seeded sample: same seed, same vector; another seed, another."""
    if _method(name, {}).config.max_examples is None:
        return  # uncapped by default (datasize measures the whole dataset)
    data = toy_classification(40)
    a = _method(name, options, max_examples=10).embed(data, surrogate, progress=False)
    b = _method(name, options, max_examples=10).embed(data, surrogate, progress=False)
    c = _method(name, options, max_examples=10, seed=3).embed(data, surrogate, progress=False)
    assert np.array_equal(a, b), "the same seed drew another sample"
    assert not np.array_equal(a, c), "another seed gave the same vector"


def check_every_task_type(name: str, surrogate: Any, options: dict[str, Any]) -> None:
    """Regression, extractive QA and text pairs embed to finite vectors."""
    for data in (toy_regression(), toy_qa(), toy_classification(12, pair=True)):
        vec = _method(name, options).embed(data, surrogate, progress=False)
        assert np.isfinite(vec).all() and vec.size > 0, f"{data.source}: not a finite vector"


def check_scores_rank_candidates(name: str, surrogate: Any, options: dict[str, Any]) -> None:
    """``scores(query, candidates, cards)`` gives one finite score per candidate."""
    m = _method(name, options)
    q = m.embed(toy_classification(12), surrogate, progress=False)
    s = m.scores(q, np.stack([q, -q + 1e-3, q * 2]), [{}, {}, {}])
    assert s.shape == (3,) and np.isfinite(s).all(), f"scores of shape {s.shape}"


def check_options_are_documented(name: str, surrogate: Any, options: dict[str, Any]) -> None:
    """Every option says what it does and what values it takes (``fute.methods.base.option``), so that
    ``fute methods NAME`` and the docs can show it; bounds hold: a value below ``low`` is a one-line error."""
    from fute.methods import method_options

    described = method_options(name)
    assert described, "the method has no options"
    for o in described:
        assert len(o.help) >= 10, f"option {o.name} has no help text: declare it with fute.methods.base.option"
    cfg_class = type(_method(name, {}).config)
    for f in dataclasses.fields(cfg_class):
        low = f.metadata.get("low")
        if low is not None and isinstance(f.default, int | float) and not isinstance(f.default, bool):
            with raises(ConfigError, f"option {f.name}="):
                _method(name, {f.name: type(f.default)(low) - 1})


METHOD_CHECKS = [
    check_config_round_trips,
    check_options_are_documented,
    check_vector_is_deterministic,
    check_surrogate_unchanged,
    check_sample_cap_is_seeded,
    check_every_task_type,
    check_scores_rank_candidates,
]


def check_method(name: str, surrogate: Any, **options: Any) -> None:
    """Every method check on the registered method ``name`` (``options``: e.g. a short training budget)."""
    _run_all(METHOD_CHECKS, name, surrogate, options)


# -- targets ---------------------------------------------------------------------------------------
TEXTS = ["the movie was good", "the plot was awful", "a big happy dog", "the food", "red car", "sad cat"]


# A QA target's inputs: questions and the passages they ask about (the answer a city or a colour)
QUESTIONS = ["what city is big", "who won the game", "what is red", "where is the dog", "what fell", "who sat"]
CONTEXTS = [
    "the city paris is big and the river is blue",
    "the team won the game and the people walk",
    "the car is red and the house is blue",
    "the dog is in the house by the street",
    "the stock price fell and the market rose",
    "the man sat and the woman walked",
]


def _inputs(target: Any, rows: list[int] | None = None) -> tuple[list[str], list[str] | None]:
    """Inputs for ``target``'s checks: single texts, or questions with contexts for a QA target."""
    rows = list(range(len(TEXTS))) if rows is None else rows
    if target.task == "qa":
        return [QUESTIONS[i] for i in rows], [CONTEXTS[i] for i in rows]
    return [TEXTS[i] for i in rows], None


def check_label_distributions(target: Any) -> None:
    """[n, labels] distributions (rows sum to 1; a QA target's [n, n_best, 3] spans in the context with
    probabilities that sum to 1), the same from the cache as computed afresh."""
    texts, pairs = _inputs(target)
    with temporary_home():
        probs = target.predict(texts, pairs, progress=False)
        again = target.predict(texts, pairs, progress=False, cache=False)
    assert probs.shape == target.output_shape(len(texts)), f"labels of shape {probs.shape}"
    if target.task == "qa":
        p = probs[..., 2]
        assert np.allclose(p.sum(axis=1), 1) and (p >= 0).all(), "span probabilities are not distributions"
        for row, context in zip(probs, pairs, strict=True):
            assert all(0 <= c0 < c1 <= len(context) for c0, c1, w in row if w > 0), "a span outside its context"
    elif target.task != "regression":
        assert np.allclose(probs.sum(axis=1), 1) and (probs >= 0).all(), "rows are not distributions"
    assert np.array_equal(probs, again), "labels differ between runs"


def check_labels_do_not_depend_on_the_batch(target: Any) -> None:
    """Each input gets its own labels however the inputs are batched: inputs of mixed lengths, out of length
    order, labeled together (a backend may sort and pad them) equal each labeled alone."""
    texts, pairs = _inputs(target, [0, 1, 4, 3])
    texts[1] = f"{texts[1]} and {TEXTS[2]}"
    together = target.predict(texts, pairs, progress=False, cache=False)
    alone = np.concatenate(
        [
            target.predict([t], None if pairs is None else [pairs[i]], progress=False, cache=False)
            for i, t in enumerate(texts)
        ]
    )
    np.testing.assert_allclose(together, alone, atol=1e-5, err_msg="labels depend on the batch")


def check_identity(target: Any) -> None:
    """The identity is JSON, names the backend and hashes stably."""
    ident = target.identity()
    assert json.loads(json.dumps(ident)) == ident, "the identity is not plain JSON"
    assert ident["backend"] == target.backend, "the identity does not name the backend"
    assert target.identity_hash() == target.identity_hash()


def check_label_gives_soft_samples(target: Any) -> None:
    """Labeling a corpus gives soft-labeled Samples that record the target and the corpus (a QA target's: its
    n-best spans of each question)."""
    from fute.corpus import Corpus

    texts, pairs = _inputs(target)
    with temporary_home():
        samples = target.label(Corpus(texts, pairs, sources=["x"] * len(texts)), progress=False)
    if target.task == "qa":
        assert samples.task == "qa" and samples.spans is not None and len(samples.spans) == len(texts)
    else:
        assert samples.task == target.task and samples.label_names == target.label_names
    assert samples.info["corpus"]["size"] == len(texts) and samples.info["target"] == target.identity()


def check_interrupted_labeling_resumes(target: Any) -> None:
    """An interrupt mid-labeling keeps the finished chunks: a rerun computes only the rest. Chunks of 2 rows,
    labeled 2 chunks per call where the target batches (``batch_size`` 4)."""
    calls: list[int] = []
    real = target._predict

    def flaky(texts: list[str], pairs: list[str] | None) -> np.ndarray:
        calls.append(len(texts))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(texts, pairs)

    kept, batched = target.label_cache, hasattr(target, "batch_size")
    size = getattr(target, "batch_size", None)
    with temporary_home():
        target._predict = flaky  # the instance's, shadowing the class's
        target.label_cache = None  # an empty cache in the temporary home, whatever the target had
        if batched:
            target.batch_size = 4
        try:
            with raises(KeyboardInterrupt):
                target.predict(*_inputs(target), chunk_size=2, progress=False)
            done = target.predict(*_inputs(target), chunk_size=2, progress=False)
        finally:
            del target._predict
            target.label_cache = kept
            if batched:
                target.batch_size = size
        fresh = target.predict(*_inputs(target), progress=False, cache=False)
    want = [4, 2, 2] if batched else [2, 2, 2, 2]  # the first call's chunks kept, the failed call's retried
    assert calls == want, f"rows per call {calls}, expected {want}: the first call's chunks kept, the rest new"
    np.testing.assert_allclose(done, fresh, rtol=1e-6)


def check_capabilities(target: Any) -> None:
    """A declared capability's methods work on the interface itself; an undeclared one is a one-line
    ``CapabilityError``, never an AttributeError."""
    from fute.targets.base import CAPABILITY_METHODS, TOKEN_LOGPROBS, WORD_LOGPROBS, TargetModel

    for cap, methods in CAPABILITY_METHODS.items():
        for m in methods:
            overridden = getattr(type(target), m) is not getattr(TargetModel, m)
            assert overridden == target.can(cap), f"{m} is {'' if overridden else 'not '}overridden, {cap} is " + (
                "declared" if target.can(cap) else "not declared"
            )
    if target.can(TOKEN_LOGPROBS):
        nll = target.text_nll(TEXTS[:3])
        assert nll.shape == (3,) and np.isfinite(nll).all(), f"text_nll of shape {nll.shape}"
    else:
        with raises(CapabilityError, TOKEN_LOGPROBS):
            target.text_nll(TEXTS[:1])
    if target.can(WORD_LOGPROBS):
        s = target.score_words([target.context([TEXTS[0]]), target.context([TEXTS[1]])], ["yes", "no", "maybe"])
        assert s.shape == (2, 3) and np.isfinite(s).all() and (s <= 0).all(), "score_words: not log-probs"
    else:
        with raises(CapabilityError, WORD_LOGPROBS):
            target.score_words(["x"], ["yes"])


TARGET_CHECKS = [
    check_label_distributions,
    check_labels_do_not_depend_on_the_batch,
    check_identity,
    check_label_gives_soft_samples,
    check_interrupted_labeling_resumes,
    check_capabilities,
]


def check_target(target: Any) -> None:
    """Every target check on one target instance."""
    _run_all(TARGET_CHECKS, target)


# -- stores ----------------------------------------------------------------------------------------
def _open(url: str) -> Any:
    from fute.store import open_store

    return open_store(url)


def check_put_get_and_replace(url: str) -> None:
    """A put with the same (space, name, kind) replaces; the card comes back as it went in."""
    store = _open(url)
    store.put(toy_vector("a", [1, 0, 0]))
    store.put(toy_vector("b", [0, 1, 0]))
    store.put(toy_vector("a", [0, 0, 1], key="k-new"))
    got = store.vectors("s1", name="a")
    assert len(got) == 1 and got[0].key == "k-new" and got[0].vector.tolist() == [0, 0, 1], "not replaced"
    assert [v.name for v in store.vectors()] == ["a", "b"]
    assert store.find_key("s1", "k-b-s1").name == "b" and store.find_key("s1", "nope") is None
    assert got[0].card == toy_vector("a", [0, 0, 1], key="k-new").card, "the card changed on the way"


def check_put_many(url: str) -> None:
    """Many vectors in one write, several spaces at once; mixed dimensions in one space refused whole."""
    store = _open(url)
    store.put_many([toy_vector(f"v{i}", np.eye(4)[i % 4] + i) for i in range(10)] + [toy_vector("w", [1, 2], "s2")])
    assert len(store.vectors("s1")) == 10 and [v.name for v in store.vectors("s2")] == ["w"]
    np.testing.assert_array_equal(store.vectors("s1", name="v7")[0].vector, np.eye(4)[3] + 7)
    with raises(StoreError, "dimensions|-d"):
        store.put_many([toy_vector("x", [1, 2, 3, 4]), toy_vector("y", [1, 2])])


def check_space_keeps_its_dimension(url: str) -> None:
    store = _open(url)
    store.put(toy_vector("a", [1, 0, 0]))
    with raises(StoreError, "3-d"):
        store.put(toy_vector("b", [1, 0]))
    assert [v.name for v in store.vectors()] == ["a"]


def check_spaces_are_separate(url: str) -> None:
    store = _open(url)
    store.put(toy_vector("a", [1, 0, 0], space="s1"))
    store.put(toy_vector("a", [1, 0], space="s2"))
    assert store.spaces() == ["s1", "s2"]
    assert {v.space_id for v in store.vectors(name="a")} == {"s1", "s2"}


def check_cosine_search_with_filters(url: str) -> None:
    store = _open(url)
    for name, values, kind in [
        ("x", [1, 0, 0], "dataset"),
        ("near", [0.9, 0.1, 0], "dataset"),
        ("far", [0, 0, 1], "dataset"),
        ("m", [1, 0.05, 0], "model"),
    ]:
        store.put(toy_vector(name, values, kind=kind))
    hits = store.search(np.array([1, 0, 0]), "s1", k=3, kind="dataset")
    assert [v.name for v, _ in hits] == ["x", "near", "far"]
    np.testing.assert_allclose([c for _, c in hits], [1.0, 0.9 / np.sqrt(0.82), 0.0], atol=1e-5)
    assert [v.name for v, _ in store.search(np.array([1, 0, 0]), "s1", kind="model")] == ["m"]
    assert [v.name for v, _ in store.search(np.array([1, 0, 0]), "s1", name="far")] == ["far"]
    assert store.search(np.array([1, 0, 0]), "missing") == []


def check_search_is_exact(url: str) -> None:
    """Exact cosine order and values on random vectors, on first and later queries."""
    store = _open(url)
    rng = np.random.default_rng(0)
    data = rng.standard_normal((200, 16)).astype(np.float32)
    store.put_many([toy_vector(f"r{i}", row) for i, row in enumerate(data)])
    q = rng.standard_normal(16).astype(np.float32)
    cos = data @ q / (np.linalg.norm(data, axis=1) * np.linalg.norm(q))
    for _ in range(3):  # an embedded store may answer a first query and later ones differently
        hits = store.search(q, "s1", k=10)
        assert [v.name for v, _ in hits] == [f"r{i}" for i in np.argsort(-cos)[:10]], "not the exact order"
        np.testing.assert_allclose([c for _, c in hits], np.sort(cos)[::-1][:10], atol=1e-5)
        np.testing.assert_array_equal(hits[0][0].vector, data[np.argmax(cos)])
    assert [v.name for v, _ in store.search(q, "s1", k=500)] == [f"r{i}" for i in np.argsort(-cos)]


def check_search_sees_later_writes(url: str) -> None:
    """A search sees every write made after an earlier search, through this handle or another."""
    store = _open(url)
    store.put(toy_vector("a", [1, 0]))
    assert [v.name for v, _ in store.search(np.array([1, 0]), "s1")] == ["a"]
    store.put(toy_vector("b", [1, 0.1]))
    _open(url).put(toy_vector("c", [1, 0.01]))
    store.remove("a")
    assert [v.name for v, _ in store.search(np.array([1, 0]), "s1")] == ["c", "b"]


def check_remove(url: str) -> None:
    store = _open(url)
    store.put(toy_vector("a", [1, 0]))
    store.put(toy_vector("b", [0, 1]))
    store.put(toy_vector("a", [1, 0, 0], space="s2"))
    assert store.remove("a", space_id="s2") == 1
    assert store.remove("a") == 1 and [v.name for v in store.vectors()] == ["b"]


ODD_NAMES = ["critiques-données", "it's", "bad'; DROP TABLE fute_vectors; --", "名前", "100% sure", "a\\b"]


def check_any_name_can_be_found(url: str) -> None:
    """The filter is typed: values are escaped or bound by the backend, never spliced into a query."""
    store = _open(url)
    store.put(toy_vector("plain", [1, 0]))
    for i, name in enumerate(ODD_NAMES):
        store.put(toy_vector(name, [1.0, float(i)], key=f"k{i}"))
    for i, name in enumerate(ODD_NAMES):
        (got,) = store.vectors("s1", name=name)
        assert got.name == name and got.key == f"k{i}" and store.find_key("s1", f"k{i}").name == name, name
        assert [v.name for v, _ in store.search(np.array([1.0, 0.0]), "s1", name=name)] == [name]
    assert store.remove(ODD_NAMES[2]) == 1
    assert sorted(v.name for v in store.vectors()) == sorted(["plain", *ODD_NAMES[:2], *ODD_NAMES[3:]])


def check_close_releases(url: str) -> None:
    with _open(url) as st:
        st.put(toy_vector("a", [1, 0]))
    assert [v.name for v in _open(url).vectors()] == ["a"]


_WRITER = textwrap.dedent("""
    import sys, zlib, numpy as np
    from fute.checks import toy_vector
    from fute.store import open_store
    store = open_store(sys.argv[1])
    for i in range(int(sys.argv[3])):
        name = f"{sys.argv[2]}{i}"
        store.put(toy_vector(name, np.random.default_rng(zlib.crc32(name.encode())).standard_normal(64), key=name))
""")


def check_concurrent_writers_lose_nothing(url: str, n: int = 25) -> None:
    """Two processes writing at once: every vector of both is stored, whole."""
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, url, w, str(n)], stderr=subprocess.PIPE, text=True)
        for w in ("p", "q")
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    stored = {v.name: v for v in _open(url).vectors("s1")}
    assert set(stored) == {f"{w}{i}" for w in "pq" for i in range(n)}, f"{len(stored)} of {2 * n} stored"
    for name, v in stored.items():
        assert v.key == name and v.vector.shape == (64,) and np.isfinite(v.vector).all(), name


STORE_CHECKS = [
    check_put_get_and_replace,
    check_put_many,
    check_space_keeps_its_dimension,
    check_spaces_are_separate,
    check_cosine_search_with_filters,
    check_search_is_exact,
    check_search_sees_later_writes,
    check_remove,
    check_any_name_can_be_found,
    check_close_releases,
    check_concurrent_writers_lose_nothing,
]


def check_store(new_url: Callable[[], str]) -> None:
    """Every store check, each on a new empty store (``new_url()``: a path or URL that ``open_store`` takes)."""
    for check in STORE_CHECKS:
        try:
            check(new_url())
        except (AssertionError, FuteError) as e:
            raise AssertionError(f"{check.__name__}: {e}") from e
