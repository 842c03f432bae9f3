"""Prompt selectors: pick an LLM's best prompt for a dataset without its labels, registered by name.

All share one interface: ``scores(case) -> [prompts]`` (higher = better), where ``case`` holds the
prompts x examples x labels tensor of the LLM's label distributions on the dataset's inputs, and what
a selector may need besides (the prompts' perplexities, the LLM, task vectors). A selector declares
what it needs (``needs``); a case that lacks it gets a clear error naming the missing capability.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from fute.errors import ConfigError
from fute.registry import SELECTORS
from fute.samples import entropy

register = SELECTORS.register
PROBS, NLL, LLM, VECTORS = "label_distributions", "token_logprobs", "llm", "task_vectors"


CALIBRATIONS = ("cbm",)


def get_selector(name: str, **options: Any) -> Selector:
    """A selector by name; ``NAME+cbm`` is NAME on calibrated label distributions (CBM, below)."""
    base, _, calibration = name.partition("+")
    if calibration:
        options["calibration"] = calibration
    return SELECTORS.create(base, **options)


def cbm(probs: np.ndarray) -> np.ndarray:
    """Calibration by marginalization (CBM, Yang et al. 2024, UPS): p(y|x,t) divided by its mean over the inputs
    x, then renormalised over the labels, so that a prompt's bias towards one label no longer decides its
    selector score. [prompts, inputs, labels] in and out."""
    calibrated = probs / np.clip(probs.mean(axis=1, keepdims=True), 1e-12, None)
    return calibrated / calibrated.sum(axis=2, keepdims=True)


@dataclass
class PromptCase:
    """One LLM and one dataset: the candidates and everything selectors may read (never the labels).

    ``probs``: [prompts, examples, labels] label distributions; ``nll``: [prompts, examples] mean token
    negative log-likelihood of each rendered prompt (SPELL); ``llm``: a callable giving log-probs of
    words after a context, ``(context_text, words) -> [words]`` (Self-Select); ``vectors``: a callable
    ``(method) -> (prompt MTEs [prompts, d], dataset DTE [d])`` (FUTE).
    """

    llm: str
    dataset: str
    prompts: list[Any]  # fute.targets.prompts.Prompt
    probs: np.ndarray | None = None
    nll: np.ndarray | None = None
    inputs: list[tuple[str, str | None]] = field(default_factory=list)
    task: str = ""
    score_words: Callable[[str, list[str]], np.ndarray] | None = None
    vectors: Callable[[str], tuple[np.ndarray, np.ndarray]] | None = None

    def has(self, need: str) -> bool:
        return {
            PROBS: self.probs is not None,
            NLL: self.nll is not None,
            LLM: self.score_words is not None,
            VECTORS: self.vectors is not None,
        }[need]


class Selector(ABC):
    """Scores each prompt of a case; ``draws`` > 1 for a selector whose choice is random. A selector that reads
    label distributions takes ``calibration="cbm"`` (its name gets ``+cbm``): it then scores the CBM-calibrated
    distributions (UPS applies calibration to every probability-based selector this way)."""

    name: ClassVar[str]
    needs: ClassVar[frozenset[str]] = frozenset({PROBS})
    draws: ClassVar[int] = 1

    def __init__(self, calibration: str | None = None) -> None:
        if calibration is not None:
            if calibration not in CALIBRATIONS:
                raise ConfigError(f"unknown calibration '{calibration}'; use one of {', '.join(CALIBRATIONS)}")
            if PROBS not in self.needs:
                raise ConfigError(f"selector {self.name} does not read label distributions: nothing to calibrate")
            self.name = f"{type(self).name}+{calibration}"  # type: ignore[misc]  # the instance's own name
        self.calibration = calibration

    @property
    def uses_labels(self) -> bool:
        """Whether it reads the dataset's labels: FUTE's selectors do, through the dataset's task embedding (DTE);
        the label-free baselines see only the LLM's outputs."""
        return VECTORS in self.needs

    def missing(self, case: PromptCase) -> list[str]:
        """What this selector needs that ``case`` does not give (empty when it can run)."""
        return [n for n in sorted(self.needs) if not case.has(n)]

    def scores(self, case: PromptCase, draw: int = 0) -> np.ndarray:
        missing = self.missing(case)
        if missing:
            raise ConfigError(
                f"selector {self.name} needs {', '.join(missing)}, which {case.llm} on {case.dataset} "
                "does not give (a backend without log-probs?); leave this selector out"
            )
        if self.calibration == "cbm":
            case = dataclasses.replace(case, probs=cbm(case.probs))
        s = np.asarray(self._scores(case, draw), dtype=np.float64)
        if s.shape != (len(case.prompts),):
            raise AssertionError(f"{self.name}: {s.shape} scores for {len(case.prompts)} prompts")
        return s

    @abstractmethod
    def _scores(self, case: PromptCase, draw: int) -> np.ndarray: ...

    def order(self, case: PromptCase, draw: int = 0) -> list[str]:
        """Prompt ids, best first (ties by id)."""
        s = self.scores(case, draw)
        ids = [p.id for p in case.prompts]
        return [ids[i] for i in sorted(range(len(ids)), key=lambda i: (-s[i], ids[i]))]


