"""Transfer ground truth on tiny models and data: every job, cached and resumable; judging by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fute.errors import ConfigError
from fute.evaluation.metrics import ndcg
from fute.evaluation.transfer import truth as transfer
from fute.evaluation.transfer.data import load_datasets, scored_texts, truth_config, truth_datasets
from fute.evaluation.transfer.stats import judge
from fute.evaluation.transfer.truth import job_keys, run_truth, seed_configs
from fute.registry import RANKERS
from tests.evaluation.conftest import tiny_config, write_dataset


def test_truth_has_every_pair_and_baseline(tiny_run):
    truth, run_dir = tiny_run
    names = ["pos", "neg", "sim"]
    assert list(truth["datasets"]) == names
    assert {t: sorted(row) for t, row in truth["scores"].items()} == {t: sorted(set(names) - {t}) for t in names}
    assert truth["metric"] == {"pos": "accuracy", "neg": "accuracy", "sim": "pearson"}
    assert all(0.0 <= truth["scores"][t][s] <= 1.0 for t in ("pos", "neg") for s in truth["scores"][t])
    assert all(Path(p).is_dir() for p in [*truth["source_models"].values(), *truth["target_models"].values()])
    assert len(truth["source_losses"]["pos"]) == 2  # 16 examples, batch 8, one epoch
    assert len(list((run_dir / "jobs").glob("*.json"))) == 3 + 3 + 6
    assert json.loads((run_dir / "truth.json").read_text())["scores"] == truth["scores"]
    jobs = [json.loads(f.read_text()) for f in (run_dir / "jobs").glob("*.json")]
    assert all(j["cpu_seconds"] > 0 and j["seconds"] > 0 for j in jobs)  # CPU time beside wall time, every job


def test_truth_resumes_where_it_stopped(tiny_run, datasets, tiny_paths, monkeypatch):
    truth, run_dir = tiny_run
    lost = sorted((run_dir / "jobs").glob("*.json"))
    pair = next(p for p in lost if json.loads(p.read_text())["role"] == "pair")
    kept = json.loads(pair.read_text())
    pair.unlink()  # as if the run had been stopped before this pair finished
    calls = []
    real = transfer.target_job
    monkeypatch.setattr(transfer, "target_job", lambda **kw: calls.append(kw) or real(**kw))
    said: list[str] = []
    again = run_truth(datasets, tiny_config(tiny_paths["encoder"]), run_dir=run_dir, progress=False, echo=said.append)
    assert [(c["source"], c["target"].name) for c in calls] == [(kept["source"], kept["target"])]
    assert said[0].startswith("11 of 12 jobs done; about ") and said[0].endswith(" min left at their pace")
    assert again["scores"] == truth["scores"]  # deterministic: the redone pair scores the same


def test_the_time_left_counts_a_jobs_cpu_time_where_its_clock_ran_on(tmp_path):
    """A paused job (wall 600 s, CPU 60 s) counts 60 s, a two-thread one (wall 50 s, CPU 100 s) 50 s: 2 pairs left at
    a mean of 55 s, about 2 min."""
    from fute.evaluation.jobs import JobFolder
    from fute.evaluation.transfer.truth import progress_line

    folder = JobFolder(tmp_path)
    folder.put("p1", {"role": "pair", "seconds": 600.0, "cpu_seconds": 60.0})
    folder.put("p2", {"role": "pair", "seconds": 50.0, "cpu_seconds": 100.0})
    keyed = [(None, {}, {}, {("a", "b"): "p1", ("b", "a"): "p2", ("a", "c"): "p3", ("c", "a"): "p4"})]
    assert progress_line(folder, keyed) == "2 of 4 jobs done; about 2 min left at their pace"


def test_truth_refuses_bad_input(tmp_path, tiny_paths, datasets):
    lone = write_dataset(tmp_path, "lone", "topic", splits=("train",))
    with pytest.raises(ConfigError, match="lone.*no dev, validation or test split"):
        run_truth(
            [datasets[0], lone],
            tiny_config(tiny_paths["encoder"]),
            run_dir=tmp_path / "run",
            progress=False,
            echo=lambda _: None,
        )
    with pytest.raises(ConfigError, match="at least two datasets"):
        run_truth([datasets[0]], tiny_config(tiny_paths["encoder"]), run_dir=tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match="same name"):
        run_truth(
            [datasets[0], datasets[0]], tiny_config(tiny_paths["encoder"]), run_dir=tmp_path / "run", progress=False
        )


TRUTH = {
    "datasets": {"a": {"category": "x"}, "b": {"category": "x"}, "c": {"category": "x"}, "d": {"category": "y"}},
    "scores": {
        "a": {"b": 0.9, "c": 0.5, "d": 0.7},
        "b": {"a": 0.6, "c": 0.8, "d": 0.4},
        "c": {"a": 0.3, "b": 0.2, "d": 0.1},
        "d": {"a": 0.5, "b": 0.6, "c": 0.7},
    },
}


def test_a_truth_of_cr_and_qa_targets_is_also_summarised_per_paper_class():
    """The paper's all-class columns: a truth with CR and QA targets gets a summary per class of task beside its
    categories (here d is the QA target: its ρ alone); a truth of one class gets none."""
    orders = {"r": {"a": [["d", "b", "c"]], "b": [["c", "a", "d"]], "c": [["d", "b", "a"]], "d": [["a", "b", "c"]]}}
    mixed = {**TRUTH, "metric": {"a": "accuracy", "b": "accuracy", "c": "pearson", "d": "squad_f1"}}
    summary = judge(mixed, orders)["r"]["summary"]["all"]
    assert summary["class QA"]["rho"] == 3.0 and summary["class QA"]["targets"] == 1
    assert summary["class CR"]["rho"] == pytest.approx((2 + 1 + 3) / 3) and summary["class CR"]["targets"] == 3
    one = {**TRUTH, "metric": dict.fromkeys("abcd", "accuracy")}
    assert not [g for g in judge(one, orders)["r"]["summary"]["all"] if g.startswith("class ")]


def test_judge_by_hand():
    orders = {"r": {"a": [["d", "b", "c"]], "b": [["c", "a", "d"]], "c": [["d", "b", "a"]], "d": [["a", "b", "c"]]}}
    out = judge(TRUTH, orders)["r"]
    # all-class: best sources b (rank 2), c (1), a (3), c (3)
    assert out["summary"]["all"]["overall"]["rho"] == pytest.approx((2 + 1 + 3 + 3) / 4)
    y = out["summary"]["all"]["y"]
    assert {k: y[k] for k in ("rho", "ndcg", "ndcg_exp", "targets", "regret1", "regret3")} == pytest.approx(
        {
            "rho": 3.0,
            "ndcg": ndcg(TRUTH["scores"]["d"], ["a", "b", "c"]),
            "ndcg_exp": ndcg(TRUTH["scores"]["d"], ["a", "b", "c"], gain="exponential"),
            "targets": 1,
            "regret1": 100 * (0.7 - 0.5) / 0.7,  # d's top pick a (0.5) against its best c (0.7)
            "regret3": 0.0,
        }
    )
    assert y["rho_ci"] == pytest.approx([3.0, 3.0])  # one target: no spread
    # in-class: d has no class mate; a ranks b before c (1), b ranks c before a (1), c ranks b before a (2)
    assert out["summary"]["in"]["overall"]["rho"] == pytest.approx(4 / 3)
    assert out["summary"]["in"]["overall"]["targets"] == 3
    assert out["per_target"]["c"]["in_ndcg"] == pytest.approx(0.0 / 1 + 1 / np.log2(3))
    assert "in_rho" not in out["per_target"]["d"]


def test_holm_adjusts_each_p_by_its_rank_and_keeps_the_order():
    """Holm 1979 by hand: sorted p 0.01, 0.02, 0.04 of m = 3 become 0.03, 0.04, 0.04 (0.04 x 1 is raised to the
    running maximum); a large p is capped at 1."""
    from fute.evaluation.metrics import holm

    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.6, 0.5]) == pytest.approx([1.0, 1.0]) and holm([]) == []


def test_paired_tests_compare_fute_with_each_ranker():
    from fute.evaluation.transfer.stats import paired_tests

    good = {t: [[s for s in sorted(TRUTH["scores"][t], key=lambda s: -TRUTH["scores"][t][s])]] for t in "abcd"}
    bad = {t: [o[0][::-1]] for t, o in good.items()}
    judged = judge(TRUTH, {"fute-x": good, "worst": bad})
    cell = paired_tests(judged, fute=["fute-x"])["fute-x"]["worst"]
    assert cell["rho_diff"] == pytest.approx(1.0 - 3.0) and cell["ndcg_diff"] > 0
    assert cell["rho_p"] == pytest.approx(2 / 16)  # 4 targets, all better: 2 of the 16 sign patterns as extreme
    assert cell["rho_p_holm"] == pytest.approx(2 / 16)  # one comparison: Holm changes nothing
    assert "worst" not in paired_tests(judged, fute=["fute-x"])  # only FUTE rankers are tested against the others
    # in-class: a, b and c rank their class mates (d has none), so three targets; the reversed order ranks worse
    inner = paired_tests(judged, fute=["fute-x"], scope="in")["fute-x"]["worst"]
    assert inner["rho_diff"] == pytest.approx(
        np.mean(
            [judged["fute-x"]["per_target"][t]["in_rho"] - judged["worst"]["per_target"][t]["in_rho"] for t in "abc"]
        )
    )
    assert set(paired_tests(judge(TRUTH, {"fute-fisher": good, "taskemb": bad, "datasize": bad}))) == {"fute-fisher"}
    # the registered FUTE rankers are the fute-* ones: textemb shares their DTE machinery but is a baseline
    both = judge(TRUTH, {"fute-fisher": good, "textemb": bad})
    assert set(paired_tests(both)) == {"fute-fisher"}
    assert RANKERS.names_where(is_fute=True) == [n for n in RANKERS.in_order() if n.startswith("fute-")]


def test_judge_averages_draws():
    orders = {"r": {t: [[s for s in "abcd" if s != t], [s for s in "dcba" if s != t]] for t in "abcd"}}
    one = {"r": {t: [o[0]] for t, o in orders["r"].items()}}
    other = {"r": {t: [o[1]] for t, o in orders["r"].items()}}
    both = judge(TRUTH, orders)["r"]["summary"]["all"]["overall"]["rho"]
    assert both == pytest.approx(
        (
            judge(TRUTH, one)["r"]["summary"]["all"]["overall"]["rho"]
            + judge(TRUTH, other)["r"]["summary"]["all"]["overall"]["rho"]
        )
        / 2
    )


def test_cli_truth_then_eval(run_cli, tmp_path, tiny_paths, datasets):
    run, results = tmp_path / "run", tmp_path / "results"
    code, out, err = run_cli(
        "bench",
        "transfer",
        "truth",
        str(datasets[0]),
        str(datasets[1]),
        "--model",
        str(tiny_paths["encoder"]),
        "--source-examples",
        "16",
        "--target-examples",
        "8",
        "--dev-examples",
        "8",
        "--batch-size",
        "8",
        "--max-length",
        "32",
        "--run-dir",
        str(run),
        "--results",
        str(results),
        "--quiet",
    )
    assert code == 0, err
    saved = json.loads((results / "transfer_truth.json").read_text())
    assert saved["command"].startswith("fute bench transfer truth") and set(saved["scores"]) == {"pos", "neg"}
    assert "| pos (sentiment) | accuracy |" in (results / "transfer_truth.md").read_text()
    code, out, err = run_cli(
        "bench",
        "transfer",
        "eval",
        "--ranker",
        "datasize",
        "--ranker",
        "random",
        "--run-dir",
        str(run),
        "--results",
        str(results),
        "--quiet",
    )
    assert code == 0, err
    judged = json.loads((results / "transfer_eval.json").read_text())
    assert set(judged["metrics"]) == {"datasize", "random"}
    assert "| datasize |" in (results / "transfer_eval.md").read_text()


def test_cli_eval_without_truth(run_cli, tmp_path):
    code, _, err = run_cli("bench", "transfer", "eval", "--run-dir", str(tmp_path / "nothing"))
    assert code == 2 and "no transfer ground truth there" in err and "Traceback" not in err


def test_truth_retrains_a_source_whose_model_is_gone(tiny_run, datasets, tiny_paths):
    import shutil

    truth, run_dir = tiny_run
    shutil.rmtree(truth["source_models"]["pos"])
    again = run_truth(
        datasets, tiny_config(tiny_paths["encoder"]), run_dir=run_dir, progress=False, echo=lambda _: None, models=True
    )
    assert Path(again["source_models"]["pos"]).is_dir()
    assert again["scores"] == truth["scores"]


def test_no_training_row_is_a_row_any_target_is_scored_on(tmp_path, tiny_paths):
    """A source whose training split holds another target's scored rows (SST and MR share sentences) trains
    without them; the text is matched after normalisation (case, punctuation)."""
    from fute.evaluation.transfer.data import dev_split, load_datasets, normalized, scored_texts, train_split
    from tests.conftest import write_jsonl

    a = write_dataset(tmp_path, "a", "sentiment")
    b = write_dataset(tmp_path, "b", "sentiment", seed=3)
    cfg = tiny_config(tiny_paths["encoder"])
    b_scored = dev_split(load_datasets([a, b])[1], cfg.dev_examples, cfg.seed)
    a_train = [json.loads(line) for line in (a / "train.jsonl").read_text().splitlines()]
    leaked = [{"text": t.upper() + " !", "label": "positive"} for t in b_scored.texts[:5]]
    write_jsonl(a / "train.jsonl", a_train + leaked)
    datasets = load_datasets([a, b])
    held = scored_texts(datasets, cfg)
    assert {normalized(r["text"]) for r in leaked} <= held
    train = train_split(datasets[0], 100, 0, held)
    assert len(train) == len(a_train) + len(leaked) - 5 - sum(normalized(r["text"]) in held for r in a_train)
    assert not {normalized(t) for t in train.texts} & held
    truth = run_truth([a, b], cfg, run_dir=tmp_path / "run", progress=False, echo=lambda _: None)
    assert truth["removed_as_scored_elsewhere"]["a"] >= 5
    # the rankers read the same rows: a target's vectors from its task model's training rows, no source's from a
    # scored text; a truth made before the guard (no removal recorded) keeps its full training splits
    from fute.evaluation.rankers import RankContext

    ctx = RankContext(truth, store=None)
    assert ctx.samples("a").take(8, 0).texts == train_split(datasets[0], 8, 0, held).texts
    assert not {normalized(t) for t in ctx.samples("a").texts} & held
    old = {k: v for k, v in truth.items() if k != "removed_as_scored_elsewhere"}
    assert len(RankContext(old, store=None).samples("a")) == len(a_train) + len(leaked)


def test_several_seeds_give_means_standard_errors_and_ties(tmp_path, tiny_paths, datasets):
    """--seeds 2: every job trained twice on the same scored rows; scores are means with a standard error, and
    the sources within one SE of the best count as best when rankers are judged."""
    from dataclasses import replace

    from fute.evaluation.transfer.truth import tied_best

    cfg = replace(tiny_config(tiny_paths["encoder"]), seeds=2)
    truth = run_truth(datasets[:2], cfg, run_dir=tmp_path / "run", progress=False, echo=lambda _: None)
    assert truth["seeds"] == [0, 1]
    pair = truth["scores_by_seed"]["pos"]["neg"]
    assert len(pair) == 2 and truth["scores"]["pos"]["neg"] == pytest.approx(np.mean(pair))
    assert truth["scores_se"]["pos"]["neg"] == pytest.approx(np.std(pair, ddof=1) / np.sqrt(2))
    assert np.mean(truth["baseline_by_seed"]["pos"]) == pytest.approx(truth["baseline"]["pos"])
    assert tied_best({"a": 0.80, "b": 0.78, "c": 0.70}, {"a": 0.01, "b": 0.03, "c": 0.01}) == ["a", "b"]
    assert tied_best({"a": 0.80, "b": 0.78}, {"a": 0.0, "b": 0.0}) == ["a"]
    orders = {"r": {"a": [["c", "b", "d"]]}}
    tied = {**TRUTH, "scores_se": {"a": {"b": 0.05, "c": 0.05, "d": 0.05}}}  # b 0.9, c 0.5, d 0.7: b alone
    assert judge(tied, orders)["r"]["per_target"]["a"]["all_rho"] == 2
    wide = {**TRUTH, "scores_se": {"a": {"b": 0.45, "c": 0.45, "d": 0.45}}}  # all three within an SE of b
    assert judge(wide, orders)["r"]["per_target"]["a"]["all_rho"] == 1


def test_a_second_worker_takes_one_seed_and_the_full_run_does_only_the_rest(
    tmp_path, tiny_paths, datasets, monkeypatch
):
    """--only-seed 1 runs seed 1's sources, baselines and pairs and writes no truth; the run without it then trains
    seed 0's jobs alone and assembles both seeds. A seed the run does not have is a one-line error."""
    from dataclasses import replace

    cfg = replace(tiny_config(tiny_paths["encoder"]), seeds=2)
    run = tmp_path / "run"
    said: list[str] = []
    assert run_truth(datasets[:2], cfg, run_dir=run, progress=False, echo=said.append, only_seed=1) is None
    jobs = [json.loads(f.read_text()) for f in (run / "jobs").glob("*.json")]
    assert len(jobs) == 6 and not (run / "truth.json").exists() and "without --only-seed" in said[-1]
    calls = []
    for name in ("source_job", "target_job"):
        real = getattr(transfer, name)
        monkeypatch.setattr(transfer, name, lambda real=real, **kw: calls.append(kw["config"].seed) or real(**kw))
    truth = run_truth(datasets[:2], cfg, run_dir=run, progress=False, echo=lambda _: None)
    assert calls == [0] * 6 and truth["seeds"] == [0, 1] and (run / "truth.json").exists()
    with pytest.raises(ConfigError, match="--only-seed 5: this run's seeds are 0, 1"):
        run_truth(datasets[:2], cfg, run_dir=run, progress=False, echo=lambda _: None, only_seed=5)


