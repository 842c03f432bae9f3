"""Prompt-selection ground truth on a tiny LLM; label mapping and scores by hand; judged end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fute.errors import ConfigError
from fute.evaluation import prompts as bench_prompts
from fute.evaluation.prompts import (
    PromptBench,
    collapse,
    fill_vectors,
    label_map,
    real_score,
    run_eval,
    run_truth,
)
from fute.select import VectorSource
from fute.store import open_store
from tests.conftest import write_jsonl
from tests.evaluation.conftest import write_dataset

PROMPT_SET = """name: toy
input: single
labels: [negative, positive]
verbalizer:
  negative: [bad]
  positive: [good]
prompts:
  - id: is-it
    type: vanilla
    template: "{text} the movie is"
  - id: review
    type: vanilla
    template: "review {text} it was"
    verbalizer:
      negative: [awful, bad]
      positive: [great]
  - id: think
    type: cot
    template: "{text} why"
    answer: "so it was"
"""


def test_label_map_and_collapse():
    m = label_map(("entailment", "neutral", "contradiction"), ("entailment", "not_entailment"), "rte")
    assert m == [[0], [1, 2]]
    assert collapse(np.array([[0.5, 0.2, 0.3]]), m) == pytest.approx(np.array([[0.5, 0.5]]))
    assert label_map(("entailment", "neutral", "contradiction"), ("contradiction", "entailment", "neutral"), "cb") == [
        [2],
        [0],
        [1],
    ]
    with pytest.raises(ConfigError, match="mnli.*'maybe' matches none"):
        label_map(("yes", "no"), ("yes", "maybe"), "mnli")


def test_real_score_accuracy_and_macro_f1():
    gold = np.eye(3)[[0, 0, 1, 2]]
    probs = np.eye(3)[[0, 1, 1, 1]]
    assert real_score(probs, gold, "accuracy") == 0.5
    # F1: class 0 2*1/(2+0+1) = 2/3, class 1 2*1/(2+2+0) = 1/2, class 2 0
    assert real_score(probs, gold, "macro_f1") == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)


@pytest.fixture(scope="module")
def prompt_run(tmp_path_factory, tiny_llama):
    root = tmp_path_factory.mktemp("prompt-bench")
    pset = root / "toy.yaml"
    pset.write_text(PROMPT_SET)
    data = write_dataset(root, "toyset", "sentiment", splits=("train", "test"))
    bench = PromptBench((str(tiny_llama),), {str(pset): {"toyset": str(data)}}, examples=6, max_reasoning_tokens=3)
    truth = run_truth(bench, run_dir=root / "run", progress=False, echo=lambda _: None)
    return truth, bench, root


def test_truth_records_every_prompt(prompt_run, tiny_llama):
    truth, _, root = prompt_run
    case = truth["cases"][f"{tiny_llama}|toyset"]
    assert list(case["prompts"]) == ["is-it", "review", "think"]
    for p in case["prompts"].values():
        probs = np.array(p["probs"])
        assert probs.shape == (6, 2) and np.allclose(probs.sum(axis=1), 1.0)
        assert len(p["nll"]) == 6 and all(x > 0 for x in p["nll"])
        assert 0.0 <= p["score"] <= 1.0 and p["metric"] == "accuracy"
    assert case["prompts"]["think"]["type"] == "cot"
    assert json.loads((root / "run" / "truth.json").read_text())["cases"].keys() == truth["cases"].keys()


def test_truth_resumes(prompt_run, monkeypatch):
    truth, bench, root = prompt_run
    monkeypatch.setattr(bench_prompts, "prompt_job", lambda **kw: pytest.fail("a finished job ran again"))
    assert run_truth(bench, run_dir=root / "run", progress=False, echo=lambda _: None)["cases"] == truth["cases"]


def test_an_interim_truth_keeps_the_finished_cases_and_runs_nothing(prompt_run, monkeypatch, tmp_path):
    import shutil

    truth, bench, root = prompt_run
    monkeypatch.setattr(bench_prompts, "prompt_job", lambda **kw: pytest.fail("an interim truth ran a job"))
    whole = run_truth(bench, run_dir=root / "run", progress=False, echo=lambda _: None, finished_only=True)
    assert whole["cases"] == truth["cases"] and "incomplete" not in whole
    shutil.copytree(root / "run" / "jobs", tmp_path / "jobs")
    next((tmp_path / "jobs").glob("*.json")).unlink()  # one prompt's job not finished yet
    said: list[str] = []
    interim = run_truth(bench, run_dir=tmp_path, progress=False, echo=said.append, finished_only=True)
    case = next(iter(truth["cases"]))
    assert interim["cases"] == {} and interim["incomplete"] == [case]
    assert case in said[-1] and "left out" in said[-1]
    md = bench_prompts.eval_markdown(interim, run_eval(interim, ["random"], echo=lambda _: None), "cmd")
    assert "**Interim**" in md and case in md


def test_eval_every_selector_on_a_tiny_llm(prompt_run, tiny_paths, tiny_llama):
    truth, bench, root = prompt_run
    settings = {
        "mte_examples": 8,
        "dte_examples": 8,
        "max_reasoning_tokens": 3,
        "surrogate": str(tiny_paths["encoder"]),
        "progress": False,
        "label_cache": root / "labels",
    }
    vectors = VectorSource(root / "store", bench.data, **settings)
    # the tiny LLM's vocabulary lacks most words of the shipped U: give U from its own words
    u_path = root / "u.jsonl"
    u_path.write_text(
        "".join(
            json.dumps({"text": t}) + "\n"
            for t in [
                "the movie was good",
                "the food was bad",
                "a great film",
                "boring plot",
                "the actor was awful",
                "fun game",
                "sad dog",
                "happy cat",
            ]
        )
    )
    from fute import corpus, embed

    originals = embed.default_corpus, corpus.default_corpus
    embed.default_corpus = corpus.default_corpus = lambda pairs=False, qa=False: embed.load_corpus(u_path)
    try:
        # vectors computed ahead (`fute bench prompts vectors`) are the very ones the eval asks for: it adds none
        fill_vectors(bench.data, [str(tiny_llama)], vectors, ["fisher"], echo=lambda _: None)
        ahead = sorted((v.card.key, v.card.created) for v in vectors.store.vectors())
        assert len(ahead) == 1 + 3  # the dataset's DTE and one MTE per prompt
        # each prompt's labels of U are kept in the run folder (they travel with it), not in $FUTE_HOME
        assert len(list((root / "labels").glob("*/*.npy"))) == 3
        # (self-select is left out: the tiny vocabulary has no option letters)
        judged = run_eval(
            truth, ["fute-fisher", "mi", "zps-vote", "spell", "random"], vectors=vectors, echo=lambda _: None
        )
        assert sorted((v.card.key, v.card.created) for v in vectors.store.vectors()) == ahead
        # an MTE is made exactly as asked (its own rows and reasoning cap) and reused only on a full match
        other = VectorSource(
            root / "store",
            bench.data,
            mte_examples=5,
            max_reasoning_tokens=7,
            surrogate=str(tiny_paths["encoder"]),
            progress=False,
        )
        think = next(p for p in bench_prompts.load_prompt_set(str(root / "toy.yaml")) if p.id == "think")
        fisher = vectors.mte(str(tiny_llama), think, "fisher")
        tuned = other.mte(str(tiny_llama), think, "prompt")
        again = vectors.mte(str(tiny_llama), think, "fisher")
        remade = other.mte(str(tiny_llama), think, "fisher")  # another cap and row count: not the stored one
        # a method option (`--option fisher:max_epochs=0`) reaches every MTE and DTE made with that method; the
        # stored default MTE, the same in all else, is not taken for its variant, nor the variant for it
        variant = VectorSource(root / "store", bench.data, **settings, method_options={"fisher": {"max_epochs": 0}})
        probe_mte = variant.mte(str(tiny_llama), think, "fisher")
        probe_dte = variant.dte("toyset", "fisher")
        after = vectors.mte(str(tiny_llama), think, "fisher")
    finally:
        embed.default_corpus, corpus.default_corpus = originals
    key = f"{tiny_llama}|toyset"
    real = {pid: p["score"] for pid, p in truth["cases"][key]["prompts"].items()}
    for sel, cases in judged["cases"].items():
        r = cases[key]
        if sel != "random":
            assert r["performance"] == real[r["pick"]]
        assert 0.0 <= r["ndcg"] <= 1.0
    # one MTE per prompt (+ the prompt-method one), and the variant's: no fine-tuning is another space
    assert probe_mte.space_id != fisher.space_id
    assert len([v for v in vectors.store.vectors(kind="prompt") if v.space_id != probe_mte.space_id]) == 4
    assert fisher.card.target["max_reasoning_tokens"] == 3 and tuned.card.target["max_reasoning_tokens"] == 7
    assert fisher.card.data.n_used == 8 and tuned.card.data.n_used == 5
    assert again.card.key == fisher.card.key and again.card.created == fisher.card.created  # reused
    assert remade.card.target["max_reasoning_tokens"] == 7 and remade.card.data.n_used == 5
    for v in (probe_mte, probe_dte):
        assert v.card.method_config["max_epochs"] == 0 and v.card.key != fisher.card.key
    assert not np.allclose(probe_mte.vector, fisher.vector)
    assert after.card.method_config == fisher.card.method_config and after.card.key == fisher.card.key
    with pytest.raises(ConfigError, match="keep_probe"):
        VectorSource(root / "store", bench.data, method_options={"fisher": {"keep_probe": "maybe"}})
    with pytest.raises(ConfigError, match="--mte-examples"):
        VectorSource(root / "store", bench.data, method_options={"fisher": {"max_examples": 4}})
    # a DTE drawn with another row cap is another measurement: recomputed, never taken for this one
    assert vectors.dte("toyset", "fisher").card.data.n_used == 8
    smaller = VectorSource(
        root / "store", bench.data, dte_examples=5, surrogate=str(tiny_paths["encoder"]), progress=False
    )
    assert smaller.dte("toyset", "fisher").card.data.n_used == 5


def test_fute_with_the_datasets_own_inputs_as_u_runs_no_llm(prompt_run, tiny_paths, monkeypatch):
    """--u dataset: each prompt's MTE is made from the case's evaluation inputs labeled with the truth's own
    outputs (no LLM is loaded), stored under its own name, and judged like the shipped-U ones."""
    from fute.evaluation.prompts import DatasetUVectors

    truth, _, root = prompt_run
    monkeypatch.setattr("fute.select.prompted_llm", lambda *a, **k: pytest.fail("an LLM was run"))
    vectors = DatasetUVectors(
        truth, root / "store_u", dte_examples=8, surrogate=str(tiny_paths["encoder"]), progress=False
    )
    judged = run_eval(truth, ["fute-fisher", "random"], vectors=vectors, llm_scorer=None, echo=lambda _: None)
    assert judged["cases"] and "fute-fisher" in json.dumps(judged)
    mtes = open_store(root / "store_u").vectors(kind="prompt")
    case = next(iter(truth["cases"].values()))
    assert len(mtes) == len(case["prompts"]) and all(v.name.endswith(" on toyset-eval") for v in mtes)
    for v in mtes:
        assert v.card.corpus["name"] == "toyset-eval" and v.card.corpus["size"] == 6
        assert "the truth's outputs" in v.card.target["model"]
    again = DatasetUVectors(
        truth, root / "store_u", dte_examples=8, surrogate=str(tiny_paths["encoder"]), progress=False
    )
    made = sorted((v.card.key, v.card.created) for v in open_store(root / "store_u").vectors())
    run_eval(truth, ["fute-fisher"], vectors=again, llm_scorer=None, echo=lambda _: None)  # stored: none made
    assert sorted((v.card.key, v.card.created) for v in open_store(root / "store_u").vectors()) == made


def test_select_prompt_without_labels_says_so(run_cli, prompt_run, tiny_llama, tmp_path):
    _, bench, root = prompt_run
    corpus = tmp_path / "inputs.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in ["the movie was good", "a bad film", "fun"]))
    code, out, err = run_cli(
        "select-prompt",
        "--model",
        str(tiny_llama),
        "--prompts",
        str(root / "toy.yaml"),
        "--dataset",
        str(corpus),
        "--selector",
        "fute-fisher",
        "--selector",
        "mi",
        "--selector",
        "spell",
        "--quiet",
    )
    assert code == 0, err
    assert "has no labels" in err and "label-free" in err
    assert "mi -> " in out and "spell -> " in out and "fute-fisher" not in out.split("picks:")[1]
    for pid in ("is-it", "review", "think"):
        assert pid in out


SERVED_SET = """name: served
input: single
labels: [negative, positive]
verbalizer:
  negative: [negative]
  positive: [positive]
