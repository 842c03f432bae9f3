from __future__ import annotations

import pytest

from fute.corpus import Corpus, build_corpus, default_corpus, load_corpus
from fute.errors import DataError
from tests.conftest import write_jsonl


def datasets(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [{"text": f"a{i}", "label": i % 2} for i in range(20)])
    b = write_jsonl(tmp_path / "b.jsonl", [{"text": f"b{i}", "text_pair": f"h{i}", "label": i % 2} for i in range(20)])
    return a, b


def test_build_mixes_excludes_and_is_seeded(tmp_path):
    a, b = datasets(tmp_path)
    u = build_corpus([a, b], size=10)
    assert len(u) == 10 and u.card()["sources"] == {"a": 5, "b": 5}
    assert build_corpus([a, b], size=10).fingerprint() == u.fingerprint()
    assert build_corpus([a, b], size=10, seed=1).fingerprint() != u.fingerprint()
    assert set(build_corpus([a, b], exclude=["a"], size=10).sources) == {"b"}
    pairs = build_corpus([a, b], pairs=True, size=10)
    assert pairs.paired and set(pairs.sources) == {"b"} and pairs.text_pairs[0].startswith("h")
    assert set(u.excluding(["b"]).sources) == {"a"}
    sub = u.take(4, 0)
    assert len(sub) == 4 and sub.fingerprint() == u.take(4, 0).fingerprint() != u.take(4, 1).fingerprint()
    assert u.take(100, 0) is u
    with pytest.raises(DataError, match="no datasets left"):
        build_corpus([a], exclude=["a"])


def test_save_load_round_trip(tmp_path):
    a, b = datasets(tmp_path)
    u = build_corpus([a, b], pairs=True, size=6)
    loaded = load_corpus(u.save(tmp_path / "u.jsonl"))
    assert loaded.fingerprint() == u.fingerprint() and loaded.sources == u.sources


def test_bad_corpora(tmp_path):
    mixed = write_jsonl(tmp_path / "m.jsonl", [{"text": "x", "text_pair": "y"}, {"text": "z"}])
    with pytest.raises(DataError, match="some rows have a 'text_pair'"):
        load_corpus(mixed)
    with pytest.raises(DataError, match="row 1 has no 'text'"):
        load_corpus(write_jsonl(tmp_path / "e.jsonl", [{"txt": "x"}]))
    with pytest.raises(DataError, match="no such corpus"):
        load_corpus(tmp_path / "none.jsonl")
    (tmp_path / "g.jsonl").write_text('garbage\n{"text": "x"}\n')
    (tmp_path / "b.jsonl").write_bytes(b"\xff\xfe\x00bad\n")
    for name, says in (("g.jsonl", "line 1 is not valid JSON"), ("b.jsonl", "line 1 is not valid UTF-8")):
        with pytest.raises(DataError, match=says) as e:
            load_corpus(tmp_path / name)
        assert str(tmp_path / name) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(DataError, match="empty"):
        Corpus([])


def test_default_corpus_is_shipped_with_sources():
    single, pair = default_corpus(), default_corpus(pairs=True)
    assert len(single) == 1200 and not single.paired and pair.paired
    assert set(single.sources) == {"snli", "mnli", "qnli", "boolq", "stsb", "wnli"}
    assert "snli" not in single.excluding(["snli"]).sources


def test_an_exclusion_that_names_no_given_dataset_is_an_error(tmp_path):
    """`--exclude snlii` (a typo) would silently keep snli in U."""
    from fute.corpus import build_corpus
    from fute.errors import DataError

    a = write_jsonl(tmp_path / "snli.jsonl", [{"text": f"t{i}", "label": "x" if i % 2 else "y"} for i in range(6)])
    b = write_jsonl(tmp_path / "mr.jsonl", [{"text": f"m{i}", "label": "x" if i % 2 else "y"} for i in range(6)])
    with pytest.raises(DataError, match=r"--exclude snlii: not among the datasets given \(snli, mr\)"):
        build_corpus([a, b], exclude=["snlii"])
    assert set(build_corpus([a, b], exclude=["snli"]).sources) == {"mr"}
