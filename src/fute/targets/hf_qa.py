"""A fine-tuned extractive QA model (any ``AutoModelForQuestionAnswering``): its soft label of a question is its
n-best answers with their probabilities, read the standard way (Hugging Face's run_qa post-processing)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from fute.corpus import Corpus
from fute.device import dtype_name
from fute.errors import ConfigError
from fute.samples import Samples
from fute.targets.base import TargetModel, length_batches, load_local_model


class HFQuestionAnswerer(TargetModel):
    """``AutoModelForQuestionAnswering`` by hub id or local folder. A question's label is the model's ``n_best``
    answer spans: every window of the context (a third of ``max_length`` shared by neighbours), each span of at
    most ``max_answer_tokens`` that lies in the context, scored by start + end logit, the best ``n_best`` over all
    windows with a softmax over their scores as probabilities. ``predict`` gives them as [n, n_best, 3] arrays of
    (char start, char end, probability); ``label`` as QA samples whose ``spans`` the methods embed as soft labels.
    Its U is question + context pairs (``fute.corpus.default_corpus(qa=True)``)."""

    backend = "hf-qa"
    runs_locally = True
    task = "qa"
    input = "qa"  # the form of U it reads (label_corpus)

    def __init__(
        self,
        name_or_path: str,
        *,
        batch_size: int = 32,
        max_length: int = 384,
        n_best: int = 5,
        max_answer_tokens: int = 30,
        model: Any = None,
        tokenizer: Any = None,
        device: Any = "auto",
        dtype: Any = "auto",
    ) -> None:
        load_local_model(
            self, name_or_path, "AutoModelForQuestionAnswering", "QA model", model, tokenizer, device, dtype
        )
        self.batch_size, self.max_length = batch_size, max_length
        self.n_best, self.max_answer_tokens = n_best, max_answer_tokens

    def identity(self) -> dict[str, Any]:
        d = {
            "backend": self.backend,
            "model": self.name,
            "weights_sha256": self._hash,
            "task": self.task,
            "max_length": self.max_length,
            "n_best": self.n_best,
            "max_answer_tokens": self.max_answer_tokens,
        }
        if self.dtype != torch.float32:
            d["dtype"] = dtype_name(self.dtype)
        return d

    def output_shape(self, n: int) -> tuple[int, ...]:
        return (n, self.n_best, 3)

    @torch.no_grad()
    def _predict(self, texts: list[str], text_pairs: list[str] | None) -> np.ndarray:
        from fute.qa import default_stride

        if text_pairs is None:
            raise ConfigError(f"{self.name}: a QA model reads a question and a context; give contexts as text pairs")
        enc = self.tokenizer(
            texts,
            text_pairs,
            truncation="only_second",
            max_length=self.max_length,
            stride=default_stride(self.max_length),
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc]
        found: list[dict[tuple[int, int], float]] = [{} for _ in texts]  # row -> {char span: best score}
        for rows in length_batches([len(x) for x in enc["input_ids"]], self.batch_size):
            batch = self.tokenizer.pad({k: [enc[k][w] for w in rows] for k in keys}, return_tensors="pt")
            out = self.model(**batch.to(self.device))
            starts, ends = out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()
            for r, w in enumerate(rows):
                context = np.array([sid == 1 for sid in enc.sequence_ids(w)])
                offsets, row = enc["offset_mapping"][w], enc["overflow_to_sample_mapping"][w]
                n = len(context)
                for score, a, b in top_spans(starts[r, :n], ends[r, :n], context, self.n_best, self.max_answer_tokens):
                    span = (offsets[a][0], offsets[b][1])
                    found[row][span] = max(score, found[row].get(span, -np.inf))
        values = np.zeros((len(texts), self.n_best, 3))
        for i, spans in enumerate(found):
            best = sorted(spans.items(), key=lambda x: -x[1])[: self.n_best]
            scores = np.array([s for _, s in best])
            probs = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
            for k, (((c0, c1), _), p) in enumerate(zip(best, probs, strict=True)):
                values[i, k] = (c0, c1, p)
        return values

    def label(self, corpus: Corpus, **kw: Any) -> Samples:
        """U's questions with the model's n-best answers in their contexts as soft labels (``Samples.spans``)."""
        if corpus.text_pairs is None:
            raise ConfigError(
                f"corpus '{corpus.name}': a QA model labels question + context pairs (text, text_pair); give such a "
                "corpus, or none for the shipped one"
            )
        values = self.predict(corpus.texts, corpus.text_pairs, **kw)
        spans = [
            [(int(c0), context[int(c0) : int(c1)], float(p)) for c0, c1, p in row if p > 0 and c1 > c0]
            for context, row in zip(corpus.text_pairs, values, strict=True)
        ]
        return Samples.from_spans(
            corpus.texts,
            corpus.text_pairs,
            spans,
            source=f"{corpus.name} labeled by {self.display_name}",
            info={"target": self.identity(), "corpus": corpus.card()},
        )


def top_spans(
    start_logits: np.ndarray, end_logits: np.ndarray, context: np.ndarray, k: int, max_tokens: int
) -> list[tuple[float, int, int]]:
    """The ``k`` best (start + end logit, start token, end token) spans of one window that lie in its context
    (``context``: a mask over its tokens), start no later than end, at most ``max_tokens`` long."""
    n = len(context)
    s = np.where(context, start_logits, -np.inf)
    e = np.where(context, end_logits, -np.inf)
    band = np.triu(np.ones((n, n), dtype=bool)) & ~np.triu(np.ones((n, n), dtype=bool), max_tokens)
    score = np.where(band, s[:, None] + e[None, :], -np.inf).ravel()
    top = np.argsort(-score, kind="stable")[:k]
    return [(float(score[t]), int(t // n), int(t % n)) for t in top if np.isfinite(score[t])]
