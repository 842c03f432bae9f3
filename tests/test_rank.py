from __future__ import annotations

import numpy as np
import pytest

from fute.errors import StoreError
from fute.rank import rank
from fute.store import LocalStore
from tests.store.test_local import vec


def test_nearest_first_and_self_excluded(tmp_path):
    st = LocalStore(tmp_path)
    st.put(vec("q", [1, 0, 0]))
    st.put(vec("near", [1, 0.2, 0]))
    st.put(vec("mid", [1, 1, 0]))
    st.put(vec("far", [-1, 0, 0]))
    st.put(vec("model", [1, 0.1, 0], kind="model"))
    got = rank("q", st, kind="dataset")
    assert [r.vector.name for r in got] == ["near", "mid", "far"] and [r.rank for r in got] == [1, 2, 3]
    assert got[0].score == pytest.approx(1 / np.sqrt(1.04), abs=1e-5) and got[2].score == pytest.approx(-1, abs=1e-5)
    assert [r.vector.name for r in rank("q", st, kind="model")] == ["model"]
    assert len(rank("q", st, k=2)) == 2


def test_ambiguous_or_missing_names_are_errors(tmp_path):
    st = LocalStore(tmp_path)
    st.put(vec("q", [1, 0], space="s1"))
    st.put(vec("q", [1, 0, 0], space="s2"))
    with pytest.raises(StoreError, match="several spaces"):
        rank("q", st)
    assert rank("q", st, space="s1") == []
    with pytest.raises(StoreError, match="no vector named 'zz'"):
        rank("zz", st)


def test_datasize_ranks_by_size_not_cosine(tmp_path):
    st = LocalStore(tmp_path)
    for name, n in (("q", 50), ("small", 10), ("big", 900), ("mid", 300)):
        v = vec(name, [n], space="ds")
        v.card.space.method = "datasize"
        st.put(v)
    assert [r.vector.name for r in rank("q", st)] == ["big", "mid", "small"]
