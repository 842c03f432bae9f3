"""Prompt selection without labels, the paper's second experiment: each prompt's real score, and how
well selectors (``fute.bench.selectors``) pick the best prompt.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fute.bench import metrics
from fute.bench.jobs import JobFolder, run_jobs
from fute.bench.selectors import PromptCase, get_selector
from fute.errors import ConfigError, DataError, MissingSplitError
from fute.hashing import content_hash
from fute.paths import atomic_write, fute_home
from fute.samples import Samples, load_first_split, load_samples
from fute.targets.prompts import Prompt, load_prompt_set

TASKS = {
    "sentiment": "sentiment classification (is the text positive or negative?)",
    "nli": "natural language inference (does the premise entail the hypothesis, contradict it, or neither?)",
}


def default_run_dir() -> Path:
    return fute_home() / "bench" / "prompts"


def eval_split(path: str, n: int, seed: int) -> Samples:
    """The evaluation examples: the test split where there is one (dev, then validation otherwise)."""
    return load_first_split(path, ("test", "dev", "validation"), "to evaluate prompts on").take(n, seed)


def label_map(prompt_labels: Sequence[str], data_labels: Sequence[str], where: str) -> list[list[int]]:
    """For each dataset label, the prompt labels whose probabilities it gets: the same name, or, for a
    ``not_X`` label, every prompt label the dataset does not have (entailment vs not_entailment)."""
    out = []
    for d in data_labels:
        if d in prompt_labels:
            out.append([prompt_labels.index(d)])
        elif d.startswith("not_"):
            out.append([i for i, p in enumerate(prompt_labels) if p not in data_labels])
        else:
            raise ConfigError(
                f"{where}: dataset label '{d}' matches none of the prompt labels "
                f"({', '.join(prompt_labels)}); rename it or use a prompt set with that label"
            )
    return out


def collapse(probs: np.ndarray, mapping: list[list[int]]) -> np.ndarray:
    out = np.stack([probs[:, cols].sum(axis=1) for cols in mapping], axis=1)
    return out / out.sum(axis=1, keepdims=True)


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


def prompted_llm(llm: str, prompt: Prompt, **options: Any) -> Any:
    """``llm`` with ``prompt``: ``MODEL@URL`` is MODEL behind an OpenAI-compatible endpoint (completions
    API); anything else an ``HFCausalLM`` on the process's one loaded copy of ``llm``."""
    from fute.targets import split_endpoint

    model_name, url = split_endpoint(llm)
    if url:
        from fute.targets.openai_api import OpenAITarget

        return OpenAITarget(model_name, prompt, base_url=url, **options)
    from fute.execute import shared_causal_lm
    from fute.targets.hf_lm import HFCausalLM

    model, tok = shared_causal_lm(llm)
    return HFCausalLM(llm, prompt, model=model, tokenizer=tok, **options)


def rendered_nll(lm: Any, prompt: Prompt, samples: Samples) -> np.ndarray | None:
    """Each rendered prompt's mean token negative log-likelihood (SPELL), or None from a backend that
    cannot score arbitrary text."""
    from fute.targets.base import TOKEN_LOGPROBS

    if TOKEN_LOGPROBS not in lm.capabilities:
        return None
    pairs = samples.text_pairs or [None] * len(samples)
    return lm.text_nll([prompt.render(t, p) for t, p in zip(samples.texts, pairs, strict=True)])


def prompt_job(
    llm: str,
    prompt: Prompt,
    category: str,
    dataset: str,
    path: str,
    examples: int,
    seed: int,
    max_reasoning_tokens: int,
) -> dict[str, Any]:
    """One LLM with one prompt on one dataset's evaluation examples (label scores cached per chunk)."""
    samples = eval_split(path, examples, seed)
    lm = prompted_llm(llm, prompt, max_reasoning_tokens=max_reasoning_tokens)
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
) -> dict[str, Any]:
    """Every (LLM, prompt, dataset) job not done yet; writes and returns ``run_dir/truth.json``."""
    from fute.execute import get_executor

    run = Path(run_dir or default_run_dir()).expanduser()
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
                            },
                            f"{llm} {p.full_id} {name}",
                        )
                    )
                    index.append((key, llm, category, name, p.id))
    results = run_jobs(specs, JobFolder(run), get_executor(executor), progress=progress, echo=echo)
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
        case = truth["cases"].setdefault(
            f"{llm}|{name}", {"llm": llm, "category": category, "dataset": name, "prompts": {}}
        )
        r = results[key]
        case["prompts"][pid] = {
            k: r[k]
            for k in ("type", "score", "metric", "probs", "nll", "examples", "label_seconds", "examples_per_second")
        }
        case["prompts"][pid]["backend"] = r.get("backend", "hf-lm")  # jobs run before it was recorded: hf-lm
    atomic_write(run / "truth.json", lambda tmp: Path(tmp).write_text(json.dumps(truth)))
    return truth


