"""Every source ranker passes one conformance test on a tiny transfer run; the simple ones by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fute.errors import ConfigError
from fute.evaluation.rankers import RANKERS, CurveGrad, RankContext, curve_slope, get_ranker, rank_all
from fute.store import open_store
from tests.conftest import WORDS, write_jsonl


@pytest.fixture(scope="module")
def context(tiny_run, tiny_paths, tmp_path_factory) -> RankContext:
    truth, _ = tiny_run
    root = tmp_path_factory.mktemp("rank")
    rng = np.random.default_rng(0)
    single = write_jsonl(root / "u.jsonl", [{"text": " ".join(rng.choice(WORDS, 5))} for _ in range(12)])
    pair = write_jsonl(
        root / "u_pair.jsonl",
        [{"text": " ".join(rng.choice(WORDS, 5)), "text_pair": " ".join(rng.choice(WORDS, 3))} for _ in range(12)],
    )
    return RankContext(
        truth,
        open_store(root / "store"),
        embed_examples=8,
        surrogate=str(tiny_paths["encoder"]),
        corpus={"single": str(single), "pair": str(pair)},
        progress=False,
    )


@pytest.mark.parametrize("name", RANKERS.in_order())
def test_conformance(name, context):
    """Fits on a run, orders every target's candidates as a permutation, the same way twice."""
    ranker = get_ranker(name).fit(context)
    names = context.names
    for t in names:
        sources = [s for s in names if s != t]
        for draw in range(min(ranker.draws, 3)):
            order = ranker.order(t, sources, draw)
            assert sorted(order) == sorted(sources)
            assert order == ranker.order(t, sources, draw)
            assert np.isfinite(ranker.scores(t, sources, draw)).all()
    assert ranker.__doc__ and len(ranker.__doc__) > 40  # says what it computes


def test_embedding_rankers_reuse_stored_vectors(context):
    get_ranker("fute-fisher").fit(context)
    stored = len(context.store.vectors())
    get_ranker("fute-fisher").fit(context)
    assert len(context.store.vectors()) == stored


def test_a_smaller_query_embeds_the_target_alone_and_keeps_the_sources(context):
    """``query_examples``: each target's own vector from fewer rows, stored apart (NAME@Nrows); the sources'
    vectors are the ones at ``embed_examples``, and the default (no query cap) is unchanged."""
    from dataclasses import replace

    plain = get_ranker("fute-fisher").fit(context)
    small = get_ranker("fute-fisher").fit(replace(context, query_examples=4))
    for n in context.names:
        np.testing.assert_array_equal(small.sources_[n], plain.sources_[n])
        assert not np.array_equal(small.targets_[n], plain.targets_[n])
        assert context.store.vectors(name=f"{n}@4rows")[0].card.data.n_used == 4
    same = get_ranker("fute-fisher").fit(replace(context, query_examples=8))  # the sources' own cap: one vector
    assert all(np.array_equal(same.targets_[n], plain.targets_[n]) for n in context.names)
    assert replace(context, query_examples=4).table_key(plain) != context.table_key(plain)


