"""A fine-tuned extractive QA model as a target (fute.targets.hf_qa): its n-best answers are the soft label of a QA
MTE, in the same space as the QA datasets' DTEs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fute.corpus import QA_SOURCES, Corpus, default_corpus
from fute.embed import compute_vector, embed_model, embed_samples
from fute.methods import get_method
from fute.samples import Samples
from fute.targets import load_target
from fute.targets.hf_qa import HFQuestionAnswerer, top_spans
from tests.targets.test_conformance import qa_model_path  # noqa: F401 - the tiny QA model fixture
from tests.test_qa import _qa_task


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FUTE_HOME", str(tmp_path / "home"))


def test_top_spans_by_hand():
    """Spans in the context only, start before end, at most max_tokens long, best start + end logit first."""
    start = np.array([9.0, 1.0, 3.0, 0.0, 2.0])
    end = np.array([9.0, 0.0, 1.0, 4.0, 0.5])
    context = np.array([False, True, True, True, True])  # token 0 is the question: never a span
    got = top_spans(start, end, context, 3, max_tokens=2)
    # (2, 3): 3 + 4 = 7; (2, 2): 3 + 1 = 4; (3, 3): 0 + 4 = 4 (a tie: the earlier start first); then (4, 4) 2.5;
    # (1, 3) would be 5 but is 3 tokens long; (0, 0) would be 18 but is the question
    assert got == [(7.0, 2, 3), (4.0, 2, 2), (4.0, 3, 3)]


def test_the_default_qa_u_is_question_and_passage_pairs():
    u = default_corpus(qa=True)
    assert u.paired and len(u) > 0 and set(u.sources) == set(QA_SOURCES)
    assert u.name == "fute-default-qa"


def test_a_qa_model_mte_lives_with_the_qa_dtes(qa_model_path, tiny, tmp_path):  # noqa: F811
    """The QA model labels question + context pairs with its n-best spans; the MTE is in the DTEs' space."""
    opts = {"method": "fisher", "surrogate": tiny, "store": tmp_path / "st", "progress": False, "max_epochs": 1}
    data = _qa_task(24)
    dte = embed_samples(data, "cities", **opts)
    corpus = Corpus(data.texts, data.text_pairs, sources=["u"] * len(data), name="u")
    model = load_target(str(qa_model_path), max_length=32, n_best=3)
    assert isinstance(model, HFQuestionAnswerer)
    labeled = model.label(corpus, progress=False)
    assert labeled.task == "qa" and all(1 <= len(s) <= 3 for s in labeled.spans)
    assert all(abs(sum(p for *_, p in s) - 1) < 1e-6 for s in labeled.spans)
    mte = embed_model(model, "tiny-qa", corpus=corpus, **opts)
    assert mte.kind == "model" and mte.space_id == dte.space_id and mte.vector.shape == dte.vector.shape
    assert mte.card.target["backend"] == "hf-qa" and mte.card.target["n_best"] == 3
    assert np.isfinite(mte.vector).all() and not np.array_equal(mte.vector, dte.vector)


def test_one_span_of_probability_one_is_the_gold_answer(tiny):
    """The soft-label path (a term per n-best span) reduces to the gold path when a model puts all its mass on one
    span: the same vector, to float precision."""
    gold = _qa_task(24)
    soft = Samples.from_spans(gold.texts, gold.text_pairs, [[(a, t, 1.0)] for a, t in gold.answers], source="soft")
    m = lambda: get_method("fisher", max_epochs=1)  # noqa: E731
    a = compute_vector(gold, "gold", kind="dataset", method=m(), surrogate=tiny, progress=False)
    b = compute_vector(soft, "soft", kind="dataset", method=m(), surrogate=tiny, progress=False)
    np.testing.assert_allclose(a.vector, b.vector, rtol=1e-5, atol=1e-7)
    halves = [[(a_, t, 0.5), (a_, t, 0.5)] for a_, t in gold.answers]  # one span twice: the same distribution
    c = compute_vector(
        Samples.from_spans(gold.texts, gold.text_pairs, halves, source="halves"),
        "halves",
        kind="dataset",
        method=m(),
        surrogate=tiny,
        progress=False,
    )
    np.testing.assert_allclose(a.vector, c.vector, rtol=1e-4, atol=1e-6)


