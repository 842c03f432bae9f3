from __future__ import annotations

import pytest

from fute.errors import ConfigError
from fute.targets.prompts import load_prompt_set, shipped_prompt_sets


@pytest.mark.parametrize("name", ["sentiment", "nli"])
def test_shipped_sets_have_ten_vanilla_and_three_cot(name):
    pset = load_prompt_set(name)
    kinds = [p.type for p in pset]
    assert kinds.count("vanilla") == 10 and kinds.count("cot") == 3
    assert len({p.id for p in pset}) == 13
    for p in pset:
        assert set(p.verbalizer) == set(pset.labels)
        text = p.render("a man sleeps", "a person rests" if pset.input == "pair" else None)
        assert "a man sleeps" in text
    assert name in shipped_prompt_sets()


BAD = [
    ("prompts: []\nlabels: [a, b]", "non-empty 'prompts'"),
    ("labels: [a]\nprompts: [{id: x, template: '{text}'}]", "at least two labels"),
    (
        "labels: [a, b]\nprompts: [{id: x, template: 'Q {txt}', verbalizer: {a: [u], b: [v]}}]",
        "unknown placeholder {txt}",
    ),
    ("labels: [a, b]\nprompts: [{id: x, template: '{text}'}]", "missing verbalizer"),
    ("labels: [a, b]\nprompts: [{id: x, template: '{text}', verbalizer: {a: [u]}}]", "no label word for 'b'"),
    ("labels: [a, b]\nprompts: [{id: x, template: '{text}', verbalizer: {a: [yes], b: [no]}}]", "read as a boolean"),
    (
        "labels: [a, b]\nverbalizer: {a: u, b: v}\nprompts: [{id: x, type: cot, template: '{text}'}]",
        "needs an 'answer'",
    ),
    (
        "labels: [a, b]\nverbalizer: {a: u, b: v}\nprompts: [{id: x, template: '{text}'}, {id: x, template: '{text}'}]",
        "duplicate id",
    ),
    ("labels: [a, b]\nverbalizer: {a: u, b: v, c: w}\nprompts: [{id: x, template: '{text}'}]", "not in 'labels'"),
    ("labels: [a, b\n", "not valid YAML"),
]


@pytest.mark.parametrize(("content", "message"), BAD)
def test_bad_prompt_files_are_one_line(tmp_path, content, message):
    f = tmp_path / "p.yaml"
    f.write_text(content)
    with pytest.raises(ConfigError, match=message) as info:
        load_prompt_set(f)
    assert str(f) in str(info.value) and "\n" not in str(info.value)


def test_a_prompt_file_that_is_not_text_is_one_line(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_bytes(b"\xff\xfe\x00labels")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        load_prompt_set(f)
    assert str(f) in str(info.value) and "\n" not in str(info.value)


def test_unknown_prompt_id_and_set():
    with pytest.raises(ConfigError, match="no prompt 'nope'"):
        load_prompt_set("sentiment")["nope"]
    with pytest.raises(ConfigError, match="not a shipped set"):
        load_prompt_set("no-such-set")
