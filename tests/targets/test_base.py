from __future__ import annotations

import numpy as np

from fute.hashing import content_hash
from fute.targets.base import TargetModel, length_batches


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


class CountingTarget(TargetModel):
    """Labels a text by its length; records the rows of each ``_predict`` call."""

    backend = "counting"
    label_names = ("short", "long")

    def __init__(self, batch_size: int) -> None:
        self.batch_size, self.calls = batch_size, []

    def identity(self) -> dict:
        return {"backend": self.backend, "model": "counting"}

    def _predict(self, texts, text_pairs):
        self.calls.append(len(texts))
        p = np.array([min(len(t), 9) / 10 for t in texts])
        return np.stack([1 - p, p], axis=1)


def test_uncached_chunks_are_labeled_together_up_to_the_batch_size_and_saved_under_their_own_keys(tmp_path):
    """A GPU batch above the 64-row chunk is used whole: 10 texts in chunks of 2 at batch size 6 take two calls
    (3 chunks, then 2), and leave the same five cache files as one chunk per call; a cached chunk splits a run."""
    texts = [f"text {'x' * i}" for i in range(10)]
    one, six = CountingTarget(batch_size=1), CountingTarget(batch_size=6)
    one.label_cache, six.label_cache = tmp_path / "one", tmp_path / "six"
    alone = one.predict(texts, chunk_size=2, progress=False)
    together = six.predict(texts, chunk_size=2, progress=False)
    assert one.calls == [2] * 5 and six.calls == [6, 4]
    np.testing.assert_array_equal(together, alone)
    names = [sorted(p.name for p in (tmp_path / n).rglob("*.npy")) for n in ("one", "six")]
    assert len(names[0]) == 5 and names[0] == names[1]
    for k in (1, 3):  # a chunk's key: its texts and pairs, wherever it was labeled
        (
            tmp_path
            / "six"
            / six.identity_hash()
            / f"{content_hash([texts[2 * k : 2 * k + 2], None], 24, ascii=False)}.npy"
        ).unlink()
    six.calls = []
    np.testing.assert_array_equal(six.predict(texts, chunk_size=2, progress=False), alone)
    assert six.calls == [2, 2], "two missing chunks apart: each labeled alone, the cached ones read"
    six.calls = []
    assert six.predict(texts[:7], chunk_size=2, progress=False).shape == (7, 2) and six.calls == [1]
    assert six.predict([], progress=False).shape == (0, 2)
