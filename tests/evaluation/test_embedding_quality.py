"""fute.evaluation.embedding_quality (bench/embedding_quality.py's library): variants, ensemble jobs and the
paired comparison, on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from fute.evaluation import embedding_quality as eq


def test_variants_name_their_seed_and_ensembles_take_disjoint_members():
    assert eq.split_variant("A250-seed1") == ("A250", 1) and eq.split_variant("B") == ("B", 0)
    assert eq.member_variants("A", 2) == ["A", "A-seed1"] and eq.member_variants("A-seed1", 2) == ["A-seed2", "A-seed3"]
    assert eq.variant_options("A250-seed1", {"x": 1}) == {"x": 1, "max_examples": 250, "seed": 1}
    assert eq.variant_options("B", {}) == {}


def test_qa_halves_share_no_context_and_classification_halves_are_as_before():
    from fute.checks import toy_classification
    from fute.samples import rows_to_samples

    rows = [
        {
            "question": f"q{i}",
            "context": f"passage {i % 7} about paris",
            "answers": {"text": ["paris"], "answer_start": [18]},
        }
        for i in range(40)
    ]
    a, b = eq.halves(rows_to_samples(rows, "qa.jsonl"))
    assert len(a) + len(b) == 40 and a.text_pairs and b.text_pairs and not set(a.text_pairs) & set(b.text_pairs)
    c = toy_classification(10)
    perm = np.random.default_rng(0).permutation(10)
    assert eq.halves(c)[0].texts == [c.texts[i] for i in np.sort(perm[0::2])]


def _job(vector, seconds=1.0, training=None):
    return {"method": "fisher", "vector": vector, "seconds": seconds, "peak_rss_mb": 10, "training": training}


def test_an_ensemble_job_is_the_mean_of_its_members_unit_vectors_and_costs_their_sum():
    jobs = {("d", "A"): _job([2.0, 0.0], 3.0, {"converged": True}), ("d", "A-seed1"): _job([0.0, 5.0], 4.0)}
    out = eq.ensemble_jobs(jobs, 2)
    assert list(out) == [("d", "A")]  # A-seed1's members (seeds 2 and 3) are missing: no ensemble for it
    e = out[("d", "A")]
    np.testing.assert_allclose(e["vector"], [0.5, 0.5])
    assert e["seconds"] == 7.0 and e["method"] == "fisher-ens2" and e["members"] == ["A", "A-seed1"]
    assert e["training"] is None and e["trainings"] == [{"converged": True}]  # a member that did not train: none


def test_paired_compares_per_dataset_means_of_the_two_halves():
    def result(margins):
        return {
            "self_retrieval": {
                "rows": [
                    {"half": f"{d}/{h}", "margin": m, "own": m + 0.5}
                    for d, pair in margins.items()
                    for h, m in zip("AB", pair, strict=True)
                ]
            }
        }

    single = result({"a": (0.0, 0.2), "b": (0.1, 0.1)})
    ens = result({"a": (0.2, 0.2), "b": (0.1, 0.3)})
    x = eq.paired(single, ens, ["a", "b"])
    assert x["margin"]["difference"] == pytest.approx(0.1) and x["margin"]["higher"] == 2
    assert x["own"]["difference"] == pytest.approx(0.1) and x["margin"]["ci95"] == [0.1, 0.1]


def test_a_stale_job_run_again_is_reported(tmp_path, monkeypatch):
    """A job made with another config is run again, and the new one is in the report (it used to be left out)."""
    import json

    import fute.surrogate

    data = tmp_path / "data"
    for name in ("a", "b", "c"):
        (data / name).mkdir(parents=True)
        (data / name / "train.jsonl").write_text("")
        (data / name / "dataset.json").write_text(json.dumps({"category": "sentiment", "labels": ["x", "y"]}))
    rng = np.random.default_rng(0)

    def fake_run_job(method, name, variant, folder, sur, options):
        config, revision = eq.expected(method, variant, options)
        vector = rng.standard_normal(4).tolist()
        return {"method": method, "dataset": name, "variant": variant, "config": config, "revision": revision,
                "rows": 1000, "seconds": 1.0, "peak_rss_mb": 1, "training": None, "vector": vector}  # fmt: skip

    monkeypatch.setattr(eq, "run_job", fake_run_job)
    monkeypatch.setattr(fute.surrogate, "load_surrogate", lambda name: None)
    jobs = tmp_path / "jobs"
    (jobs / "textemb").mkdir(parents=True)
    old = fake_run_job("textemb", "a", "A", None, None, {})
    (jobs / "textemb" / "a-A.json").write_text(json.dumps({**old, "config": {"made": "otherwise"}}))
    argv = ["--data", str(data), "--jobs", str(jobs), "--results", str(tmp_path / "eq"), "--method", "textemb"]
    eq.main(argv)
    report = json.loads((tmp_path / "eq.json").read_text())
    halves = [r["half"] for r in report["methods"]["textemb"]["self_retrieval"]["rows"]]
    assert "a/A" in halves and json.loads((jobs / "textemb" / "a-A.json").read_text())["config"] == old["config"]


def _fisher_job(config: dict, **training) -> dict:
    return {"method": "fisher", "config": config, "training": training, "vector": [1.0, 0.0]}


def test_jobs_are_carried_only_where_the_same_state_is_measured():
    """rederive carries a job to another config only where that config keeps the same state of the same run."""
    default, _ = eq.expected("fisher", "A", {})
    learned = {"probe_heldout_loss": 0.40, "prior_heldout_loss": 0.69, "initial_heldout_loss": 0.693}
    failed = {"probe_heldout_loss": 0.688, "prior_heldout_loss": 0.69, "initial_heldout_loss": 0.693}  # > 0.99 x 0.69
    # keep_probe=false: the same run where its first fine-tuned epoch beat the probe
    no_probe, _ = eq.expected("fisher", "A", {"keep_probe": False})
    assert eq.rederive(_fisher_job(default, history=[0.5, 0.4, 0.45]), no_probe)["config"] == no_probe
    assert eq.rederive(_fisher_job(default, history=[0.5, 0.55]), no_probe) is None
    # unless-probe-learns: a probe-only job whose probe learned, a keep_probe=false job whose probe did not
    hybrid, _ = eq.expected("fisher", "A", {"fine_tune": "unless-probe-learns"})
    probe_only, _ = eq.expected("fisher", "A", {"max_epochs": 0})
    carried = eq.rederive(_fisher_job(probe_only, **learned), hybrid)
    assert carried["config"] == hybrid and carried["training"]["stopped"] == "probe-learned"
    assert carried["vector"] == [1.0, 0.0] and "probe learned" in carried["derived_from"]
    assert eq.rederive(_fisher_job(probe_only, **failed), hybrid) is None
    assert eq.rederive(_fisher_job(no_probe, **failed), hybrid)["config"] == hybrid
    assert eq.rederive(_fisher_job(no_probe, **learned), hybrid) is None
    assert eq.rederive(_fisher_job(default, **failed, history=[0.5, 0.4]), hybrid) is None  # the probe was a candidate
    other, _ = eq.expected("fisher", "A", {"max_epochs": 0, "seed": 3})
    assert eq.rederive(_fisher_job(other, **learned), hybrid) is None  # another config besides


def test_a_job_is_taken_from_a_carry_from_folder(tmp_path, monkeypatch):
    """--carry-from: a job missing in --jobs that another folder holds for today's config is copied, not run."""
    import json

    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere" / "textemb"
    elsewhere.mkdir(parents=True)
    for i, name in enumerate(("a", "b")):
        (data / name).mkdir(parents=True)
        (data / name / "train.jsonl").write_text("")
        (data / name / "dataset.json").write_text(json.dumps({"category": "sentiment", "labels": ["x", "y"]}))
        for v in eq.VARIANTS:
            config, revision = eq.expected("textemb", v, {})
            job = {"method": "textemb", "dataset": name, "variant": v, "config": config, "revision": revision,
                   "rows": 1000, "seconds": 1.0, "peak_rss_mb": 1, "training": None, "vector": [1.0, i]}  # fmt: skip
            (elsewhere / f"{name}-{v}.json").write_text(json.dumps(job))

    def must_not_run(*args):
        raise AssertionError("a job in the carry-from folder was run again")

    monkeypatch.setattr(eq, "run_job", must_not_run)
    jobs = tmp_path / "jobs"
    argv = ["--data", str(data), "--jobs", str(jobs), "--results", str(tmp_path / "eq"), "--method", "textemb"]
    eq.main([*argv, "--carry-from", str(tmp_path / "elsewhere")])
    want = sorted(f"{d}-{v}.json" for d in "ab" for v in eq.VARIANTS)
    assert sorted(p.name for p in (jobs / "textemb").iterdir()) == want