def label_entropy(probs: np.ndarray) -> np.ndarray:
    """Per prompt, the entropy of the histogram of its argmax labels over the inputs (GlobalE; UPS's one-hot GE)."""
    hist = np.stack([np.bincount(a, minlength=probs.shape[2]) for a in probs.argmax(axis=2)]).astype(float)
    return entropy(hist / hist.sum(axis=1, keepdims=True))


@register
class MI(Selector):
    """MI (Sorensen et al. 2022): the mutual information between inputs and the prompt's outputs,
    H(mean_x p(y|x)) - mean_x H(p(y|x)): confident per example, yet not one label for all."""

    name = "mi"

    def _scores(self, case: PromptCase, draw: int) -> np.ndarray:
        return entropy(case.probs.mean(axis=1)) - entropy(case.probs).mean(axis=1)


@register
class MIG(Selector):
    """MI_G (Yang et al. 2024, UPS): MI with the global entropy taken over the one-hot predictions, as GlobalE
    does: H(histogram of argmax labels over the inputs) - mean_x H(p(y|x)). Its per-input form is ``mi-agl``."""

    name = "mi-g"

    def _scores(self, case: PromptCase, draw: int) -> np.ndarray:
        return label_entropy(case.probs) - entropy(case.probs).mean(axis=1)


@register
class MIAGL(Selector):
    """MI_AGL (Yang et al. 2024, UPS; their ``get_mi_gl`` with calibrated answers): a prompt **per input**. For
    input x and prompt t, GE_t - H(p_t(y|x)), where GE_t is the entropy of prompt t's histogram of argmax labels
    over all inputs (G) and H the input's own entropy (L, local); each input takes the prompt that maximises it
    (the first on a tie) and its answer is the argmax of that prompt's CBM-calibrated distribution (A).

    ``choose`` gives the per-input picks and ``answers`` the answers: the benchmark scores those answers, not one
    prompt. As a per-prompt ranking (``fute select-prompt``, NDCG) a prompt scores the share of inputs that
    picked it. ``+cbm`` calibrates the distributions the choice reads as well (UPS's PA)."""

    name = "mi-agl"
    per_input: ClassVar[bool] = True

    def choose(self, case: PromptCase) -> np.ndarray:
        """The prompt index picked for each input: [inputs]."""
        return self._picks(cbm(case.probs) if self.calibration == "cbm" else case.probs)

    def answers(self, case: PromptCase) -> np.ndarray:
        """Each input's label distribution from its picked prompt, CBM-calibrated: [inputs, labels]."""
        picks = self.choose(case)
        return cbm(case.probs)[picks, np.arange(len(picks))]

    @staticmethod
    def _picks(probs: np.ndarray) -> np.ndarray:
        return np.argmax(label_entropy(probs)[:, None] - entropy(probs), axis=0)  # argmax: the first of equal maxima

    def _scores(self, case: PromptCase, draw: int) -> np.ndarray:
        picks = self._picks(case.probs)  # ``scores`` has calibrated case.probs already when asked to
        return np.bincount(picks, minlength=len(case.prompts)) / len(picks)


