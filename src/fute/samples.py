"""Samples: texts (single or pair) with targets, and the loaders that turn files into them.

A target is a label distribution (gold labels are one-hot, a model's labels are soft), a regression
value, or an answer span. DTE and MTE differ only in where the samples come from, so everything
downstream sees this one type.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from fute.errors import ConfigError, DataError, MissingSplitError

TASKS = ("classification", "regression", "qa")
SPLIT_EXTENSIONS = (".jsonl", ".json", ".csv", ".tsv", ".parquet")
CANONICAL_FIELDS = ("text", "text_pair", "label", "question", "context", "answers")


def entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy (nats) of label distributions along ``axis``: the loss of a constant prediction (the
    ``learned`` check) and the label-free prompt selectors (``fute.selectors``) both read it."""
    p = np.clip(p, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=axis)


@dataclass(frozen=True, eq=False)
class Samples:
    """Labeled examples for one task.

    classification: ``targets`` is float32 [N, C], each row a distribution over ``label_names``.
    regression: ``targets`` is float32 [N]. qa: ``texts`` are questions, ``text_pairs`` contexts,
    ``answers`` (char start in the context, answer text: the first gold answer, the one trained on) and ``gold``
    (every gold answer's text: SQuAD scores a prediction against its best match; not part of the fingerprint,
    since nothing trains on it). A QA model's soft label is ``spans``: its n-best answers of each question as
    (char start, text, probability), most probable first (``answers`` holds that first one).
    """

    texts: list[str]
    task: str
    text_pairs: list[str] | None = None
    targets: np.ndarray | None = None
    label_names: tuple[str, ...] = ()
    answers: list[tuple[int, str]] | None = None
    source: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    gold: list[tuple[str, ...]] | None = None
    spans: list[tuple[tuple[int, str, float], ...]] | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise DataError(f"unknown task type '{self.task}'; use one of {', '.join(TASKS)}")
        n = len(self.texts)
        if self.text_pairs is not None and len(self.text_pairs) != n:
            raise DataError(f"{self.where}: {n} texts but {len(self.text_pairs)} text pairs")
        if self.task == "qa":
            if self.text_pairs is None or self.answers is None or len(self.answers) != n:
                raise DataError(f"{self.where}: QA samples need a context and an answer for every question")
            if self.spans is not None and (
                len(self.spans) != n
                or any(not s or tuple(s[0][:2]) != tuple(a) for s, a in zip(self.spans, self.answers, strict=True))
            ):
                raise DataError(f"{self.where}: each question's n-best spans must start with its answer")
        elif self.targets is None or len(self.targets) != n:
            got = 0 if self.targets is None else len(self.targets)
            raise DataError(f"{self.where}: {n} texts but targets for {got}")
        if self.task == "classification" and self.targets.shape[1] != len(self.label_names):
            raise DataError(
                f"{self.where}: targets have {self.targets.shape[1]} columns for {len(self.label_names)} label names"
            )

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_labels(
        cls,
        texts: Sequence[str],
        labels: Sequence[Any],
        text_pairs: Sequence[str] | None = None,
        *,
        label_names: Sequence[str] | None = None,
        task: str | None = None,
        source: str = "<memory>",
        info: Mapping[str, Any] | None = None,
    ) -> Samples:
        """Gold labels (class names, class ids or floats) -> samples; the task type is inferred."""
        rows = [{"text": t, "label": y} for t, y in zip(texts, labels, strict=True)]
        if text_pairs is not None:
            for r, p in zip(rows, text_pairs, strict=True):
                r["text_pair"] = p
        return rows_to_samples(rows, source, task=task, label_names=label_names, info=info)

    @classmethod
    def from_distributions(
        cls,
        texts: Sequence[str],
        probs: np.ndarray,
        label_names: Sequence[str],
        text_pairs: Sequence[str] | None = None,
        *,
        source: str = "<memory>",
        info: Mapping[str, Any] | None = None,
    ) -> Samples:
        """Soft labels (e.g. a model's predicted distributions) -> classification samples."""
        p = np.asarray(probs, dtype=np.float64)
        if p.ndim != 2 or p.shape != (len(texts), len(label_names)):
            raise DataError(f"{source}: label distributions must be [{len(texts)}, {len(label_names)}], got {p.shape}")
        if not np.isfinite(p).all() or (p < 0).any():
            raise DataError(f"{source}: label distributions must be finite and non-negative")
        sums = p.sum(axis=1, keepdims=True)
        if (sums <= 0).any():
            raise DataError(f"{source}: a label distribution sums to zero")
        return cls(
            list(texts),
            "classification",
            None if text_pairs is None else list(text_pairs),
            (p / sums).astype(np.float32),
            tuple(label_names),
            source=source,
            info=dict(info or {}),
        )

    @classmethod
    def from_spans(
        cls,
        questions: Sequence[str],
        contexts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, str, float]]],
        *,
        source: str = "<memory>",
        info: Mapping[str, Any] | None = None,
    ) -> Samples:
        """A QA model's soft labels (its n-best answers of each question, with probabilities) -> QA samples; the
        probabilities are renormalised over each question's spans, most probable first."""
        rows = []
        for n, (context, row) in enumerate(zip(contexts, spans, strict=True), 1):
            kept = sorted(((int(a), str(t), float(p)) for a, t, p in row if p > 0), key=lambda x: -x[2])
            if not kept:
                raise DataError(f"{source}: question {n} has no span with a positive probability")
            for a, t, _ in kept:
                if not t or context[a : a + len(t)] != t:
                    raise DataError(f"{source}: question {n}: span {t!r} at {a} is not in its context")
            total = sum(p for *_, p in kept)
            rows.append(tuple((a, t, p / total) for a, t, p in kept))
        return cls(
            list(questions),
            "qa",
            list(contexts),
            None,
            answers=[r[0][:2] for r in rows],
            source=source,
            info=dict(info or {}),
            spans=rows,
        )

    # -- views ----------------------------------------------------------------------------------
    @property
    def where(self) -> str:
        return self.source or "<samples>"

    @property
    def short_name(self) -> str:
        """A few characters for progress bars: the dataset's name, else its folder or file name."""
        if self.info.get("name"):
            return str(self.info["name"])
        p = Path(self.where)
        return p.parent.name if p.stem in ("train", "dev", "test", "validation") and p.parent.name else p.stem

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def num_labels(self) -> int:
        """Width of the task head: classes, 1 for regression, 2 (start, end) for QA."""
        return {"classification": len(self.label_names), "regression": 1, "qa": 2}[self.task]

    def fingerprint(self) -> str:
        """Content hash of texts and targets: two files with the same rows get the same fingerprint."""
        h = hashlib.sha256()
        h.update(json.dumps([self.task, list(self.label_names)]).encode())
        pairs = self.text_pairs or [None] * len(self.texts)
        for t, p in zip(self.texts, pairs, strict=True):
            h.update(json.dumps([t, p], ensure_ascii=False).encode())
        if self.targets is not None:
            h.update(np.ascontiguousarray(self.targets, dtype=np.float32).tobytes())
        if self.answers is not None:
            h.update(json.dumps(self.answers, ensure_ascii=False).encode())
        if self.spans is not None:
            h.update(json.dumps(self.spans, ensure_ascii=False).encode())
        return h.hexdigest()

    def take(self, n: int | None, seed: int) -> Samples:
        """A seeded random subset of at most ``n`` rows, in source order (the same seed gives the same rows)."""
        if n is None or len(self) <= n:
            return self
        idx = np.sort(np.random.default_rng(seed).choice(len(self), size=n, replace=False))
        return self.select(idx)

    def concat(self, other: Samples) -> Samples:
        """These rows, then ``other``'s (same task and label names), e.g. a test split topped up from dev."""
        if (other.task, other.label_names) != (self.task, self.label_names):
            raise DataError(f"{other.where}: its task or labels differ from {self.where}'s; they cannot be joined")
        if (self.text_pairs is None) != (other.text_pairs is None):
            raise DataError(f"{other.where}: pairs and single texts cannot be joined with {self.where}")

        def join(a: Any, b: Any) -> Any:
            if a is None or b is None:
                return None
            return np.concatenate([a, b]) if isinstance(a, np.ndarray) else [*a, *b]

        return replace(
            self,
            texts=[*self.texts, *other.texts],
            text_pairs=join(self.text_pairs, other.text_pairs),
            targets=join(self.targets, other.targets),
            answers=join(self.answers, other.answers),
            gold=join(self.gold, other.gold),
            spans=join(self.spans, other.spans),
            source=f"{self.where}+{Path(other.where).stem}",
        )

    def select(self, idx: Sequence[int] | np.ndarray) -> Samples:
        idx = [int(i) for i in idx]
        return replace(
            self,
            texts=[self.texts[i] for i in idx],
            text_pairs=None if self.text_pairs is None else [self.text_pairs[i] for i in idx],
            targets=None if self.targets is None else self.targets[idx],
            answers=None if self.answers is None else [self.answers[i] for i in idx],
            gold=None if self.gold is None else [self.gold[i] for i in idx],
            spans=None if self.spans is None else [self.spans[i] for i in idx],
        )