def test_the_finished_seeds_make_a_truth_before_the_rest_are_run(tmp_path, tiny_paths, datasets, monkeypatch):
    """--finished-seeds runs nothing and assembles the seeds whose jobs are all done, saying which of how many."""
    from dataclasses import replace

    cfg = replace(tiny_config(tiny_paths["encoder"]), seeds=3)
    run = tmp_path / "run"
    with pytest.raises(ConfigError, match="no seed of this run has every job finished yet"):
        run_truth(datasets[:2], cfg, run_dir=run, progress=False, echo=lambda _: None, finished_seeds=True)
    run_truth(datasets[:2], cfg, run_dir=run, progress=False, echo=lambda _: None, only_seed=1)
    monkeypatch.setattr(transfer, "target_job", lambda **kw: pytest.fail("--finished-seeds ran a job"))
    truth = run_truth(datasets[:2], cfg, run_dir=run, progress=False, echo=lambda _: None, finished_seeds=True)
    assert truth["seeds"] == [1] and truth["seeds_planned"] == 3
    assert truth["scores_by_seed"]["pos"]["neg"] == [truth["scores"]["pos"]["neg"]]
    md = transfer.truth_markdown(truth, "cmd")
    assert "seeds 1 of the 3 planned (the finished ones): one seed, no standard error yet" in md and "±" not in md