def _llm_files(llm: str) -> Any:
    from fute.execute import files_state
    from fute.targets import split_endpoint
    from fute.targets.hf_lm import resolve_llm

    if split_endpoint(llm)[1]:
        return None  # a served model: its name is all there is to know
    try:
        folder, gguf = resolve_llm(llm)
    except ConfigError:
        return None
    return files_state(str(Path(folder) / gguf) if gguf else folder)


def load_truth(run_dir: str | Path | None = None) -> dict[str, Any]:
    p = Path(run_dir or default_run_dir()).expanduser() / "truth.json"
    if not p.exists():
        raise ConfigError(f"{p}: no prompt ground truth there; run `fute bench prompts truth` first")
    return json.loads(p.read_text())


# --- evaluation ----------------------------------------------------------------------------------------


class VectorSource:
    """Task vectors for FUTE: a prompt's MTE and a dataset's DTE from the store, computed when missing
    (MTE: the shipped U without every evaluation dataset, ``mte_examples`` rows, chain-of-thought capped
    at ``max_reasoning_tokens``; DTE: ``dte_examples`` rows of the training split)."""

    def __init__(
        self,
        store: Any,
        data: dict[str, dict[str, str]],
        *,
        mte_examples: int = 128,
        dte_examples: int = 1000,
        max_reasoning_tokens: int = 64,
        surrogate: str = "default",
        progress: bool = True,
    ) -> None:
        from fute.store import open_store

        self.store = open_store(store)
        self.surrogate = surrogate
        self.paths = {n: p for ds in data.values() for n, p in ds.items()}
        self.mte_examples, self.dte_examples, self.progress = mte_examples, dte_examples, progress
        self.max_reasoning_tokens = max_reasoning_tokens

    def mte(self, llm: str, prompt: Prompt, method: str) -> Any:
        from fute.embed import embed_model

        name = f"{llm}/{prompt.full_id}"
        stored = self.store.vectors(name=name, kind="prompt")
        hit = [v for v in stored if v.card["space"]["method"] == method]
        if len(hit) == 1:
            return hit[0]
        exclude, n, cap = self._same_rows(stored) or (tuple(self.paths), self.mte_examples, self.max_reasoning_tokens)
        return embed_model(
            prompted_llm(llm, prompt, max_reasoning_tokens=cap),
            name,
            exclude=exclude,
            method=method,
            store=self.store,
            overwrite=True,  # this benchmark's own store, a cache it reruns at other caps
            max_examples=n,
            progress=self.progress,
            category=prompt.set_name,
            surrogate=self.surrogate,
        )

    def _same_rows(self, stored: list[Any]) -> tuple[tuple[str, ...], int, int] | None:
        """The U exclusions, row count and reasoning cap of this prompt's MTE in another method (one of
        ``stored``), if there is one on the shipped U: the new MTE then has the same LLM labels of the same
        rows (from the label cache), so the two methods differ only in the method."""
        from fute.corpus import default_corpus

        for v in stored:
            u = default_corpus(pairs=v.card["corpus"]["paired"])
            if v.card["corpus"]["name"] == u.name:
                exclude = sorted(set(u.sources) - set(v.card["corpus"]["sources"]))
                cap = v.card.get("target", {}).get("max_reasoning_tokens", self.max_reasoning_tokens)
                return tuple(exclude), int(v.card["data"]["n_used"]), int(cap)
        return None

    def dte(self, dataset: str, method: str) -> Any:
        """The DTE of ``dte_examples`` training rows: the store's job key covers the rows, the config, the
        surrogate and the files, so one made the same way is a cache hit and one of another size (another
        measurement: the row cap sets how long the surrogate is tuned) is never taken for it."""
        from fute.embed import embed_dataset

        return embed_dataset(
            self.paths[dataset],
            dataset,
            method=method,
            store=self.store,
            overwrite=True,  # this benchmark's own store, a cache it reruns at other caps
            max_examples=self.dte_examples,
            progress=self.progress,
            surrogate=self.surrogate,
        )

    def __call__(self, llm: str, dataset: str, prompts: list[Prompt]) -> Callable[[str], tuple[np.ndarray, np.ndarray]]:
        def vectors(method: str) -> tuple[np.ndarray, np.ndarray]:
            from fute.space import check_same_space

            mtes = [self.mte(llm, p, method) for p in prompts]
            dte = self.dte(dataset, method)
            for v in mtes:
                check_same_space(dte, v)
            return np.stack([v.vector for v in mtes]), dte.vector

        return vectors