# -- loading --------------------------------------------------------------------------------------
def load_samples(
    path: str | Path, *, split: str = "train", columns: Mapping[str, str] | None = None, task: str | None = None
) -> Samples:
    """Load labeled data from a file, a folder of splits, a HF ``datasets`` folder or a hub name.

    ``columns`` maps fute's field names (text, text_pair, label, question, context, answers) to the
    names used in the data. Errors are one line and name the file, row or field.
    """
    columns = dict(columns or {})
    unknown = set(columns) - set(CANONICAL_FIELDS)
    if unknown:
        raise DataError(
            f"unknown field(s) in column mapping: {', '.join(sorted(unknown))}; "
            f"map any of {', '.join(CANONICAL_FIELDS)}"
        )
    p = Path(path).expanduser()
    if p.exists():
        p = p.resolve()  # provenance records where the data really is
    if p.is_dir():
        if (p / "dataset_dict.json").exists() or (p / "state.json").exists():
            rows, names = _read_hf_disk(p, split)
            return rows_to_samples(rows, str(p), columns=columns, task=task, label_names=names)
        file = _split_file(p, split)
        info = _read_dataset_info(p)
        return rows_to_samples(
            read_rows(file), str(file), columns=columns, task=task, label_names=info.get("labels"), info=info
        )
    if p.is_file():
        info = _read_dataset_info(p.parent)
        return rows_to_samples(
            read_rows(p), str(p), columns=columns, task=task, label_names=info.get("labels"), info=info
        )
    if _looks_like_hub_name(str(path)):
        rows, names = _read_hub(str(path), split)
        return rows_to_samples(rows, str(path), columns=columns, task=task, label_names=names)
    raise DataError(
        f"{path}: no such file or folder; give a JSONL/CSV/TSV/Parquet file, a folder with "
        f"{split}.jsonl (or .csv/.tsv/.parquet), or a hub dataset name"
    )


