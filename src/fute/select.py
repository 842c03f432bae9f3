"""Choosing a prompt for an LLM without labels: the application behind ``fute select-prompt`` and the
API, and the pieces the prompt-selection benchmark (``fute.evaluation.prompts``) shares with it.

FUTE (Wang, Xu, Gui and He, ACL Findings 2024) picks the prompt whose model task embedding (the LLM
plus prompt labeling an unlabeled corpus U) is nearest the dataset's task embedding; the label-free
selectors (``fute.selectors``) run where the dataset has no labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fute.errors import DataError, MissingSplitError, check_at_least
from fute.rank import score_noise
from fute.samples import Samples, load_samples
from fute.selectors import PromptCase, get_selector
from fute.targets.prompts import Prompt, load_prompt_set

if TYPE_CHECKING:
    from fute.methods import MethodConfig

TASKS = {
    "sentiment": "sentiment classification (is the text positive or negative?)",
    "nli": "natural language inference (does the premise entail the hypothesis, contradict it, or neither?)",
}


def prompted_llm(llm: str, prompt: Prompt, **options: Any) -> Any:
    """``llm`` with ``prompt`` as a target: ``MODEL@URL`` is MODEL behind an OpenAI-compatible endpoint,
    ``recorded:DIR`` the LLM's outputs recorded elsewhere (``find_recording``), anything else an ``HFCausalLM`` on
    the process's one loaded copy of ``llm`` (``load_target``)."""
    from fute.targets import load_target

    if llm.startswith("recorded:"):
        from fute.targets.recorded import RecordedTarget

        return RecordedTarget(find_recording(llm.removeprefix("recorded:"), prompt), labels=prompt.labels)
    return load_target(llm, backend="auto", prompt=prompt, **options)