@register
class GlobalE(Selector):
    """GlobalE (Lu et al. 2022): the entropy of the histogram of predicted labels (argmax) over the
    inputs; higher = predictions spread over the labels rather than stuck on one."""

    name = "globale"

    def _scores(self, case: PromptCase, draw: int) -> np.ndarray:
        return label_entropy(case.probs)


@register
class LocalE(Selector):
    """LocalE (Lu et al. 2022): the mean entropy of the per-input label distributions; higher = less
    over-confident (their probing-set criterion, here on the dataset's own unlabeled inputs)."""

    name = "locale"

    def _scores(self, case: PromptCase, draw: int) -> np.ndarray:
        return entropy(case.probs).mean(axis=1)


def confident_prompts(probs: np.ndarray) -> np.ndarray:
    """The prompt filter of ZPS (Liao et al. 2022) exactly as UPS implements it (``method/prompt_filter.py``):
    each prompt's confidence is its margin between the top two label probabilities summed over the inputs; the
    prompts are split into two clusters by scikit-learn's KMeans on that one number (``random_state=42``,
    ``n_init="auto"``, as there), and the cluster with the higher centre is kept. That KMeans can stop in a
    local optimum (on random margins it misses the best split about a third of the time); it is kept because
    it is the reference's. Fewer than two distinct margins: every prompt is kept. Returns a mask."""
    top = np.sort(probs, axis=2)
    conf = (top[:, :, -1] - top[:, :, -2]).sum(axis=1) if probs.shape[2] > 1 else np.zeros(len(probs))
    if len(np.unique(conf)) < 2:
        return np.ones(len(conf), dtype=bool)
    try:
        from sklearn.cluster import KMeans
    except ImportError:
        raise ConfigError("the ZPS prompt filter needs scikit-learn: pip install 'fute[viz]'") from None
    km = KMeans(n_clusters=2, random_state=42, n_init="auto").fit(conf[:, None])
    return km.labels_ == int(km.cluster_centers_.argmax(axis=0)[0])


class ZPS(Selector):
    """ZPS (Liao et al. 2022, zero-label prompt selection), as UPS runs it: the prompt filter
    (``confident_prompts``) removes the less confident cluster from the candidates (their score is -inf, so
    they rank last and are never picked), pseudo-labels come from an ensemble of the kept prompts, and each
    kept prompt scores its accuracy against them."""

    ensemble: ClassVar[str]

    def _scores(self, case: PromptCase, draw: int) -> np.ndarray:
        keep = confident_prompts(case.probs)
        kept = case.probs[keep]
        if self.ensemble == "log":
            pseudo = np.log(np.clip(kept, 1e-12, 1.0)).mean(axis=0).argmax(axis=1)
        elif self.ensemble == "prob":
            pseudo = kept.mean(axis=0).argmax(axis=1)
        else:  # vote: the most frequent argmax, ties to the lower label index
            votes = np.stack([np.bincount(col, minlength=kept.shape[2]) for col in kept.argmax(axis=2).T])
            pseudo = votes.argmax(axis=1)
        agree = (case.probs.argmax(axis=2) == pseudo[None, :]).mean(axis=1)
        return np.where(keep, agree, -np.inf)


@register
class ZPSLog(ZPS):
    """ZPS-Log (Liao et al. 2022): pseudo-labels from the mean log-probability of the kept prompts."""

    name = "zps-log"
    ensemble = "log"


@register
class ZPSProb(ZPS):
    """ZPS-Prob (Liao et al. 2022): pseudo-labels from the mean probability of the kept prompts."""

    name = "zps-prob"
    ensemble = "prob"


@register
class ZPSVote(ZPS):
    """ZPS-Vote (Liao et al. 2022): pseudo-labels by majority vote of the kept prompts' predictions."""

    name = "zps-vote"
    ensemble = "vote"


