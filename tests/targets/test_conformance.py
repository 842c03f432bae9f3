"""Every target backend passes the package's target checks (fute.checks): shapes, distributions, determinism,
identity, resumable labeling, and capabilities that are methods of the interface."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fute.checks import TARGET_CHECKS, TEXTS, check_capabilities
from fute.corpus import Corpus
from fute.targets import CallableTarget, TargetModel
from fute.targets.hf_classifier import HFClassifier
from fute.targets.hf_lm import HFCausalLM
from fute.targets.prompts import load_prompt_set
from tests.conftest import build_tokenizer


def keyword_probs(texts, pairs):
    return np.array([[0.2, 0.8] if "good" in t or "happy" in t else [0.7, 0.3] for t in texts])


def tiny_bert(folder, architecture: str, seed: int, **config):
    """A tiny random-init BERT of ``architecture`` (a transformers class name) on the tests' tokenizer, saved."""
    import transformers
    from transformers import BertConfig

    tok = build_tokenizer(folder)
    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        architectures=[architecture],
        **config,
    )
    getattr(transformers, architecture)(cfg).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def classifier_path(tmp_path_factory):
    labels = {0: "entailment", 1: "neutral", 2: "contradiction"}
    return tiny_bert(tmp_path_factory.mktemp("tiny-classifier"), "BertForSequenceClassification", 1, id2label=labels)


@pytest.fixture(scope="module")
def qa_model_path(tmp_path_factory):
    """A tiny random-init extractive QA model (BertForQuestionAnswering) on the tests' tokenizer."""
    return tiny_bert(tmp_path_factory.mktemp("tiny-qa"), "BertForQuestionAnswering", 2)


@pytest.fixture(params=["callable", "hf-classifier", "hf-qa", "hf-lm"])
def target(request, classifier_path, qa_model_path, tiny_llama) -> TargetModel:
    if request.param == "callable":
        return CallableTarget(keyword_probs, ["negative", "positive"], name="keywords")
    if request.param == "hf-classifier":
        return HFClassifier(str(classifier_path))
    if request.param == "hf-qa":
        from fute.targets import load_target

        return load_target(str(qa_model_path), max_length=32, n_best=3)  # the config says QA: backend hf-qa
    return HFCausalLM(str(tiny_llama), load_prompt_set("sentiment")["sentiment-colon"])


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FUTE_HOME", str(tmp_path / "home"))


@pytest.mark.parametrize("check", TARGET_CHECKS, ids=lambda c: c.__name__)
def test_target_conformance(check, target):
    check(target)


def test_served_target_declares_what_it_can(openai_server):
    """The served backend gives label scores only: token and word log-probs are one-line CapabilityErrors."""
    from fute.targets.openai_api import OpenAITarget

    check_capabilities(OpenAITarget("fake", load_prompt_set("sentiment")["sentiment-colon"], base_url=openai_server))


def test_a_capability_declared_without_its_methods_fails_the_check():
    from fute.targets import TOKEN_LOGPROBS

    class Boasting(CallableTarget):
        capabilities = frozenset({*CallableTarget.capabilities, TOKEN_LOGPROBS})

    t = Boasting(keyword_probs, ["negative", "positive"], name="boast")
    with pytest.raises(AssertionError, match="text_nll is not overridden, token_logprobs is declared"):
        check_capabilities(t)


def test_one_spelling_for_a_served_llm(openai_server):
    """MODEL@URL names a served LLM wherever a model is given; --backend openai without a URL says how."""
    from fute.errors import ConfigError
    from fute.targets import load_target

    prompt = load_prompt_set("sentiment")["sentiment-colon"]
    t = load_target(f"fake@{openai_server}", prompt=prompt)
    assert t.backend == "openai" and t.identity()["base_url"] == openai_server and t.identity()["model"] == "fake"
    with pytest.raises(ConfigError, match="MODEL@URL"):
        load_target("fake", backend="openai", prompt=prompt)
    with pytest.raises(ConfigError, match="served model"):
        load_target(f"fake@{openai_server}", backend="hf-lm", prompt=prompt)


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


def test_a_mapped_target_sums_labels_into_the_datasets_and_conforms(tmp_path):
    """A 3-way NLI target read as 2-way RTE: not_entailment = neutral + contradiction, from the inner cache,
    which stays where the inner target keeps it."""
    from fute.checks import check_target
    from fute.targets.base import MappedTarget
    from fute.targets.prompts import label_map

    three = CallableTarget(
        lambda texts, pairs: np.tile([0.5, 0.3, 0.2], (len(texts), 1)),
        ["entailment", "neutral", "contradiction"],
        name="nli",
    )
    three.label_cache = tmp_path / "labels"
    labels = ("entailment", "not_entailment")
    mapped = MappedTarget(three, labels, label_map(three.label_names, labels, "rte"))
    np.testing.assert_allclose(mapped.predict(TEXTS[:2], progress=False), [[0.5, 0.5], [0.5, 0.5]])
    kept = {p.parent.name for p in (tmp_path / "labels").glob("*/*.npy")}
    assert kept == {three.identity_hash(), mapped.identity_hash()}
    assert mapped.identity()["mapped_to"] == list(labels) and mapped.identity()["model"] == "nli"
    check_target(mapped)