def build_case(
    truth: dict[str, Any],
    key: str,
    *,
    vectors: VectorSource | None = None,
    llm_scorer: Callable[[str, Prompt], Callable[[str, list[str]], np.ndarray]] | None = None,
) -> PromptCase:
    c = truth["cases"][key]
    pset = load_prompt_set(c["category"])
    prompts = [pset[pid] for pid in c["prompts"]]
    path = truth["settings"]["data"][c["category"]][c["dataset"]]
    samples = eval_split(path, truth["settings"]["examples"], truth["settings"]["seed"])
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


def hf_scorer(llm: str, prompt: Prompt) -> Callable[[str, list[str]], np.ndarray] | None:
    """log p(word | question) from an HF LLM (loaded once per process), the question as a user turn;
    None for a served model (an endpoint gives top log-probs of its own answer, not of given words)."""
    from fute.targets import split_endpoint

    if split_endpoint(llm)[1]:
        return None
    lm = prompted_llm(llm, prompt)
    return lambda text, words: lm.score_words([lm.context([text])], words)[0]


def run_eval(
    truth: dict[str, Any],
    selectors: Sequence[str],
    *,
    vectors: VectorSource | None = None,
    llm_scorer: Callable | None = hf_scorer,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Per selector and (LLM, dataset) case: the pick's Performance and Rate, and NDCG of the order
    (means over random draws); then means over each category's datasets per LLM."""
    chosen = [get_selector(s) for s in selectors]
    per_case: dict[str, dict[str, dict[str, Any]]] = {s.name: {} for s in chosen}
    for key, c in truth["cases"].items():
        case = build_case(truth, key, vectors=vectors, llm_scorer=llm_scorer)
        real = {pid: p["score"] for pid, p in c["prompts"].items()}
        for sel in chosen:
            missing = sel.missing(case)
            if missing:
                per_case[sel.name][key] = {
                    "llm": c["llm"],
                    "category": c["category"],
                    "dataset": c["dataset"],
                    "unavailable": f"needs {', '.join(missing)}",
                }
                echo(
                    f"{sel.name} left out for {c['llm']} on {c['dataset']}: it needs {', '.join(missing)}, "
                    "which this backend does not give"
                )
                continue
            t0 = time.perf_counter()
            orders = [sel.order(case, d) for d in range(sel.draws)]
            per_case[sel.name][key] = {
                "llm": c["llm"],
                "category": c["category"],
                "dataset": c["dataset"],
                "pick": orders[0][0],
                "performance": float(np.mean([metrics.performance(real, o[0]) for o in orders])),
                "rate": float(np.mean([metrics.rate(real, o[0]) for o in orders])) if max(real.values()) > 0 else None,
                "ndcg": float(np.mean([metrics.ndcg(real, o) for o in orders])),
                "seconds": round(time.perf_counter() - t0, 3),
            }
        echo(
            f"{c['llm']} on {c['dataset']}: "
            + ", ".join(
                f"{s.name} picks {per_case[s.name][key]['pick']}"
                for s in chosen
                if "pick" in per_case[s.name][key] and s.draws == 1
            )
        )
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for sel, cases in per_case.items():
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in cases.values():
            if "unavailable" in r:
                continue
            groups.setdefault(f"{r['llm']}|{r['category']}", []).append(r)
        summary[sel] = {
            g: {k: float(np.mean([r[k] for r in rs if r[k] is not None])) for k in ("performance", "rate", "ndcg")}
            | {"datasets": len(rs)}
            for g, rs in groups.items()
        }
    return {"summary": summary, "cases": per_case}


def eval_markdown(truth: dict[str, Any], judged: dict[str, Any], command: str) -> str:
    """Paper-shaped: a block per category, rows = selectors, columns per LLM: Performance, Rate, NDCG."""
    s = truth["settings"]
    lines = [
        "# Prompt selection without labels",
        "",
        f"Command: `{command}`  ",
        f"Ground truth: `{truth.get('command', 'fute bench prompts truth')}`: {s['examples']} evaluation "
        f"examples per dataset (seed {s['seed']}), chain-of-thought reasoning capped at "
        f"{s['max_reasoning_tokens']} tokens.",
        "",
        "Performance: the real score of the chosen prompt (accuracy; macro-F1 for NLI). Rate: chosen / best "
        "prompt x 100. NDCG: of the whole prompt order, relevance = real score min-max scaled over the "
        "prompts. Means over the category's datasets; random: mean of 1000 seeded choices.",
    ]
    llms = s["llms"]
    for category, datasets in s["data"].items():
        lines += [
            "",
            f"## {category} ({', '.join(datasets)})",
            "",
            "| method | " + " | ".join(f"{m} Perf. | {m} Rate | {m} NDCG" for m in llms) + " |",
            "|---|" + "---:|" * (3 * len(llms)),
        ]
        for sel, groups in judged["summary"].items():
            cells = []
            for m in llms:
                g = groups.get(f"{m}|{category}")
                cells += (
                    ["—"] * 3
                    if g is None
                    else [f"{100 * g['performance']:.1f}", f"{g['rate']:.1f}", f"{g['ndcg']:.3f}"]
                )
            lines.append(f"| {sel} | " + " | ".join(cells) + " |")
        best = []
        for m in llms:
            for d in datasets:
                c = truth["cases"].get(f"{m}|{d}")
                if c:
                    top = max(c["prompts"], key=lambda p: c["prompts"][p]["score"])
                    worst = min(p["score"] for p in c["prompts"].values())
                    best.append(
                        f"{m} on {d}: best {top} {100 * c['prompts'][top]['score']:.1f}, worst {100 * worst:.1f}"
                    )
        lines += ["", "Spread of the real scores: " + "; ".join(best) + "."]
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

LABEL_FREE = ("mi", "globale", "locale", "zps-log", "zps-prob", "zps-vote", "self-select", "spell")


@dataclass
class Selection:
    """Each selector's scores of the prompts (higher = better) and its pick; ``note`` says what was left out."""

    prompts: list[Prompt]
    scores: dict[str, np.ndarray]
    note: str = ""

    def pick(self, selector: str) -> str:
        s = self.scores[selector]
        return self.prompts[int(np.argmax(s))].id


def select_prompts(
    llm: str,
    prompt_set: str,
    dataset: str,
    *,
    selectors: Sequence[str] | None = None,
    split: str = "test",
    examples: int = 32,
    seed: int = 0,
    max_reasoning_tokens: int = 32,
    store: Any = None,
    mte_examples: int = 128,
    progress: bool = True,
) -> Selection:
    """Rank the prompts of ``prompt_set`` for ``llm`` on ``dataset`` (a labeled dataset, or a corpus of
    unlabeled inputs). Only the inputs of ``split`` are used; FUTE also needs the dataset's labeled
    training split for its DTE, so without labels the label-free selectors run instead."""
    from fute.corpus import load_corpus
    from fute.embed import dataset_name

    pset = load_prompt_set(prompt_set)
    try:
        train = load_samples(dataset)
        labeled, name = True, dataset_name(train, dataset)
    except DataError:
        labeled, name = False, Path(dataset).stem
    if not labeled:
        rows = load_corpus(dataset)
    else:
        try:
            rows = load_samples(dataset, split=split)
        except MissingSplitError:
            rows = train  # one split only: its inputs
    rows = rows.take(examples, seed)
    texts, pairs = list(rows.texts), (list(rows.text_pairs) if rows.text_pairs is not None else None)
    note = ""
    chosen = list(selectors or (["fute-fisher"] if labeled else LABEL_FREE))
    if not labeled and any(s.startswith("fute") for s in chosen):
        chosen = [s for s in chosen if not s.startswith("fute")] or list(LABEL_FREE)
        note = (
            f"{dataset} has no labels: FUTE compares each prompt with the dataset's task embedding, which "
            "needs labeled examples; ranked with the label-free selectors instead"
        )
    probs, nll = [], []
    for p in pset:
        lm = prompted_llm(llm, p, max_reasoning_tokens=max_reasoning_tokens)
        probs.append(lm.predict(texts, pairs, progress=progress))
        nll.append(rendered_nll(lm, p, rows))
    prompts = list(pset)
    vectors = None
    if labeled:
        vectors = VectorSource(
            store,
            {pset.name: {name: dataset}},
            mte_examples=mte_examples,
            max_reasoning_tokens=max_reasoning_tokens,
            progress=progress,
        )(llm, name, prompts)
    case = PromptCase(
        llm=llm,
        dataset=name,
        prompts=prompts,
        probs=np.stack(probs),
        nll=None if any(x is None for x in nll) else np.stack(nll),
        inputs=list(zip(texts, pairs or [None] * len(texts), strict=True)),
        task=TASKS.get(pset.name, pset.name),
        score_words=hf_scorer(llm, prompts[0]),
        vectors=vectors,
    )
    runnable = [get_selector(s) for s in chosen]
    if selectors is None:  # the defaults: leave out what this backend cannot feed, and say so
        left = [f"{s.name} (needs {', '.join(s.missing(case))})" for s in runnable if s.missing(case)]
        runnable = [s for s in runnable if not s.missing(case)]
        if left:
            note = "; ".join(filter(None, [note, f"{llm} cannot run " + ", ".join(left)]))
    return Selection(prompts, {s.name: s.scores(case) for s in runnable}, note)