def seeded(runs: dict) -> dict:
    """TRUTH with two seeds: each score twice, except the (target, source) pairs of ``runs``, given per seed."""
    by = {t: {s: runs.get((t, s), [v, v]) for s, v in row.items()} for t, row in TRUTH["scores"].items()}
    return {
        **TRUTH,
        "seeds": [0, 1],
        "scores_by_seed": by,
        "scores": {t: {s: float(np.mean(v)) for s, v in row.items()} for t, row in by.items()},
        "scores_se": {t: {s: float(np.std(v, ddof=1) / np.sqrt(2)) for s, v in row.items()} for t, row in by.items()},
    }


def test_with_seeds_the_interval_holds_the_seeds_noise():
    """Scores on the seeds' mean; the interval resamples each target's seeds too. Seeds that agree give the
    targets-only interval; for one target ordered c, b, d, two seeds that disagree (b 0.95 then 0.45; c 0.6, d 0.7
    both times) give ρ 2 on seeds (0, 0) (b alone best), 1 on (0, 1) (b 0.70 ± 0.25 ties c) and 3 on (1, 1) (d best):
    the interval [1, 3], where one target alone gives a zero-width one over targets."""
    orders = {"r": {t: [o] for t, o in {"a": ["c", "b", "d"], "b": ["c", "a", "d"], "d": ["a", "b", "c"]}.items()}}

    plain = judge(TRUTH, orders)["r"]["summary"]["all"]["overall"]
    agree = judge(seeded({}), orders)["r"]["summary"]["all"]["overall"]
    assert agree["rho"] == plain["rho"] and agree["rho_ci"] == plain["rho_ci"]
    split = seeded({("a", "b"): [0.95, 0.45], ("a", "c"): [0.6, 0.6], ("a", "d"): [0.7, 0.7]})
    alone = judge(split, {"r": {"a": orders["r"]["a"]}})["r"]
    assert alone["per_target"]["a"]["all_rho"] == 1
    assert alone["summary"]["all"]["overall"]["rho_ci"] == [1.0, 3.0]
    assert judge({**TRUTH, "scores": split["scores"]}, {"r": {"a": orders["r"]["a"]}})["r"]["summary"]["all"][
        "overall"
    ]["rho_ci"] == [2.0, 2.0]  # no seeds: the targets' interval alone (b best at 0.70)


