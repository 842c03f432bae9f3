"""Prompt selection (``fute select-prompt``, ``fute.select_prompts``) from an LLM's outputs recorded elsewhere, with
the dataset's own inputs as FUTE's U (transductive)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fute.errors import DataError
from fute.select import select_prompts
from fute.targets.prompts import load_prompt_set
from fute.targets.recorded import RecordedTarget
from tests.conftest import write_jsonl

PSET = load_prompt_set("sentiment")


def _dataset(root):
    root.mkdir()
    words = {"positive": ["good", "great", "happy"], "negative": ["bad", "awful", "sad"]}
    for split, n in (("train", 24), ("test", 20)):
        rows = [
            {"text": f"a {words[lab][i % 3]} film {split} {i}", "label": lab}
            for i, lab in enumerate(["positive", "negative"] * (n // 2))
        ]
        write_jsonl(root / f"{split}.jsonl", rows)
    return root


def _record(folder, data, skip=None):
    """One recording per prompt on the test inputs: the first prompt reads the words, the others are noisier."""
    folder.mkdir()
    rows = [json.loads(x) for x in (data / "test.jsonl").read_text().splitlines()]
    rng = np.random.default_rng(0)
    for k, p in enumerate(PSET):
        if p.id == skip:
            continue
        out = []
        for r in rows:
            right = 0.9 if k == 0 else float(rng.uniform(0.3, 0.7))
            pos = right if r["label"] == "positive" else 1 - right
            out.append(
                {"text": r["text"], "logprobs": {"negative": float(np.log(1 - pos)), "positive": float(np.log(pos))}}
            )
        write_jsonl(folder / f"{p.id}.jsonl", out)
    return folder


def test_recorded_outputs_feed_every_selector_and_fute_uses_the_datasets_inputs(tmp_path, tiny_paths, monkeypatch):
    monkeypatch.setenv("FUTE_HOME", str(tmp_path / "home"))
    data = _dataset(tmp_path / "reviews")
    rec = _record(tmp_path / "rec", data)
    sel = select_prompts(
        "big-llm",
        "sentiment",
        str(data),
        selectors=["globale", "mi", "fute-fisher"],
        recorded=rec,
        examples=12,
        mte_examples=16,
        surrogate=str(tiny_paths["encoder"]),
        method_options={"fisher": {"max_epochs": 1, "batch_size": 8}},
        store=tmp_path / "st",
        progress=False,
    )
    assert set(sel.scores) == {"globale", "mi", "fute-fisher"}
    assert all(len(s) == len(PSET) and np.isfinite(s).all() for s in sel.scores.values())
    assert sel.pick("mi") == list(PSET)[0].id  # the one prompt whose outputs follow the inputs
    from fute.store import open_store

    mtes = open_store(tmp_path / "st").vectors(kind="prompt")
    assert len(mtes) == len(PSET)
    card = mtes[0].card
    assert card.target["backend"] == "recorded" and card.corpus["sources"] == {"reviews (test inputs)": 16}


def test_select_prompt_from_a_recording_folder_through_the_cli(tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("FUTE_HOME", str(tmp_path / "home"))
    data = _dataset(tmp_path / "reviews")
    rec = _record(tmp_path / "rec", data)
    args = ["select-prompt", "--prompts", "sentiment", "--dataset", str(data), "--selector", "globale", "--quiet"]
    code, out, err = run_cli(*args, "--recorded", str(rec))
    assert code == 0, err
    assert "prompts of sentiment for rec on" in out and "picks: globale ->" in out
    partial = _record(tmp_path / "partial", data, skip=list(PSET)[3].id)
    code, _, err = run_cli(*args, "--recorded", str(partial))
    assert code == 2 and f"no recording of prompt '{list(PSET)[3].id}'" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(*args)
    assert code == 2 and "--model" in err and "--recorded" in err


@pytest.mark.parametrize("u", ["elsewhere"])
def test_an_unknown_u_is_one_line(tmp_path, u):
    data = _dataset(tmp_path / "reviews")
    with pytest.raises(DataError, match="u='elsewhere': use shipped"):
        select_prompts("x", "sentiment", str(data), recorded=_record(tmp_path / "rec", data), u=u, progress=False)


def test_mode_input_picks_a_prompt_per_input_and_writes_them(tmp_path, run_cli, monkeypatch):
    from fute.selectors import PromptCase, get_selector

    monkeypatch.setenv("FUTE_HOME", str(tmp_path / "home"))
    data = _dataset(tmp_path / "reviews")
    rec = _record(tmp_path / "rec", data)
    sel = select_prompts("llm", "sentiment", str(data), recorded=rec, mode="input", examples=12, progress=False)
    assert list(sel.scores) == ["mi-agl"] and len(sel.inputs) == 12
    assert sel.per_input_prompt.shape == (12,) and sel.per_input_answer.shape == (12, 2)
    np.testing.assert_allclose(sel.per_input_answer.sum(axis=1), 1)
    agl = get_selector("mi-agl")  # the same picks as the selector makes on the same distributions
    probs = np.stack(
        [RecordedTarget(rec / f"{p.id}.jsonl").predict([t for t, _ in sel.inputs], progress=False) for p in PSET]
    )
    np.testing.assert_array_equal(sel.per_input_prompt, agl.choose(PromptCase("llm", "d", list(PSET), probs=probs)))
    with pytest.raises(DataError, match="mode input picks a prompt per input: globale picks one per dataset"):
        select_prompts("llm", "sentiment", str(data), recorded=rec, mode="input", selectors=["globale"])

    out = tmp_path / "picks.jsonl"
    args = ["select-prompt", "--prompts", "sentiment", "--dataset", str(data), "--recorded", str(rec), "--quiet"]
    code, stdout, err = run_cli(*args, "--mode", "input", "--examples", "12", "--out", str(out))
    assert code == 0, err
    assert "a prompt per input (mi-agl): 12 inputs" in stdout
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 12 and {r["prompt"] for r in rows} <= {p.id for p in PSET}
    assert {r["answer"] for r in rows} <= {"negative", "positive"}