@register
class SPELL(Selector):
    """SPELL (Gonen et al. 2022): the prompt with the lowest perplexity is best; the score is minus the
    mean over inputs of the mean token negative log-likelihood of the rendered prompt (log-perplexity)."""

    name = "spell"
    needs = frozenset({NLL})

    def _scores(self, case: PromptCase, draw: int) -> np.ndarray:
        return -case.nll.mean(axis=1)


@register
class SelfSelect(Selector):
    """Self-Select: the LLM itself is shown the task (three of the dataset's inputs) and the candidate
    prompts as lettered options, and asked which is best; the score of a prompt is the log-probability
    of its letter, averaged over the listing in order and in reverse (to cancel position bias)."""

    name = "self-select"
    needs = frozenset({LLM})

    def _scores(self, case: PromptCase, draw: int) -> np.ndarray:
        n = len(case.prompts)
        if n > 26:
            raise ConfigError(f"self-select: {n} prompts, more than the 26 letters of the options")
        letters = [chr(ord("A") + i) for i in range(n)]
        total = np.zeros(n)
        for order in (list(range(n)), list(range(n))[::-1]):
            text = self_select_question(case, [case.prompts[i] for i in order], letters)
            logp = case.score_words(text, letters)
            for pos, i in enumerate(order):
                total[i] += logp[pos]
        return total / 2


def self_select_question(case: PromptCase, prompts: list[Any], letters: list[str]) -> str:
    examples = "\n".join(f"- {t}" + (f" || {p}" if p else "") for t, p in case.inputs[:3])
    options = "\n".join(
        f"({c}) {p.template.strip()}" + (f" [then: {p.answer.strip()}]" if p.answer else "")
        for c, p in zip(letters, prompts, strict=True)
    )
    return (
        f"Task: {case.task or 'label each input'}. Some inputs of this task:\n{examples}\n\n"
        f"Which of these prompts would make a language model answer this task best?\n{options}\n\n"
        f"Answer with the letter of the best prompt. The best prompt is ("
    )


@register
class Fute(Selector):
    """FUTE (Wang, Xu, Gui and He, ACL Findings 2024): each prompt's model task embedding (U labeled by
    the LLM with that prompt) against the dataset's task embedding (its labeled training data), by cosine; ``method``
    is the task-embedding method (``fisher`` or ``prompt``). The dataset's DTE needs its labels."""

    name = "fute-fisher"
    needs = frozenset({VECTORS})
    method: ClassVar[str] = "fisher"

    def _scores(self, case: PromptCase, draw: int) -> np.ndarray:
        from fute.space import cosine_scores

        mtes, dte = case.vectors(self.method)
        return cosine_scores(dte, mtes)


@register
class FutePrompt(Fute):
    """FUTE with an input-level soft prompt (``prompt``) as the embedding method (Wang, Xu, Gui and He, 2024)."""

    name = "fute-prompt"
    method = "prompt"


@register
class FuteCombined(Selector):
    """FUTE combined with the strongest label-free selector, a rule fixed before any evaluation run: the
    mean of each prompt's rank under ``fute-fisher`` (MTE-DTE cosine) and under ``mi-g+cbm`` (UPS's MI with the
    one-hot global entropy on CBM-calibrated distributions, the per-prompt form of their MI_AGL); equal weights,
    ties by average rank. The score is minus that mean rank (higher = better)."""

    name = "fute-combined"
    needs = frozenset({VECTORS, PROBS})

    def _scores(self, case: PromptCase, draw: int) -> np.ndarray:
        parts = [get_selector("fute-fisher").scores(case), get_selector("mi-g+cbm").scores(case)]
        from fute.space import mean_ranks

        return -np.mean([mean_ranks(-np.asarray(p)) + 1 for p in parts], axis=0)  # rank 1: the best; ties average


@register
class Random(Selector):
    """A random choice (the floor): metrics are means over ``draws`` seeded orders."""

    name = "random"
    needs = frozenset()
    draws = 1000

    def _scores(self, case: PromptCase, draw: int) -> np.ndarray:
        return np.random.default_rng([draw, *f"{case.llm}/{case.dataset}".encode()]).random(len(case.prompts))