def test_the_paired_interval_holds_the_seeds_noise_too():
    """The difference's interval is nested like the rankers' own: target a's seeds disagree (as above), where
    fute-x (c, b, d) has ρ 2, 1, 3 on seeds (0, 0), (0, 1), (1, 1) and the other (b, c, d) 1, 1, 3: differences
    1, 0, 0 with probabilities 1/4, 1/2, 1/4; target b, where both give the same order, differs by 0. Over the two
    targets the mean difference is 1 only when a is drawn twice with 1 both times (1.6%), so the interval is
    [0, 0.5]; on the seeds' means alone (b 0.70 +- 0.25 ties c) both rank a's best first, and it is [0, 0]."""
    from fute.evaluation.transfer.stats import paired_tests

    split = seeded({("a", "b"): [0.95, 0.45], ("a", "c"): [0.6, 0.6], ("a", "d"): [0.7, 0.7]})
    same = [["c", "a", "d"]]
    orders = {"fute-x": {"a": [["c", "b", "d"]], "b": same}, "other": {"a": [["b", "c", "d"]], "b": same}}
    judged = judge(split, orders)
    cell = paired_tests(judged, fute=["fute-x"])["fute-x"]["other"]
    assert cell["rho_diff"] == 0 and cell["rho_diff_ci"] == [0.0, 0.5]
    means_only = {r: {k: v for k, v in x.items() if k != "per_target_resampled"} for r, x in judged.items()}
    assert paired_tests(means_only, fute=["fute-x"])["fute-x"]["other"]["rho_diff_ci"] == [0.0, 0.0]


