"""Recorded outputs as a target (``recorded:FILE``): label distributions made elsewhere, in JSONL, Parquet or
NumPy, checked like any target's and embedded as MTEs in the datasets' space."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fute.checks import TEXTS, check_target
from fute.errors import DataError
from fute.targets import load_target
from fute.targets.recorded import RecordedTarget
from tests.conftest import write_jsonl

INPUTS = [*TEXTS, f"{TEXTS[1]} and {TEXTS[2]}"]


def _probs(text: str) -> dict[str, float]:
    p = 0.8 if any(w in text for w in ("good", "happy")) else 0.3
    return {"negative": round(1 - p, 3), "positive": p}


def _jsonl(tmp_path, rows=None, name="rec.jsonl"):
    return write_jsonl(tmp_path / name, rows or [{"text": t, "probs": _probs(t)} for t in INPUTS])


def test_a_jsonl_recording_passes_every_target_check(tmp_path):
    target = load_target(f"recorded:{_jsonl(tmp_path)}")
    assert isinstance(target, RecordedTarget) and target.label_names == ("negative", "positive")
    check_target(target)
    np.testing.assert_allclose(target.predict(["  the movie   was good"], progress=False), [[0.2, 0.8]])  # re-spaced


def test_the_three_forms_give_the_same_distributions(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    logp = [{"text": t, "logprobs": {k: float(np.log(v)) for k, v in _probs(t).items()}} for t in INPUTS]
    pq.write_table(pa.Table.from_pylist(logp), tmp_path / "rec.parquet")
    write_jsonl(tmp_path / "u.jsonl", [{"text": t} for t in INPUTS])
    np.save(tmp_path / "rec.npy", np.array([[_probs(t)["negative"], _probs(t)["positive"]] for t in INPUTS]))
    meta = {"labels": ["negative", "positive"], "scores": "probs", "inputs": "u.jsonl", "model": "m", "prompt": "p1"}
    (tmp_path / "rec.json").write_text(json.dumps(meta))
    _jsonl(tmp_path, [{"id": i, "probs": _probs(t)} for i, t in enumerate(INPUTS)], name="byid.jsonl")
    (tmp_path / "byid.json").write_text(json.dumps({"inputs": "u.jsonl"}))
    want = load_target(f"recorded:{_jsonl(tmp_path)}").predict(INPUTS, progress=False, cache=False)
    for f in ("rec.parquet", "rec.npy", "byid.jsonl"):
        got = load_target(f"recorded:{tmp_path / f}").predict(INPUTS, progress=False, cache=False)
        np.testing.assert_allclose(got, want, atol=1e-12, err_msg=f)
    npy = RecordedTarget(tmp_path / "rec.npy")
    assert npy.identity()["model"] == "m" and npy.identity()["prompt"] == {"id": "p1"}


BAD = [
    ([{"text": "a"}], "row 1 has no 'probs' or 'logprobs'"),
    ([{"text": "a", "probs": {"x": 1}}, {"text": "b", "probs": {"y": 1}}], "row 2 scores labels"),
    ([{"text": "a", "probs": {"x": float("nan"), "y": 1}}], "row 1 has a score that is not finite"),
    ([{"text": "a", "probs": {"x": -0.1, "y": 1}}], "row 1 has a negative probability"),
    ([{"text": "a", "probs": {"x": 0, "y": 0}}], "row 1's probabilities are all 0"),
    ([{"text": "a", "probs": {"x": 1, "y": 0}}, {"text": "a", "probs": {"x": 0, "y": 1}}], "row 2 records the input"),
    ([{"probs": {"x": 1, "y": 0}}], "rows by 'id' need an inputs file"),
]


@pytest.mark.parametrize(("rows", "says"), BAD)
def test_a_bad_recording_is_one_line_naming_the_file_and_row(tmp_path, rows, says):
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r, allow_nan=True) + "\n" for r in rows))
    with pytest.raises(DataError, match=says) as e:
        RecordedTarget(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_an_input_that_was_not_recorded_is_named(tmp_path):
    target = RecordedTarget(_jsonl(tmp_path))
    with pytest.raises(DataError, match=r"no recorded output for input 2 asked \('never seen'\)"):
        target.predict([TEXTS[0], "never seen"], progress=False, cache=False)


def test_a_recording_embeds_as_an_mte_through_the_cli(tmp_path, tiny_paths, run_cli, monkeypatch):
    """The transductive recipe: record the LLM on the dataset's own inputs, use them as U."""
    monkeypatch.setenv("FUTE_HOME", str(tmp_path / "home"))
    u = write_jsonl(tmp_path / "u.jsonl", [{"text": f"{t} {i}"} for i, t in enumerate(INPUTS * 4)])
    rec = write_jsonl(
        tmp_path / "llm-p1.jsonl",
        [{"text": f"{t} {i}", "probs": _probs(t)} for i, t in enumerate(INPUTS * 4)],
    )
    (tmp_path / "llm-p1.json").write_text(json.dumps({"model": "big-llm", "prompt": "p1"}))
    args = ["embed", "model", f"recorded:{rec}", "--corpus", str(u), "--surrogate", str(tiny_paths["encoder"])]
    args += ["--store", str(tmp_path / "st"), "--quiet", "--option", "max_epochs=1", "--max-length", "32"]
    code, out, err = run_cli(*args)
    assert code == 0, err
    code, out, _ = run_cli("show", "llm-p1", "--store", str(tmp_path / "st"), "--json")
    card = json.loads(out)[0]
    assert card["kind"] == "prompt" and card["target"]["backend"] == "recorded" and card["target"]["model"] == "big-llm"
    assert card["corpus"]["size"] == len(INPUTS) * 4 == card["data"]["n_used"]
    shipped_u = [a for a in args if a not in ("--corpus", str(u))] + ["--store", str(tmp_path / "st2")]
    code, _, err = run_cli(*shipped_u)  # the shipped U: none of it was recorded
    assert code == 2 and "no recorded output for input" in err and len(err.strip().splitlines()) == 1
