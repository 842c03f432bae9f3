from __future__ import annotations

import numpy as np
import pytest

from fute.errors import SpaceMismatchError
from fute.methods import get_method
from fute.space import TaskVector, make_card, space_card, space_id
from tests.conftest import make_classification


def test_space_id_covers_surrogate_method_and_config(tiny, tiny_paths):
    from fute.surrogate import Surrogate

    base = space_id(space_card(tiny.identity, get_method("fisher")))
    assert base == space_id(space_card(tiny.identity, get_method("fisher", max_examples=50)))
    assert base != space_id(space_card(tiny.identity, get_method("fisher", seed=1)))
    assert base != space_id(space_card(tiny.identity, get_method("fisher", learning_rate=3e-4)))
    assert base != space_id(space_card(tiny.identity, get_method("prompt")))
    other = Surrogate(str(tiny_paths["decoder"]), max_length=32)
    assert base != space_id(space_card(other.identity, get_method("fisher")))


def test_a_method_revision_moves_the_space_and_revision_0_leaves_it(tiny, monkeypatch):
    """A code change that moves coordinates at the same config bumps ``Method.revision``."""
    m = get_method("fisher")
    before = space_card(tiny.identity, m)
    assert "revision" not in before
    monkeypatch.setattr(type(m), "revision", 3)
    after = space_card(tiny.identity, m)
    assert after["revision"] == 3 and space_id(after) != space_id(before)
    assert space_card(tiny.identity, get_method("prefix"))["revision"] >= 1


def test_card_has_full_provenance(tiny):
    data = make_classification(12)
    m = get_method("textemb", max_examples=5)
    card = make_card(name="toy", kind="dataset", samples=data, method=m, surrogate=tiny.identity, seconds=1.0)
    assert card["space"]["surrogate"]["weights_sha256"] == tiny.identity.weights_sha256
    assert card["method_config"]["max_examples"] == 5 and card["seed"] == 0
    assert card["data"]["fingerprint"] == data.fingerprint() and card["data"]["n_used"] == 5
    assert card["data"]["n_total"] == 12 and card["fute_version"]


def test_cross_space_comparison_names_both():
    def tv(name, sid, method):
        return TaskVector(
            np.ones(3, dtype=np.float32),
            {
                "name": name,
                "kind": "dataset",
                "space_id": sid,
                "key": name,
                "space": {"method": method, "surrogate": {"name": "m", "weights_sha256": "ab" * 32}},
            },
        )

    a, b = tv("sst2", "s1", "fisher"), tv("mnli", "s2", "prompt")
    assert a.cosine(tv("mr", "s1", "fisher")) == pytest.approx(1.0)
    both = r"'sst2' is in space s1 \(fisher on m.*'mnli' is in space s2 \(prompt"
    with pytest.raises(SpaceMismatchError, match=both):
        a.cosine(b)
    assert TaskVector.from_json(a.to_json()).card == a.card