def test_the_per_target_table_names_the_sources_tied_with_the_best():
    from fute.evaluation.transfer.report import eval_markdown

    truth = {
        **TRUTH,
        "seeds": [0, 1],
        "baseline": dict.fromkeys("abcd", 0.5),
        "best_tied": {"a": ["b", "d"], "b": ["c"], "c": ["a"], "d": ["c"]},
    }
    orders = {"r": {t: [sorted(TRUTH["scores"][t])] for t in "abcd"}}
    md = eval_markdown(truth, judge(truth, orders), "cmd")
    assert "| a | 0.500 | b (0.900); tied: d |" in md and "| b | 0.500 | c (0.800) |" in md


def test_targets_are_scored_on_their_test_split_where_they_have_one(tmp_path):
    """score_split "test" (the default) takes the test split, else dev; "dev" keeps the first truth's rows, and
    the keys of jobs made before the option existed."""
    from dataclasses import asdict

    from fute.evaluation.transfer.data import TransferConfig, dev_split, load_datasets
    from fute.samples import load_samples

    both = write_dataset(tmp_path, "both", "sentiment", splits=("train", "dev", "test"))
    dev_only = write_dataset(tmp_path, "devonly", "sentiment", seed=1)
    a, b = load_datasets([both, dev_only])
    test_rows = load_samples(both, split="test").take(5, 0).texts
    assert dev_split(a, 5, 0, "test").texts == test_rows != dev_split(a, 5, 0, "dev").texts
    assert dev_split(b, 5, 0, "test").texts == load_samples(dev_only, split="dev").take(5, 0).texts
    with pytest.raises(ConfigError, match="score_split must be one of test, dev"):
        dev_split(a, 5, 0, "train")
    old = {k: v for k, v in asdict(TransferConfig()).items() if k != "score_split"}
    assert TransferConfig(score_split="dev").key() == old and TransferConfig().key() == {**old, "score_split": "test"}