def find_recording(folder: str | Path, prompt: Prompt) -> Path:
    """The recording of ``prompt`` in a folder of an LLM's recorded outputs: ``ID.jsonl`` (or ``.parquet``,
    ``.npy``), or ``SET/ID.*`` where one folder holds several prompt sets; a missing one is a one-line error."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: no such folder of recorded outputs (one file per prompt: ID.jsonl, ...)")
    for base in (root, root / prompt.set_name):
        for ext in (".jsonl", ".parquet", ".npy"):
            if (base / f"{prompt.id}{ext}").is_file():
                return base / f"{prompt.id}{ext}"
    raise DataError(f"{root}: no recording of prompt '{prompt.id}' ({prompt.id}.jsonl, .parquet or .npy)")


def rendered_nll(lm: Any, prompt: Prompt, samples: Samples) -> np.ndarray | None:
    """Each rendered prompt's mean token negative log-likelihood (SPELL), or None from a backend that
    cannot score arbitrary text."""
    from fute.targets.base import TOKEN_LOGPROBS

    if not lm.can(TOKEN_LOGPROBS):
        return None
    pairs = samples.text_pairs or [None] * len(samples)
    return lm.text_nll([prompt.render(t, p) for t, p in zip(samples.texts, pairs, strict=True)])


class VectorSource:
    """Task vectors for FUTE: a prompt's MTE and a dataset's DTE from the store, computed when missing
    (MTE: U labeled by ``targets(llm, prompt)``, by default the LLM run here with chain-of-thought capped at
    ``max_reasoning_tokens``; U is ``corpus`` (e.g. the new dataset's own inputs: transductive, as the
    label-free selectors are), else the shipped U without every evaluation dataset; ``mte_examples`` rows of it.
    DTE: ``dte_examples`` rows of the training split). ``label_cache``: the folder
    that keeps the LLMs' labels of U (default $FUTE_HOME/labels). ``method_options`` ({method: {option: value}})
    go to every DTE and MTE made with that method, e.g. ``{"fisher": {"keep_probe": False}}``: a variant judged
    on the same truth."""

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
        columns: Mapping[str, str] | None = None,
        device: str = "auto",
        dtype: str = "auto",
        label_cache: str | Path | None = None,
        method_options: Mapping[str, Mapping[str, Any]] | None = None,
        corpus: Any = None,
        targets: Callable[[str, Prompt], Any] | None = None,
    ) -> None:
        from fute.methods import check_method_options
        from fute.store import open_store

        self.method_options = check_method_options(method_options or {}, "--mte-examples and --dte-examples")
        self.device, self.dtype = device, dtype  # where the LLM labels and the surrogate embeds (fute.device)
        self.store = open_store(store)
        self.surrogate = surrogate
        self.paths = {n: p for ds in data.values() for n, p in ds.items()}
        self.mte_examples, self.dte_examples, self.progress = mte_examples, dte_examples, progress
        self.max_reasoning_tokens = max_reasoning_tokens
        self.spaces: dict[str, str] = {}  # method -> the space its last vectors were compared in
        self.columns = columns
        self.label_cache = None if label_cache is None else Path(label_cache).expanduser()
        self._u_fingerprints: dict[bool, str] = {}  # pair inputs or not -> the fingerprint of the U rows an MTE labels
        self.corpus = corpus  # U for the MTEs: None, the shipped U without every evaluation dataset; else these rows
        self.targets = targets or (  # the labeler of (llm, prompt): the LLM run here, or its recorded outputs
            lambda llm, prompt: prompted_llm(
                llm, prompt, max_reasoning_tokens=self.max_reasoning_tokens, device=self.device, dtype=self.dtype
            )
        )

    def mte(self, llm: str, prompt: Prompt, method: str, labels: Sequence[str] | None = None) -> Any:
        """The prompt's MTE on the shipped U without every evaluation dataset, ``mte_examples`` rows, CoT capped
        at ``max_reasoning_tokens``; with ``labels`` (a dataset's label set other than the prompt's), the LLM's
        distributions summed into those labels (``MappedTarget``), so the MTE and that dataset's DTE share one
        label space. A stored MTE is reused only when all of that matches (``_fits``)."""
        from fute.embed import embed_model
        from fute.methods import get_method
        from fute.targets.base import MappedTarget
        from fute.targets.prompts import label_map

        mapped = labels is not None and tuple(labels) != tuple(prompt.labels)
        name = f"{llm}/{prompt.full_id}" + (f" as {'/'.join(labels)}" if mapped else "")
        if self.corpus is not None:  # another U, another vector: its own name, so neither replaces the other
            name += f" on {getattr(self.corpus, 'name', 'U')}"
        config = get_method(method, max_examples=self.mte_examples, **self.method_options.get(method, {})).config
        hit = [
            v
            for v in self.store.vectors(name=name, kind="prompt")
            if v.card.space.method == method and self._fits(v, prompt, config)
        ]
        if hit:
            return hit[0]
        target = self.targets(llm, prompt)
        target.label_cache = self.label_cache
        if mapped and tuple(target.label_names) != tuple(labels):  # a target may answer in the labels asked already
            target = MappedTarget(target, labels, label_map(prompt.labels, labels, f"{name}"))
        return embed_model(
            target,
            name,
            corpus=self.corpus,
            kind="prompt",
            pairs=prompt.input == "pair",
            exclude=tuple(self.paths),
            method=method,
            store=self.store,
            overwrite=True,  # this benchmark's own store: an MTE made otherwise is replaced, never reused
            max_examples=self.mte_examples,
            progress=self.progress,
            category=prompt.set_name,
            surrogate=self.surrogate,
            device=self.device,
            **self.method_options.get(method, {}),
        )

    def _fits(self, v: Any, prompt: Prompt, config: MethodConfig) -> bool:
        """Whether a stored MTE is the one asked for: the same method ``config`` (options included), prompt text and
        verbalizer, CoT cap, and U rows (the shipped U without every evaluation dataset, capped at
        ``mte_examples``)."""
        from fute.embed import unlabeled_rows

        if v.card.method_config != config.to_dict():
            return False
        target, corpus = v.card.target or {}, v.card.corpus or {}
        if (target.get("prompt") or {}).get("sha256") != prompt.card()["sha256"]:
            return False
        if prompt.type == "cot" and target.get("max_reasoning_tokens") != self.max_reasoning_tokens:
            return False
        pairs = prompt.input == "pair"
        if pairs not in self._u_fingerprints:  # the very rows embed_model labels (seed 0), computed once
            rows = unlabeled_rows(self.corpus, tuple(self.paths), pairs, self.mte_examples, 0)
            self._u_fingerprints[pairs] = rows.fingerprint()
        return corpus.get("fingerprint") == self._u_fingerprints[pairs]

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
            columns=self.columns,
            device=self.device,
            **self.method_options.get(method, {}),
        )

    def __call__(self, llm: str, dataset: str, prompts: list[Prompt]) -> Callable[[str], tuple[np.ndarray, np.ndarray]]:
        def vectors(method: str) -> tuple[np.ndarray, np.ndarray]:
            from fute.space import check_same_space

            dte = self.dte(dataset, method)
            mtes = [self.mte(llm, p, method, labels=dte.card.data.labels or None) for p in prompts]
            for v in mtes:
                check_same_space(dte, v)
            self.spaces[method] = dte.space_id
            return np.stack([v.vector for v in mtes]), dte.vector

        return vectors


def recorded_outputs(folder: str | Path, pset: Any) -> Callable[[str, Prompt], Any]:
    """The labeler of prompt selection from a folder of recordings, one per prompt of ``pset`` (``ID.jsonl``,
    ``ID.parquet`` or ``ID.npy``); a prompt without one, or a recording whose labels are not the prompt's, is a
    one-line error before any work."""
    found = {p.id: prompted_llm(f"recorded:{folder}", p) for p in pset}  # every one checked before any work
    return lambda llm, prompt: found[prompt.id]


def hf_scorer(llm: str, prompt: Prompt, **options: Any) -> Callable[[str, list[str]], np.ndarray] | None:
    """log p(word | question), the question as a user turn, from an LLM that gives word log-probs; None
    for one that does not (a served model gives top log-probs of its own answer, not of given words)."""
    from fute.targets.base import WORD_LOGPROBS

    lm = prompted_llm(llm, prompt, **options)
    if not lm.can(WORD_LOGPROBS):
        return None
    return lambda text, words: lm.score_words([lm.context([text])], words)[0]


LABEL_FREE = ("mi", "globale", "locale", "zps-log", "zps-prob", "zps-vote", "self-select", "spell")
# Two products, each with its default (docs/experiments.md, "Two modes", gives the evidence):
# - one prompt for the dataset (mode "dataset"): GlobalE, the one-prompt selector with the best mean Rate over the
#   four (LLM, category) cells of this project's prompt benchmark; label-free, so it runs on any dataset;
# - a prompt per input (mode "input"): UPS's MI_AGL with CBM-calibrated answers, the best selector of UPS's
#   multi-task study (Yang et al., TACL 2024) and of this project's benchmark; every prompt runs at inference.
DEFAULT_SELECTOR = "globale"
DEFAULT_PER_INPUT = "mi-agl"
MODES = ("dataset", "input")


@dataclass
class Selection:
    """Each selector's scores of the prompts (higher = better) and its pick; ``note`` says what was left out."""

    prompts: list[Prompt]
    scores: dict[str, np.ndarray]
    note: str = ""
    # mode "input": per input, the index of its prompt and its answer's label distribution (CBM-calibrated)
    inputs: list[tuple[str, str | None]] | None = None
    per_input_prompt: np.ndarray | None = None
    per_input_answer: np.ndarray | None = None

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
    columns: Mapping[str, str] | None = None,
    examples: int = 32,
    seed: int = 0,
    max_reasoning_tokens: int = 32,
    store: Any = None,
    mte_examples: int = 128,
    progress: bool = True,
    device: str = "auto",
    dtype: str = "auto",
    recorded: str | Path | None = None,
    u: str | None = None,
    surrogate: str = "default",
    method_options: Mapping[str, Mapping[str, Any]] | None = None,
    mode: str = "dataset",
) -> Selection:
    """Rank the prompts of ``prompt_set`` for ``llm`` on ``dataset`` (a labeled dataset, its fields mapped by
    ``columns``, or a corpus of unlabeled inputs) with ``selectors`` (default: ``DEFAULT_SELECTOR``). Only the
    inputs of ``split`` are used; FUTE also needs the dataset's labeled training split for its DTE, so without
    labels the label-free selectors run instead, and the note says so. The LLM runs on ``device`` in ``dtype``
    (``fute.device``).

    ``recorded``: a folder of the LLM's outputs recorded elsewhere, one file per prompt named by its id
    (``ID.jsonl``, ``ID.parquet`` or ``ID.npy``; ``fute.targets.recorded``): nothing runs here but the surrogate.
    ``u``: the U of FUTE's prompt MTEs: ``shipped`` (the shipped corpus without the dataset) or ``dataset`` (the
    dataset's own inputs of ``split``, unlabeled: transductive, as the label-free selectors are); default
    ``dataset`` for a recording (its inputs are what was recorded), else ``shipped``. The cards say which.
    ``surrogate`` and ``method_options`` ({method: {option: value}}) make FUTE's vectors in another space.

    ``mode``: ``dataset`` ranks the prompts to pick one for the whole dataset (default selector ``DEFAULT_SELECTOR``);
    ``input`` picks a prompt for each input with a per-input selector (default ``DEFAULT_PER_INPUT``), and the
    selection holds each input's prompt and answer (every prompt then runs at inference)."""
    from fute.corpus import Corpus, load_corpus
    from fute.embed import dataset_name

    if mode not in MODES:
        raise DataError(f"mode={mode!r}: use dataset (one prompt for the dataset) or input (a prompt per input)")
    if mode == "input":
        per_input = [s for s in (selectors or [DEFAULT_PER_INPUT]) if not getattr(get_selector(s), "per_input", False)]
        if per_input:
            raise DataError(f"mode input picks a prompt per input: {', '.join(per_input)} picks one per dataset")
    check_at_least("examples", examples, 1)
    check_at_least("max_reasoning_tokens", max_reasoning_tokens, 1)
    check_at_least("mte_examples", mte_examples, 1)
    pset = load_prompt_set(prompt_set)
    try:
        train = load_samples(dataset, columns=columns)
        labeled, name = True, dataset_name(train, dataset)
    except DataError:
        if columns:
            raise  # the mapping was meant for labeled data: its error says what is missing
        labeled, name = False, Path(dataset).stem
    if not labeled:
        rows = load_corpus(dataset)
    else:
        try:
            rows = load_samples(dataset, split=split, columns=columns)
        except MissingSplitError:
            rows = train  # one split only: its inputs
    u = u or ("dataset" if recorded else "shipped")
    if u not in ("shipped", "dataset"):
        raise DataError(f"u={u!r}: use shipped (the shipped corpus) or dataset (the dataset's own inputs)")
    own_u = Corpus(
        list(rows.texts),
        list(rows.text_pairs) if rows.text_pairs is not None else None,
        sources=[f"{name} ({split} inputs)"] * len(rows),
        name=f"{name}-{split}-inputs",
    )
    rows = rows.take(examples, seed)
    texts, pairs = list(rows.texts), (list(rows.text_pairs) if rows.text_pairs is not None else None)
    labeler = recorded_outputs(recorded, pset) if recorded else None
    note = ""
    chosen = list(selectors or [DEFAULT_PER_INPUT if mode == "input" else DEFAULT_SELECTOR])
    reads_labels = [] if labeled else [s for s in chosen if get_selector(s).uses_labels]
    if reads_labels:
        chosen = [s for s in chosen if s not in reads_labels] or list(LABEL_FREE)
        note = (
            f"{dataset} has no labels: FUTE compares each prompt with the dataset's task embedding, which "
            "needs labeled examples; ranked with the label-free selectors instead"
        )
    probs, nll = [], []
    for p in pset:
        if labeler is not None:
            lm = labeler(llm, p)
        else:
            lm = prompted_llm(llm, p, max_reasoning_tokens=max_reasoning_tokens, device=device, dtype=dtype)
        probs.append(lm.predict(texts, pairs, progress=progress))
        nll.append(rendered_nll(lm, p, rows))
    prompts = list(pset)
    vectors = None
    source = None
    if labeled:
        source = VectorSource(
            store,
            {pset.name: {name: dataset}},
            mte_examples=mte_examples,
            max_reasoning_tokens=max_reasoning_tokens,
            progress=progress,
            columns=columns,
            device=device,
            dtype=dtype,
            corpus=own_u if u == "dataset" else None,
            targets=labeler,
            surrogate=surrogate,
            method_options=method_options,
        )
        vectors = source(llm, name, prompts)
    case = PromptCase(
        llm=llm,
        dataset=name,
        prompts=prompts,
        probs=np.stack(probs),
        nll=None if any(x is None for x in nll) else np.stack(nll),
        inputs=list(zip(texts, pairs or [None] * len(texts), strict=True)),
        task=TASKS.get(pset.name, pset.name),
        score_words=None if recorded else hf_scorer(llm, prompts[0], device=device, dtype=dtype),
        vectors=vectors,
    )
    runnable = [get_selector(s) for s in chosen]
    if selectors is None:  # the defaults: leave out what this backend cannot feed, and say so
        left = [f"{s.name} (needs {', '.join(s.missing(case))})" for s in runnable if s.missing(case)]
        runnable = [s for s in runnable if not s.missing(case)]
        if left:
            note = "; ".join(filter(None, [note, f"{llm} cannot run " + ", ".join(left)]))
    scores = {s.name: s.scores(case) for s in runnable}
    for sel in runnable:
        method = getattr(sel, "method", None)
        noise = score_noise(source.spaces.get(method, "")) if source and method else None
        spread = float(np.ptp(scores[sel.name]))
        if noise and spread < noise[1]:
            note = "; ".join(
                filter(
                    None,
                    [
                        note,
                        f"{sel.name}'s {len(prompts)} scores lie within {spread:.3f} of each other, under the "
                        f"{noise[1]:.3f} seed-to-seed spread of a {noise[0]} score: it cannot tell these prompts apart",
                    ],
                )
            )
    if mode == "input":
        sel = runnable[0]
        return Selection(prompts, scores, note, case.inputs, sel.choose(case), sel.answers(case))
    return Selection(prompts, scores, note)
