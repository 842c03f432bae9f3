from __future__ import annotations

import json

import numpy as np
import pytest

from fute.errors import ConfigError, DataError
from fute.samples import Samples, load_held_out, load_samples, rows_to_samples
from tests.conftest import SHARED_DATA, write_jsonl

ROWS = [
    {"text": "good film", "label": "positive"},
    {"text": "bad film", "label": "negative"},
    {"text": "great plot", "label": "positive"},
]


def test_jsonl_classification(tmp_path):
    s = load_samples(write_jsonl(tmp_path / "d.jsonl", ROWS))
    assert s.task == "classification"
    assert s.label_names == ("negative", "positive")
    np.testing.assert_array_equal(s.targets, [[0, 1], [1, 0], [0, 1]])
    assert s.text_pairs is None


def test_csv_tsv_parquet_agree(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "d.csv").write_text('text,label\n"good, film",1\nbad film,0\n', encoding="utf-8")
    (tmp_path / "d.tsv").write_text("text\tlabel\ngood, film\t1\nbad film\t0\n", encoding="utf-8")
    pq.write_table(pa.table({"text": ["good, film", "bad film"], "label": [1, 0]}), tmp_path / "d.parquet")
    loaded = [load_samples(tmp_path / f"d.{ext}") for ext in ("csv", "tsv", "parquet")]
    assert {s.fingerprint() for s in loaded} == {loaded[0].fingerprint()}
    assert loaded[0].label_names == ("0", "1") and loaded[0].texts[0] == "good, film"


def test_folder_of_splits_with_dataset_json(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", ROWS)
    write_jsonl(tmp_path / "dev.jsonl", ROWS[:2])
    (tmp_path / "dataset.json").write_text(
        json.dumps({"name": "toy", "category": "sentiment", "labels": ["positive", "negative"]})
    )
    s = load_samples(tmp_path)
    assert len(s) == 3 and s.label_names == ("positive", "negative")  # declared order wins
    assert s.info["category"] == "sentiment"
    assert len(load_samples(tmp_path, split="dev")) == 2
    with pytest.raises(DataError, match="splits here: dev, train; pass --split"):
        load_samples(tmp_path, split="test")


def test_pairs_regression_and_column_mapping(tmp_path):
    rows = [{"s1": "a man walks", "s2": "a person walks", "score": 4.5}, {"s1": "a dog", "s2": "a car", "score": 0.2}]
    mapping = {"text": "s1", "text_pair": "s2", "label": "score"}
    s = load_samples(write_jsonl(tmp_path / "sts.jsonl", rows), columns=mapping)
    assert s.task == "regression" and s.text_pairs == ["a person walks", "a car"]
    np.testing.assert_allclose(s.targets, [4.5, 0.2])
    assert s.num_labels == 1


def test_int_ids_use_declared_names(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", [{"text": "x y", "label": 0}, {"text": "y z", "label": 1}])
    (tmp_path / "dataset.json").write_text(json.dumps({"labels": ["neg", "pos"]}))
    assert load_samples(tmp_path).label_names == ("neg", "pos")


def test_squad_qa(tmp_path):
    rows = [
        {"question": "where?", "context": "in paris now", "answers": {"text": ["paris"], "answer_start": [3]}},
        {"question": "who?", "context": "the man ran", "answers": [{"text": "man", "answer_start": 99}]},
    ]
    s = load_samples(write_jsonl(tmp_path / "qa.jsonl", rows))
    assert s.task == "qa" and s.answers == [(3, "paris"), (4, "man")]  # a wrong start is recovered from the text


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"question": "q", "context": "in paris", "answers": {"text": ["rome"], "answer_start": [0]}},
            r"row 2: answer 'rome' is not in the context",
        ),
        (
            {"question": "q", "context": "  ", "answers": {"text": ["x"], "answer_start": [0]}},
            r"row 2 has an empty 'context'",
        ),
        ({"question": "q", "answers": {"text": ["x"], "answer_start": [0]}}, r"row 2 has an empty 'context'"),
        (
            {"question": "", "context": "in paris", "answers": {"text": ["paris"], "answer_start": [3]}},
            r"row 2 has an empty 'question'",
        ),
        (
            {"question": "q", "context": "in paris", "answers": {"text": [""], "answer_start": [0]}},
            r"row 2: the first answer in 'answers' is empty",
        ),
        ({"question": "q", "context": "in paris", "answers": {"text": []}}, r"row 2: 'answers' needs SQuAD form"),
    ],
)
def test_bad_qa_rows_are_one_line(tmp_path, row, message):
    good = {"question": "where?", "context": "in paris now", "answers": {"text": ["paris"], "answer_start": [3]}}
    with pytest.raises(DataError, match=message) as info:
        load_samples(write_jsonl(tmp_path / "qa.jsonl", [good, row]))
    assert "qa.jsonl" in str(info.value) and "\n" not in str(info.value)


