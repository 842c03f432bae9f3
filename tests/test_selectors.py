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


def test_zps_filters_by_2_means_and_takes_pseudo_labels_from_the_kept_prompts():
    # summed top-1 minus top-2 margins: p0 3.2, p1 2.8, p2 0.4 -> 2-means keeps {p0, p1}; p2 leaves the candidates.
    # Pseudo-labels from the mean probability of p0 and p1: inputs (0.9, 0.1), (0.5, 0.5) -> 0, (0.85, 0.15),
    # (0.55, 0.45): all label 0; p0 agrees on 4 of 4, p1 on 2 of 4.
    from fute.selectors import confident_prompts

    assert confident_prompts(PROBS).tolist() == [True, True, False]
    s = get_selector("zps-prob").scores(case())
    assert s[:2] == pytest.approx([1.0, 0.5]) and s[2] == -np.inf
    assert get_selector("zps-prob").order(case())[-1] == "p2"  # never picked
    assert get_selector("zps-log").scores(case())[2] == -np.inf
    same = np.repeat(PROBS[:1], 3, axis=0)  # one margin for all: nothing to filter
    assert confident_prompts(same).all()


def test_zps_filter_is_the_reference_kmeans():
    """UPS's filter: KMeans(2, random_state=42, n_init='auto') on the summed margins, the higher centre kept."""
    from sklearn.cluster import KMeans

    from fute.selectors import confident_prompts

    for seed in range(10):
        rng = np.random.default_rng(seed)
        probs = rng.dirichlet(np.ones(3) * rng.uniform(0.2, 3), size=(13, 20))
        top = np.sort(probs, axis=2)
        conf = (top[:, :, -1] - top[:, :, -2]).sum(1, keepdims=True)
        km = KMeans(n_clusters=2, random_state=42, n_init="auto").fit(conf)
        assert confident_prompts(probs).tolist() == (km.labels_ == km.cluster_centers_.argmax(axis=0)).tolist()


def test_cbm_calibration_by_hand():
    """CBM: p(y|x,t) / mean_x p(y|x,t), renormalised: (0.9, 0.1), (0.7, 0.3) have mean (0.8, 0.2), so they become
    (1.125, 0.5) / 1.625 and (0.875, 1.5) / 2.375."""
    from fute.selectors import cbm

    out = cbm(np.array([[[0.9, 0.1], [0.7, 0.3]]]))
    assert out[0] == pytest.approx(np.array([[1.125 / 1.625, 0.5 / 1.625], [0.875 / 2.375, 1.5 / 2.375]]))
    plain, calibrated = get_selector("mi"), get_selector("mi+cbm")
    assert calibrated.name == "mi+cbm" and plain.name == "mi"
    assert calibrated.scores(case()) == pytest.approx(plain.scores(case(probs=cbm(PROBS))))
    with pytest.raises(ConfigError, match="unknown calibration"):
        get_selector("mi+xyz")
    with pytest.raises(ConfigError, match="nothing to calibrate"):
        get_selector("spell+cbm")


def test_mi_g_by_hand():
    """MI_G: entropy of the histogram of argmax labels minus the mean per-input entropy."""
    s = get_selector("mi-g").scores(case())
    assert s[1] == pytest.approx(math.log(2) - np.mean([entropy(r) for r in PROBS[1]]))
    assert s[0] == pytest.approx(-entropy(PROBS[0][0]))


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


def test_fute_combined_is_the_mean_rank_of_fute_and_mi_g_cbm():
    mtes = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # cosines with (0, 2): 0, 1, 0.71 -> ranks 3, 1, 2
    c = case(vectors=lambda method: (mtes, np.array([0.0, 2.0])))
    mi = get_selector("mi-g+cbm").scores(c)
    mi_ranks = np.argsort(np.argsort(-mi)) + 1.0
    expected = -(np.array([3.0, 1.0, 2.0]) + mi_ranks) / 2
    assert get_selector("fute-combined").scores(c) == pytest.approx(expected)


def test_mi_agl_picks_a_prompt_per_input_by_hand():
    """UPS's MI_AGL: per input, the prompt with the largest GE_t - H(p_t(y|x)). One-hot GE: p0 0 (always
    negative), p1 ln 2 (two of each), p2 H(3/4, 1/4) = 0.562 (argmax 0, 1, 0, 0; a tie goes to the first label).
    Input 0: p0 0 - 0.325, p1 0.693 - 0.325 = 0.368, p2 0.562 - 0.673 -> p1; every input goes to p1, and the
    answers are p1's CBM-calibrated distributions."""
    from fute.selectors import cbm

    sel = get_selector("mi-agl")
    assert sel.choose(case()).tolist() == [1, 1, 1, 1]
    np.testing.assert_allclose(sel.answers(case()), cbm(PROBS)[1])
    assert sel.scores(case()).tolist() == [0.0, 1.0, 0.0]  # as a ranking: the share of inputs that took it
    # p0 made sure of both labels on the first two inputs: GE H(3/4, 1/4) = 0.562; input 0: 0.562 - 0.008 = 0.554
    # beats p1's 0.368, input 1 likewise; inputs 2 and 3 (p0 unsure) stay with p1
    probs = PROBS.copy()
    probs[0] = [[0.999, 0.001], [0.001, 0.999], [0.6, 0.4], [0.5, 0.5]]
    assert sel.choose(case(probs=probs)).tolist() == [0, 0, 1, 1]


def test_the_selectors_that_read_labels_are_the_fute_ones():
    """FUTE's selectors read the dataset's labels (through its DTE); every baseline is label-free, also calibrated."""
    from fute.registry import SELECTORS

    reads = {n for n in SELECTORS.in_order() if get_selector(n).uses_labels}
    assert reads == {"fute-fisher", "fute-prompt", "fute-combined"}
    assert not get_selector("mi+cbm").uses_labels
