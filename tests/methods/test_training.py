"""The surrogate learns the task before it is measured, and the vector then measures the task, not the run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from fute.methods import METHODS, get_method
from fute.methods.report import LEARN_MARGIN
from fute.methods.training import TrainingReport, holdout_split
from fute.samples import Samples
from fute.tables import learning_line
from tests.conftest import make_classification

TRAINED = ("fisher", "prompt", "prefix")
# kept out of the space id: they pick which rows are used (test_cap_and_seed_move_less_than_task); the methods that
# train have the growth rule's row budget too, which draws more rows of the same task
OUT_OF_SPACE = {"max_examples"}
OUT_OF_SPACE_TRAINED = {"grow_rows"}
# out of the space id at their default only: a space made before the option existed had that default
# (tests/methods/test_base.py: the default leaves the vector as it was)
OUT_AT_DEFAULT = {"ensemble_seeds"}
# a method's own options of that kind, each with a value that is not its default
ADDED_LATER = {"fisher": {"keep_probe": False, "fine_tune": "unless-probe-learns"}}


def place_task(n: int, seed: int = 0) -> Samples:
    """Another task over similar inputs: is a place ('city', 'river', 'street', 'house') or a being named?"""
    rng = np.random.default_rng(seed + 100)
    places, beings = ["city", "river", "street", "house"], ["dog", "cat", "man", "child"]
    texts, labels = [], []
    for i in range(n):
        y = i % 2
        words = list(rng.choice(["the", "a", "is", "was", "very", "big", "small", "red", "blue"], 4))
        texts.append(" ".join([*words, rng.choice(places if y else beings)]))
        labels.append(["being", "place"][y])
    return Samples.from_labels(texts, labels, source=f"places-{seed}")


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def tiny_mean(tiny_paths):
    """The tiny encoder, mean-pooled like the default surrogate: its frozen features carry the toy task's words."""
    from fute.surrogate import Surrogate

    return Surrogate(str(tiny_paths["encoder"]), max_length=32, pooling="mean")


@pytest.mark.parametrize("name", TRAINED)
def test_training_lowers_the_heldout_loss_on_a_separable_task(tiny_mean, name):
    opts = {"learning_rate": 1e-3} if name == "fisher" else {"learning_rate": 1e-1, "n_tokens": 4}
    m = get_method(name, batch_size=8, max_epochs=10, patience=2, **opts)
    m.embed(make_classification(160), tiny_mean, progress=False)
    r: TrainingReport = m.training_
    assert r.rows_heldout == 32 and r.rows_train == 128
    assert r.initial_heldout_loss == pytest.approx(np.log(2), rel=1e-4)  # the zero head: uniform
    assert r.learned and r.probe_heldout_loss < 0.8 * np.log(2), r  # the probe alone learns the toy task
    # best epoch kept: fisher may keep the probe's state; prompt and prefix keep a tuned one (keep_start=False)
    assert r.heldout_loss == pytest.approx(min(r.history if name == "fisher" else r.history[1:]))
    assert r.heldout_loss < 0.8 * np.log(2)
    assert r.stopped == "patience" and r.converged and r.finetune_steps == 16 * r.finetune_epochs
    if name == "fisher":
        assert r.heldout_loss < r.probe_heldout_loss  # fine-tuning added to the probe


def test_the_card_records_how_training_ended(tiny, tmp_path):
    from fute.embed import embed_samples

    vec = embed_samples(
        make_classification(40), "toy", surrogate=tiny, store=tmp_path / "s", progress=False, batch_size=8, max_epochs=1
    )
    t = vec.card.training
    assert {
        "rows_train",
        "rows_heldout",
        "finetune_steps",
        "train_loss",
        "heldout_loss",
        "converged",
        "learned",
        "stopped",
        "history",
    } <= set(t)
    assert t["finetune_steps"] == 4 and t["rows_heldout"] == 8


def test_a_run_that_learns_nothing_says_so(tiny):
    noise = Samples.from_labels(["the a is the"] * 400, ["x", "y"] * 200, source="noise")  # nothing to learn
    m = get_method("fisher", batch_size=8, max_epochs=1)
    with pytest.warns(UserWarning, match="learned nothing"):
        vec = m.embed(noise, tiny, progress=False)
    assert not m.training_.learned and np.abs(vec).sum() > 0  # not the zero vector of an untrained head


def test_soft_labels_that_say_nothing_about_the_input_are_named_so(tiny):
    """A model's soft labels: the warning says how much they leave to learn (constant loss minus their entropy),
    here nothing, as every input gets the same distribution; one-hot labels leave the whole loss (no such clause)."""
    same = Samples.from_distributions(
        ["the a is the", "a the is a"] * 100, np.tile([0.6, 0.4], (200, 1)), ["x", "y"], source="soft"
    )
    m = get_method("fisher", batch_size=8, max_epochs=1)
    with pytest.warns(UserWarning, match=r"the labels leave at most 0\.0000 to learn"):
        m.embed(same, tiny, progress=False)
    assert m.training_.heldout_label_entropy == pytest.approx(-(0.6 * np.log(0.6) + 0.4 * np.log(0.4)))
    noise = Samples.from_labels(["the a is the"] * 400, ["x", "y"] * 200, source="noise")
    with pytest.warns(UserWarning, match="learned nothing") as got:
        get_method("fisher", batch_size=8, max_epochs=1).embed(noise, tiny, progress=False)
    assert not any("to learn" in str(w.message) for w in got)


