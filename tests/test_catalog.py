"""The shipped catalog: a file of DTEs at the default space, ranked beside the user's store."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fute.catalog import CATALOG, CatalogEntry, load_catalog, write_catalog
from fute.errors import ConfigError, SpaceMismatchError
from fute.rank import rank
from fute.store import LocalStore
from tests.conftest import SHARED_DATA, write_jsonl
from tests.store.conftest import vec


def test_a_catalog_round_trips_and_holds_one_space(tmp_path):
    entries = [CatalogEntry(vec(n, v), {"license": "CC BY 4.0"}) for n, v in (("b", [0.1, 2.0]), ("a", [1.0, 0.5]))]
    path = write_catalog(tmp_path / "c.json", entries, "python tools/build_catalog.py")
    cat = load_catalog(path)
    assert (
        [v.name for v in cat.vectors] == ["a", "b"] and cat.space_id == "s1" and cat.entries[0].license == "CC BY 4.0"
    )
    np.testing.assert_array_equal(cat.vectors[1].vector, np.array([0.1, 2.0], dtype=np.float32))
    assert cat.vectors[0].card == vec("a", [1.0, 0.5]).card
    with pytest.raises(ConfigError, match="one space"):
        write_catalog(tmp_path / "d.json", [*entries, CatalogEntry(vec("c", [1, 1], space="s2"))], "x")
    with pytest.raises(SpaceMismatchError, match="the catalog is in space s1 .* 'q' is in space s9.*--no-catalog"):
        cat.check_space("s9", "'q'")
    qa = vec("squad", [1.0, 0.0])
    qa.card.data.task = "qa"
    with pytest.raises(ConfigError, match="holds no squad"):
        write_catalog(tmp_path / "e.json", [*entries, CatalogEntry(qa)], "x", ["classification", "regression"])
    assert load_catalog(write_catalog(tmp_path / "f.json", [CatalogEntry(qa)], "x", ["qa"])).task_types == ("qa",)
    (tmp_path / "bad.json").write_text("{}")
    (tmp_path / "cut.json").write_text(path.read_text()[:200])
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    doc = json.loads(path.read_text())
    doc["vectors"][0]["vector"] = "@@not base64"
    (tmp_path / "vec.json").write_text(json.dumps(doc))
    for name in ("bad.json", "cut.json", "bin.json", "vec.json"):
        with pytest.raises(ConfigError, match=f"{tmp_path / name}: not a fute catalog .*build_catalog") as e:
            load_catalog(tmp_path / name)
        assert "\n" not in str(e.value)


def test_rank_merges_the_catalog_with_the_store(tmp_path):
    store = LocalStore(tmp_path / "st")
    store.put(vec("q", [1, 0]))
    store.put(vec("mine", [1, 0.5]))
    store.put(vec("shared", [0, 1]))  # also in the catalog: the user's own vector wins
    catalog = [vec("near", [1, 0.1]), vec("shared", [1, 0]), vec("far", [-1, 0])]
    ranked = rank("q", store, catalog=catalog)
    assert [(r.vector.name, r.origin) for r in ranked] == [
        ("near", "catalog"),
        ("mine", "store"),
        ("shared", "store"),
        ("far", "catalog"),
    ]
    assert ranked[0].score == pytest.approx(1 / np.sqrt(1.01))
    alone = rank(vec("mine", [1, 0.5]), store, catalog=catalog, stored=False)  # the demo's: the catalog alone
    assert [(r.vector.name, r.origin) for r in alone] == [(n, "catalog") for n in ("near", "shared", "far")]
    with pytest.raises(SpaceMismatchError):
        rank("q", store, catalog=[vec("other", [1, 0], space="s2")])


@pytest.mark.slow
def test_the_shipped_catalog_is_in_the_default_space_and_covers_the_shared_data():
    """A change of defaults (surrogate, method config, revision) that forgets to rebuild the catalog fails here."""
    from fute.methods import get_method
    from fute.rank import score_noise
    from fute.space import space_card, space_id
    from fute.surrogate import load_surrogate

    cat = load_catalog()
    assert cat.space_id == space_id(space_card(load_surrogate("default").identity, get_method("fisher")))
    assert score_noise(cat.space_id)[0] == "fisher"  # tie marks measured in this very space
    assert all(v.space_id == cat.space_id and v.card.space == cat.space for v in cat.vectors)
    assert cat.task_types == ("classification", "regression", "qa")
    if SHARED_DATA.is_dir():  # every shared dataset of the types the catalog says it covers, and no other
        folders = [p for p in SHARED_DATA.iterdir() if p.is_dir()]
        types = {p.name: json.loads((p / "dataset.json").read_text())["task_type"] for p in folders}
        assert {v.name for v in cat.vectors} == {n for n, t in types.items() if cat.covers(t)}
        assert {v.card.data.task for v in cat.vectors} <= set(cat.task_types)
    for e in cat.entries:
        assert (
            e.license and e.origin.get("source") and e.vector.card.data.n_used == min(1000, e.vector.card.data.n_total)
        )
        assert np.isfinite(e.vector.vector).all() and e.vector.card.training["converged"] is not None


def test_fute_catalog_lists_it(run_cli):
    if not CATALOG.is_file():
        pytest.fail(f"{CATALOG} is missing: python tools/build_catalog.py")
    code, out, _ = run_cli("catalog")
    assert code == 0 and "catalog, space" in out and "made by: python tools/build_catalog.py" in out
    assert "task types: classification, regression, qa" in out
    assert all(v.name in out for v in load_catalog().vectors)


@pytest.mark.slow
def test_rank_a_file_against_the_catalog(run_cli, tmp_path, monkeypatch):
    """A user's CSV with their own column names: embedded with the defaults, stored, ranked with the catalog."""
    import csv

    monkeypatch.setenv("FUTE_HOME", str(tmp_path / "home"))
    rows = [("a fine, moving film" if i % 2 else "dull and far too long", "pos" if i % 2 else "neg") for i in range(40)]
    path = tmp_path / "reviews.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([("review", "stars"), *[(f"{t} {i}", y) for i, (t, y) in enumerate(rows)]])
    args = ["rank", str(path), "--column", "text=review", "--column", "label=stars", "--quiet", "-k", "40"]
    code, out, err = run_cli(*args)
    assert code == 0, err
    assert "nearest to reviews" in out and out.count("(catalog)") == len(load_catalog().vectors)
    code, out, _ = run_cli("rank", "reviews", "--no-catalog")
    assert code == 0 and "(catalog)" not in out

    stale = tmp_path / "stale.json"
    write_catalog(stale, [CatalogEntry(vec("x", [1.0, 0.0], space="old"))], "an old build")
    monkeypatch.setattr("fute.catalog.CATALOG", stale)
    code, _, err = run_cli(*args)
    assert code == 2 and "the catalog is in space old" in err and len(err.strip().splitlines()) == 1


def test_rank_a_file_with_a_bad_column_is_one_line(run_cli, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [{"sentence": "good", "label": "pos"}, {"sentence": "bad", "label": "n"}])
    code, _, err = run_cli("rank", str(data), "--store", str(tmp_path / "st"))
    assert code == 2 and "text" in err and len(err.strip().splitlines()) == 1
