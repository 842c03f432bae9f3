from __future__ import annotations

import numpy as np

from fute.targets.base import length_batches


def test_length_batches_cut_where_padding_costs_more_than_a_forward_pass():
    """Hand-computed: three 10-token rows and one of 50 cost 64 + 4 x 50 = 264 as one batch, and 64 + 30 + 64 + 50
    = 208 as two, so they are cut; at an overhead of 200 one batch is cheaper (400 against 480). The longest batch
    comes first; every index appears once; no batch exceeds its row limit."""
    lengths = [10, 50, 10, 10]
    assert length_batches(lengths, 4, overhead=64) == [[1], [0, 2, 3]]
    assert length_batches(lengths, 4, overhead=200) == [[0, 2, 3, 1]]
    assert [len(b) for b in length_batches([7] * 5, 2, overhead=0)] == [2, 2, 1]
    assert length_batches([], 4) == []
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 80, size=200).tolist()
    batches = length_batches(lengths, 32)
    assert sorted(j for b in batches for j in b) == list(range(200)) and max(map(len, batches)) <= 32
    padded = sum(len(b) * max(lengths[j] for j in b) for b in batches)
    fixed = sorted(lengths)
    assert padded < sum(len(fixed[i : i + 32]) * fixed[min(i + 31, 199)] for i in range(0, 200, 32))