def load_held_out(path: str | Path, n: int, seed: int, purpose: str) -> Samples:
    """``n`` seeded rows never trained on: the test split, topped up from dev (then validation) when it has
    fewer than ``n`` rows (cb: 56 test + 25 dev), so that a small test split does not shrink the sample."""
    rows: Samples | None = None
    for split in ("test", "dev", "validation"):
        try:
            part = load_samples(path, split=split)
        except MissingSplitError:
            continue
        rows = part if rows is None else rows.concat(part)
        if len(rows) >= n:
            break
    if rows is None:
        raise ConfigError(f"{path}: no test, dev or validation split {purpose}")
    return rows.take(n, seed)


def load_first_split(path: str | Path, splits: Sequence[str], purpose: str) -> Samples:
    """The first of ``splits`` that the dataset has; a split file that is there but broken is an error
    of its own, not skipped. None there: one error naming the splits tried and what they were for."""
    for split in splits:
        try:
            return load_samples(path, split=split)
        except MissingSplitError:
            continue
    tried = f"{', '.join(splits[:-1])} or {splits[-1]}" if len(splits) > 1 else splits[0]
    raise ConfigError(f"{path}: no {tried} split {purpose}")


def _looks_like_hub_name(name: str) -> bool:
    parts = name.split("/")
    return (
        1 <= len(parts) <= 2
        and all(parts)
        and not name.startswith((".", "~"))
        and not any(name.endswith(ext) for ext in SPLIT_EXTENSIONS)
    )


