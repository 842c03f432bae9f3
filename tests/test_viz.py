from __future__ import annotations

import numpy as np
import pytest

from fute.errors import ConfigError, StoreError
from fute.space import TaskVector
from fute.store import LocalStore
from fute.viz import (
    attribute,
    build_map,
    category_of,
    choose_space,
    hover_card,
    map_store,
    project,
    write_map,
)


def full_vec(
    name: str,
    values,
    *,
    kind: str = "dataset",
    category: str | None = "sentiment",
    space: str = "s1",
    method: str = "fisher",
    prompt: tuple[str, str] | None = None,
    model: str | None = None,
) -> TaskVector:
    """A vector with a complete card, as ``make_card`` writes it (prompt = (full id, vanilla|cot))."""
    card = {
        "name": name,
        "kind": kind,
        "space_id": space,
        "key": f"k-{name}-{space}",
        "space": {
            "method": method,
            "config": {"seed": 0},
            "surrogate": {"name": "tiny <enc>", "weights_sha256": "ab" * 32},
        },
        "method_config": {"seed": 0},
        "seed": 0,
        "data": {
            "source": f"/data/{name}",
            "fingerprint": "f" * 64,
            "task": "classification",
            "labels": [],
            "n_total": 10,
            "n_used": 10,
            **({"category": category} if category and kind == "dataset" else {}),
        },
        "fute_version": "0.1.0",
        "created": "2026-11-24T00:00:00Z",
        "seconds": 1.0,
    }
    if kind != "dataset":
        card["target"] = {
            "backend": "hf-lm" if prompt else "hf-classifier",
            "model": model or f"/m/{name}",
            "weights_sha256": "cd" * 32,
        }
        if prompt:
            card["target"]["prompt"] = {"id": prompt[0], "type": prompt[1]}
        card["corpus"] = {"name": "u", "fingerprint": "e" * 64}
        if category and not prompt:
            card["category"] = category
    return TaskVector(np.asarray(values, dtype=np.float32), card)


def some_vectors(n: int = 12, space: str = "s1") -> list[TaskVector]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        base = np.eye(6)[i % 2] * 3  # two clusters
        if i % 3 == 2:
            prompt = (("sentiment" if i % 2 == 0 else "nli") + f":p{i}", "cot" if i % 4 else "vanilla")
            out.append(
                full_vec(
                    f"p{i}", base + rng.normal(size=6), kind="prompt", space=space, model="/llm/smol", prompt=prompt
                )
            )
        else:
            out.append(
                full_vec(f"d{i}", base + rng.normal(size=6), space=space, category="sentiment" if i % 2 == 0 else "nli")
            )
    return out


def test_projections_are_2d_seeded_and_cosine():
    x = np.random.default_rng(1).normal(size=(12, 20))
    for method in ("pca", "tsne", "umap"):
        a, b = project(x, method, seed=3), project(x, method, seed=3)
        assert a.shape == (12, 2) and np.isfinite(a).all() and np.array_equal(a, b), method
    scaled = x * np.random.default_rng(2).uniform(0.5, 5, size=(12, 1))  # cosine geometry: row norms do not matter
    assert np.allclose(project(x, "pca"), project(scaled, "pca"))
    assert project(x[:3], "tsne").shape == (3, 2)  # too few for t-SNE: PCA
    assert project(x[:1], "umap").shape == (1, 2)
    with pytest.raises(ConfigError, match="unknown projection 'mds'"):
        project(x, "mds")


def test_attributes_from_cards():
    d = full_vec("sst2", [1, 0])
    p = full_vec("smol/nli:x", [1, 0], kind="prompt", prompt=("nli:x", "cot"), model="/a/b/smollm2")
    m = full_vec("clf", [1, 0], kind="model", category="topic")
    u = full_vec("clf2", [1, 0], kind="model", category=None)
    assert [category_of(v.card) for v in (d, p, m, u)] == ["sentiment", "nli", "topic", "uncategorised"]
    assert attribute(p.card, "shape") == "prompt (cot)" and attribute(d.card, "shape") == "dataset"
    assert attribute(p.card, "model") == "smollm2" and attribute(d.card, "model") == "(dataset)"
    assert attribute(p.card, "prompt-type") == "cot" and attribute(m.card, "prompt-type") == "(no prompt)"
    assert attribute(d.card, "task") == "classification"
    with pytest.raises(ConfigError, match="unknown map attribute 'colour'"):
        attribute(d.card, "colour")