def test_a_resumed_run_retrains_only_the_models_it_will_use(tmp_path, tiny_paths, datasets, monkeypatch):
    """On a new machine (the models gone, the job files kept), a finished run assembles its truth without training;
    with ``models`` it retrains the first seed's models (the eval's model-reading rankers read them), not a later
    seed's, which nothing left needs. Without them, such a ranker says so in one line."""
    import shutil
    from dataclasses import replace

    from fute.evaluation.rankers import RankContext

    cfg = replace(tiny_config(tiny_paths["encoder"]), seeds=2)
    run_dir = tmp_path / "run"
    truth = run_truth(datasets[:2], cfg, run_dir=run_dir, progress=False, echo=lambda _: None)
    shutil.rmtree(run_dir / "models")
    calls = []
    for name in ("source_job", "target_job"):
        real = getattr(transfer, name)
        monkeypatch.setattr(transfer, name, lambda real=real, **kw: calls.append(kw) or real(**kw))
    again = run_truth(datasets[:2], cfg, run_dir=run_dir, progress=False, echo=lambda _: None)
    assert calls == [] and again["scores_by_seed"] == truth["scores_by_seed"]
    with pytest.raises(ConfigError, match="not on this machine; rerun the truth command with --models"):
        RankContext(again, store=None).model_dir("source", "pos")
    again = run_truth(datasets[:2], cfg, run_dir=run_dir, progress=False, echo=lambda _: None, models=True)
    assert sorted((c["config"].seed, "source" if "dataset" in c else "baseline") for c in calls) == [
        (0, "baseline"),
        (0, "baseline"),
        (0, "source"),
        (0, "source"),
    ]
    assert again["scores_by_seed"] == truth["scores_by_seed"]
    assert all(Path(p).is_dir() for p in [*again["source_models"].values(), *again["target_models"].values()])
    assert RankContext(again, store=None).model_dir("source", "pos") == again["source_models"]["pos"]