def test_budget_without_convergence_warns_once(tiny):
    m = get_method("fisher", batch_size=8, max_epochs=1, patience=3, learning_rate=1e-3)
    with pytest.warns(UserWarning, match="budget") as got:
        m.embed(make_classification(60), tiny, progress=False)
    assert m.training_.stopped == "budget" and not m.training_.converged
    assert sum("budget" in str(w.message) for w in got) == 1


def test_holdout_split_is_seeded_and_disjoint():
    a, b = holdout_split(100, 0.2, 0)
    assert len(b) == 20 and not set(a) & set(b) and len(a) + len(b) == 100
    np.testing.assert_array_equal(b, holdout_split(100, 0.2, 0)[1])
    assert not np.array_equal(b, holdout_split(100, 0.2, 1)[1])
    assert len(holdout_split(12, 0.2, 0)[1]) == 0  # too few rows to spare five


@pytest.mark.parametrize("name", ["prompt", "prefix"])
def test_a_tuned_parameter_vector_is_never_the_untuned_start(tiny_mean, name):
    """When tuning does not beat the probe on the held-out slice, the vector is still a tuned prefix/prompt,
    not the zero difference from its initialisation that an epoch-0 best gives every task alike."""
    tiny_steps = {"learning_rate": 1e-9, "head_learning_rate": 1e-12}  # an epoch that cannot improve by 1e-4
    m = get_method(name, batch_size=8, max_epochs=1, n_tokens=4, relative_to_init=True, **tiny_steps)
    vec = m.embed(make_classification(80), tiny_mean, progress=False)
    r: TrainingReport = m.training_
    assert r.history[1] > r.history[0] * (1 - 1e-4)  # no improvement the stopping rule counts
    assert r.heldout_loss == pytest.approx(r.history[1]) and np.linalg.norm(vec) > 0


def test_cap_and_seed_move_less_than_task(tiny):
    """The space means what it says: another row cap or seed of one task stays nearer than another task."""
    task, other = make_classification(160), place_task(160)
    base = get_method("fisher", batch_size=8, max_examples=120).embed(task, tiny, progress=False)
    capped = get_method("fisher", batch_size=8, max_examples=60).embed(task, tiny, progress=False)
    reseeded = get_method("fisher", batch_size=8, max_examples=120, seed=1).embed(task, tiny, progress=False)
    far = get_method("fisher", batch_size=8, max_examples=120).embed(other, tiny, progress=False)
    assert cos(base, capped) > cos(base, far) and cos(capped, base) > cos(capped, far)
    assert cos(base, reseeded) > cos(base, far)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_config_field_is_in_the_space_or_known_not_to_move_it(name):
    cfg = get_method(name).config
    out = {f.name for f in dataclasses.fields(cfg)} - set(cfg.space_dict())
    later = ADDED_LATER.get(name, {})
    trained = OUT_OF_SPACE_TRAINED if name in TRAINED else set()
    assert out == OUT_OF_SPACE | trained | OUT_AT_DEFAULT | set(later), (
        f"{name}: fields out of the space id need a test that they do not move coordinates"
    )
    for key, value in [("ensemble_seeds", 2), *later.items()]:
        assert key in get_method(name, **{key: value}).config.space_dict(), (
            f"{name}: {key}={value!r}, an ensemble or an option added later set off its default, must make a space"
            " of its own"
        )


def test_keep_probe_false_takes_the_fisher_after_fine_tuning(tiny_mean):
    """With the probe's state a candidate, an epoch that does worse than the probe leaves the probe's state (and
    its Fisher); ``keep_probe=False`` keeps the fine-tuned epoch instead, so every vector is of one kind of state."""
    task = make_classification(160)
    kw = {"batch_size": 8, "max_epochs": 1, "learning_rate": 0.3}  # a step size that undoes what the probe learned
    probe = get_method("fisher", **kw)
    kept_probe = probe.embed(task, tiny_mean, progress=False)
    h = probe.training_.history
    assert h[1] > h[0] and probe.training_.heldout_loss == pytest.approx(h[0])  # the probe's state was kept
    tuned = get_method("fisher", keep_probe=False, **kw)
    with pytest.warns(UserWarning, match="learned nothing"):  # the kept epoch is worse than a constant
        kept_tuned = tuned.embed(task, tiny_mean, progress=False)
    assert tuned.training_.history == pytest.approx(h)  # the same run, another state kept
    assert tuned.training_.heldout_loss == pytest.approx(h[1])
    assert cos(kept_probe, kept_tuned) < 0.999


