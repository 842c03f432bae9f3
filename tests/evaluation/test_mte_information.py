"""bench/mte_information.py: the information a labeling of U carries about the inputs, on hand-computed cases."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location(
    "mte_information", Path(__file__).resolve().parents[2] / "bench" / "mte_information.py"
)
mte_information = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mte_information)


def test_one_hot_labels_carry_all_of_the_constants_loss():
    info = mte_information.label_information(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]))
    assert info["constant_loss"] == pytest.approx(math.log(2))
    assert info["mean_entropy"] == pytest.approx(0.0, abs=1e-9)
    assert info["gap"] == pytest.approx(math.log(2)) and info["top_share"] == 0.5


def test_the_same_soft_label_for_every_input_carries_nothing():
    info = mte_information.label_information(np.tile([0.7, 0.3], (5, 1)))
    h = -(0.7 * math.log(0.7) + 0.3 * math.log(0.3))
    assert info["constant_loss"] == pytest.approx(h) and info["mean_entropy"] == pytest.approx(h)
    assert info["gap"] == pytest.approx(0.0, abs=1e-12) and info["top_share"] == 1.0


def test_soft_labels_that_lean_with_the_input():
    # half the inputs at [0.6, 0.4], half at [0.4, 0.6]: the gap is ln 2 minus H(0.6, 0.4)
    info = mte_information.label_information(np.array([[0.6, 0.4], [0.4, 0.6]] * 3))
    assert info["gap"] == pytest.approx(math.log(2) + 0.6 * math.log(0.6) + 0.4 * math.log(0.4))


def test_spearman_on_hand_computed_orders():
    assert mte_information.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert mte_information.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4): Pearson of the ranks
    assert mte_information.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(
        np.corrcoef([1, 2.5, 2.5, 4], [1, 2, 3, 4])[0, 1]
    )
    assert math.isnan(mte_information.spearman([1, 1, 1], [1, 2, 3]))