def test_first_seed_truth_is_what_the_truth_records_of_its_run(tiny_run, datasets, tiny_paths, capsys):
    """Once the first seed's sources and baselines are done, the eval's rankers can read the run as truth.json will
    describe it (bench/transfer_vectors.py makes their vectors then); other settings find no jobs: one line."""
    import importlib.util
    from dataclasses import asdict, replace

    from fute.evaluation.transfer.truth import first_seed_truth

    truth, run_dir = tiny_run
    cfg = tiny_config(tiny_paths["encoder"])
    early = first_seed_truth(datasets, cfg, run_dir)
    assert early == {k: truth[k] for k in early} and "scores" not in early
    with pytest.raises(ConfigError, match="no finished source and baseline of the first seed for pos, neg, sim"):
        first_seed_truth(datasets, replace(cfg, source_examples=12), run_dir)
    spec = importlib.util.spec_from_file_location(
        "transfer_vectors", Path(__file__).resolve().parents[2] / "bench" / "transfer_vectors.py"
    )
    tv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tv)
    assert tv.main([*map(str, datasets), "--run-dir", str(run_dir)]) == 2  # the default model: not this run's
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no finished source" in err and err.count("\n") == 1
    options = [f"--{k.replace('_', '-')}={v}" for k, v in asdict(cfg).items() if k in tv.TRUTH_OPTIONS]
    assert tv.main([*map(str, datasets), "--run-dir", str(run_dir), *options, "--ranker", "textemb"]) == 0
    assert "textemb: 3 datasets' work kept" in capsys.readouterr().out


def test_the_eval_plot_is_a_png_of_every_ranker_and_none_without_matplotlib(tmp_path, monkeypatch):
    import builtins

    from fute.evaluation.transfer.report import eval_plot

    good = {t: [[s for s in sorted(TRUTH["scores"][t], key=lambda s: -TRUTH["scores"][t][s])]] for t in "abcd"}
    judged = judge(TRUTH, {"fute-fisher": good, "datasize": {t: [o[0][::-1]] for t, o in good.items()}})
    out = eval_plot(judged, tmp_path / "eval.png")
    assert out is not None and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert eval_plot(judged, tmp_path / "none.png") is None and not (tmp_path / "none.png").exists()


