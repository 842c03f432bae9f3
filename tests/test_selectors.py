"""Prompt selectors: hand-computed cases, one conformance test for all, capability errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fute.errors import ConfigError
from fute.selectors import SELECTORS, PromptCase, entropy, get_selector
from fute.targets.prompts import Prompt


def prompts(n: int) -> list[Prompt]:
    return [
        Prompt(f"p{i}", "{text} is", {"negative": ["bad"], "positive": ["good"]}, ("negative", "positive"))
        for i in range(n)
    ]


# three prompts x four inputs x two labels
PROBS = np.array(
    [
        [[0.9, 0.1], [0.9, 0.1], [0.9, 0.1], [0.9, 0.1]],  # p0: confident, always negative
        [[0.9, 0.1], [0.1, 0.9], [0.8, 0.2], [0.2, 0.8]],  # p1: confident, both labels
        [[0.6, 0.4], [0.4, 0.6], [0.5, 0.5], [0.5, 0.5]],  # p2: unsure
    ]
)


def case(**kw) -> PromptCase:
    base = {"llm": "lm", "dataset": "d", "prompts": prompts(3), "probs": PROBS}
    return PromptCase(**(base | kw))


def test_mi_by_hand():
    p1_mean = PROBS[1].mean(axis=0)
    expected = entropy(p1_mean) - np.mean([entropy(r) for r in PROBS[1]])
    s = get_selector("mi").scores(case())
    assert s[1] == pytest.approx(expected)
    assert s[0] == pytest.approx(0.0, abs=1e-9)  # the same distribution for every input: no information
    assert get_selector("mi").order(case())[0] == "p1"


def test_globale_and_locale_by_hand():
    g = get_selector("globale").scores(case())
    assert g[0] == pytest.approx(0.0, abs=1e-9) and g[1] == pytest.approx(math.log(2))
    loc = get_selector("locale").scores(case())
    assert loc[2] == pytest.approx(np.mean([entropy(r) for r in PROBS[2]]))
    assert get_selector("locale").order(case())[0] == "p2"


def test_zps_pseudo_labels_from_confident_prompts():
    # confidence p0 0.9, p1 0.85, p2 0.55: median 0.85 keeps p0 and p1; their mean prob gives pseudo-labels
    # [0, 1?, 0, 1?]: input 2 mean (0.5, 0.5) ties -> label 0, input 4 mean (0.55, 0.45) -> 0
    pseudo = np.array([0, 0, 0, 0])
    s = get_selector("zps-prob").scores(case())
    assert s == pytest.approx((PROBS.argmax(axis=2) == pseudo).mean(axis=1))
    assert set(get_selector("zps-vote").scores(case())) <= {0.0, 0.25, 0.5, 0.75, 1.0}


def test_spell_prefers_the_least_perplexing_prompt():
    nll = np.array([[3.0, 3.2], [1.0, 1.5], [2.0, 2.0]])
    assert get_selector("spell").order(case(nll=nll)) == ["p1", "p2", "p0"]


def test_self_select_reads_the_letters_both_ways():
    seen = []

    def score_words(text, words):
        seen.append(text)
        return np.array(
            [0.0 if text.index(f"({w})") == min(text.index(f"({x})") for x in words) else -5.0 for w in words]
        )

    s = get_selector("self-select").scores(case(score_words=score_words, inputs=[("a", None)]))
    assert len(seen) == 2 and "p0" not in seen[0]  # templates are shown, ids are not
    assert s == pytest.approx([-2.5, -5.0, -2.5])  # a letter-A bias cancels between the two orders


def test_fute_uses_cosine_of_mte_and_dte():
    mtes = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    s = get_selector("fute-fisher").scores(case(vectors=lambda method: (mtes, np.array([0.0, 2.0]))))
    assert s == pytest.approx([0.0, 1.0, 1 / math.sqrt(2)])


@pytest.mark.parametrize("name", SELECTORS.in_order())
def test_conformance(name):
    """Every selector: a score per prompt, a permutation of the ids, the same twice, a docstring."""
    c = case(
        nll=np.ones((3, 4)),
        score_words=lambda text, words: -np.arange(len(words), dtype=float),
        inputs=[("x", None)],
        vectors=lambda method: (np.eye(3), np.ones(3)),
    )
    sel = get_selector(name)
    order = sel.order(c)
    assert sorted(order) == ["p0", "p1", "p2"] and order == sel.order(c)
    assert sel.__doc__ and len(sel.__doc__) > 60


@pytest.mark.parametrize(
    "name,missing", [("spell", "token_logprobs"), ("self-select", "llm"), ("fute-fisher", "task_vectors")]
)
def test_missing_capability_is_a_clear_error(name, missing):
    with pytest.raises(ConfigError, match=f"{name} needs {missing}.*leave this selector out"):
        get_selector(name).scores(case())


def test_unknown_selector():
    with pytest.raises(ConfigError, match="unknown selector 'nope'"):
        get_selector("nope")