def test_soft_spans_move_the_vector(tiny):
    """A model unsure between the answer and another word gives another vector than the gold answers."""
    gold = _qa_task(24)
    unsure = []
    for (a, t), context in zip(gold.answers, gold.text_pairs, strict=True):
        other = context.index("river") if "river" in context else 0
        unsure.append([(a, t, 0.6), (other, context[other : other + 5], 0.4)])
    m = lambda: get_method("fisher", max_epochs=1)  # noqa: E731
    a = compute_vector(gold, "gold", kind="dataset", method=m(), surrogate=tiny, progress=False)
    b = compute_vector(
        Samples.from_spans(gold.texts, gold.text_pairs, unsure, source="unsure"),
        "unsure",
        kind="dataset",
        method=m(),
        surrogate=tiny,
        progress=False,
    )
    assert np.linalg.norm(a.vector - b.vector) > 1e-3 * np.linalg.norm(a.vector)


def test_bad_spans_are_one_line_errors():
    from fute.errors import DataError

    with pytest.raises(DataError, match=r"m: question 1: span 'rome' at 0 is not in its context"):
        Samples.from_spans(["q"], ["paris is big"], [[(0, "rome", 1.0)]], source="m")
    with pytest.raises(DataError, match=r"m: question 1 has no span with a positive probability"):
        Samples.from_spans(["q"], ["paris is big"], [[(0, "paris", 0.0)]], source="m")


def test_a_qa_model_reads_the_best_answer_over_every_window(tiny_paths):
    """On a context longer than its window, the answer comes from whichever window holds the best span, and SQuAD
    F1 and exact match score it against the best gold answer."""
    from transformers import AutoTokenizer

    from fute.samples import rows_to_samples
    from fute.train import score_answers

    tok = AutoTokenizer.from_pretrained(str(tiny_paths["encoder"]))
    filler = " ".join(["the river is blue"] * 12)
    context = f"{filler} the city rome is big {filler}"
    start = context.index("rome")
    answers = {"text": ["rome", "city rome"], "answer_start": [start, start - 5]}
    data = rows_to_samples([{"question": "what city is big", "context": context, "answers": answers}], "long.jsonl")
    rome = tok.convert_tokens_to_ids("rome")

    class Pointer(torch.nn.Module):  # start and end logits peak on the token 'rome'
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.dtype = torch.float32  # as a transformers model says

        def forward(self, input_ids, **_):
            hit = (input_ids == rome).float() * 10 + self.w
            return type("Out", (), {"start_logits": hit, "end_logits": hit})()

    assert len(tok(data.texts[0], data.text_pairs[0])["input_ids"]) > 64  # several windows of 32 tokens
    reader = HFQuestionAnswerer("pointer", model=Pointer(), tokenizer=tok, max_length=32, n_best=2, device="cpu")
    ((best, second),) = reader.predict(data.texts, data.text_pairs, progress=False, cache=False)
    assert context[int(best[0]) : int(best[1])] == "rome" and best[2] > second[2] > 0
    assert score_answers(Pointer(), tok, data, 32, device="cpu") == {"f1": 1.0, "exact": 1.0}


def test_fute_embed_model_takes_a_qa_model(qa_model_path, tiny_paths, tmp_path, run_cli):  # noqa: F811
    """`fute embed model QA_FOLDER`: the backend is read from its config, U is question + context pairs, and the
    card says so; a U of single texts is a one-line error."""
    from tests.conftest import write_jsonl

    data = _qa_task(16)
    pairs = zip(data.texts, data.text_pairs, strict=True)
    u = write_jsonl(tmp_path / "u.jsonl", [{"text": q, "text_pair": c} for q, c in pairs])
    single = write_jsonl(tmp_path / "single.jsonl", [{"text": q} for q in data.texts])
    common = ["--surrogate", str(tiny_paths["encoder"]), "--max-length", "32", "--store", str(tmp_path / "st")]
    common += ["--quiet", "--option", "max_epochs=1"]
    code, out, err = run_cli("embed", "model", str(qa_model_path), "--corpus", str(u), "--name", "qa-model", *common)
    assert code == 0, err
    assert "qa-model (model): " in out
    code, out, _ = run_cli("show", "qa-model", "--store", str(tmp_path / "st"))
    assert code == 0 and "[hf-qa]" in out
    code, _, err = run_cli("embed", "model", str(qa_model_path), "--corpus", str(single), "--name", "x", *common)
    assert code == 2 and "a QA model labels question + context pairs" in err and "Traceback" not in err
