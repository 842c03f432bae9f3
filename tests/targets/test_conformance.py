"""The checks every target backend passes: shapes, distributions, determinism, identity, resumable labeling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fute.corpus import Corpus
from fute.targets import CallableTarget, TargetModel
from fute.targets.hf_classifier import HFClassifier
from fute.targets.hf_lm import HFCausalLM
from fute.targets.prompts import load_prompt_set
from tests.conftest import build_tokenizer

TEXTS = ["the movie was good", "the plot was awful", "a big happy dog", "the food", "red car", "sad cat"]


def keyword_probs(texts, pairs):
    return np.array([[0.2, 0.8] if "good" in t or "happy" in t else [0.7, 0.3] for t in texts])


@pytest.fixture(scope="module")
def classifier_path(tmp_path_factory):
    from transformers import BertConfig, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-classifier")
    tok = build_tokenizer(folder)
    torch.manual_seed(1)
    cfg = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=3,
        id2label={0: "entailment", 1: "neutral", 2: "contradiction"},
    )
    BertForSequenceClassification(cfg).save_pretrained(folder)
    return folder


@pytest.fixture(params=["callable", "hf-classifier", "hf-lm"])
def target(request, classifier_path, tiny_llama) -> TargetModel:
    if request.param == "callable":
        return CallableTarget(keyword_probs, ["negative", "positive"], name="keywords")
    if request.param == "hf-classifier":
        return HFClassifier(str(classifier_path))
    return HFCausalLM(str(tiny_llama), load_prompt_set("sentiment")["sentiment-colon"])


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FUTE_HOME", str(tmp_path / "home"))


def test_label_distributions(target):
    probs = target.predict(TEXTS, progress=False)
    assert probs.shape == (len(TEXTS), len(target.label_names))
    assert np.allclose(probs.sum(axis=1), 1) and (probs >= 0).all()
    np.testing.assert_array_equal(probs, target.predict(TEXTS, progress=False, cache=False))


def test_identity_is_json_and_stable(target):
    ident = target.identity()
    assert json.loads(json.dumps(ident)) == ident and ident["backend"] == target.backend
    assert target.identity_hash() == target.identity_hash()


def test_label_gives_soft_samples(target):
    samples = target.label(Corpus(TEXTS, sources=["x"] * len(TEXTS)), progress=False)
    assert samples.task == "classification" and samples.label_names == target.label_names
    assert samples.info["corpus"]["size"] == len(TEXTS) and samples.info["target"] == target.identity()


def test_interrupted_labeling_resumes(target, monkeypatch):
    calls = []
    real = type(target)._predict

    def flaky(self, texts, pairs):
        calls.append(len(texts))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, texts, pairs)

    monkeypatch.setattr(type(target), "_predict", flaky)
    with pytest.raises(KeyboardInterrupt):
        target.predict(TEXTS, chunk_size=2, progress=False)
    done = target.predict(TEXTS, chunk_size=2, progress=False)
    assert calls == [2, 2, 2, 2]  # chunk 1 from the cache; chunk 2 retried; chunk 3 new
    monkeypatch.setattr(type(target), "_predict", real)
    np.testing.assert_allclose(done, target.predict(TEXTS, progress=False, cache=False), rtol=1e-6)


def test_regression_classifier(tmp_path):
    from transformers import BertConfig, BertForSequenceClassification

    tok = build_tokenizer(tmp_path)
    BertForSequenceClassification(
        BertConfig(
            vocab_size=len(tok),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            num_labels=1,
        )
    ).save_pretrained(tmp_path)
    t = HFClassifier(str(tmp_path))
    values = t.predict(TEXTS, progress=False)
    assert t.task == "regression" and values.shape == (len(TEXTS),)
    assert t.label(Corpus(TEXTS), progress=False).task == "regression"


def test_bad_callable_output_is_caught():
    from fute.errors import ConfigError

    t = CallableTarget(lambda texts, pairs: np.ones((len(texts), 3)), ["a", "b"], name="bad")
    with pytest.raises(ConfigError, match=r"shape \(2, 3\), expected \(2, 2\)"):
        t.predict(TEXTS[:2], progress=False, cache=False)
