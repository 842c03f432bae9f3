from __future__ import annotations

import numpy as np
import pytest

import fute
from fute.embed import embed_dataset, embed_samples
from fute.errors import ConfigError
from fute.methods.baselines import TextEmb
from fute.store import LocalStore
from tests.conftest import make_classification, write_jsonl


def test_embed_dataset_from_file_is_stored_with_card(tmp_path, tiny):
    rows = [{"text": t, "label": y} for t, y in zip(*_texts_labels(), strict=True)]
    path = write_jsonl(tmp_path / "toy.jsonl", rows)
    v = embed_dataset(path, method="textemb", surrogate=tiny, store=tmp_path / "st", progress=False)
    assert v.name == "toy" and v.kind == "dataset" and v.card.data.source == str(path)
    stored = LocalStore(tmp_path / "st").vectors(name="toy")
    assert len(stored) == 1 and np.array_equal(stored[0].vector, v.vector)


def _texts_labels():
    s = make_classification(10)
    return s.texts, [s.label_names[i] for i in s.targets.argmax(1)]


def test_same_data_and_config_is_a_cache_hit(tmp_path, tiny, monkeypatch):
    calls = []
    real = TextEmb._embed
    monkeypatch.setattr(TextEmb, "_embed", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    data = make_classification(10)
    a = embed_samples(data, "toy", method="textemb", surrogate=tiny, store=tmp_path, progress=False)
    b = embed_samples(data, "toy", method="textemb", surrogate=tiny, store=tmp_path, progress=False)
    assert len(calls) == 1 and a.card == b.card
    c = embed_samples(data, "toy-copy", method="textemb", surrogate=tiny, store=tmp_path, progress=False)
    assert len(calls) == 1 and c.card.copied_from == "toy" and np.array_equal(c.vector, a.vector)
    embed_samples(data, "toy", method="textemb", surrogate=tiny, store=tmp_path, progress=False, seed=1)
    assert len(calls) == 2  # another seed is another job
    embed_samples(
        make_classification(10, seed=4),
        "toy",
        method="textemb",
        surrogate=tiny,
        store=tmp_path,
        progress=False,
        overwrite=True,
    )
    assert len(calls) == 3  # other data under the same name replaces the vector, when asked
    assert len(LocalStore(tmp_path).vectors(name="toy")) == 2  # one per space (seed 0, seed 1)


def test_same_inputs_same_vector_across_stores(tmp_path, tiny):
    data = make_classification(12)
    a = embed_samples(
        data, "t", method="fisher", surrogate=tiny, store=tmp_path / "1", progress=False, max_epochs=1, batch_size=8
    )
    b = embed_samples(
        data, "t", method="fisher", surrogate=tiny, store=tmp_path / "2", progress=False, max_epochs=1, batch_size=8
    )
    np.testing.assert_array_equal(a.vector, b.vector)
    assert a.space_id == b.space_id and a.key == b.key


def test_model_embedding_lives_in_the_datasets_space(tmp_path, tiny, monkeypatch):
    from fute.corpus import Corpus
    from fute.embed import embed_model
    from fute.rank import rank
    from fute.targets import CallableTarget

    monkeypatch.setenv("FUTE_HOME", str(tmp_path / "home"))
    data = make_classification(16)
    opts = {
        "method": "fisher",
        "surrogate": tiny,
        "store": tmp_path / "st",
        "progress": False,
        "max_epochs": 1,
        "batch_size": 8,
    }
    dte = embed_samples(data, "toy", **opts)
    corpus = Corpus(make_classification(16, seed=9).texts, sources=["u"] * 16, name="u")
    target = CallableTarget(
        lambda t, p: np.array([[0.3, 0.7] if "good" in x else [0.8, 0.2] for x in t]),
        ["negative", "positive"],
        name="rule",
    )
    mte = embed_model(target, "rule-model", corpus=corpus, **opts)
    assert mte.kind == "model" and mte.space_id == dte.space_id and mte.vector.shape == dte.vector.shape
    assert mte.card.target["model"] == "rule" and mte.card.corpus["fingerprint"] == corpus.fingerprint()
    assert mte.card.data.n_total == 16
    assert [r.vector.name for r in rank("toy", tmp_path / "st", kind="model")] == ["rule-model"]
    assert [r.vector.name for r in rank("rule-model", tmp_path / "st", kind="dataset")] == ["toy"]
    again = embed_model(target, "rule-model", corpus=corpus, **opts)
    assert again.key == mte.key  # same labels, same job: a cache hit
    with pytest.raises(ConfigError, match="ignores labels"):
        embed_model(target, "x", corpus=corpus, method="textemb", surrogate=tiny, store=tmp_path / "st")
    capped = embed_model(target, "rule-capped", corpus=corpus, **{**opts, "max_examples": 5})
    assert capped.card.data.n_total == 5 and capped.card.corpus["size"] == 5  # U capped before labeling

    from fute.targets.prompts import load_prompt_set

    monkeypatch.setattr("fute.embed.LLM_U_ROWS", 6)  # the API's U default for an LLM with a prompt, as the CLI's
    target.prompt = load_prompt_set("sentiment")["review-sentiment"]
    llm = embed_model(target, "rule-llm", corpus=corpus, **opts)
    assert llm.kind == "prompt" and llm.card.data.n_total == 6 and llm.card.corpus["size"] == 6


def test_the_card_says_its_schema_and_library_versions(tiny, tmp_path):
    from importlib.metadata import version

    from fute.embed import embed_samples
    from fute.space import CARD_SCHEMA

    card = embed_samples(
        make_classification(12), "v", surrogate=tiny, store=tmp_path / "s", progress=False, method="textemb"
    ).card
    assert card.schema == CARD_SCHEMA
    assert card.versions == {
        "fute": fute.__version__,
        "torch": version("torch"),
        "transformers": version("transformers"),
    }


def test_the_api_refuses_to_replace_a_name_unasked(tiny, tmp_path):
    from fute.embed import embed_samples
    from fute.errors import ConfigError

    kw = {"surrogate": tiny, "store": tmp_path / "s", "progress": False, "method": "textemb"}
    first = embed_samples(make_classification(12), "v", **kw)
    with pytest.raises(ConfigError, match="'v' \\(dataset\\) is already stored"):
        embed_samples(make_classification(12, seed=4), "v", **kw)
    assert embed_samples(make_classification(12), "v", **kw).key == first.key  # same data: the same vector
    replaced = embed_samples(make_classification(12, seed=4), "v", overwrite=True, **kw)
    assert replaced.key != first.key