prompts:
  - id: plain
    type: vanilla
    template: "Review: {text} Sentiment:"
  - id: reasoned
    type: cot
    template: "Review: {text} Think first."
    answer: "So the sentiment is"
"""


def test_a_served_llm_runs_and_selectors_it_cannot_feed_are_left_out(openai_server, tmp_path):
    pset = tmp_path / "served.yaml"
    pset.write_text(SERVED_SET)
    data = write_dataset(tmp_path, "toyset", "sentiment", splits=("train", "test"))
    llm = f"fake@{openai_server}"
    bench = PromptBench((llm,), {str(pset): {"toyset": str(data)}}, examples=8, max_reasoning_tokens=4)
    truth = run_truth(bench, run_dir=tmp_path / "run", progress=False, echo=lambda _: None)
    case = truth["cases"][f"{llm}|toyset"]
    for p in case["prompts"].values():
        assert p["backend"] == "openai" and p["nll"] is None and np.array(p["probs"]).shape == (8, 2)
        assert p["examples"] == 8 and p["label_seconds"] >= 0
    # the fake server answers 'positive' exactly when the text says 'good': the score is known
    samples = bench_prompts.eval_split(str(data), 8, 0)
    expected = np.mean(
        [("good" in t) == bool(y) for t, y in zip(samples.texts, samples.targets.argmax(1), strict=True)]
    )
    assert case["prompts"]["plain"]["score"] == pytest.approx(expected)
    said: list[str] = []
    judged = run_eval(truth, ["mi", "spell", "self-select"], echo=said.append)
    key = f"{llm}|toyset"
    assert "pick" in judged["cases"]["mi"][key]
    assert judged["cases"]["spell"][key]["unavailable"] == "needs token_logprobs"
    assert judged["cases"]["self-select"][key]["unavailable"] == "needs llm"
    assert any(s.startswith("spell left out for fake@") for s in said)
    md = bench_prompts.eval_markdown(truth, judged, "cmd")
    assert "spell for fake@" in md and f"| openai | {llm} | cot | 1 | 8 |" in md


def test_select_prompt_defaults_to_globale_and_maps_columns(run_cli, prompt_run, tiny_llama, tmp_path):
    """A labeled file with its own column names is read as labeled (no 'has no labels' note), and the default
    selector is the one the prompt benchmark measured best (GlobalE), not FUTE."""
    _, _, root = prompt_run
    rows = [json.loads(line) for line in (root / "toyset" / "test.jsonl").read_text().splitlines()]
    data = write_jsonl(tmp_path / "mine.jsonl", [{"review": r["text"], "stars": r["label"]} for r in rows])
    args = ["select-prompt", "--model", str(tiny_llama), "--prompts", str(root / "toy.yaml"), "--dataset", str(data)]
    code, out, err = run_cli(*args, "--column", "text=review", "--column", "label=stars", "--quiet")
    assert code == 0, err
    assert "picks: globale -> " in out and "has no labels" not in err
    code, _, err = run_cli(*args, "--column", "text=nope", "--quiet")
    assert code == 2 and "nope" in err and len(err.strip().splitlines()) == 1


def test_a_per_input_selector_is_scored_on_its_own_answers(prompt_run):
    """MI_AGL picks a prompt per input: its Performance is the score of those answers against the labels (so its
    Rate may pass 100), and it has no NDCG, which the table shows as a dash."""
    from fute.selectors import get_selector

    truth, _, _ = prompt_run
    judged = run_eval(truth, ["mi-agl", "mi"], llm_scorer=None, echo=lambda _: None)
    key = next(iter(truth["cases"]))
    r = judged["cases"]["mi-agl"][key]
    case = bench_prompts.build_case(truth, key)
    c, s = truth["cases"][key], truth["settings"]
    samples = bench_prompts.eval_split(s["data"][c["category"]][c["dataset"]], s["examples"], s["seed"])
    metric = bench_prompts.metric_of(c["category"])
    expected = bench_prompts.real_score(get_selector("mi-agl").answers(case), samples.targets, metric)
    best = max(p["score"] for p in c["prompts"].values())
    assert r["performance"] == pytest.approx(expected) and r["rate"] == pytest.approx(100 * expected / best)
    assert r["ndcg"] is None and 1 <= r["prompts_used"] <= len(case.prompts)
    md = bench_prompts.eval_markdown(truth, judged, "cmd")
    row = next(line for line in md.splitlines() if line.startswith("| mi-agl |"))
    assert row.endswith("| — |") and judged["summary"]["mi"]  # the per-prompt selectors are judged as before


def test_eval_gives_intervals_the_oracle_and_every_prompts_score(prompt_run):
    truth, _, _ = prompt_run
    judged = run_eval(truth, ["mi", "random", "mi-agl"], llm_scorer=None, echo=lambda _: None)
    key = next(iter(truth["cases"]))
    c = truth["cases"][key]
    group = f"{c['llm']}|{c['category']}"
    oracle = judged["summary"]["oracle"][group]
    assert oracle["rate"] == 100.0 and oracle["performance"] == max(p["score"] for p in c["prompts"].values())
    for sel in ("mi", "random", "mi-agl", "oracle"):
        g = judged["summary"][sel][group]
        lo, hi = g["performance_ci"]
        assert 0.0 <= lo <= hi <= 1.0
    assert judged["summary"]["mi-agl"][group]["ndcg_ci"] is None  # it ranks no prompts
    assert set(judged["prompt_ci"][key]) == set(c["prompts"])
    md = bench_prompts.eval_markdown(truth, judged, "cmd")
    assert md.count("| oracle |") == 1 and "Every prompt's real score" in md


def test_a_verdict_compares_fute_with_the_best_baseline_paired():
    summary = {
        "fute-fisher": {"m|c": {"rate": 90.0}},
        "mi": {"m|c": {"rate": 80.0}},
        "globale": {"m|c": {"rate": 85.0}},
        "random": {"m|c": {"rate": 70.0}},
        "oracle": {"m|c": {"rate": 100.0}},
    }
    noise = np.random.default_rng(0).normal(0, 5, 200)  # shared by all: paired differences cancel it
    spread = {s: {"m|c": {"rate": v["m|c"]["rate"] + noise}} for s, v in summary.items()}
    v = bench_prompts.verdicts(summary, spread)["m|c"]
    assert v["best_baseline"] == "globale" and v["best_baseline_rate"] == 85.0  # not random, not the oracle
    r = v["fute"]["fute-fisher"]
    assert r["met"] and r["vs_baseline"]["diff"] == 5.0 and r["vs_baseline"]["significant"]
    spread["fute-fisher"]["m|c"]["rate"] = 90.0 + np.random.default_rng(1).normal(0, 20, 200)  # its own noise
    r = bench_prompts.verdicts(summary, spread)["m|c"]["fute"]["fute-fisher"]
    assert r["met"] and not r["vs_baseline"]["significant"]


def test_eval_of_some_categories_only(prompt_run):
    truth, _, _ = prompt_run
    category = next(iter(truth["settings"]["data"]))
    assert bench_prompts.only_categories(truth, None) is truth
    kept = bench_prompts.only_categories(truth, [category])
    assert kept["cases"] == truth["cases"] and kept["settings"] == truth["settings"]
    with pytest.raises(ConfigError, match="--category nli: not in this truth"):
        bench_prompts.only_categories(truth, ["nli"])
    md = bench_prompts.eval_markdown(kept, run_eval(kept, ["random"], echo=lambda _: None), "cmd")
    assert "Judged here:" in md


def test_eval_takes_method_options_checked_before_any_work(run_cli, prompt_run, tmp_path):
    """`fute bench prompts eval --option METHOD:KEY=VALUE` (and `vectors`) give the option to every embedding of
    that method; a bad one is one line before any vector is made."""
    _, _, root = prompt_run
    common = ("--run-dir", str(root / "run"), "--store", str(tmp_path / "store"), "--results", str(tmp_path))
    code, _, err = run_cli("bench", "prompts", "eval", *common, "--option", "fisher:keep_probe=maybe")
    assert code != 0 and "keep_probe" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("bench", "prompts", "eval", *common, "--option", "fisher:max_examples=4")
    assert code != 0 and "--mte-examples" in err and "Traceback" not in err
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("*.json"))


def test_the_benchmark_runs_on_an_llms_recorded_outputs(tmp_path):
    """`--llm recorded:DIR` (bench/recorded_prompts.sh's truth): each job reads the prompt's recording (DIR/SET/ID)
    instead of running an LLM; the job keys follow the recordings' contents."""
    from fute.targets.prompts import load_prompt_set

    pset_path = tmp_path / "toy.yaml"
    pset_path.write_text(PROMPT_SET)
    pset = load_prompt_set(pset_path)
    data = write_dataset(tmp_path, "toyset", "sentiment", splits=("train", "test"))
    samples = bench_prompts.eval_split(str(data), 8, 0)
    gold = samples.targets.argmax(1)
    rec = tmp_path / "rec" / pset.name
    rec.mkdir(parents=True)
    reads, sure = {"negative": 0.8, "positive": 0.2}, {"negative": 0.1, "positive": 0.9}
    for k, p in enumerate(pset):  # the first prompt reads the word "good", the others always answer positive
        write_jsonl(
            rec / f"{p.id}.jsonl", [{"text": t, "probs": sure if k or "good" in t else reads} for t in samples.texts]
        )
    llm = f"recorded:{tmp_path / 'rec'}"
    bench = PromptBench((llm,), {str(pset_path): {"toyset": str(data)}}, examples=8, max_reasoning_tokens=4)
    truth = run_truth(bench, run_dir=tmp_path / "run", progress=False, echo=lambda _: None)
    case = truth["cases"][f"{llm}|toyset"]
    first = next(iter(pset)).id
    assert {p["backend"] for p in case["prompts"].values()} == {"recorded"}
    reading = np.mean([("good" in t) == bool(y) for t, y in zip(samples.texts, gold, strict=True)])
    assert case["prompts"][first]["score"] == pytest.approx(reading)
    write_jsonl(
        rec / f"{first}.jsonl", [{"text": t, "probs": {"negative": 0.7, "positive": 0.3}} for t in samples.texts]
    )
    again = run_truth(bench, run_dir=tmp_path / "run", progress=False, echo=lambda _: None)  # a new recording: rerun
    assert again["cases"][f"{llm}|toyset"]["prompts"][first]["score"] == pytest.approx(np.mean(gold == 0))