def test_a_job_that_used_all_its_rows_is_carried_to_a_higher_cap_only():
    """Under any cap at or above a half's size the same rows are taken (``Samples.take``), so the same vector."""
    default, _ = eq.expected("fisher", "A", {})
    more, _ = eq.expected("fisher", "A", {"max_examples": 2000})
    fewer, _ = eq.expected("fisher", "A", {"max_examples": 500})
    small = {**_fisher_job(default), "rows": 671}
    carried = eq.rederive(small, more)
    assert carried["config"] == more and carried["vector"] == [1.0, 0.0] and "all 671 rows" in carried["derived_from"]
    assert eq.rederive(small, fewer) is None  # 500 rows of 671: other rows
    assert eq.rederive({**_fisher_job(default), "rows": 1000}, more) is None  # capped: 2,000 would take more
    other, _ = eq.expected("fisher", "A", {"max_examples": 2000, "seed": 3})
    assert eq.rederive(small, other) is None  # another seed besides


def test_compare_jobs_scores_each_split_among_its_own_datasets():
    """Two folders' half jobs, per split: counts and margins among the split's datasets, differences per dataset."""
    # agnews and cb are development datasets, mr and sst2 held out
    info = {d: {"family": d, "labels": 2} for d in ("agnews", "cb", "mr", "sst2")}
    unit = np.eye(4)

    def jobs(spread):
        # each dataset's halves: its own axis, tilted towards the next axis by +-spread
        names = sorted(info)
        return {
            (d, h): {**_job((unit[i] + sign * spread * unit[(i + 1) % 4]).tolist()), "rows": 10, "config": {}}
            for i, d in enumerate(names)
            for h, sign in (("A", 1), ("B", -1))
        }

    out = eq.compare_jobs(jobs(0.2), jobs(1.0), info)
    assert sorted(out) == ["development", "held_out"] and out["development"]["datasets"] == 2
    dev = out["development"]
    # spread 1: agnews/A = e0 + e1 and B = e0 - e1 (cosine 0), cb/A = e1 + e2 and B = e1 - e2; agnews/A, cb/A and cb/B
    # each have cosine 1/2 with a half of the other dataset, and only agnews/B (-1/2 to both of cb's) finds its own
    assert dev["self_retrieval"] == {"this": 4, "base": 1, "of": 4}
    own_this, own_base = (1 - 0.04) / 1.04, 0.0
    assert dev["own"]["difference"] == pytest.approx(own_this - own_base, abs=1e-4) and dev["own"]["higher"] == 2
    assert dev["mean_margin"]["this"] > dev["mean_margin"]["base"]


