"""What every method shares: the seeded row cap, and ensembles of seeds."""

from __future__ import annotations

import numpy as np
import pytest

from fute.errors import ConfigError
from fute.methods import get_method
from fute.methods.base import combine_members, member_seeds
from tests.conftest import make_classification


def test_member_seeds_start_at_the_seed_and_two_ensembles_share_none():
    assert member_seeds(0, 1) == [0] and member_seeds(3, 1) == [3]  # one member: the plain run
    assert member_seeds(0, 2) == [0, 1] and member_seeds(1, 2) == [2, 3]
    assert not set(member_seeds(0, 3)) & set(member_seeds(1, 3))


def test_combine_members_is_the_mean_of_unit_vectors():
    a, b = np.array([3.0, 4.0, 0.0]), np.array([0.0, 0.0, 10.0])  # norms 5 and 10
    np.testing.assert_allclose(combine_members([a, b]), [0.3, 0.4, 0.5], rtol=1e-6)
    np.testing.assert_allclose(combine_members([a, np.zeros(3)]), [0.3, 0.4, 0.0], rtol=1e-6)  # a zero adds nothing
    assert combine_members([a, b]).dtype == np.float32


def test_an_ensemble_of_seeds_is_the_mean_of_its_members(tiny):
    data = make_classification(60)
    opts = {"batch_size": 8, "max_examples": 40, "max_epochs": 1}
    runs = [get_method("fisher", seed=s, **opts).embed(data, tiny, progress=False) for s in (2, 3)]
    m = get_method("fisher", seed=1, ensemble_seeds=2, **opts)
    ens = m.embed(data, tiny, progress=False)
    np.testing.assert_allclose(ens, combine_members(runs), atol=1e-6)
    assert len(m.trainings_) == 2 and m.config.seed == 1 and m.config.ensemble_seeds == 2  # the config is restored
    card = m.training_card()
    assert [r["rows_train"] for r in card["members"]] == [32, 32]
    assert card["converged"] == all(r["converged"] for r in card["members"])
    one = get_method("fisher", seed=2, **opts)
    np.testing.assert_array_equal(one.embed(data, tiny, progress=False), runs[0])  # the default: one plain run
    assert set(one.training_card()) >= {"rows_train", "converged", "history"}


@pytest.mark.parametrize("name", ["prompt", "prefix"])
def test_the_members_of_an_ensemble_share_one_coordinate_system(tiny, monkeypatch, name):
    """The seeded start that fixes a tuned-parameter method's coordinates is the ensemble's seed for every
    member (averaging prompts tuned from different starts would mix coordinate systems)."""
    import fute.methods.prefix as prefix
    import fute.methods.prompt as prompt

    seen = []
    module, fn = (prompt, "initial_prompt") if name == "prompt" else (prefix, "initial_prefix")
    real = getattr(module, fn)
    monkeypatch.setattr(module, fn, lambda *a: seen.append(a[-1]) or real(*a))
    get_method(name, seed=1, ensemble_seeds=3, batch_size=8, max_epochs=1, n_tokens=2).embed(
        make_classification(30), tiny, progress=False
    )
    assert seen == [1, 1, 1]


def test_ensemble_seeds_below_one_is_a_one_line_error():
    with pytest.raises(ConfigError, match="ensemble_seeds"):
        get_method("fisher", ensemble_seeds=0)


def test_a_default_ensemble_leaves_job_keys_and_space_ids_as_they_were():
    """The option came after vectors were stored: at its default it is in no config dict, so no job key,
    space id or card moved (stored vectors stay cache hits)."""
    cfg = get_method("fisher").config
    assert "ensemble_seeds" not in cfg.to_dict() and "ensemble_seeds" not in cfg.space_dict()
    assert type(cfg).from_dict(cfg.to_dict()) == cfg
    two = get_method("fisher", ensemble_seeds=2).config
    assert two.to_dict()["ensemble_seeds"] == 2 and type(two).from_dict(two.to_dict()) == two
