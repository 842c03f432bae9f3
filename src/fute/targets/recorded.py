"""Recorded outputs as a target: label distributions an LLM (or any model) gave elsewhere, on a cluster or behind
an API that fute cannot call, brought back as files. Named ``recorded:FILE`` wherever a model is given.

A recording is one prompt's outputs, one row per input, in one of three forms:

- JSONL (``.jsonl``) or Parquet (``.parquet``): rows ``{"text": ..., "text_pair": ... (pair tasks), "probs":
  {LABEL: p, ...}}``, or ``"logprobs"`` in place of ``"probs"`` (log-probabilities or any log-scores of the label
  words: a softmax over them gives the distribution). An ``"id"`` in place of the texts refers to a row of the
  inputs file that ``FILE.json`` names (``"inputs"``: a JSONL of texts, as ``fute corpus build`` writes).
- NumPy (``.npy``): an [inputs, labels] array of probabilities or log-scores, row i for row i of the inputs file;
  ``FILE.json`` names the labels (``"labels"``), the kind (``"scores": "probs"`` or ``"logprobs"``) and the inputs.

``FILE.json`` beside any of them may also say ``"model"`` and ``"prompt"`` (the prompt's id), which go on the card.
Every check is a one-line error naming the file and row: labels named and the same in every row, every input
matched, every value finite, probabilities non-negative and not all zero.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fute.errors import DataError
from fute.targets.base import TargetModel

PREFIX = "recorded:"
KINDS = ("probs", "logprobs")


def _key(text: str, pair: str | None) -> tuple[str, str | None]:
    """Inputs are matched after whitespace is collapsed (a JSON round trip or a CSV export may re-space them)."""
    return " ".join(str(text).split()), None if pair is None else " ".join(str(pair).split())


def recorded_prompt(model: str) -> str | None:
    """The prompt id a recording's ``FILE.json`` names (its MTE is then a prompt's, kind "prompt"), read alone."""
    side = Path(model.removeprefix(PREFIX)).expanduser().with_suffix(".json")
    try:
        meta = json.loads(side.read_text()) if side.is_file() else {}
    except ValueError:
        return None  # RecordedTarget says what is wrong with it
    return meta.get("prompt") if isinstance(meta, dict) else None


class RecordedTarget(TargetModel):
    """Label distributions read from a recording (module docstring): ``predict`` looks each input up."""

    backend = "recorded"

    def __init__(self, path: str | Path, *, labels: Sequence[str] | None = None, **_: Any) -> None:
        """``labels``: the label order the caller wants the columns in (the same names as the recording's)."""
        path = str(path).removeprefix(PREFIX)
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise DataError(f"{self.path}: no such recording; give a .jsonl, .parquet or .npy file of outputs")
        side = self.path.with_suffix(".json") if self.path.suffix != ".json" else None
        self.meta: dict[str, Any] = {}
        if side is not None and side.is_file():
            try:
                self.meta = json.loads(side.read_text())
                assert isinstance(self.meta, dict)
            except (ValueError, AssertionError):
                raise DataError(f"{side}: not a JSON object; it says labels, scores, inputs, model, prompt") from None
        self.name = str(self.meta.get("model") or self.path.stem)
        self.prompt_id = self.meta.get("prompt")
        keys, matrix, names = self._read()
        if labels is not None:
            if sorted(labels) != sorted(names):
                raise DataError(f"{self.path}: labels {', '.join(names)}, asked for {', '.join(labels)}")
            matrix, names = matrix[:, [names.index(x) for x in labels]], list(labels)
        self.label_names = tuple(names)
        self.input = "pair" if any(p is not None for _, p in keys) else "single"
        self._rows: dict[tuple[str, str | None], int] = {}
        for i, k in enumerate(keys):
            if k in self._rows and not np.allclose(matrix[self._rows[k]], matrix[i]):
                raise DataError(
                    f"{self.path}: row {i + 1} records the input of row {self._rows[k] + 1} again, with "
                    "other values; keep one"
                )
            self._rows.setdefault(k, i)
        self._matrix = matrix
        self._sha = hashlib.sha256(self.path.read_bytes()).hexdigest()

    # -- reading ----------------------------------------------------------------------------------------
    def _read(self) -> tuple[list[tuple[str, str | None]], np.ndarray, list[str]]:
        suffix = self.path.suffix.lower()
        if suffix == ".npy":
            return self._read_numpy()
        if suffix == ".jsonl":
            rows = []
            for n, line in enumerate(self.path.read_text(encoding="utf-8", errors="strict").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as e:
                    raise DataError(f"{self.path}: line {n} is not valid JSON ({e.msg}); one object per line") from None
                rows.append(row)
        elif suffix == ".parquet":
            import pyarrow.parquet as pq

            try:
                rows = pq.read_table(self.path).to_pylist()
            except Exception as e:  # noqa: BLE001 - pyarrow raises many types for a broken file
                raise DataError(f"{self.path}: not a readable Parquet file ({e})") from None
        else:
            raise DataError(f"{self.path}: a recording is a .jsonl, .parquet or .npy file")
        if not rows:
            raise DataError(f"{self.path}: no rows")
        return self._from_rows(rows)

    def _from_rows(self, rows: list[Any]) -> tuple[list[tuple[str, str | None]], np.ndarray, list[str]]:
        first = rows[0] if isinstance(rows[0], dict) else {}
        kind = next((k for k in KINDS if k in first), None)
        if kind is None:
            raise DataError(f"{self.path}: row 1 has no 'probs' or 'logprobs' ({{LABEL: value, ...}})")
        labels = [str(x) for x in self.meta.get("labels") or first[kind]]
        inputs = self._inputs() if "text" not in first else None
        keys, values = [], []
        for n, row in enumerate(rows, 1):
            scores = row.get(kind) if isinstance(row, dict) else None
            if not isinstance(scores, dict):
                raise DataError(f"{self.path}: row {n} has no '{kind}' object like row 1's")
            if sorted(map(str, scores)) != sorted(labels):
                raise DataError(
                    f"{self.path}: row {n} scores labels {sorted(map(str, scores))}, row 1 {sorted(labels)}; every "
                    "row must score the same labels"
                )
            values.append([scores[lab] for lab in labels])
            keys.append(self._row_key(row, n, inputs))
        return keys, self._distributions(values, kind), labels

    def _row_key(self, row: dict[str, Any], n: int, inputs: list[tuple[str, str | None]] | None) -> tuple:
        if inputs is None:
            if not isinstance(row.get("text"), str):
                raise DataError(f"{self.path}: row {n} has no 'text' (or give every row an 'id' into the inputs file)")
            pair = row.get("text_pair")
            return _key(row["text"], pair if isinstance(pair, str) else None)
        rid = row.get("id")
        if not isinstance(rid, int) or not 0 <= rid < len(inputs):
            raise DataError(
                f"{self.path}: row {n}: 'id' {rid!r} is not a row of the inputs file (0 to {len(inputs) - 1})"
            )
        return inputs[rid]

    def _read_numpy(self) -> tuple[list[tuple[str, str | None]], np.ndarray, list[str]]:
        labels, kind = self.meta.get("labels"), self.meta.get("scores")
        if not labels or kind not in KINDS:
            raise DataError(
                f"{self.path.with_suffix('.json')}: a .npy recording needs this file with 'labels' (names, in the "
                "array's column order), 'scores' (probs or logprobs) and 'inputs' (the texts' file)"
            )
        try:
            array = np.load(self.path, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise DataError(f"{self.path}: not a NumPy array file ({e})") from None
        inputs = self._inputs()
        if array.ndim != 2 or array.shape != (len(inputs), len(labels)):
            raise DataError(
                f"{self.path}: shape {array.shape}, expected ({len(inputs)} inputs, {len(labels)} labels) from the "
                "inputs file and 'labels'"
            )
        return inputs, self._distributions(array.tolist(), kind), [str(x) for x in labels]

    def _inputs(self) -> list[tuple[str, str | None]]:
        from fute.corpus import load_corpus

        name = self.meta.get("inputs")
        if not name:
            raise DataError(
                f"{self.path}: rows by 'id' need an inputs file: name it as 'inputs' in "
                f"{self.path.with_suffix('.json')}"
            )
        u = load_corpus(Path(self.path.parent, name))
        pairs = u.text_pairs or [None] * len(u)
        return [_key(t, p) for t, p in zip(u.texts, pairs, strict=True)]

    def _distributions(self, values: Sequence[Sequence[Any]], kind: str) -> np.ndarray:
        try:
            m = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"{self.path}: a label score that is not a number") from None
        bad = np.flatnonzero(~np.isfinite(m).all(axis=1))
        if bad.size:
            raise DataError(f"{self.path}: row {bad[0] + 1} has a score that is not finite (NaN or infinite)")
        if kind == "logprobs":
            m = np.exp(m - m.max(axis=1, keepdims=True))
        else:
            neg = np.flatnonzero((m < 0).any(axis=1))
            if neg.size:
                raise DataError(f"{self.path}: row {neg[0] + 1} has a negative probability; use 'logprobs' for scores")
            zero = np.flatnonzero(m.sum(axis=1) <= 0)
            if zero.size:
                raise DataError(f"{self.path}: row {zero[0] + 1}'s probabilities are all 0")
        return m / m.sum(axis=1, keepdims=True)

    # -- the target interface ---------------------------------------------------------------------------
    def _predict(self, texts: list[str], text_pairs: list[str] | None) -> np.ndarray:
        pairs = text_pairs or [None] * len(texts)
        out = []
        for i, (t, p) in enumerate(zip(texts, pairs, strict=True)):
            row = self._rows.get(_key(t, p))
            if row is None:
                shown = t if len(t) < 60 else t[:57] + "..."
                raise DataError(
                    f"{self.path}: no recorded output for input {i + 1} asked ({shown!r}); record the model on every "
                    "input it is asked about (for an MTE: the rows of U, e.g. --corpus the file you recorded on)"
                )
            out.append(self._matrix[row])
        return np.stack(out)

    def identity(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "model": self.name,
            "recording": self.path.name,
            "sha256": self._sha,
            "labels": list(self.label_names),
            **({"prompt": {"id": self.prompt_id}} if self.prompt_id else {}),
        }

    @property
    def display_name(self) -> str:
        return f"{PREFIX}{self.path}"

    def __len__(self) -> int:
        return len(self._rows)