def test_rankers_that_read_the_models_keep_their_score_tables(context, tmp_path, monkeypatch):
    """A kept table orders as the fitted ranker does; a rerun reads it without fitting (fit would fail here);
    another row count is another table; a cheap ranker keeps nothing."""
    from dataclasses import replace

    from fute.evaluation.rankers import LogME, fit_kept

    kept = replace(context, tables=tmp_path)
    names = context.names
    plain = get_ranker("logme").fit(context)
    first = fit_kept(get_ranker("logme"), kept)
    assert [f.name for f in tmp_path.iterdir()] == [f"logme-{kept.table_key(plain)}.json"]
    for t in names:
        sources = [s for s in names if s != t]
        assert first.order(t, sources) == plain.order(t, sources)
        np.testing.assert_allclose(first.scores(t, sources), plain.scores(t, sources))
    monkeypatch.setattr(LogME, "fit", lambda self, ctx: (_ for _ in ()).throw(AssertionError("fitted again")))
    again = fit_kept(get_ranker("logme"), kept)
    assert again.name == "logme" and again.order(names[0], names[1:]) == plain.order(names[0], names[1:])
    other = replace(kept, embed_examples=6)
    assert other.table_key(plain) != kept.table_key(plain)
    with pytest.raises(AssertionError, match="fitted again"):
        fit_kept(get_ranker("logme"), other)
    fit_kept(get_ranker("datasize"), kept)
    assert len(list(tmp_path.iterdir())) == 1
    assert {n for n in RANKERS.in_order() if RANKERS.get_class(n).keeps_scores} == {
        "fute-mte",  # its vectors are found in the store by its models' weights hashes
        "taskemb",
        "tupate",
        "logme",
        "esm-logme",
    }
    # a given U is part of the key (by content), the shipped one is not (the version and datasets fix it)
    u = tmp_path / "u.jsonl"
    u.write_text('{"text": "a"}\n')
    given = replace(kept, corpus={"single": str(u)}).table_key(plain)
    assert given != kept.table_key(plain)
    u.write_text('{"text": "b"}\n')
    assert replace(kept, corpus={"single": str(u)}).table_key(plain) != given