def test_fine_tune_unless_probe_learns(tiny_mean):
    """Where the probe learned the task, its state is measured and nothing is fine-tuned: the probe-only vector.
    Where it did not (here: no probe epochs at all), fine-tuning runs and a fine-tuned state is kept."""
    task = make_classification(160)
    kw = {"batch_size": 8, "learning_rate": 1e-3}
    probe_only = get_method("fisher", max_epochs=0, **kw).embed(task, tiny_mean, progress=False)
    m = get_method("fisher", fine_tune="unless-probe-learns", max_epochs=3, **kw)
    vec = m.embed(task, tiny_mean, progress=False)
    r = m.training_
    assert r.stopped == "probe-learned" and r.finetune_steps == 0 and r.learned and r.converged
    assert np.allclose(vec, probe_only, atol=1e-6)
    m = get_method(
        "fisher", fine_tune="unless-probe-learns", probe_max_epochs=0, max_epochs=2, head_learning_rate=0.05, **kw
    )
    m.embed(task, tiny_mean, progress=False)
    r = m.training_
    assert r.finetune_steps > 0 and r.stopped in ("patience", "budget") and r.learned
    assert r.heldout_loss == pytest.approx(min(r.history[1:])) and r.heldout_loss < r.history[0]


def test_frozen_features_do_not_depend_on_what_was_computed_before(tiny):
    """Same inputs, same features, bit for bit, whatever other sets the process embedded first."""
    from fute.methods.training import frozen_features

    data = make_classification(40, pair=True)
    tiny.__dict__.pop("_pooled_cache", None)
    alone = frozen_features(tiny, tiny.encode(data.select(range(10)))).clone()
    tiny.__dict__.pop("_pooled_cache", None)
    frozen_features(tiny, tiny.encode(data))  # a superset first
    after = frozen_features(tiny, tiny.encode(data.select(range(10))))
    assert torch.equal(alone, after)
    assert frozen_features(tiny, tiny.encode(data.select(range(10)))) is after  # computed once


def noise(n: int) -> Samples:
    """Labels that no input predicts: the surrogate cannot learn them from any number of rows."""
    return Samples.from_labels(["the a is the"] * n, ["x", "y"] * (n // 2), source=f"noise-{n}")


def test_growth_draws_twice_the_rows_until_the_data_ends_and_warns_once(tiny):
    m = get_method("fisher", batch_size=16, max_epochs=1, max_examples=100, grow_rows=10000)
    with pytest.warns(UserWarning, match="learned nothing") as got:
        m.embed(noise(400), tiny, progress=False)
    tries = m.training_.attempts
    assert [t["rows"] for t in tries] == [100, 200, 400] and m.rows_used_ == 400
    assert all(t["loss_ratio"] > LEARN_MARGIN for t in tries)
    assert sum("learned nothing" in str(w.message) for w in got) == 1  # the kept attempt's only
    line = learning_line(m.training_.as_dict())
    assert line.startswith("not learned with a margin at 400 rows") and "100 rows" in line and "200 rows" in line


def test_growth_stops_at_its_row_budget(tiny):
    m = get_method("fisher", batch_size=16, max_epochs=1, max_examples=100, grow_rows=300)
    with pytest.warns(UserWarning, match="learned nothing"):
        m.embed(noise(400), tiny, progress=False)
    assert [t["rows"] for t in m.training_.attempts] == [100, 200, 300]


def test_a_task_learned_at_the_first_try_keeps_the_vector_it_had_without_the_rule(tiny_mean, tmp_path):
    """The rule's first attempt is the computation made before the rule: a learned task's vector is the same, bit
    for bit, but its job key is not (no cache made before the rule serves a vector made under it)."""
    from fute.embed import embed_samples

    task = make_classification(160)
    opts = {"batch_size": 8, "max_epochs": 2, "learning_rate": 1e-3, "max_examples": 100}
    grown = embed_samples(
        task, "toy", surrogate=tiny_mean, store=tmp_path / "a", progress=False, grow_rows=1000, **opts
    )
    plain = embed_samples(task, "toy", surrogate=tiny_mean, store=tmp_path / "b", progress=False, **opts)  # off
    tries = grown.card.training["attempts"]
    assert len(tries) == 1 and tries[0]["loss_ratio"] <= LEARN_MARGIN and grown.card.data.n_used == 100
    assert np.array_equal(grown.vector, plain.vector) and grown.space_id == plain.space_id
    assert grown.key != plain.key and "attempts" not in plain.card.training
    assert "grow_rows" not in plain.card.method_config  # off: the key of a vector made before the option existed
    assert get_method("fisher").config.grow_rows is None  # off by default (bench/results/learnability/rule.md)
    assert learning_line(grown.card.training).startswith("learned at 100 rows")