def test_a_job_made_before_the_growth_rule_is_carried_where_the_rule_stops_at_once():
    """The growth rule's first attempt is the run made before it: a job whose half was learned with the margin, or
    that used every row of its half, is that rule's vector; one not learned at its cap is run again."""
    before, _ = eq.expected("fisher", "A", {})  # the default: no growth
    default, _ = eq.expected("fisher", "A", {"grow_rows": 10000})
    learned = {"heldout_loss": 0.30, "prior_heldout_loss": 0.69, "initial_heldout_loss": 0.693}
    missed = {"heldout_loss": 0.68, "prior_heldout_loss": 0.69, "initial_heldout_loss": 0.693}  # 0.986 of it
    carried = eq.rederive({**_fisher_job(before, **learned), "rows": 1000, "seconds": 5.0}, default)
    assert carried["config"] == default and carried["vector"] == [1.0, 0.0] and "growth rule" in carried["derived_from"]
    assert carried["training"]["attempts"] == [{"rows": 1000, "loss_ratio": 0.4348, "margin": 0.9, "seconds": 5.0}]
    assert eq.rederive({**_fisher_job(before, **missed), "rows": 1000, "seconds": 5.0}, default) is None
    every_row = eq.rederive({**_fisher_job(before, **missed), "rows": 671, "seconds": 5.0}, default)
    assert every_row["config"] == default  # the half's 671 rows: nothing more to draw