def test_own_model_rankers_take_each_task_model_with_its_own_head(context, tmp_path):
    """TaskEmb and TuPaTE as first proposed: the task model's own trained head, nothing retrained."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from fute.methods.fisher import classifier_fisher
    from fute.methods.prefix import classifier_prefix

    taskemb, tupate = get_ranker("taskemb").fit(context), get_ranker("tupate").fit(context)
    model_dir = context.truth["target_models"]["pos"]
    samples = context.samples("pos").take(context.embed_examples, 0)
    np.testing.assert_array_equal(taskemb.targets_["pos"], classifier_fisher(model_dir, samples))  # from the folder
    np.testing.assert_array_equal(tupate.targets_["pos"], classifier_prefix(model_dir, samples))
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    hidden, layers = model.config.hidden_size, model.config.num_hidden_layers
    assert taskemb.targets_["pos"].shape == ((layers + 1) * hidden,)
    assert tupate.targets_["pos"].shape == (2 * 16 * hidden,)
    torch.manual_seed(1)
    model.classifier.weight.data = torch.randn_like(model.classifier.weight)  # the same backbone, another head
    model.save_pretrained(tmp_path / "other-head")
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(tmp_path / "other-head")
    assert not np.allclose(classifier_fisher(str(tmp_path / "other-head"), samples), taskemb.targets_["pos"])


def test_datasize_and_random():
    truth = {"datasets": {"a": {"train_size": 10}, "b": {"train_size": 30}, "c": {"train_size": 20}}}
    ctx = RankContext(truth={**truth, "settings": {"target_examples": 8}}, store=None)
    assert get_ranker("datasize").fit(ctx).order("a", ["b", "c"]) == ["b", "c"]
    rnd = get_ranker("random").fit(ctx)
    orders = {tuple(rnd.order("a", ["b", "c"], d)) for d in range(50)}
    assert orders == {("b", "c"), ("c", "b")}
    assert rank_all([rnd], {**truth})["random"]["a"][0] == rnd.order("a", ["b", "c"], 0)


def test_curvegrad_prefers_a_curve_still_falling():
    flat = [1.0] * 5 + [0.3] * 15
    falling = list(np.linspace(1.0, 0.3, 20))
    assert curve_slope(falling) < 0 and curve_slope(flat) == pytest.approx(0.0)
    truth = {
        "datasets": {"t": {}, "flat": {}, "falling": {}},
        "settings": {"target_examples": 8},
        "source_losses": {"t": flat, "flat": flat, "falling": falling},
    }
    assert CurveGrad().fit(RankContext(truth, store=None)).order("t", ["flat", "falling"]) == ["falling", "flat"]


def test_unknown_ranker():
    with pytest.raises(ConfigError, match="unknown ranker 'nope'.*fute-fisher"):
        get_ranker("nope")


def test_u_holds_no_text_of_an_evaluated_dataset(context, tmp_path):
    """U is cleaned by content, not only by name: a row that is an evaluated dataset's text (any split, after
    normalisation) is dropped, and counted."""
    from dataclasses import replace

    from fute.samples import load_samples

    some = load_samples(context.truth["datasets"][context.names[0]]["path"], split="dev").texts[0]
    rows = [{"text": some.upper() + "."}, {"text": "a red car"}, {"text": "the big dog"}]
    ctx = replace(context, corpus={"single": str(write_jsonl(tmp_path / "u.jsonl", rows))}, u_removed={})
    u = ctx.unlabeled(pairs=False)
    assert u.texts == ["a red car", "the big dog"] and ctx.u_removed == {"single": 1}
    # an eval that reads fute-mte's kept table labels no U, yet reports the counts labeling U gives (both kinds:
    # the run has single-text and text-pair datasets)
    ctx.unlabeled(pairs=True)
    fresh = replace(ctx, u_removed={})
    assert fresh.u_removed_counts() == ctx.u_removed and set(ctx.u_removed) == {"single", "pair"}
    assert get_ranker("fute-mte").reads_u


def test_under_the_growth_rule_a_target_keeps_its_own_rows_and_a_source_may_draw_more(context):
    """A target of the run has only its capped rows: its own vector is made from them (stored as NAME@Nrows), while
    a source's vector may draw more of its training rows where the surrogate did not learn it (``grow_rows``).
    Without the rule (the default), one vector is both."""
    from dataclasses import replace

    growing = replace(context, method_options={"fisher": {"grow_rows": 1000}})
    grown = get_ranker("fute-fisher").fit(growing)
    for n in context.names:
        query = context.store.vectors(name=f"{n}@8rows")[0]
        assert query.card.data.n_used == 8 and np.array_equal(grown.targets_[n], query.vector)
        source = context.store.vectors(query.space_id, name=n)[0]
        tries = source.card.training["attempts"]
        assert source.card.data.n_used == tries[-1]["rows"] >= 8
        assert len(tries) == 1 or tries[0]["loss_ratio"] > tries[0]["margin"]  # grew only where not learned
    plain = get_ranker("fute-fisher").fit(context)  # the default: no growth
    assert all(np.array_equal(plain.targets_[n], plain.sources_[n]) for n in context.names)


def test_method_options_reach_the_embeddings_and_the_kept_tables_key(context):
    """``method_options``: a variant of a method judged on the same run. Its DTE is the one the method makes with
    the option, its kept tables are others, and a bad option is one error before any work."""
    from dataclasses import replace

    from fute.methods import get_method
    from fute.surrogate import load_surrogate

    variant = replace(context, method_options={"fisher": {"max_epochs": 0}})
    name = context.names[0]
    got = variant.dte(name, "fisher")
    rows = context.samples(name)
    want = get_method("fisher", max_epochs=0, max_examples=8).embed(
        rows, load_surrogate(context.surrogate), progress=False
    )
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert not np.allclose(got, context.dte(name, "fisher"), atol=1e-3)  # the default fine-tunes: another vector
    mte = get_ranker("fute-mte")
    assert variant.table_key(mte) != context.table_key(mte)
    logme = get_ranker("logme")  # embeds nothing with fisher: its kept table stays valid
    assert variant.table_key(logme) == context.table_key(logme)
    assert replace(context, method_options={}).table_key(mte) == context.table_key(mte)  # kept tables stay valid
    with pytest.raises(ConfigError, match="keep_probe"):
        replace(context, method_options={"fisher": {"keep_probe": "maybe"}})
    with pytest.raises(ConfigError, match="--embed-examples"):
        replace(context, method_options={"fisher": {"max_examples": 4}})


@pytest.fixture(scope="module")
def qa_context(tiny_paths, tmp_path_factory) -> RankContext:
    """A tiny transfer run of three QA datasets, and the QA form of U (question + passage pairs)."""
    from fute.evaluation.transfer.truth import run_truth
    from tests.evaluation.conftest import tiny_config, write_qa_dataset

    root = tmp_path_factory.mktemp("qa-rank")
    paths = [write_qa_dataset(root, f"qa{i}", seed=i) for i in range(3)]
    truth = run_truth(
        paths, tiny_config(tiny_paths["encoder"]), run_dir=root / "run", progress=False, echo=lambda _: None
    )
    rng = np.random.default_rng(0)
    u = write_jsonl(
        root / "u_qa.jsonl",
        [
            {"text": "what is " + str(rng.choice(WORDS)), "text_pair": " ".join(rng.choice(WORDS, 12))}
            for _ in range(12)
        ],
    )
    return RankContext(
        truth,
        open_store(root / "store"),
        embed_examples=8,
        surrogate=str(tiny_paths["encoder"]),
        corpus={"qa": str(u)},
        progress=False,
    )


# the rankers with a QA path of their own; fute-prompt, fute-prefix and textemb are DTEs like fute-fisher's, whose
# QA vectors tests/test_qa.py makes with every method
QA_PATHS = ["fute-fisher", "fute-mte", "taskemb", "tupate", "datasize", "curvegrad", "random"]


@pytest.mark.parametrize("name", QA_PATHS)
def test_conformance_on_qa(name, qa_context):
    """The rankers defined for span tasks rank QA targets: vectors of QA data and QA models, QA models' own."""
    test_conformance(name, qa_context)


