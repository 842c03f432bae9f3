"""The all-class truth: two finished in-class runs joined by the pairs across them."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

from fute.errors import ConfigError
from fute.evaluation.transfer import truth as transfer
from fute.evaluation.transfer.across import run_across
from fute.evaluation.transfer.data import load_datasets, scored_texts, truth_held_out
from fute.evaluation.transfer.truth import run_truth, truth_markdown
from tests.conftest import write_jsonl
from tests.evaluation.conftest import tiny_config, write_dataset, write_qa_dataset


def quiet(**kw):
    return {"progress": False, "echo": lambda _: None, **kw}


@pytest.fixture(scope="module")
def parts(tmp_path_factory, tiny_paths):
    """A CR run (pos, sim) and a QA run (qa1, qa2, scored on fewer rows), each finished, and their data."""
    root = tmp_path_factory.mktemp("across")
    cr = [write_dataset(root, "pos", "sentiment"), write_dataset(root, "sim", "similarity", pair=True, seed=2)]
    qa = [write_qa_dataset(root, "qa1"), write_qa_dataset(root, "qa2", seed=1)]
    cfg = tiny_config(tiny_paths["encoder"])
    run_truth(cr, cfg, run_dir=root / "cr", **quiet())
    run_truth(qa, replace(cfg, dev_examples=6), run_dir=root / "qa", **quiet())
    return root, cr, qa, cfg


def test_a_pair_across_scores_as_one_run_of_every_dataset_would(parts):
    """The in-class pairs are the parts' own; each pair across trains and scores its target as the target's run
    does, so it scores what a single run over all four datasets gives (the scored rows of the other class hold no
    row of a source, so that run trains on the same rows)."""
    root, cr, qa, cfg = parts
    truth = run_across([root / "cr", root / "qa"], run_dir=root / "all", **quiet())
    assert {t: sorted(row) for t, row in truth["scores"].items()} == {
        t: sorted({"pos", "sim", "qa1", "qa2"} - {t}) for t in ("pos", "sim", "qa1", "qa2")
    }
    assert len(list((root / "all" / "jobs").glob("*.json"))) == 8  # 2 x 2 each way; no source retrained
    cr_truth = json.loads((root / "cr" / "truth.json").read_text())
    assert truth["scores"]["pos"]["sim"] == cr_truth["scores"]["pos"]["sim"]
    assert truth["parts"][1]["settings"]["dev_examples"] == 6 and truth["crossing_rows_checked"] > 0
    one = run_truth([*cr, *qa], cfg, run_dir=root / "one", **quiet())  # QA targets scored on 8 rows here
    assert truth["scores"]["pos"]["qa1"] == pytest.approx(one["scores"]["pos"]["qa1"], abs=1e-6)
    assert truth["scores"]["sim"]["qa2"] == pytest.approx(one["scores"]["sim"]["qa2"], abs=1e-6)
    md = truth_markdown(truth, "cmd")
    assert "scored on 8 (cr) or 6 (qa)" in md and "Sources of every class" in md


def test_across_resumes_and_retrains_only_a_missing_source(parts, monkeypatch):
    """A rerun runs nothing; with a part's source model gone (another machine) only that source is retrained, in the
    across run's folder under its part's key, and its loss curve is the part's (training is deterministic)."""
    root, *_ = parts
    first = run_across([root / "cr", root / "qa"], run_dir=root / "all", **quiet())
    src = json.loads((root / "cr" / "truth.json").read_text())["source_models"]["pos"]
    shutil.rmtree(src)
    for f in (root / "all" / "jobs").glob("*.json"):
        if json.loads(f.read_text())["target"] in ("qa1", "qa2") and json.loads(f.read_text())["source"] == "pos":
            f.unlink()
    calls = []
    for name in ("source_job", "target_job"):
        real = getattr(transfer, name)
        monkeypatch.setattr(
            "fute.evaluation.transfer.across." + name, lambda real=real, **kw: calls.append(kw) or real(**kw)
        )
    again = run_across([root / "cr", root / "qa"], run_dir=root / "all", **quiet())
    assert [c.get("dataset", c.get("target")).name for c in calls] == ["pos", "qa1", "qa2"]
    assert again["scores"] == first["scores"] and again["source_losses"] == first["source_losses"]
    assert str(root / "all") in again["source_models"]["pos"]


def test_the_held_out_rows_of_a_truth_across_are_each_parts_own(parts):
    root, cr, qa, cfg = parts
    truth = json.loads((root / "all" / "truth.json").read_text())
    expected = scored_texts(load_datasets(cr), cfg) | scored_texts(load_datasets(qa), replace(cfg, dev_examples=6))
    assert truth_held_out(truth) == expected


def test_a_source_that_holds_a_row_another_part_scores_is_refused(parts, tmp_path, tiny_paths):
    root, _, qa, cfg = parts
    scored = [json.loads(line) for line in (qa[0] / "dev.jsonl").read_text().splitlines()]
    leaky = write_dataset(tmp_path, "leaky", "nli", pair=True)
    write_jsonl(
        leaky / "train.jsonl",
        [
            {"text": r["question"], "text_pair": r["context"], "label": ["negative", "positive"][i % 2]}
            for i, r in enumerate(scored)
        ],
    )
    run_truth([leaky, write_dataset(tmp_path, "pos", "sentiment")], cfg, run_dir=tmp_path / "cr", **quiet())
    with pytest.raises(ConfigError, match=r"leaky .* would train on \d+ row\(s\) that a target of another part"):
        run_across([tmp_path / "cr", root / "qa"], run_dir=tmp_path / "all", **quiet())


def test_across_refuses_one_run_or_too_many_seeds(parts):
    root, *_ = parts
    with pytest.raises(ConfigError, match="needs two finished runs or more"):
        run_across([root / "cr"], run_dir=root / "x", **quiet())
    with pytest.raises(ConfigError, match="--seeds 2: the runs have 1 seed"):
        run_across([root / "cr", root / "qa"], run_dir=root / "x", seeds=2, **quiet())


def test_the_parts_kept_vectors_seed_the_eval_cache_without_replacing_one(parts):
    """The eval of a truth across reads the vectors the parts' evals kept (same rows, same job key): they are copied
    into its store, but a slot it already holds keeps its own vector."""
    from fute.store import open_store
    from tests.test_viz import full_vec

    root, *_ = parts
    open_store(root / "cr" / "store").put_many([full_vec("pos", [1, 0, 0]), full_vec("sim", [0, 1, 0])])
    open_store(root / "qa" / "store").put(full_vec("qa1", [0, 0, 1]))
    open_store(root / "all" / "store").put(full_vec("sim", [1, 1, 1]))
    run_across([root / "cr", root / "qa"], run_dir=root / "all", **quiet())
    kept = {v.name: v.vector.tolist() for v in open_store(root / "all" / "store").vectors()}
    assert kept == {"pos": [1, 0, 0], "sim": [1, 1, 1], "qa1": [0, 0, 1]}