def test_a_recorded_prompt_without_a_type_is_mapped():
    """A recording names its prompt by id only (no vanilla/CoT type): its card still maps and hovers."""
    rec = full_vec("rec/review-sentiment", [0, 1], kind="prompt", prompt=("review-sentiment", "cot"))
    del rec.card.target["prompt"]["type"]
    assert "prompt review-sentiment" in hover_card(rec.card) and "(cot)" not in hover_card(rec.card)
    assert attribute(rec.card, "prompt-type") == "(type not recorded)"
    assert len(build_map([rec, full_vec("sst2", [1, 0])], projection="pca").points) == 2


def test_a_map_never_mixes_spaces(tmp_path):
    vecs = some_vectors(6) + [full_vec("other", [1, 0, 0, 0, 0, 0], space="s2")]
    with pytest.raises(StoreError, match="one space.*s1, s2"):
        build_map(vecs)
    st = LocalStore(tmp_path)
    for v in vecs:
        st.put(v)
    with pytest.raises(StoreError, match="2 spaces.*s1 = fisher on tiny <enc> \\(abababab\\) \\(6 vectors\\).*--space"):
        choose_space(st)
    assert choose_space(st, "s2") == "s2"
    with pytest.raises(StoreError, match="no space 'zz'"):
        choose_space(st, "zz")
    tmap = map_store(st, space="s1", kinds=["prompt"], projection="pca")
    assert {p.kind for p in tmap.points} == {"prompt"} and len(tmap.points) == 2


def test_method_picks_the_space(tmp_path):
    st = LocalStore(tmp_path)
    for v in some_vectors(4) + [full_vec("t", [1, 0, 1], space="s2", method="textemb")]:
        st.put(v)
    assert choose_space(st, method="textemb") == "s2"
    with pytest.raises(StoreError, match="no space of method 'prompt'"):
        choose_space(st, method="prompt")


def test_png_and_self_contained_html(tmp_path):
    tmap = build_map(some_vectors(12), projection="tsne", color_by="category", symbol_by="shape")
    assert len(tmap.points) == 12 and {p.color for p in tmap.points} == {"sentiment", "nli"}
    png, page = write_map(tmap, tmp_path / "out" / "map.html")
    assert png.name == "map.png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    text = page.read_text()
    assert page.name == "map.html" and "<script src=" not in text and "Plotly.newPlot" in text  # JS inlined
    assert "tiny &lt;enc&gt;" in text and "fingerprint ffffffffffffffff" in text  # escaped provenance on hover
    assert not list((tmp_path / "out").glob(".*"))  # no temporary files left behind


def test_one_d_vectors_are_refused():
    with pytest.raises(ConfigError, match="1-d vectors"):
        build_map([full_vec("a", [3.0], method="datasize"), full_vec("b", [5.0], method="datasize")])


def test_map_command(tmp_path, run_cli):
    st = LocalStore(tmp_path / "store")
    for v in some_vectors(8):
        st.put(v)
    code, out, err = run_cli(
        "map",
        "--store",
        str(tmp_path / "store"),
        "--out",
        str(tmp_path / "m"),
        "--projection",
        "pca",
        "--color-by",
        "prompt-type",
    )
    assert code == 0 and "8 vectors of space s1" in out, err
    assert (tmp_path / "m.png").is_file() and (tmp_path / "m.html").is_file()
    st.put(full_vec("other", [1, 0], space="s2"))
    code, out, err = run_cli("map", "--store", str(tmp_path / "store"), "--out", str(tmp_path / "m2"))
    assert code == 2 and "choose one with --space" in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and not (tmp_path / "m2.png").exists()
