"""The one check suite every registered method passes (scikit-learn's estimator checks, for methods)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fute.errors import ConfigError
from fute.methods import METHODS, get_method
from fute.surrogate import weights_hash
from tests.conftest import make_classification, make_qa, make_regression

FAST = {
    "fisher": {"max_epochs": 1},
    "prompt": {"max_epochs": 1, "n_tokens": 4},
    "prefix": {"max_epochs": 1, "n_tokens": 4},
}


def small(name: str, **kw):
    return get_method(name, batch_size=8, **{**FAST.get(name, {}), **kw})


@pytest.fixture(params=sorted(METHODS))
def method_name(request):
    return request.param


def test_config_is_a_dataclass_that_round_trips(method_name):
    m = get_method(method_name)
    cfg = m.config
    assert dataclasses.is_dataclass(cfg)
    assert type(cfg).from_dict(cfg.to_dict()) == cfg
    assert "max_examples" not in cfg.space_dict() and "seed" in cfg.space_dict()
    with pytest.raises(ConfigError, match="unknown option"):
        get_method(method_name, no_such_option=1)


def test_vector_is_finite_fixed_size_and_deterministic(method_name, tiny):
    data = make_classification(16)
    a = small(method_name).embed(data, tiny, progress=False)
    b = small(method_name).embed(data, tiny, progress=False)
    other = small(method_name).embed(make_classification(16, seed=5, flip=True), tiny, progress=False)
    assert a.dtype == np.float32 and a.ndim == 1 and np.isfinite(a).all()
    assert a.shape == other.shape
    np.testing.assert_array_equal(a, b)
    if method_name != "datasize":  # same size, so the same datasize vector
        assert not np.allclose(a, other), "a different task must give a different vector"


def test_embedding_leaves_the_surrogate_unchanged(method_name, tiny):
    before = weights_hash(tiny.model)
    small(method_name).embed(make_classification(8), tiny, progress=False)
    assert weights_hash(tiny.model) == before


def test_sample_cap_is_seeded(method_name, tiny):
    if method_name == "datasize":
        pytest.skip("datasize measures the whole dataset: it has no cap")
    data = make_classification(40)
    a = small(method_name, max_examples=10).embed(data, tiny, progress=False)
    b = small(method_name, max_examples=10).embed(data, tiny, progress=False)
    c = small(method_name, max_examples=10, seed=3).embed(data, tiny, progress=False)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    "make", [make_regression, make_qa, lambda: make_classification(12, pair=True)], ids=["regression", "qa", "pairs"]
)
def test_every_task_type(method_name, tiny, make):
    vec = small(method_name).embed(make(), tiny, progress=False)
    assert np.isfinite(vec).all() and vec.size > 0


def test_scores_rank_candidates(method_name, tiny):
    m = small(method_name)
    q = m.embed(make_classification(12), tiny, progress=False)
    cands = np.stack([q, -q + 1e-3, q * 2])
    s = m.scores(q, cands, [{}, {}, {}])
    assert s.shape == (3,) and np.isfinite(s).all()


@pytest.mark.parametrize("arch", ["decoder", "encoder-decoder"])
@pytest.mark.parametrize("name", ["fisher", "prompt", "textemb"])
def test_other_architectures(tiny_paths, arch, name):
    from fute.surrogate import Surrogate

    sur = Surrogate(str(tiny_paths[arch]), max_length=32)
    a = small(name).embed(make_classification(12, pair=True), sur, progress=False)
    b = small(name).embed(make_classification(12, pair=True), sur, progress=False)
    assert np.isfinite(a).all() and a.size > 0
    np.testing.assert_array_equal(a, b)