def _split_file(folder: Path, split: str) -> Path:
    for ext in SPLIT_EXTENSIONS:
        f = folder / f"{split}{ext}"
        if f.is_file():
            return f
    found = sorted({f.stem for f in folder.iterdir() if f.suffix in SPLIT_EXTENSIONS and f.stem != "dataset"})
    hint = f"splits here: {', '.join(found)}; pass --split" if found else "add train.jsonl (or .csv/.tsv/.parquet)"
    raise MissingSplitError(f"{folder}: no '{split}' split file ({hint})")


def _read_dataset_info(folder: Path) -> dict[str, Any]:
    """Optional ``dataset.json`` beside the splits (the shared data format): label order, category."""
    f = folder / "dataset.json"
    if not f.is_file():
        return {}
    try:
        info = json.loads(f.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{f}: not valid JSON ({e}); fix or remove it") from None
    keep = ("name", "category", "labels", "task_type", "license", "domain")
    return {k: info[k] for k in keep if k in info} if isinstance(info, dict) else {}


def _decode(raw: bytes, file: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(f"{file}: line {line} is not valid UTF-8 (byte {e.start}); re-save the file as UTF-8") from None


def read_rows(file: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL/JSON/CSV/TSV/Parquet file as dicts; empty, undecodable or broken files are one-line errors."""
    if file.stat().st_size == 0:
        raise DataError(f"{file}: the file is empty; it needs one labeled example per row")
    suffix = file.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(file).to_pylist()
        except Exception as e:  # noqa: BLE001 - pyarrow raises many types for broken files
            raise DataError(f"{file}: not a readable Parquet file ({str(e).splitlines()[0]})") from None
    elif suffix in (".csv", ".tsv"):
        text = _decode(file.read_bytes(), file)
        reader = csv.DictReader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ",")
        try:
            rows = [dict(r) for r in reader]
        except csv.Error as e:
            raise DataError(f"{file}: line {reader.line_num}: {e}") from None
        rows = [_parse_csv_row(r) for r in rows]
    elif suffix in (".jsonl", ".json"):
        text = _decode(file.read_bytes(), file)
        rows = _parse_json_rows(text, file)
    else:
        raise DataError(f"{file}: unsupported file type '{suffix}'; use .jsonl, .json, .csv, .tsv or .parquet")
    if not rows:
        raise DataError(f"{file}: no rows; it needs one labeled example per row")
    return rows


def _parse_json_rows(text: str, file: Path) -> list[dict[str, Any]]:
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{file}: invalid JSON at line {e.lineno}: {e.msg}") from None
        rows = data
    else:
        rows = []
        for n, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DataError(f"{file}: line {n} is not valid JSON ({e.msg}); one JSON object per line") from None
    for n, r in enumerate(rows, 1):
        if not isinstance(r, dict):
            raise DataError(f"{file}: row {n} is not a JSON object; each row needs fields like text and label")
    return rows


def _parse_csv_row(row: dict[str, Any]) -> dict[str, Any]:
    if None in row:  # more cells than header fields
        row.pop(None)
    return {k: (v if v != "" else None) for k, v in row.items()}


def _read_hf_disk(folder: Path, split: str) -> tuple[list[dict[str, Any]], list[str] | None]:
    try:
        import datasets
    except ImportError:
        raise DataError(f"{folder}: a HF datasets folder needs the 'datasets' package (pip install fute[hf])") from None
    ds = datasets.load_from_disk(str(folder))
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise DataError(f"{folder}: no '{split}' split (splits: {', '.join(ds)}); pass --split")
        ds = ds[split]
    return _hf_rows(ds)


def _read_hub(name: str, split: str) -> tuple[list[dict[str, Any]], list[str] | None]:
    try:
        import datasets
    except ImportError:
        raise DataError(
            f"{name}: not a local path, and loading hub datasets needs 'datasets' (pip install fute[hf])"
        ) from None
    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as e:  # noqa: BLE001 - offline, unknown name, missing config: all one message
        raise DataError(
            f"{name}: not a local path, and the hub dataset could not be loaded ({str(e).splitlines()[0][:160]})"
        ) from None
    return _hf_rows(ds)


def _hf_rows(ds: Any) -> tuple[list[dict[str, Any]], list[str] | None]:
    names = None
    for feat in ds.features.values():
        if type(feat).__name__ == "ClassLabel":
            names = list(feat.names)
    return ds.to_list(), names


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _number(v: Any) -> float | int | None:
    """A CSV cell that spells a number, as that number; otherwise None."""
    if not isinstance(v, str):
        return None
    try:
        return int(v)
    except ValueError:
        pass
    try:
        return float(v)
    except ValueError:
        return None


def rows_to_samples(
    rows: Sequence[Mapping[str, Any]],
    source: str,
    *,
    columns: Mapping[str, str] | None = None,
    task: str | None = None,
    label_names: Sequence[Any] | None = None,
    info: Mapping[str, Any] | None = None,
) -> Samples:
    """Validate rows of dicts and build Samples; every problem is reported as one line naming row and field."""
    if not rows:
        raise DataError(f"{source}: no rows; it needs one labeled example per row")
    col = {f: (columns or {}).get(f, f) for f in CANONICAL_FIELDS}
    present = set(rows[0].keys())
    if task == "qa" or (task is None and {col["question"], col["context"], col["answers"]} <= present):
        return _qa_samples(rows, source, col, info)
    for f in ("text", "label"):
        if col[f] not in present:
            raise DataError(
                f"{source}: no column '{col[f]}' (columns: {', '.join(map(str, present))}); "
                f"map one with --column {f}=NAME"
            )
    paired = col["text_pair"] in present
    texts, pairs, raw = [], [] if paired else None, []
    for n, r in enumerate(rows, 1):
        texts.append(_text(r.get(col["text"]), source, n, col["text"]))
        if paired:
            pairs.append(_text(r.get(col["text_pair"]), source, n, col["text_pair"]))
        y = r.get(col["label"])
        if y is None or (isinstance(y, str) and not y.strip()):
            raise DataError(f"{source}: row {n} has no '{col['label']}'; label every row or drop it")
        if _is_nan(y):
            raise DataError(f"{source}: row {n}: '{col['label']}' is NaN; fix or drop that row")
        raw.append(y)
    raw = _unify_label_types(raw, source, col["label"])
    if task is None:
        task = "regression" if any(isinstance(y, float) for y in raw) else "classification"
    info = dict(info or {})
    if task == "regression":
        try:
            values = np.asarray([float(y) for y in raw], dtype=np.float32)
        except (TypeError, ValueError):
            raise DataError(f"{source}: task is regression but '{col['label']}' holds class names") from None
        if not np.isfinite(values).all():
            raise DataError(f"{source}: row {int(np.argmin(np.isfinite(values))) + 1}: '{col['label']}' is not finite")
        return Samples(texts, "regression", pairs, values, source=source, info=info)
    if task != "classification":
        raise DataError(f"{source}: unknown task '{task}'; use classification, regression or qa")
    names, ids = _class_ids(raw, label_names, source, col["label"])
    if len(set(ids)) < 2:
        raise DataError(
            f"{source}: only one class ('{names[ids[0]]}') in {len(ids)} rows; "
            f"a task embedding needs at least two classes"
        )
    targets = np.zeros((len(ids), len(names)), dtype=np.float32)
    targets[np.arange(len(ids)), ids] = 1.0
    return Samples(texts, "classification", pairs, targets, tuple(names), source=source, info=info)


def _text(v: Any, source: str, n: int, name: str) -> str:
    if v is None or _is_nan(v) or not str(v).strip():
        raise DataError(f"{source}: row {n} has an empty '{name}'; fill or drop that row")
    return str(v)


def _unify_label_types(raw: list[Any], source: str, name: str) -> list[Any]:
    """Bools become class names; numbers written as text (CSV) become numbers; a mix is an error."""
    raw = [str(y) if isinstance(y, bool) else y for y in raw]
    parsed = [_number(y) for y in raw]
    if all(isinstance(y, str) for y in raw) and all(p is not None for p in parsed):
        raw = parsed
    kinds = ["name" if isinstance(y, str) else "number" if isinstance(y, (int, float)) else "other" for y in raw]
    if "other" in kinds:
        n = kinds.index("other") + 1
        raise DataError(
            f"{source}: row {n}: '{name}' is a {type(raw[n - 1]).__name__}; use a class name, a class id or a number"
        )
    if "name" in kinds and "number" in kinds:
        a, b = kinds.index("name"), kinds.index("number")
        raise DataError(
            f"{source}: mixed label types in '{name}': row {a + 1} has a class name ({raw[a]!r}), "
            f"row {b + 1} a number ({raw[b]!r}); use one kind"
        )
    return raw


def _class_ids(raw: list[Any], hint: Sequence[Any] | None, source: str, name: str) -> tuple[list[str], list[int]]:
    if isinstance(raw[0], (int, float)) and any(float(y) != int(y) for y in raw):
        raise DataError(
            f"{source}: task is classification but '{name}' holds fractional numbers; use --task regression"
        )
    if isinstance(raw[0], (int, float)):
        raw = [int(y) for y in raw]
        if hint and all(0 <= y < len(hint) for y in raw):
            names = [str(h) for h in hint]
            return names, raw
        values = sorted(set(raw))
        return [str(v) for v in values], [values.index(y) for y in raw]
    names = [str(h) for h in hint] if hint else []
    extra = sorted(set(raw) - set(names))
    if hint and extra:
        raise DataError(
            f"{source}: label(s) {', '.join(map(repr, extra[:3]))} are not among the declared labels "
            f"({', '.join(names)}); fix the labels or dataset.json"
        )
    names = names or sorted(set(raw))
    index = {n: i for i, n in enumerate(names)}
    return names, [index[y] for y in raw]


def _qa_samples(
    rows: Sequence[Mapping[str, Any]], source: str, col: Mapping[str, str], info: Mapping[str, Any] | None
) -> Samples:
    for f in ("question", "context", "answers"):
        if col[f] not in rows[0]:
            raise DataError(
                f"{source}: extractive QA needs a '{col[f]}' column (SQuAD form); map one with --column {f}=NAME"
            )
    qs, cs, ans, gold = [], [], [], []
    for n, r in enumerate(rows, 1):
        q = _text(r.get(col["question"]), source, n, col["question"])
        c = _text(r.get(col["context"]), source, n, col["context"])
        a = r.get(col["answers"])
        if isinstance(a, str):
            try:
                a = json.loads(a)
            except json.JSONDecodeError:
                a = None
        if isinstance(a, list) and a and isinstance(a[0], Mapping):  # [{"text", "answer_start"}, ...]
            a = {"text": [x.get("text") for x in a], "answer_start": [x.get("answer_start") for x in a]}
        if not isinstance(a, Mapping) or not a.get("text"):
            raise DataError(
                f"{source}: row {n}: '{col['answers']}' needs SQuAD form "
                f'{{"text": [...], "answer_start": [...]}} with at least one answer'
            )
        text = str(a["text"][0])
        if not text.strip():
            raise DataError(
                f"{source}: row {n}: the first answer in '{col['answers']}' is empty; fill or drop that row"
            )
        starts = a.get("answer_start") or [None]
        start = starts[0] if starts[0] is not None else c.find(text)
        if not isinstance(start, int) or c[start : start + len(text)] != text:
            start = c.find(text)
        if start < 0:
            raise DataError(f"{source}: row {n}: answer {text!r} is not in the context; fix answer_start or the text")
        qs.append(q)
        cs.append(c)
        ans.append((start, text))
        gold.append(tuple(dict.fromkeys(str(t) for t in a["text"] if str(t).strip())))
    return Samples(qs, "qa", cs, None, answers=ans, source=source, info=dict(info or {}), gold=gold)


def dataset_name(samples: Samples, path: str | Path) -> str:
    """A dataset's default vector name: the name its files declare, else the path's stem."""
    return samples.info.get("name") or Path(str(path)).stem
