"""Every registered method passes the package's method checks (fute.checks, scikit-learn's estimator checks)."""

from __future__ import annotations

import numpy as np
import pytest

from fute.checks import METHOD_CHECKS, check_method
from fute.methods import METHODS, get_method
from tests.conftest import make_classification

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


@pytest.mark.parametrize("check", METHOD_CHECKS, ids=lambda c: c.__name__)
def test_method_conformance(check, method_name, tiny):
    check(method_name, tiny, {"batch_size": 8, **FAST.get(method_name, {})})


def test_check_method_names_the_failing_check(tiny, monkeypatch):
    """A method that ignores its seed fails check_method with the check's name in the message."""
    from fute.methods.baselines import TextEmb

    monkeypatch.setattr(TextEmb, "_embed", lambda self, samples, surrogate, progress: np.random.default_rng().random(4))
    with pytest.raises(AssertionError, match="check_vector_is_deterministic: the same inputs"):
        check_method("textemb", tiny)


@pytest.mark.parametrize("arch", ["decoder", "encoder-decoder"])
@pytest.mark.parametrize("name", ["fisher", "prompt", "textemb"])
def test_other_architectures(tiny_paths, arch, name):
    from fute.surrogate import Surrogate

    sur = Surrogate(str(tiny_paths[arch]), max_length=32)
    a = small(name).embed(make_classification(12, pair=True), sur, progress=False)
    b = small(name).embed(make_classification(12, pair=True), sur, progress=False)
    assert np.isfinite(a).all() and a.size > 0
    np.testing.assert_array_equal(a, b)
