"""The metrics against cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fute.evaluation import metrics
from fute.evaluation.metrics import mean_rank_of_best, ndcg, performance, rank_of_best, rate, relevance

TRUTH = {"a": 0.80, "b": 0.60, "c": 0.70, "d": 0.60}


def test_rank_of_best_and_rho():
    assert rank_of_best(TRUTH, ["a", "b", "c", "d"]) == 1
    assert rank_of_best(TRUTH, ["c", "d", "a", "b"]) == 3
    assert rank_of_best({"x": 1, "y": 1, "z": 0}, ["z", "y", "x"]) == 2  # first of the tied best
    assert mean_rank_of_best([(TRUTH, ["a", "b", "c", "d"]), (TRUTH, ["c", "d", "a", "b"])]) == 2.0


def test_relevance_is_min_max_scaled():
    assert relevance(TRUTH) == pytest.approx({"a": 1.0, "b": 0.0, "c": 0.5, "d": 0.0})
    assert relevance({"x": 3, "y": 3}) == {"x": 1.0, "y": 1.0}


def test_ndcg_by_hand():
    # order c, a, b, d: relevances 0.5, 1, 0, 0
    dcg = 0.5 / math.log2(2) + 1.0 / math.log2(3)
    ideal = 1.0 / math.log2(2) + 0.5 / math.log2(3)
    assert ndcg(TRUTH, ["c", "a", "b", "d"]) == pytest.approx(dcg / ideal)
    dcg_exp = (2**0.5 - 1) / math.log2(2) + 1.0 / math.log2(3)
    ideal_exp = 1.0 / math.log2(2) + (2**0.5 - 1) / math.log2(3)
    assert ndcg(TRUTH, ["c", "a", "b", "d"], gain="exponential") == pytest.approx(dcg_exp / ideal_exp)
    assert ndcg(TRUTH, ["a", "c", "d", "b"]) == pytest.approx(1.0)
    assert ndcg(TRUTH, ["c", "a", "b", "d"], k=1) == pytest.approx(0.5)
    assert ndcg({"x": 1, "y": 1}, ["y", "x"]) == 1.0


def test_performance_and_rate():
    assert performance(TRUTH, "c") == 0.70
    assert rate(TRUTH, "c") == pytest.approx(87.5)
    assert rate(TRUTH, "a") == 100.0


def test_bad_rankings_are_refused():
    with pytest.raises(ValueError, match="missing"):
        ndcg(TRUTH, ["a", "b", "c"])
    with pytest.raises(ValueError, match="gain"):
        ndcg(TRUTH, ["a", "b", "c", "d"], gain="cubic")


def test_regret_at_k_by_hand():
    from fute.evaluation.metrics import regret_at_k

    truth = {"a": 0.8, "b": 0.6, "c": 0.4}
    assert regret_at_k(truth, ["c", "b", "a"], 1) == pytest.approx(50.0)  # (0.8 - 0.4) / 0.8
    assert regret_at_k(truth, ["c", "b", "a"], 2) == pytest.approx(25.0)
    assert regret_at_k(truth, ["c", "b", "a"], 3) == 0.0


def test_bootstrap_interval_and_paired_test():
    from fute.evaluation.metrics import bootstrap_ci, paired_p_value

    lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 4.0])
    assert 1.0 <= lo < 2.5 < hi <= 4.0 and bootstrap_ci([2.0, 2.0]) == (2.0, 2.0)
    assert paired_p_value([1, 2, 3], [1, 2, 3]) == 1.0  # no difference at all
    assert paired_p_value([2, 3, 4, 5, 6], [1, 2, 3, 4, 5]) == pytest.approx(2 / 32)  # exact, all flips
    assert paired_p_value([2, 1, 4, 3], [1, 2, 3, 4]) == pytest.approx(1.0)  # differences cancel


def test_nested_bootstrap_resamples_each_targets_seeds():
    """[targets, resamples]: a target that scores alike under every seed resample gives the plain interval (the
    same draws of targets); one whose resamples differ widens it; the seed resamples are the exact distribution
    of drawing n of n seeds with replacement (3 seeds: 10 multisets, 1/27 for each seed thrice, 6/27 for all three)."""
    from fute.evaluation.metrics import bootstrap_ci, seed_resamples

    assert bootstrap_ci([[1.0, 1.0], [3.0, 3.0]]) == bootstrap_ci([1.0, 3.0])
    assert bootstrap_ci([[0.0, 1.0]], weights=[1.0, 0.0]) == (0.0, 0.0)
    lo, hi = bootstrap_ci([[0.0, 4.0], [4.0, 4.0]], weights=[0.5, 0.5])
    assert (lo, hi) == (0.0, 4.0)
    three = dict(seed_resamples(3))
    assert len(three) == 10 and sum(three.values()) == pytest.approx(1.0)
    assert three[(0, 0, 0)] == pytest.approx(1 / 27) and three[(0, 1, 2)] == pytest.approx(6 / 27)
    assert three[(0, 0, 1)] == pytest.approx(3 / 27) and seed_resamples(1) == [((0,), 1.0)]


def test_resampled_scores_on_the_identity_resample_are_the_truths_own_scores():
    from fute.evaluation.prompts import real_score

    rng = np.random.default_rng(0)
    probs = rng.random((4, 30, 3))  # 4 prompts, 30 examples, 3 labels
    targets = np.eye(3)[rng.integers(0, 3, 30)]
    idx = np.stack([np.arange(30), rng.integers(0, 30, 30)])
    for metric in ("accuracy", "macro_f1"):
        got = metrics.resampled_scores(probs, targets, metric, idx)
        assert got.shape == (2, 4)
        assert got[0] == pytest.approx([real_score(p, targets, metric) for p in probs])
        assert got[1] == pytest.approx([real_score(p[idx[1]], targets[idx[1]], metric) for p in probs])


def test_ndcg_rows_is_ndcg_of_each_row():
    rng = np.random.default_rng(1)
    scores = rng.random((5, 6))
    scores[2] = 0.5  # all equal: every order is ideal
    order = [3, 0, 5, 1, 2, 4]
    want = [metrics.ndcg({str(i): v for i, v in enumerate(row)}, [str(i) for i in order]) for row in scores]
    assert metrics.ndcg_rows(scores, order) == pytest.approx(want)


def test_squad_f1_and_exact_match_by_hand():
    from fute.evaluation.metrics import squad_exact, squad_f1, squad_normalize

    assert squad_normalize("The  Eiffel Tower!") == "eiffel tower"
    assert squad_exact("the Eiffel tower.", ["Eiffel Tower", "Paris"]) == 1.0
    assert squad_exact("tower", ["Eiffel Tower"]) == 0.0
    # 'eiffel tower in paris' against 'eiffel tower': precision 2/4, recall 2/2 -> F1 2/3; the best gold counts
    assert squad_f1("Eiffel tower in Paris", ["Eiffel Tower"]) == pytest.approx(2 / 3)
    assert squad_f1("Eiffel tower in Paris", ["Eiffel Tower", "the Eiffel tower in Paris"]) == 1.0
    assert squad_f1("London", ["Paris"]) == 0.0