def test_rankers_undefined_for_spans_are_left_out_with_the_reason(qa_context):
    from fute.evaluation.transfer.report import run_eval

    said: list[str] = []
    judged, _ = run_eval(qa_context.truth, ["logme", "esm-logme", "datasize"], qa_context, echo=said.append)
    assert list(judged) == ["datasize"] and set(qa_context.left_out) == {"logme", "esm-logme"}
    assert any(line.startswith("ranker logme: left out (LogME is the evidence") for line in said)
    assert {"logme", "esm-logme"} <= set(RANKERS.in_order()) and "qa" not in get_ranker("logme").tasks
    defined = {n for n in RANKERS.in_order() if "qa" in get_ranker(n).tasks}
    assert set(QA_PATHS) <= defined and defined - set(QA_PATHS) == {"fute-prompt", "fute-prefix", "textemb"}


def test_in_a_truth_of_cr_and_qa_targets_logme_ranks_the_cr_targets_and_says_so(tiny_paths, tmp_path):
    """The all-class truth: LogME and ESM-LogME rank the classification targets (every dataset, QA ones too, a
    candidate source) and no QA target; the eval says which targets they rank and why."""
    from fute.evaluation.transfer.report import run_eval
    from fute.evaluation.transfer.truth import run_truth
    from tests.evaluation.conftest import tiny_config, write_dataset, write_qa_dataset

    paths = [
        write_qa_dataset(tmp_path, "qa1"),
        write_qa_dataset(tmp_path, "qa2", seed=1),
        write_dataset(tmp_path, "pos", "sentiment"),
        write_dataset(tmp_path, "neg", "sentiment", flip=True, seed=1),
    ]
    truth = run_truth(paths, tiny_config(tiny_paths["encoder"]), run_dir=tmp_path / "run", progress=False,
                      echo=lambda _: None)  # fmt: skip
    ctx = RankContext(truth, open_store(tmp_path / "store"), embed_examples=8, surrogate=str(tiny_paths["encoder"]),
                      progress=False, tables=tmp_path / "tables")  # fmt: skip
    said: list[str] = []
    judged, orders = run_eval(truth, ["logme", "esm-logme", "datasize"], ctx, echo=said.append)
    for name in ("logme", "esm-logme"):
        assert sorted(orders[name]) == ["neg", "pos"] and sorted(orders[name]["pos"][0]) == ["neg", "qa1", "qa2"]
        assert judged[name]["summary"]["all"]["overall"]["targets"] == 2
        assert ctx.partial[name].startswith("ranks the classification targets only: LogME is the evidence")
    assert sorted(orders["datasize"]) == ["neg", "pos", "qa1", "qa2"] and not ctx.left_out
    again, _ = run_eval(truth, ["logme"], ctx, echo=said.append)  # from the kept table
    assert again["logme"]["per_target"] == judged["logme"]["per_target"]
