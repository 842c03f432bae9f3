from __future__ import annotations

import json

import numpy as np
import pytest

from fute.errors import SpaceMismatchError
from fute.methods import get_method
from fute.space import CARD_SCHEMA, Card, TaskVector, make_card, space_card, space_id
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
    assert "revision" not in before.to_dict()
    monkeypatch.setattr(type(m), "revision", 3)
    after = space_card(tiny.identity, m)
    assert after.revision == 3 and space_id(after) != space_id(before)
    assert space_card(tiny.identity, get_method("prefix")).revision >= 1


def test_card_has_full_provenance(tiny):
    data = make_classification(12)
    m = get_method("textemb", max_examples=5)
    card = make_card(name="toy", kind="dataset", samples=data, method=m, surrogate=tiny.identity, seconds=1.0)
    assert card.space.surrogate["weights_sha256"] == tiny.identity.weights_sha256
    assert card.method_config["max_examples"] == 5 and card.seed == 0
    assert card.data.fingerprint == data.fingerprint() and card.data.n_used == 5
    assert card.data.n_total == 12 and card.fute_version and card.schema == CARD_SCHEMA
    assert set(card.versions) == {"fute", "torch", "transformers"} and card.versions["torch"]
    assert card.space_id == card.space.id and Card.from_dict(json.loads(json.dumps(card.to_dict()))) == card


def test_a_card_of_schema_1_still_loads_and_round_trips():
    """A card written before the schema field (and before versions) loads as schema 1; fields it does not
    know (a newer fute's) are kept, so nothing is lost when it is stored again."""
    old = {
        "name": "sst2",
        "kind": "dataset",
        "space_id": "s1",
        "key": "k",
        "space": {"method": "fisher", "surrogate": {"name": "m", "weights_sha256": "ab" * 32}, "config": {"seed": 0}},
        "method_config": {"seed": 0, "max_examples": 1000},
        "seed": 0,
        "data": {
            "source": "x",
            "fingerprint": "f",
            "task": "classification",
            "labels": ["a"],
            "n_total": 3,
            "n_used": 3,
            "category": "sentiment",
            "size_on_disk": 10,
        },
        "fute_version": "0.0.9",
        "created": "2026-11-01T00:00:00Z",
        "seconds": 2.5,
        "from_the_future": {"x": 1},
    }
    card = Card.from_dict(old)
    assert card.schema == 1 and card.versions == {} and card.data.category == "sentiment"
    assert card.extra == {"from_the_future": {"x": 1}} and card.data.extra == {"size_on_disk": 10}
    assert card.to_dict() == {**old, "schema": 1, "versions": {}}
    copy = card.replace(name="copy", copied_from="sst2", note="kept")
    assert copy.copied_from == "sst2" and copy.extra["note"] == "kept" and card.name == "sst2"


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


def test_mean_ranks_share_ties_as_scipy_rankdata_does():
    from fute.space import mean_ranks

    np.testing.assert_array_equal(mean_ranks(np.array([10.0, 30.0, 20.0, 30.0])), [0.0, 2.5, 1.0, 2.5])
    np.testing.assert_array_equal(mean_ranks(np.array([5.0, 5.0, 5.0])), [1.0, 1.0, 1.0])
