"""Extractive QA in the surrogate's window (fute.qa): windows that hold the answer, the position prior, the span
probe, and QA vectors with their cards."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fute.embed import compute_vector
from fute.errors import DataError
from fute.methods import get_method
from fute.qa import fit_windows, position_prior_loss
from fute.samples import rows_to_samples
from fute.surrogate import Encoded

FILLER = "the river is blue and the street is red".split()


def _row(before: int, answer: str, after: int, question: str = "what city is big") -> dict:
    """A question whose answer sits after ``before`` filler words and before ``after`` more."""
    words = [FILLER[i % len(FILLER)] for i in range(before)] + answer.split()
    words += [FILLER[i % len(FILLER)] for i in range(after)]
    context = " ".join(words)
    start = len(" ".join(words[:before])) + (1 if before else 0)
    assert context[start : start + len(answer)] == answer
    return {"question": question, "context": context, "answers": {"text": [answer], "answer_start": [start]}}


def test_long_contexts_are_cut_to_the_window_that_holds_the_answer(tiny):
    rows = [_row(2, "paris", 3), _row(60, "london", 40), _row(90, "paris", 2), _row(1, " ".join(["big"] * 40), 1)]
    data = rows_to_samples(rows, "long.jsonl")
    with pytest.warns(UserWarning, match=r"long.jsonl: 1 of 4 answers lie beyond every 32-token window"):
        fitted, report = fit_windows(data, tiny.tokenizer, tiny.max_length)
    assert (report.rows, report.cut, report.dropped, report.window_tokens) == (4, 2, 1, 32)
    assert len(fitted) == 3 and fitted.text_pairs[0] == data.text_pairs[0]  # a context that fits is unchanged
    for context, (start, text) in zip(fitted.text_pairs, fitted.answers, strict=True):
        assert context[start : start + len(text)] == text
    enc = tiny.encode(fitted)
    assert not enc.truncated
    for i, (s, e) in enumerate(zip(enc.start_positions, enc.end_positions, strict=True)):
        assert 0 < s <= e < 32, i  # inside the window, never the [CLS] fallback of a lost answer
        assert tiny.tokenizer.decode(enc.input_ids[i][s : e + 1]) == fitted.answers[i][1]
    # the answer sits near the middle of the window that was kept, not at its edge
    ids = enc.input_ids[1]
    assert min(enc.start_positions[1], len(ids) - enc.end_positions[1]) > 5


def test_no_answer_in_reach_is_one_line(tiny):
    data = rows_to_samples([_row(1, " ".join(["big"] * 40), 1)], "far.jsonl")
    with pytest.warns(UserWarning), pytest.raises(DataError, match=r"far.jsonl: no answer fits .*\(--max-length\)$"):
        fit_windows(data, tiny.tokenizer, tiny.max_length)


def test_position_prior_loss_by_hand():
    enc = Encoded(
        [[1] * 6, [1] * 6, [1] * 5],
        None,
        start_positions=[3, 3, 3],
        end_positions=[4, 4, 3],
        context_spans=[(2, 5), (2, 5), (2, 4)],
    )
    loss = position_prior_loss(enc, np.array([0, 1]), np.array([2]))
    # start offsets into the context: 1, 1 (held out: 1), counted over 4 offsets +1 each: [1, 3, 1, 1]; the held-out
    # context has 3 tokens: p = 3 / 5. End offsets 2, 2 (held out: 1): [1, 1, 3, 1], p = 1 / 5
    assert loss == pytest.approx(-math.log(3 / 5) - math.log(1 / 5))
    assert position_prior_loss(enc, np.array([0, 1]), np.array([], dtype=int)) is None


def _qa_task(n: int = 60):
    """A learnable span task: the answer is the city, wherever it sits."""
    rng = np.random.default_rng(0)
    rows = [_row(int(rng.integers(0, 8)), ["paris", "london"][i % 2], int(rng.integers(0, 8))) for i in range(n)]
    return rows_to_samples(rows, "cities.jsonl")


@pytest.mark.parametrize("method", ["fisher", "prefix", "prompt", "textemb"])
def test_qa_vectors_with_their_cards(tiny, method):
    m = get_method(method, max_epochs=2) if method != "textemb" else get_method(method)
    vec = compute_vector(_qa_task(), "cities", kind="dataset", method=m, surrogate=tiny, progress=False)
    assert np.isfinite(vec.vector).all() and np.linalg.norm(vec.vector) > 0
    windows = vec.card.extra["windows"]
    assert windows["rows"] == 60 and windows["dropped"] == 0
    assert windows["window_tokens"] == 32 - m.reserved_positions()
    if method != "textemb":
        training = vec.card.training
        assert training["prior_heldout_loss"] is not None and training["probe_epochs"] > 0


def test_the_span_probe_learns_a_learnable_task_and_beats_the_prior(tiny):
    m = get_method("fisher", max_epochs=0, probe_learning_rate=0.05)
    vec = compute_vector(_qa_task(), "cities", kind="dataset", method=m, surrogate=tiny, progress=False)
    t = vec.card.training
    assert t["learned"] and t["heldout_loss"] < 0.99 * min(t["prior_heldout_loss"], t["initial_heldout_loss"])


def test_a_span_task_with_random_answers_is_not_learned(tiny):
    """Answers at random words: nothing beats the position prior, and the card says so."""
    rng = np.random.default_rng(1)
    rows = []
    for _ in range(400):  # 80 held out: a 1% margin is then above the held-out loss's noise
        words = list(rng.choice(FILLER, 10))
        k = int(rng.integers(0, 10))
        context = " ".join(words)
        start = len(" ".join(words[:k])) + (1 if k else 0)
        rows.append(
            {
                "question": "what city is big",
                "context": context,
                "answers": {"text": [words[k]], "answer_start": [start]},
            }
        )
    m = get_method("fisher", max_epochs=0)
    with pytest.warns(UserWarning, match="learned nothing"):
        vec = compute_vector(
            rows_to_samples(rows, "noise.jsonl"), "noise", kind="dataset", method=m, surrogate=tiny, progress=False
        )
    assert vec.card.training["learned"] is False


def test_qa_vectors_are_deterministic(tiny):
    m = lambda: get_method("fisher", max_epochs=1)  # noqa: E731
    a = compute_vector(_qa_task(), "a", kind="dataset", method=m(), surrogate=tiny, progress=False)
    b = compute_vector(_qa_task(), "b", kind="dataset", method=m(), surrogate=tiny, progress=False)
    assert np.array_equal(a.vector, b.vector)


def test_datasize_counts_questions_not_windows(tiny):
    vec = compute_vector(
        _qa_task(12), "c", kind="dataset", method=get_method("datasize"), surrogate=tiny, progress=False
    )
    assert vec.vector.tolist() == [12.0] and "windows" not in vec.card.extra


def test_a_window_never_starts_or_ends_inside_a_word():
    """Re-tokenised alone, a context cut inside a word gives other pieces (and can overflow the window)."""
    from fute.qa import _whole_words

    context = "ab cdef gh"  # pieces: ab (0, 2), cd (3, 5), ##ef (5, 7), gh (8, 10)
    assert _whole_words([(5, 7), (8, 10)], context, 8, 10) == [(8, 10)]
    assert _whole_words([(0, 2), (3, 5)], context, 0, 2) == [(0, 2)]
    assert _whole_words([(3, 5), (5, 7)], context, 3, 5) == [(3, 5), (5, 7)]  # whole words: kept
    assert _whole_words([(5, 7), (8, 10)], context, 5, 7) == [(5, 7), (8, 10)]  # the answer's piece stays