def test_the_committed_truth_is_found_by_its_job_keys(monkeypatch):
    """Behaviour kept: every job of the committed 3-seed truth is found under the key today's code computes for it,
    so a rerun of its command reassembles the truth instead of training 468 jobs again."""
    import json
    from pathlib import Path

    from tests.conftest import SHARED_DATA

    root = Path(__file__).resolve().parents[2]
    run = root / "bench" / "results" / "transfer_truth3"
    if not SHARED_DATA.is_dir():
        pytest.skip("needs ../shared/data")
    truth = json.loads((run / "truth.json").read_text())
    monkeypatch.chdir(root)  # the truth records its datasets' paths as given: ../shared/data/NAME
    datasets = load_datasets([d["path"] for d in truth["datasets"].values()])
    assert [d.fingerprint for d in datasets] == [d.fingerprint for d in truth_datasets(truth)]
    config = truth_config(truth)
    held_out = scored_texts(datasets, config)
    keys: set[str] = set()
    for c in seed_configs(config):
        src, base, pair = job_keys(datasets, c, held_out)
        keys |= {*src.values(), *base.values(), *pair.values()}
    assert len(keys) == 468
    assert not [k for k in keys if not (run / "jobs" / f"{k}.json").is_file()]


def test_qa_targets_are_scored_by_squad_f1_and_transfer_across_task_types(tmp_path, tiny_paths):
    """A QA target trains a span model (from a QA or a classification source's backbone) and is scored by SQuAD F1
    with exact match beside it; a classification target transfers from a QA source's backbone."""
    from tests.evaluation.conftest import write_qa_dataset

    paths = [
        write_qa_dataset(tmp_path, "qa1"),
        write_qa_dataset(tmp_path, "qa2", seed=1),
        write_dataset(tmp_path, "pos", "sentiment"),
    ]
    truth = run_truth(
        paths, tiny_config(tiny_paths["encoder"]), run_dir=tmp_path / "run", progress=False, echo=lambda _: None
    )
    assert truth["metric"] == {"qa1": "squad_f1", "qa2": "squad_f1", "pos": "accuracy"}
    assert {t: sorted(row) for t, row in truth["scores"].items()} == {
        "qa1": ["pos", "qa2"],
        "qa2": ["pos", "qa1"],
        "pos": ["qa1", "qa2"],
    }
    jobs = [json.loads(f.read_text()) for f in (tmp_path / "run" / "jobs").glob("*.json")]
    qa_scored = [j for j in jobs if j.get("target") in ("qa1", "qa2")]
    assert len(qa_scored) == 2 + 4 and all(0.0 <= j["exact"] <= j["score"] <= 1.0 for j in qa_scored)
    assert all(j["dev_examples"] == 8 for j in qa_scored)


def test_the_leak_guard_compares_question_and_context(tmp_path, tiny_paths):
    """squad_v1 and squad_v2 share rows: a QA source trains on none of the (question, context) pairs a QA target is
    scored on, matched after normalisation; a question asked of another context is not a leak."""
    from fute.evaluation.transfer.data import dev_split, normalized, train_split
    from tests.conftest import write_jsonl
    from tests.evaluation.conftest import write_qa_dataset

    a, b = write_qa_dataset(tmp_path, "a"), write_qa_dataset(tmp_path, "b", seed=5)
    cfg = tiny_config(tiny_paths["encoder"])
    scored = dev_split(load_datasets([a, b])[1], cfg.dev_examples, cfg.seed)
    q, c, (start, text) = scored.texts[0], scored.text_pairs[0], scored.answers[0]
    rows = [json.loads(line) for line in (a / "train.jsonl").read_text().splitlines()]
    leaked = {"question": q.upper() + "?", "context": c, "answers": {"text": [text], "answer_start": [start]}}
    other = {**leaked, "context": c + " and more"}
    write_jsonl(a / "train.jsonl", [*rows, leaked, other])
    datasets = load_datasets([a, b])
    held = scored_texts(datasets, cfg)
    assert normalized(q, c) in held
    train = train_split(datasets[0], 100, 0, held)
    kept = {normalized(t, p) for t, p in zip(train.texts, train.text_pairs, strict=True)}
    assert not kept & held and normalized(other["question"], other["context"]) in kept
    assert len(train) == len(rows) + 1
