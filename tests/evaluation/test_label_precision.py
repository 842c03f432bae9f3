"""bench/label_precision.py: the comparison of two label sets, on a hand-made case."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

_spec = importlib.util.spec_from_file_location(
    "label_precision", Path(__file__).resolve().parents[2] / "bench" / "label_precision.py"
)
lp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lp)


def test_compare_counts_argmax_flips_and_each_texts_largest_difference():
    a = np.array([[0.6, 0.4], [0.2, 0.8], [0.5, 0.5], [0.9, 0.1]])
    b = np.array([[0.4, 0.6], [0.25, 0.75], [0.5, 0.5], [0.9, 0.1]])  # the first text flips, by 0.2
    out = lp.compare(a, b)
    assert out["argmax_agreement"] == 0.75
    assert out["max_abs_diff_max"] == 0.2 and out["max_abs_diff_mean"] == round((0.2 + 0.05) / 4, 4)
    assert out["mean_label_p_float32"] == [0.55, 0.45] and out["mean_label_p_bfloat16"] == [0.5125, 0.4875]
