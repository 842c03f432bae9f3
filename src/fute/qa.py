"""Extractive QA in the surrogate's window: the window that holds each answer, and the span loss to beat.

A context longer than the surrogate's window is read the standard way (Hugging Face's QA examples, after
Devlin et al., 2019): overlapping windows of the context, ``stride`` tokens shared by neighbours, beside the
question. A task vector needs one labeled input per question, so of the windows that hold the whole answer
the one where it sits most centrally is kept (BERT's "maximum context" rule), and its context replaces the
row's. A question whose answer no window holds (an answer longer than a window) is dropped and counted: the
count goes on the vector's card (``windows``), so no answer is lost silently.

The constant a span head must beat to have learned the task is the best **position prior**: the training rows'
start and end frequencies by offset into the context (add-one smoothed), renormalised over each held-out context
(``position_prior_loss``); the untrained head (uniform over the window) is the other constant.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fute.errors import DataError
from fute.samples import Samples


@dataclass
class WindowReport:
    """What fitting QA rows into the window did; on the card as ``windows``."""

    rows: int = 0  # questions given
    window_tokens: int = 0  # tokens of a window (question, context and special tokens)
    stride: int = 0  # tokens neighbouring windows share
    cut: int = 0  # contexts longer than one window: read through a window that holds the answer
    dropped: int = 0  # questions whose answer no window holds: not used

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_stride(window: int) -> int:
    """Tokens neighbouring windows share: a third of the window (Hugging Face's run_qa: 128 of 384)."""
    return max(1, window // 3)


def fit_windows(samples: Samples, tokenizer: Any, limit: int) -> tuple[Samples, WindowReport]:
    """The rows with each context cut to the ``limit``-token window (question, context and special tokens, as
    ``tokenizer`` reads them) that holds its answer most centrally (answers re-based), and what that did. Rows that
    fit whole are unchanged; a row whose answer no window holds is dropped. The surrogate and the benchmark's QA
    task models (``fute.train``) both train on these windows."""
    report = WindowReport(rows=len(samples), window_tokens=limit, stride=default_stride(limit))
    enc = tokenizer(
        samples.texts,
        samples.text_pairs,
        truncation="only_second",
        max_length=limit,
        stride=report.stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    best: dict[int, tuple[int, int, int]] = {}  # row -> (centrality, context char start, end)
    windows_of = np.bincount(enc["overflow_to_sample_mapping"], minlength=len(samples))
    for w, row in enumerate(enc["overflow_to_sample_mapping"]):
        a_start, text = samples.answers[row]
        a_end = a_start + len(text)
        spans = [o for sid, o in zip(enc.sequence_ids(w), enc["offset_mapping"][w], strict=True) if sid == 1]
        spans = _whole_words([(o0, o1) for o0, o1 in spans if o1 > o0], samples.text_pairs[row], a_start, a_end)
        if not spans or spans[0][0] > a_start or spans[-1][1] < a_end:
            continue  # this window does not hold the whole answer
        before = sum(o1 <= a_start for _, o1 in spans)
        after = sum(o0 >= a_end for o0, _ in spans)
        score = min(before, after)
        if row not in best or score > best[row][0]:
            best[row] = (score, spans[0][0], spans[-1][1])
    keep, contexts, answers, spans = [], [], [], []
    for row in range(len(samples)):
        if row not in best:
            report.dropped += 1
            continue
        _, c0, c1 = best[row]
        if windows_of[row] > 1:
            report.cut += 1
        a_start, text = samples.answers[row]
        keep.append(row)
        contexts.append(samples.text_pairs[row][c0:c1])
        answers.append((a_start - c0, text))
        if samples.spans is not None:  # a model's n-best: those in the window, re-based, their weights renormalised
            inside = [(a - c0, t, p) for a, t, p in samples.spans[row] if a >= c0 and a + len(t) <= c1]
            total = sum(p for *_, p in inside)
            spans.append(tuple((a, t, p / total) for a, t, p in inside))
    if report.dropped:
        first = next(r for r in range(len(samples)) if r not in best)
        warnings.warn(
            f"{samples.where}: {report.dropped} of {len(samples)} answers lie beyond every {limit}-token window "
            f"(the first: field answers of question {samples.texts[first][:60]!r}); those questions are left out, "
            "and the card counts them",
            stacklevel=3,
        )
    kept = samples.select(keep)
    out = Samples(
        kept.texts,
        "qa",
        contexts,
        None,
        answers=answers,
        source=samples.source,
        info=dict(samples.info),
        spans=spans if samples.spans is not None else None,
    )
    if not len(out):
        raise DataError(
            f"{samples.where}: no answer fits in a window of {limit} tokens; use a longer window (--max-length)"
        )
    return out, report


def _whole_words(spans: list[tuple[int, int]], context: str, a_start: int, a_end: int) -> list[tuple[int, int]]:
    """A window's context tokens without a first or last piece of a word the window's edge cuts (unless the answer
    is in it): cut there, the context would tokenize into other, possibly more, pieces than the window held."""

    def mid_word(p: int) -> bool:
        return 0 < p < len(context) and context[p - 1].isalnum() and context[p].isalnum()

    while spans and mid_word(spans[0][0]) and spans[0][1] <= a_start:
        spans = spans[1:]
    while spans and mid_word(spans[-1][1]) and spans[-1][0] >= a_end:
        spans = spans[:-1]
    return spans


def position_prior_loss(enc: Any, train: np.ndarray, held: np.ndarray) -> float | None:
    """Held-out span loss of the best constant (``enc``: the rows' ``fute.surrogate.Encoded``, which imports this
    module, so it is not named here): the training rows' start and end frequencies by token offset from
    the context's first token (add-one smoothed), renormalised over each held-out context's tokens. A model's soft
    label (``Encoded.span_terms``) counts each of its spans by its probability, and is scored the same way."""
    if not len(held) or enc.start_positions is None or enc.context_spans is None:
        return None
    first = np.array([a for a, _ in enc.context_spans])
    length = np.array([b - a + 1 for a, b in enc.context_spans])
    terms = enc.span_terms or [[(s, e, 1.0)] for s, e in zip(enc.start_positions, enc.end_positions, strict=True)]
    total = 0.0
    for side in (0, 1):
        counts = np.ones(int(length.max()))
        for i in train:
            for term in terms[i]:
                counts[max(0, term[side] - first[i])] += term[2]
        for i in held:
            for term in terms[i]:
                total -= term[2] * np.log(counts[term[side] - first[i]] / counts[: length[i]].sum())
    return float(total / len(held))


def context_span(sequence_ids: list[int | None]) -> tuple[int, int]:
    """First and last token of the second sequence (a QA context); (0, 0) if there is none."""
    at = [t for t, sid in enumerate(sequence_ids) if sid == 1]
    return (at[0], at[-1]) if at else (0, 0)


def answer_positions(enc: Any, samples: Samples) -> tuple[list[int], list[int]]:
    """Token positions of each answer's first and last character; (0, 0) where truncation cut the answer."""
    positions = [span_tokens(enc, i, a_start, a_start + len(text)) for i, (a_start, text) in enumerate(samples.answers)]
    return [p[0] for p in positions], [p[1] for p in positions]


def span_terms(enc: Any, samples: Samples) -> list[list[tuple[int, int, float]]] | None:
    """Each question's n-best spans (``Samples.spans``, a model's soft label) as (start token, end token,
    probability), those truncation cut left out; None for gold answers."""
    if samples.spans is None:
        return None
    out = []
    for i, row in enumerate(samples.spans):
        terms = [(*span_tokens(enc, i, a, a + len(t)), p) for a, t, p in row]
        out.append([(s, e, p) for s, e, p in terms if e >= s > 0] or [(0, 0, 1.0)])
    return out


def span_tokens(enc: Any, row: int, a_start: int, a_end: int) -> tuple[int, int]:
    """The first and last token of characters ``a_start:a_end`` of row ``row``'s context; (0, 0) if cut."""
    s = e = None
    for t, (sid, (o0, o1)) in enumerate(zip(enc.sequence_ids(row), enc["offset_mapping"][row], strict=True)):
        if sid != 1 or o1 <= o0:
            continue
        if s is None and o1 > a_start:
            s = t
        if o0 < a_end:
            e = t
    return (s, e) if s is not None and e is not None and e >= s else (0, 0)