def test_hf_datasets_folder(tmp_path):
    datasets = pytest.importorskip("datasets")
    feats = datasets.Features(
        {"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
    )
    ds = datasets.DatasetDict(
        {"train": datasets.Dataset.from_dict({"sentence": ["good", "bad", "fun"], "label": [1, 0, 1]}, features=feats)}
    )
    ds.save_to_disk(str(tmp_path / "hf"))
    s = load_samples(tmp_path / "hf", columns={"text": "sentence"})
    assert s.label_names == ("neg", "pos") and s.targets[0].tolist() == [0, 1]


@pytest.mark.skipif(not (SHARED_DATA / "snli").is_dir(), reason="../shared/data not present")
def test_shared_format_loads_as_is():
    s = load_samples(SHARED_DATA / "snli", split="dev")
    assert s.task == "classification" and s.text_pairs is not None and len(s) == 1000
    assert s.label_names == ("entailment", "neutral", "contradiction")
    assert load_samples(SHARED_DATA / "stsb", split="dev").task == "regression"


def test_fingerprint_and_take_are_deterministic():
    s = rows_to_samples([{"text": f"t{i}", "label": i % 2} for i in range(50)], "m")
    a, b, c = s.take(10, 1), s.take(10, 1), s.take(10, 2)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert a.texts == sorted(a.texts, key=lambda t: int(t[1:]))  # source order kept
    assert s.take(100, 0) is s


def test_soft_label_samples():
    s = Samples.from_distributions(["a", "b"], np.array([[0.2, 0.6], [1.0, 0.0]]), ["x", "y"])
    np.testing.assert_allclose(s.targets.sum(axis=1), 1.0)
    with pytest.raises(DataError, match="distributions must be"):
        Samples.from_distributions(["a"], np.array([[0.5, 0.5, 0.0]]), ["x", "y"])


BAD_INPUTS = [
    ("missing.jsonl", None, "no such file or folder"),
    ("empty.jsonl", b"", "the file is empty"),
    ("nolabel.jsonl", b'{"text": "a"}\n', "no column 'label'"),
    ("mixed.jsonl", b'{"text": "a", "label": "pos"}\n{"text": "b", "label": 2.5}\n', "mixed label types"),
    ("gap.jsonl", b'{"text": "a", "label": "pos"}\n{"text": "b", "label": null}\n', "row 2 has no 'label'"),
    ("nan.jsonl", b'{"text": "a", "label": 1.0}\n{"text": "b", "label": NaN}\n', "row 2: 'label' is NaN"),
    ("one.jsonl", b'{"text": "a", "label": "pos"}\n{"text": "b", "label": "pos"}\n', "only one class"),
    ("latin1.jsonl", '{"text": "caf\u00e9", "label": "x"}\n'.encode("latin-1"), "line 1 is not valid UTF-8"),
    ("broken.jsonl", b'{"text": "a", "label": "x"}\n{"text": \n', "line 2 is not valid JSON"),
    ("blank.jsonl", b'{"text": " ", "label": "x"}\n', "row 1 has an empty 'text'"),
    ("data.xlsx", b"PK", "unsupported file type"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_one_clear_line(tmp_path, run_cli, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        load_samples(path)
    assert name in str(info.value) and "\n" not in str(info.value)
    code, out, err = run_cli("embed", "dataset", str(path), "--name", "x", "--store", str(tmp_path / "st"))
    assert code == 2 and "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message.split("'")[0] in lines[0]


def test_unreachable_hub_dataset_is_one_line(monkeypatch):
    datasets = pytest.importorskip("datasets")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(DataError, match="not a local path, and the hub dataset could not be loaded") as info:
        load_samples("no-such-user/no-such-dataset")
    assert "\n" not in str(info.value)


def test_jsonl_text_may_hold_unicode_line_separators(tmp_path):
    """JSON strings may contain U+2028 / U+0085 unescaped; only '\\n' ends a JSONL row."""
    f = tmp_path / "train.jsonl"
    f.write_text('{"text": "one\u2028two\x85three", "label": "a"}\n{"text": "four", "label": "b"}\n', encoding="utf-8")
    s = load_samples(f)
    assert s.texts == ["one\u2028two\x85three", "four"]


def test_load_first_split_skips_missing_splits_only(tmp_path):
    from fute.errors import ConfigError
    from fute.samples import load_first_split

    write_jsonl(tmp_path / "train.jsonl", [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}])
    assert load_first_split(tmp_path, ("dev", "train"), "to test").texts == ["a", "b"]
    (tmp_path / "dev.jsonl").write_text('{"text": "broken\n', encoding="utf-8")
    with pytest.raises(DataError, match="dev.jsonl: line 1 is not valid JSON"):
        load_first_split(tmp_path, ("dev", "train"), "to test")  # a broken split is not skipped
    with pytest.raises(ConfigError, match="no test or validation split to score on"):
        load_first_split(tmp_path, ("test", "validation"), "to score on")


def test_held_out_rows_top_up_a_small_test_split_from_dev(tmp_path):
    """cb has 56 test rows: a 100-row evaluation sample takes them all and tops up from dev, never from train."""
    folder = tmp_path / "small"
    folder.mkdir()
    for split, n in (("train", 50), ("test", 6), ("dev", 5)):
        rows = [{"text": f"{split} {i}", "label": ["a", "b"][i % 2]} for i in range(n)]
        (folder / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    got = load_held_out(folder, 100, 0, "to test")
    assert sorted(got.texts) == sorted([f"test {i}" for i in range(6)] + [f"dev {i}" for i in range(5)])
    assert list(got.label_names) == ["a", "b"] and got.targets.shape == (11, 2)
    few = load_held_out(folder, 4, 0, "to test")
    assert len(few) == 4 and all(t.startswith("test") for t in few.texts)  # the test split alone suffices
    (folder / "test.jsonl").unlink()
    (folder / "dev.jsonl").unlink()
    with pytest.raises(ConfigError, match="no test, dev or validation split to test"):
        load_held_out(folder, 4, 0, "to test")
