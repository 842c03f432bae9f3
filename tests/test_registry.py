"""Every plug-in kind registers by name in one Registry; built-ins import lazily; a package adds its own through
the ``fute.plugins`` entry point without editing fute."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint

import pytest

from fute import registry
from fute.errors import ConfigError
from fute.registry import EXECUTORS, METHODS, PROJECTIONS, RANKERS, SELECTORS, STORES, TARGETS, Registry


def test_every_kind_lists_its_built_ins_without_importing_them():
    code = (
        "import sys; from fute.registry import METHODS, TARGETS, STORES, EXECUTORS, PROJECTIONS, RANKERS, SELECTORS; "
        "print(METHODS.names(), TARGETS.names(), STORES.names(), EXECUTORS.names(), PROJECTIONS.names(), "
        "RANKERS.in_order(), SELECTORS.in_order(), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'fisher', 'prefix', 'prompt'" in out and "'hf-lm'" in out and "'postgresql'" in out
    assert "'ray'" in out and "'umap'" in out and out.strip().endswith("False")
    assert "['fute-fisher', 'fute-prompt', 'fute-prefix'" in out and "'zps-vote', 'spell'" in out


@pytest.mark.parametrize("registry_", [METHODS, TARGETS, STORES, EXECUTORS, PROJECTIONS, RANKERS, SELECTORS])
def test_every_declared_built_in_is_the_class_of_that_name(registry_):
    """A lazy path that points at the wrong class (or none) fails here, not in a user's run."""
    for name in registry_.in_order():
        cls = registry_.get_class(name)
        assert getattr(cls, registry_.key) == name
        for trait, value in registry_._traits.get(name, {}).items():  # what help lists read without importing
            assert getattr(cls, trait) == value, (name, trait)


def test_lazy_entries_import_on_first_use_and_unknown_names_list_the_known():
    assert TARGETS.get_class("hf-classifier").__name__ == "HFClassifier"
    assert PROJECTIONS.create("pca").name == "pca"
    with pytest.raises(ConfigError, match=r"unknown executor 'spark'; registered: .*local.*ray"):
        EXECUTORS.get_class("spark")
    r = Registry("thing")
    r.register_lazy("x", "fute.viz:PCAProjection")
    with pytest.raises(ConfigError, match="already registered"):
        r.register(type("Other", (), {"name": "x"}))
        r.register(type("Again", (), {"name": "x"}))


@pytest.fixture
def plugin(monkeypatch):
    """fute.plugins holds one entry point, as an installed package would declare it."""
    ep = EntryPoint(name="example", value="tests.plugin_example:register", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group=None: [ep] if group == ep.group else [])
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    saved = [(r, dict(r), dict(r._lazy)) for r in (METHODS, STORES, EXECUTORS)]
    yield
    for r, items, lazy in saved:
        r.clear()
        r.update(items)
        r._lazy.clear()
        r._lazy.update(lazy)
    registry._plugins_loaded = True


def test_a_package_adds_a_method_a_store_and_an_executor_through_the_entry_point(plugin, tmp_path, tiny):
    from fute.embed import embed_dataset
    from fute.execute import get_executor
    from fute.store import open_store
    from tests.conftest import make_classification

    assert {"mean-length"} <= set(METHODS.names()) and "mem" in STORES.names() and "counting" in EXECUTORS.names()
    store = open_store(f"mem://{tmp_path / 'st'}")
    vec = embed_dataset(
        make_classification(8), "toy", method="mean-length", surrogate=tiny, store=store, progress=False
    )
    assert vec.card.space.method == "mean-length" and vec.vector.shape == (2,)
    assert [v.name for v in open_store(f"mem://{tmp_path / 'st'}").vectors()] == ["toy"]
    assert type(get_executor("counting")).__name__ == "CountingExecutor"


def test_a_broken_plug_in_warns_and_fute_goes_on(monkeypatch):
    ep = EntryPoint(name="broken", value="no_such_package_xyz:register", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group=None: [ep])
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    with pytest.warns(UserWarning, match="plug-in 'broken'.*failed to load"):
        names = METHODS.names()
    assert "fisher" in names
