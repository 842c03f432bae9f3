"""Prompt selection without labels, the paper's second experiment: each prompt's real score, and how
well selectors (``fute.selectors``) pick the best prompt.

``truth``: every LLM runs every prompt of a category on the evaluation examples of each dataset of
that category; a job per (LLM, prompt, dataset) records the per-example label distributions (in the
dataset's labels), the rendered prompts' log-perplexities (for SPELL), the real score (accuracy;
macro-F1 for NLI) and the labeling throughput. Jobs are cached like the transfer ones.

``evaluate``: each selector orders the prompts of each (LLM, dataset) case; judged by Performance
(real score of the pick), Rate (pick / best x 100) and NDCG of the whole order.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fute.errors import ConfigError
from fute.evaluation import metrics
from fute.evaluation.jobs import JobFolder, run_folder, run_jobs
from fute.hashing import content_hash
from fute.paths import atomic_write
from fute.samples import Samples, load_held_out
from fute.select import TASKS, VectorSource, hf_scorer, prompted_llm, rendered_nll
from fute.selectors import PromptCase, get_selector
from fute.targets.prompts import Prompt, collapse, label_map, load_prompt_set

DEFAULT_LLMS = ("smollm2", "gemma-3-270m")  # the offline LLMs


def eval_store(store: str | None, run_dir: str | Path | None) -> str | Path:
    """The store the eval reads its vectors from (and ``vectors`` fills): ``store``, else ``RUN_DIR/store``."""
    return store or run_folder(run_dir, "prompts") / "store"


def eval_labels(run_dir: str | Path | None) -> Path:
    """Where the eval (and ``vectors``) keep the LLMs' labels of U: ``RUN_DIR/labels``, small files committed
    with the jobs, so that an MTE cut off on one machine resumes its labeling on the next."""
    return run_folder(run_dir, "prompts") / "labels"


def eval_split(path: str, n: int, seed: int) -> Samples:
    """The evaluation examples: ``n`` seeded rows of the test split, topped up from dev (then validation)."""
    return load_held_out(path, n, seed, "to evaluate prompts on")


def real_score(probs: np.ndarray, targets: np.ndarray, metric: str) -> float:
    pred, gold = probs.argmax(axis=1), targets.argmax(axis=1)
    if metric == "accuracy":
        return float((pred == gold).mean())
    f1s = []
    for c in range(targets.shape[1]):
        tp, fp, fn = (
            ((pred == c) & (gold == c)).sum(),
            ((pred == c) & (gold != c)).sum(),
            ((pred != c) & (gold == c)).sum(),
        )
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s))


def metric_of(category: str) -> str:
    return "macro_f1" if category == "nli" else "accuracy"


def prompt_job(
    llm: str,
    prompt: Prompt,
    category: str,
    dataset: str,
    path: str,
    examples: int,
    seed: int,
    max_reasoning_tokens: int,
    device: str = "auto",
) -> dict[str, Any]:
    """One LLM with one prompt on one dataset's evaluation examples (label scores cached per chunk), in float32
    on ``device`` whatever it is, so that jobs run on a GPU and on a CPU make one truth."""
    samples = eval_split(path, examples, seed)
    lm = prompted_llm(llm, prompt, max_reasoning_tokens=max_reasoning_tokens, device=device, dtype="float32")
    t0 = time.perf_counter()
    probs = lm.predict(samples.texts, samples.text_pairs, progress=False, cache=False)  # honest timings
    seconds = time.perf_counter() - t0
    nll = rendered_nll(lm, prompt, samples)
    probs = collapse(probs, label_map(prompt.labels, samples.label_names, f"{dataset} with {prompt.full_id}"))
    metric = metric_of(category)
    return {
        "llm": llm,
        "backend": lm.backend,
        "prompt": prompt.id,
        "type": prompt.type,
        "category": category,
        "dataset": dataset,
        "score": real_score(probs, samples.targets, metric),
        "metric": metric,
        "probs": probs.tolist(),
        "nll": None if nll is None else nll.tolist(),
        "examples": len(samples),
        "label_seconds": round(seconds, 2),
        "examples_per_second": round(len(samples) / seconds, 3) if seconds > 0 else None,
    }


@dataclass(frozen=True)
class PromptBench:
    """What to run: LLMs, and per category (a prompt set) its evaluation datasets (name -> path)."""

    llms: tuple[str, ...]
    data: dict[str, dict[str, str]]
    examples: int = 32
    seed: int = 0
    max_reasoning_tokens: int = 32


def run_truth(
    bench: PromptBench,
    *,
    run_dir: str | Path | None = None,
    executor: Any = "local",
    progress: bool = True,
    echo: Callable[[str], None] = print,
    command: str | None = None,
    device: str = "auto",
    finished_only: bool = False,
) -> dict[str, Any]:
    """Every (LLM, prompt, dataset) job not done yet (on ``device``, which is not in the jobs' keys); writes and
    returns ``run_dir/truth.json``. ``finished_only``: run nothing, and keep the (LLM, dataset) cases whose jobs
    are all finished (an interim truth, which lists the others under ``incomplete``)."""
    from fute.execute import get_executor

    run = run_folder(run_dir, "prompts")
    specs, index = [], []
    for category, datasets in bench.data.items():
        pset = load_prompt_set(category)
        for name, path in datasets.items():
            fp = eval_split(path, bench.examples, bench.seed).fingerprint()
            for llm in bench.llms:
                for p in pset:
                    key = content_hash([llm, _llm_files(llm), p.card(), fp, bench.max_reasoning_tokens], 24)
                    specs.append(
                        (
                            key,
                            prompt_job,
                            {
                                "llm": llm,
                                "prompt": p,
                                "category": category,
                                "dataset": name,
                                "path": path,
                                "examples": bench.examples,
                                "seed": bench.seed,
                                "max_reasoning_tokens": bench.max_reasoning_tokens,
                                "device": device,
                            },
                            f"{llm} {p.full_id} {name}",
                        )
                    )
                    index.append((key, llm, category, name, p.id))
    if finished_only:
        folder = JobFolder(run)
        results = {key: r for key, *_ in specs if (r := folder.get(key)) is not None}
    else:
        results = run_jobs(specs, JobFolder(run), get_executor(executor), progress=progress, echo=echo)
    incomplete = sorted({f"{llm}|{name}" for key, llm, _, name, _ in index if key not in results})
    truth: dict[str, Any] = {
        "settings": {
            "llms": list(bench.llms),
            "data": bench.data,
            "examples": bench.examples,
            "seed": bench.seed,
            "max_reasoning_tokens": bench.max_reasoning_tokens,
        },
        "command": command,
        "cases": {},
    }
    for key, llm, category, name, pid in index:
        if f"{llm}|{name}" in incomplete:
            continue
        case = truth["cases"].setdefault(
            f"{llm}|{name}", {"llm": llm, "category": category, "dataset": name, "prompts": {}}
        )
        r = results[key]
        case["prompts"][pid] = {
            k: r[k]
            for k in ("type", "score", "metric", "probs", "nll", "examples", "label_seconds", "examples_per_second")
        }
        case["prompts"][pid]["backend"] = r.get("backend", "hf-lm")  # jobs run before it was recorded: hf-lm
    if incomplete:
        truth["incomplete"] = incomplete
        echo(f"interim truth: {len(incomplete)} (LLM, dataset) case(s) with unfinished jobs left out: {incomplete}")
    atomic_write(run / "truth.json", lambda tmp: Path(tmp).write_text(json.dumps(truth)))
    return truth


def _llm_files(llm: str) -> Any:
    """The LLM's files as a job key sees them: names, sizes and content hashes, not modification times, so
    that a finished job keeps its key on another machine (the run folder is committed and resumed there)."""
    from fute.hashing import portable_files_state
    from fute.targets import split_endpoint
    from fute.targets.hf_lm import resolve_llm

    if split_endpoint(llm)[1]:
        return None  # a served model: its name is all there is to know
    if llm.startswith("recorded:"):  # recorded outputs: their contents are the LLM as far as a job sees it
        return portable_files_state(llm.removeprefix("recorded:"))
    try:
        folder, gguf = resolve_llm(llm)
    except ConfigError:
        return None
    return portable_files_state(str(Path(folder) / gguf) if gguf else folder)


def truth_lines(truth: dict[str, Any]) -> list[str]:
    """One line per (LLM, dataset): every prompt's real score."""
    lines = []
    for case in truth["cases"].values():
        scores = ", ".join(f"{pid} {p['score']:.3f}" for pid, p in case["prompts"].items())
        metric = next(iter(case["prompts"].values()))["metric"]
        lines.append(f"{case['llm']} on {case['dataset']} ({metric}): {scores}")
    return lines


def load_truth(run_dir: str | Path | None = None) -> dict[str, Any]:
    p = run_folder(run_dir, "prompts") / "truth.json"
    if not p.exists():
        raise ConfigError(f"{p}: no prompt ground truth there; run `fute bench prompts truth` first")
    return json.loads(p.read_text())


def only_categories(truth: dict[str, Any], categories: Sequence[str] | None) -> dict[str, Any]:
    """The truth with the cases of ``categories`` only (None: all). The settings stay whole: the MTEs' U still
    leaves out every evaluation dataset, as in a full run, so the vectors are the same ones."""
    if not categories:
        return truth
    unknown = sorted(set(categories) - set(truth["settings"]["data"]))
    if unknown:
        known = ", ".join(truth["settings"]["data"])
        raise ConfigError(f"--category {', '.join(unknown)}: not in this truth (its categories: {known})")
    cases = {k: c for k, c in truth["cases"].items() if c["category"] in categories}
    return truth | {"cases": cases, "categories": list(categories)}


# --- evaluation ----------------------------------------------------------------------------------------


def build_case(
    truth: dict[str, Any],
    key: str,
    *,
    vectors: VectorSource | None = None,
    llm_scorer: Callable[[str, Prompt], Callable[[str, list[str]], np.ndarray]] | None = None,
    samples: Samples | None = None,
) -> PromptCase:
    """A truth case as selectors see it; ``samples``: its evaluation examples (``case_split``), when read already."""
    c = truth["cases"][key]
    pset = load_prompt_set(c["category"])
    prompts = [pset[pid] for pid in c["prompts"]]
    samples = case_split(truth, c) if samples is None else samples
    pairs = samples.text_pairs or [None] * len(samples)
    nll = [c["prompts"][p.id]["nll"] for p in prompts]
    return PromptCase(
        llm=c["llm"],
        dataset=c["dataset"],
        prompts=prompts,
        probs=np.array([c["prompts"][p.id]["probs"] for p in prompts]),
        nll=None if any(x is None for x in nll) else np.array(nll),
        inputs=list(zip(samples.texts, pairs, strict=True)),
        task=TASKS.get(c["category"], c["category"]),
        score_words=llm_scorer(c["llm"], prompts[0]) if llm_scorer else None,
        vectors=vectors(c["llm"], c["dataset"], prompts) if vectors else None,
    )


BOOTSTRAP = 1000  # resamples of each case's evaluation examples, for the intervals


def run_eval(
    truth: dict[str, Any],
    selectors: Sequence[str],
    *,
    vectors: VectorSource | None = None,
    llm_scorer: Callable | None = hf_scorer,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Per selector and (LLM, dataset) case: the pick's Performance and Rate, and NDCG of the order
    (means over random draws); then means over each category's datasets per LLM, each with a 95% interval
    from ``BOOTSTRAP`` resamples of the evaluation examples (the same resamples for every selector, so
    differences are paired), the oracle (the best prompt, found with the labels) and a verdict per cell."""
    chosen = [get_selector(s) for s in selectors]
    per_case: dict[str, dict[str, dict[str, Any]]] = {s.name: {} for s in chosen} | {"oracle": {}}
    boot: dict[str, dict[str, dict[str, np.ndarray | None]]] = {name: {} for name in per_case}
    prompt_ci: dict[str, dict[str, list[float]]] = {}  # case -> prompt -> 95% interval of its real score
    for key, c in truth["cases"].items():
        samples = case_split(truth, c)
        case = build_case(truth, key, vectors=vectors, llm_scorer=llm_scorer, samples=samples)
        real = {pid: p["score"] for pid, p in c["prompts"].items()}
        where = {"llm": c["llm"], "category": c["category"], "dataset": c["dataset"]}
        targets, metric = samples.targets, metric_of(c["category"])
        idx = np.random.default_rng(zlib.crc32(key.encode())).integers(0, len(targets), (BOOTSTRAP, len(targets)))
        scores = metrics.resampled_scores(case.probs, targets, metric, idx)  # [B, prompts]
        best = scores.max(axis=1)
        prompt_ci[key] = {pid: list(metrics.interval(scores[:, i])) for i, pid in enumerate(c["prompts"])}
        top = max(real, key=real.__getitem__)
        per_case["oracle"][key] = where | {"pick": top, "performance": real[top], "rate": 100.0, "ndcg": 1.0}
        boot["oracle"][key] = {"performance": best, "rate": np.full(BOOTSTRAP, 100.0), "ndcg": np.ones(BOOTSTRAP)}
        for sel in chosen:
            missing = sel.missing(case)
            if missing:
                per_case[sel.name][key] = where | {"unavailable": f"needs {', '.join(missing)}"}
                echo(
                    f"{sel.name} left out for {c['llm']} on {c['dataset']}: it needs {', '.join(missing)}, "
                    "which this backend does not give"
                )
                continue
            t0 = time.perf_counter()
            if getattr(sel, "per_input", False):  # a prompt per input (MI_AGL): its answers are what is scored
                answers = sel.answers(case)
                per_case[sel.name][key] = (
                    where
                    | per_input_result(sel, case, answers, targets, metric, real)
                    | {"seconds": round(time.perf_counter() - t0, 3)}
                )
                own = metrics.resampled_scores(answers[None], targets, metric, idx)[:, 0]
                boot[sel.name][key] = {"performance": own, "rate": _rates(own, best), "ndcg": None}
                continue
            orders = [sel.order(case, d) for d in range(sel.draws)]
            seconds = time.perf_counter() - t0
            per_case[sel.name][key] = where | {
                "pick": orders[0][0],
                "performance": float(np.mean([metrics.performance(real, o[0]) for o in orders])),
                "rate": float(np.mean([metrics.rate(real, o[0]) for o in orders])) if max(real.values()) > 0 else None,
                "ndcg": float(np.mean([metrics.ndcg(real, o) for o in orders])),
                "seconds": round(seconds, 3),
            }
            pos = {pid: i for i, pid in enumerate(c["prompts"])}
            picked = scores[:, [pos[o[0]] for o in orders]].mean(axis=1)
            boot[sel.name][key] = {
                "performance": picked,
                "rate": _rates(picked, best),
                "ndcg": np.mean([metrics.ndcg_rows(scores, [pos[p] for p in o]) for o in orders], axis=0),
            }
        echo(
            f"{c['llm']} on {c['dataset']}: "
            + ", ".join(
                f"{s.name} picks {per_case[s.name][key]['pick']}"
                for s in chosen
                if "pick" in per_case[s.name][key] and s.draws == 1
            )
        )
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    spread: dict[str, dict[str, dict[str, np.ndarray | None]]] = {}  # selector -> group -> metric -> [B]
    for sel, cases in per_case.items():
        groups: dict[str, list[str]] = {}
        for key, r in cases.items():
            if "unavailable" not in r:
                groups.setdefault(f"{r['llm']}|{r['category']}", []).append(key)
        summary[sel], spread[sel] = {}, {}
        for g, keys in groups.items():
            rs = [cases[k] for k in keys]
            point = {k: _mean([r[k] for r in rs]) for k in ("performance", "rate", "ndcg")}
            spread[sel][g] = {
                k: None if boot[sel][keys[0]][k] is None else np.mean([boot[sel][x][k] for x in keys], axis=0)
                for k in ("performance", "rate", "ndcg")
            }
            cis = {f"{k}_ci": None if v is None else metrics.interval(v) for k, v in spread[sel][g].items()}
            summary[sel][g] = point | cis | {"datasets": len(rs)}
    return {"summary": summary, "verdicts": verdicts(summary, spread), "cases": per_case, "prompt_ci": prompt_ci}


def _rates(picked: np.ndarray, best: np.ndarray) -> np.ndarray:
    """Rate of each resample (NaN where the best score is 0 and Rate is undefined)."""
    return np.where(best > 0, 100.0 * picked / np.where(best > 0, best, 1.0), np.nan)


def verdicts(
    summary: dict[str, dict[str, dict[str, Any]]], spread: dict[str, dict[str, dict[str, np.ndarray | None]]]
) -> dict[str, dict[str, Any]]:
    """Per (LLM, category) cell: each FUTE selector's mean Rate against the best label-free baseline's (the
    baseline of the highest mean Rate there, picked after the fact, as the goal asks) and against random, the
    paired difference with its 95% interval; ``met``: FUTE's Rate at least the best baseline's;
    ``significant``: the interval leaves out 0."""
    out: dict[str, dict[str, Any]] = {}
    groups = sorted({g for sel in summary.values() for g in sel})
    for g in groups:
        rate = {s: v[g]["rate"] for s, v in summary.items() if g in v and v[g]["rate"] is not None}
        fute = [s for s in rate if s != "oracle" and get_selector(s).uses_labels]
        baselines = [s for s in rate if s not in fute and s not in ("random", "oracle")]
        if not baselines:
            continue
        best = max(baselines, key=rate.__getitem__)
        cell: dict[str, Any] = {"best_baseline": best, "best_baseline_rate": rate[best], "fute": {}}
        for s in fute:
            row: dict[str, Any] = {"rate": rate[s], "met": rate[s] >= rate[best]}
            for other, name in ((best, "baseline"), ("random", "random")):
                if other in rate:
                    diff = spread[s][g]["rate"] - spread[other][g]["rate"]
                    lo, hi = metrics.interval(diff)
                    row[f"vs_{name}"] = {"diff": rate[s] - rate[other], "ci": [lo, hi], "significant": lo > 0 or hi < 0}
            cell["fute"][s] = row
        out[g] = cell
    return out


def case_split(truth: dict[str, Any], c: dict[str, Any]) -> Samples:
    """A case's evaluation examples (inputs and gold labels), as the truth scored them."""
    s = truth["settings"]
    return eval_split(s["data"][c["category"]][c["dataset"]], s["examples"], s["seed"])


def fill_vectors(
    data: dict[str, dict[str, str]],
    llms: Sequence[str],
    vectors: VectorSource,
    methods: Sequence[str],
    echo: Callable[[str], None] = print,
) -> None:
    """Every vector the FUTE selectors of ``run_eval`` ask ``vectors`` for: per LLM, category and dataset, the
    dataset's DTE and each prompt's MTE (in the dataset's label space), in each method; the store's hits are
    reused, so this resumes where it stopped, and the eval then finds them all."""
    for category, datasets in data.items():
        prompts = list(load_prompt_set(category))
        for llm in llms:
            for name in datasets:
                get = vectors(llm, name, prompts)
                for method in methods:
                    t0 = time.perf_counter()
                    get(method)
                    echo(f"{llm} {category} prompts, {name} DTE, {method}: {time.perf_counter() - t0:.0f} s")


class DatasetUVectors:
    """FUTE's prompt MTEs with the dataset's own inputs as U (transductive, as the label-free selectors are): per
    (LLM, dataset), U is the case's evaluation inputs, labeled with what the truth's jobs recorded for each prompt
    on exactly those inputs, so no LLM runs (the LLM's outputs are the truth's). The DTEs are as with the shipped
    U. Called as a ``VectorSource`` is: ``(llm, dataset, prompts) -> vectors(method)``."""

    def __init__(self, truth: dict[str, Any], store: str | Path, **options: Any) -> None:
        self.truth, self.store, self.options = truth, store, options
        self.outputs = {
            (c["llm"], c["dataset"], pid): np.asarray(p["probs"], dtype=np.float64)
            for c in truth["cases"].values()
            for pid, p in c["prompts"].items()
        }
        self.spaces: dict[str, str] = {}

    def __call__(self, llm: str, dataset: str, prompts: list[Prompt]) -> Callable[[str], Any]:
        from fute.corpus import Corpus
        from fute.targets.callable import CallableTarget

        case = next(c for c in self.truth["cases"].values() if c["llm"] == llm and c["dataset"] == dataset)
        rows = case_split(self.truth, case)
        pairs = list(rows.text_pairs) if rows.text_pairs is not None else None
        index = {(t, p): i for i, (t, p) in enumerate(zip(rows.texts, pairs or [None] * len(rows), strict=True))}

        def labeler(llm_: str, prompt: Prompt) -> CallableTarget:
            probs = self.outputs.get((llm_, dataset, prompt.id))
            if probs is None or len(probs) != len(rows):
                raise ConfigError(f"{llm_} + {prompt.full_id} on {dataset}: the truth has no outputs for these inputs")
            # the truth keeps a prompt's outputs in the dataset's labels where the two differ (3-way NLI on rte)
            names = prompt.labels if probs.shape[1] == len(prompt.labels) else rows.label_names
            return CallableTarget(
                lambda texts, tp: probs[[index[(t, p)] for t, p in zip(texts, tp or [None] * len(texts), strict=True)]],
                names,
                name=f"{llm_} + {prompt.full_id} (the truth's outputs)",
                version=content_hash(probs.round(6).tolist(), 16),
            )

        u = Corpus(
            list(rows.texts), pairs, sources=[f"{dataset} (evaluation inputs)"] * len(rows), name=f"{dataset}-eval"
        )
        source = VectorSource(
            self.store,
            self.truth["settings"]["data"],
            mte_examples=len(rows),
            corpus=u,
            targets=labeler,
            **self.options,
        )
        get = source(llm, dataset, prompts)

        def vectors(method: str) -> Any:
            out = get(method)
            self.spaces.update(source.spaces)
            return out

        return vectors


def _mean(values: list[float | None]) -> float | None:
    """The mean of the values that are there; None when none is (NDCG of a per-input selector)."""
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def per_input_result(
    sel: Any, case: PromptCase, answers: np.ndarray, targets: np.ndarray, metric: str, real: dict[str, float]
) -> dict[str, Any]:
    """A per-input selector's Performance (its ``answers`` scored like a prompt's: accuracy, or macro-F1 for NLI) and
    Rate (against the best single prompt, so it can pass 100); no NDCG, as it ranks no prompts. ``pick``: the
    prompt most inputs took."""
    score = real_score(answers, targets, metric)
    picks = np.bincount(sel.choose(case), minlength=len(case.prompts))
    best = max(real.values())
    return {
        "pick": case.prompts[int(np.argmax(picks))].id,
        "prompts_used": int((picks > 0).sum()),
        "performance": score,
        "rate": 100.0 * score / best if best > 0 else None,
        "ndcg": None,
    }


def eval_markdown(truth: dict[str, Any], judged: dict[str, Any], command: str) -> str:
    """Paper-shaped: a block per category, rows = selectors (then random and the oracle), columns per LLM:
    Performance, Rate, NDCG, each with its 95% interval; the verdict per cell; every prompt's real score."""
    s = truth["settings"]
    lines = [
        "# Prompt selection without labels",
        "",
        f"Command: `{command}`  ",
        f"Ground truth: `{truth.get('command', 'fute bench prompts truth')}`: {s['examples']} evaluation "
        f"examples per dataset (seed {s['seed']}), chain-of-thought reasoning capped at "
        f"{s['max_reasoning_tokens']} tokens."
        + (
            f" **Interim**: the cases {', '.join(truth['incomplete'])} have unfinished jobs and are left out."
            if truth.get("incomplete")
            else ""
        )
        + (f" Judged here: {', '.join(truth['categories'])} only." if truth.get("categories") else ""),
        "",
        "Performance: the real score of the chosen prompt (accuracy; macro-F1 for NLI). Rate: chosen / best "
        "prompt x 100. NDCG: of the whole prompt order, relevance = real score min-max scaled over the "
        "prompts. Means over the category's datasets; random: mean of 1000 seeded choices; oracle: the best "
        "prompt of each dataset, found with its labels. A per-input selector (mi-agl) is scored on its own "
        "answers, a prompt per input; its Rate can pass 100 and it has no NDCG. In brackets: 95% interval over "
        f"{BOOTSTRAP} resamples of the evaluation examples (the truth's noise; the same resamples for every "
        "selector, so differences are paired). It leaves out the noise of the selectors themselves.",
    ]
    llms = s["llms"]
    order = [x for x in judged["summary"] if x != "oracle"] + ["oracle"]
    for category, datasets in s["data"].items():
        if category not in truth.get("categories", s["data"]):
            continue
        lines += [
            "",
            f"## {category} ({', '.join(datasets)})",
            "",
            "| method | " + " | ".join(f"{m} Perf. | {m} Rate | {m} NDCG" for m in llms) + " |",
            "|---|" + "---:|" * (3 * len(llms)),
        ]
        for sel in order:
            groups = judged["summary"][sel]
            cells = []
            for m in llms:
                g = groups.get(f"{m}|{category}")
                cells += (
                    ["—"] * 3
                    if g is None
                    else [
                        _with_ci(g["performance"], g.get("performance_ci"), ".1f", 100),
                        _with_ci(g["rate"], g.get("rate_ci"), ".1f"),
                        _with_ci(g["ndcg"], g.get("ndcg_ci"), ".3f"),
                    ]
                )
            lines.append(f"| {sel} | " + " | ".join(cells) + " |")
        left_out = sorted(
            {
                (sel, r["llm"], r["unavailable"])
                for sel, cases in judged["cases"].items()
                for r in cases.values()
                if r["category"] == category and "unavailable" in r
            }
        )
        if left_out:
            lines += ["", "Left out (—): " + "; ".join(f"{sel} for {m} ({why})" for sel, m, why in left_out) + "."]
        lines += _verdict_lines(judged.get("verdicts", {}), llms, category)
    lines += _prompt_score_lines(truth, judged.get("prompt_ci", {}))
    lines += [
        "",
        "## Labeling throughput (this machine)",
        "",
        "All evaluation examples of the truth run over the seconds spent labeling them (prompt perplexities "
        "not counted).",
        "",
        "| backend | LLM | prompt type | jobs | examples | examples/s |",
        "|---|---|---|---:|---:|---:|",
    ]
    lines += [
        f"| {b} | {m} | {t} | {n} | {ex} | {ex / sec:.2f} |"
        for (b, m, t), (n, ex, sec) in sorted(throughput(truth).items())
    ]
    return "\n".join(lines) + "\n"


def _with_ci(value: float | None, ci: Sequence[float] | None, fmt: str, scale: float = 1.0) -> str:
    if value is None:
        return "—"
    text = format(scale * value, fmt)
    return text if ci is None else f"{text} [{format(scale * ci[0], fmt)}, {format(scale * ci[1], fmt)}]"


def _verdict_lines(verdicts: dict[str, Any], llms: Sequence[str], category: str) -> list[str]:
    """One line per LLM: each FUTE selector's Rate against the best baseline's and random's, with the verdict."""
    lines = []
    for m in llms:
        v = verdicts.get(f"{m}|{category}")
        if not v or not v["fute"]:  # no FUTE selector was judged: nothing to give a verdict on
            continue
        parts = []
        for sel, r in v["fute"].items():
            text = f"{sel} {r['rate']:.1f}: " + ("**met**" if r["met"] else "not met")
            for name in ("baseline", "random"):
                d = r.get(f"vs_{name}")
                if d:
                    sig = "significant" if d["significant"] else "within noise"
                    text += f", {d['diff']:+.1f} [{d['ci'][0]:+.1f}, {d['ci'][1]:+.1f}] vs {name} ({sig})"
            parts.append(text)
        lines.append(
            f"- **{m}**: best label-free baseline {v['best_baseline']} (Rate {v['best_baseline_rate']:.1f}); "
            + "; ".join(parts)
            + "."
        )
    if lines:
        lines = ["", "Verdict (goal: a FUTE selector's Rate at least the best label-free baseline's):", "", *lines]
    return lines


def _prompt_score_lines(truth: dict[str, Any], prompt_ci: dict[str, dict[str, list[float]]]) -> list[str]:
    """Every prompt's real score per (LLM, dataset) with its 95% interval; the best in bold."""
    lines = ["", "## Every prompt's real score (x 100, with its 95% interval; best in bold)"]
    for category, datasets in truth["settings"]["data"].items():
        if category not in truth.get("categories", truth["settings"]["data"]):
            continue
        keys = [f"{m}|{d}" for m in truth["settings"]["llms"] for d in datasets if f"{m}|{d}" in truth["cases"]]
        if not keys:
            continue
        prompts = list(truth["cases"][keys[0]]["prompts"])
        lines += ["", f"{category}:", "", "| prompt | " + " | ".join(k.replace("|", " on ") for k in keys) + " |"]
        lines.append("|---|" + "---:|" * len(keys))
        for pid in prompts:
            cells = []
            for k in keys:
                c = truth["cases"][k]["prompts"]
                text = _with_ci(c[pid]["score"], prompt_ci.get(k, {}).get(pid), ".0f", 100)
                best = c[pid]["score"] == max(p["score"] for p in c.values())
                cells.append(f"**{text}**" if best else text)
            lines.append(f"| {pid} | " + " | ".join(cells) + " |")
    return lines


def throughput(truth: dict[str, Any]) -> dict[tuple[str, str, str], tuple[int, int, float]]:
    """(backend, LLM, prompt type) -> (jobs, examples, seconds) over the truth run's jobs."""
    out: dict[tuple[str, str, str], tuple[int, int, float]] = {}
    for c in truth["cases"].values():
        for p in c["prompts"].values():
            k = (p.get("backend", "hf-lm"), c["llm"], p["type"])
            n, ex, sec = out.get(k, (0, 0, 0.0))
            out[k] = (n + 1, ex + p["examples"], sec + p["label_seconds"])
    return out


# --- the user-facing selection -------------------------------------------------------------------------


def kept_labels(labels: Path, target: dict) -> np.ndarray | None:
    """A target's labels of U from the label cache ``labels`` (its folder is named by the hash of the target's
    identity, as on its card; every chunk; None if there is none)."""
    from fute.hashing import content_hash

    chunks = sorted((labels / content_hash(target, 16)).glob("*.npy"))
    return np.concatenate([np.load(f) for f in chunks]) if chunks else None
