"""Rankers of source datasets for a target: FUTE and the baselines of the paper, registered by name.

A ranker is fitted once on a transfer run (``fit(context)``: it embeds what it needs, through the
vector store, so a rerun reuses every vector) and then orders the candidate sources of any target,
best first (``order``). Ties are broken by name, so every order is reproducible.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from fute.errors import ConfigError
from fute.registry import RANKERS
from fute.samples import load_samples
from fute.space import cosine_scores
from fute.store import VectorStore

register = RANKERS.register


def get_ranker(name: str, **options: Any) -> SourceRanker:
    return RANKERS.create(name, **options)


@dataclass
class RankContext:
    """What rankers read: the transfer run (``truth``), where vectors are kept, and how to embed.

    ``embed_examples`` caps every embedding (default: the run's target examples, so that a target's
    vector is made from exactly the examples its task model was trained on). ``corpus`` maps
    ``single``/``pair`` to the unlabeled corpus U that source models label (default: the shipped U
    without the benchmark's datasets). ``method_options`` ({method: {option: value}}) go to every embedding made
    with that method on the surrogate (DTEs and MTEs), e.g. ``{"fisher": {"keep_probe": False}}``: a variant
    judged on the same truth. ``query_examples``: rows of each target's own vector (the query) where they should
    differ from the sources' (a small target against sources at their cap); None: ``embed_examples``.
    """

    truth: dict[str, Any]
    store: VectorStore
    embed_examples: int | None = None
    query_examples: int | None = None
    surrogate: str = "default"
    corpus: dict[str, str] = field(default_factory=dict)
    progress: bool = True
    u_removed: dict[str, int] = field(default_factory=dict)  # U rows dropped as an evaluated dataset's text
    # where the score tables of rankers that read the run's models (``keeps_scores``) are kept: a rerun, or an
    # eval after one interrupted, reads them instead of computing them again (None: not kept)
    tables: Path | None = None
    method_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)  # rankers not defined for the run's task types: why
    partial: dict[str, str] = field(default_factory=dict)  # rankers defined for some of its targets: which, and why

    def __post_init__(self) -> None:
        from fute.methods import check_method_options

        if self.embed_examples is None:
            self.embed_examples = int(self.truth["settings"]["target_examples"])
        self.method_options = check_method_options(self.method_options, "--embed-examples")

    @property
    def names(self) -> list[str]:
        return list(self.truth["datasets"])

    def targets_for(self, ranker: SourceRanker) -> list[str]:
        """The targets ``ranker`` is defined for (its ``tasks``); every dataset is still a source."""
        return [n for n in self.names if ranks(ranker, self.truth, n)]

    def samples(self, name: str) -> Any:
        """A dataset's training rows as the run's jobs drew from them: where the run kept every target's scored
        rows out of training (it records ``removed_as_scored_elsewhere``), without those rows too. So a
        target's vector, LogME labels and own-model embedding are made from the very rows its task model
        trained on (the first seed's draw), and no source's vector reads a text some target is scored on."""
        from fute.evaluation.transfer.data import without

        rows = load_samples(self.truth["datasets"][name]["path"])
        return without(rows, self.held_out())[0] if "removed_as_scored_elsewhere" in self.truth else rows

    def model_dir(self, role: str, name: str) -> str:
        """The folder of the run's first-seed ``role`` ("source" or "target") model of ``name``; a one-line error
        where it is not on this machine (the run was made elsewhere, and its models are not committed)."""
        folder = self.truth[f"{role}_models"][name]
        if not Path(folder).is_dir():
            raise ConfigError(
                f"{folder}: the run's {role} model of {name} is not on this machine; rerun the truth command with "
                "--models to retrain the first seed's models (no score changes), or leave out the rankers reading them"
            )
        return folder

    def held_out(self) -> frozenset[str]:
        """The normalised texts of every row any target of the run is scored on (``scored_texts``)."""
        if getattr(self, "_held_out", None) is None:
            from fute.evaluation.transfer.data import truth_held_out

            self._held_out = truth_held_out(self.truth)
        return self._held_out

    def table_key(self, ranker: SourceRanker) -> str:
        """What a kept score table depends on: the ranker (and its revision), the library version, the run's
        datasets, settings, models and leak guard, the rows per embedding, the surrogate, a given U and the given
        options of the methods it embeds with."""
        from fute import __version__
        from fute.hashing import content_hash, portable_files_state

        t = self.truth
        # the options of the methods it embeds with, where given: a table they cannot move keeps its key
        options = self.options_of(ranker.surrogate_methods)
        return content_hash(
            {
                "ranker": ranker.name,
                "revision": ranker.revision,
                "fute": __version__,
                "datasets": t["datasets"],
                "settings": t["settings"],
                "models": [t["source_models"], t["target_models"]],
                "removed": t.get("removed_as_scored_elsewhere"),
                "embed_examples": self.embed_examples,
                **({"query_examples": self.query_examples} if self.query_examples is not None else {}),
                "surrogate": self.surrogate,
                **({"method_options": options} if options else {}),
                # a given U (the shipped one is fixed by the version and the datasets), by content
                **({"corpus": {k: portable_files_state(p) for k, p in self.corpus.items()}} if self.corpus else {}),
            },
            16,
        )

    def options_of(self, methods: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        """The given ``method_options`` of ``methods``."""
        return {m: self.method_options[m] for m in methods if self.method_options.get(m)}

    def dte(self, name: str, method: str, surrogate: str | None = None, *, query: bool = False) -> np.ndarray:
        """A dataset's task embedding (cached in the store), capped at ``embed_examples`` with seed 0; ``query``:
        the target's own vector, at ``query_examples`` where set (stored under ``NAME@Nrows``).

        A method with the growth rule (``grow_rows``) may draw more rows of a source than the cap, as the catalog's
        vectors do; a target's own vector is made from the capped rows only, all the rows a target of the run has."""
        from fute.embed import embed_samples
        from fute.methods import get_method

        cap = self.embed_examples
        if query and self.query_examples is not None and self.query_examples != cap:
            cap, name = self.query_examples, f"{name}@{self.query_examples}rows"
        rows = self.samples(name.split("@")[0])
        if query and getattr(get_method(method, **self.method_options.get(method, {})).config, "grow_rows", None):
            rows, name = rows.take(cap, 0), f"{name.split('@')[0]}@{cap}rows"
        return embed_samples(
            rows,
            name,
            method=method,
            surrogate=surrogate or self.surrogate,
            store=self.store,
            overwrite=True,  # this benchmark's own store, a cache it reruns at other caps
            progress=self.progress,
            max_examples=cap,
            **self.method_options.get(method, {}),
        ).vector

    def unlabeled(self, pairs: bool, qa: bool = False) -> Any:
        """U for source models: the given corpus, else the shipped one (``qa``: its question + passage pairs)
        without the run's datasets, and in either case without any row whose text is a text of an evaluated
        dataset, in any split (the shipped U's sst5 holds every sst2 sentence; subj and mpqa hold MR's; qnli asks
        SQuAD's questions): "evaluated datasets excluded" by content, not by name. The count removed is kept in
        ``u_removed``."""
        from fute.corpus import default_corpus, load_corpus
        from fute.evaluation.transfer.data import normalized

        kind = "qa" if qa else "pair" if pairs else "single"
        given = self.corpus.get(kind)
        u = load_corpus(given) if given else default_corpus(pairs=pairs, qa=qa).excluding(self.names)
        texts = self.evaluated_texts()
        row_pairs = u.text_pairs or [None] * len(u)
        keep = [i for i, (t, q) in enumerate(zip(u.texts, row_pairs, strict=True)) if normalized(t) not in texts
                and normalized(t, q) not in texts]  # fmt: skip
        self.u_removed[kind] = len(u) - len(keep)
        return u.select(keep)

    def u_removed_counts(self) -> dict[str, int]:
        """``u_removed`` for every kind of U the run's source models take (single texts, text pairs), counted here
        where labeling U did not count them (a kept score table stood in for it)."""
        for qa, pairs in sorted({self._u_form(n) for n in self.names}):
            if ("qa" if qa else "pair" if pairs else "single") not in self.u_removed:
                self.unlabeled(pairs, qa)
        return self.u_removed

    def _u_form(self, name: str) -> tuple[bool, bool]:
        """(QA, pairs): the form of U that ``name``'s models read."""
        samples = self.samples(name)
        return samples.task == "qa", samples.text_pairs is not None

    def evaluated_texts(self) -> frozenset[str]:
        """Normalised texts (and text pairs) of every split of every dataset of the run."""
        if getattr(self, "_texts", None) is None:
            from fute.errors import MissingSplitError
            from fute.evaluation.transfer.data import normalized

            out: set[str] = set()
            for name in self.names:
                for split in ("train", "dev", "validation", "test"):
                    try:
                        rows = load_samples(self.truth["datasets"][name]["path"], split=split)
                    except MissingSplitError:
                        continue
                    pairs = rows.text_pairs or [None] * len(rows)
                    out.update(normalized(t) for t in rows.texts)
                    out.update(normalized(t, q) for t, q in zip(rows.texts, pairs, strict=True) if q is not None)
            self._texts = frozenset(out)
        return self._texts

    def mte(self, name: str, model_dir: str, method: str) -> np.ndarray:
        """The task embedding of a fine-tuned task model: U labeled by it (pairs for pair tasks; for a QA model,
        question + passage pairs and its n-best answers, read in the windows it was trained with)."""
        from fute.embed import embed_model
        from fute.targets.hf_classifier import HFClassifier
        from fute.targets.hf_qa import HFQuestionAnswerer

        qa, pairs = self._u_form(name)
        window = int(self.truth["settings"]["max_length"])
        model = HFQuestionAnswerer(model_dir, max_length=window) if qa else HFClassifier(model_dir)
        return embed_model(
            model,
            f"{name}-model",
            corpus=self.unlabeled(pairs, qa),
            pairs=pairs,
            method=method,
            surrogate=self.surrogate,
            store=self.store,
            overwrite=True,  # this benchmark's own store, a cache it reruns at other caps
            progress=self.progress,
            category=self.truth["datasets"][name]["category"],
            max_examples=self.embed_examples,
            **self.method_options.get(method, {}),
        ).vector


class SourceRanker(ABC):
    """Orders candidate sources for a target; ``draws`` > 1 for a ranker whose orders are random."""

    name: ClassVar[str]
    draws: ClassVar[int] = 1
    is_fute: ClassVar[bool] = False  # a FUTE ranker, which the paired tests compare with every other
    # a ranker that reads the run's models (costly, or, for fute-mte, to find its vectors in the store: an MTE's key
    # holds its model's weights hash): ``fit_kept`` keeps its table, so an eval without the models can read it
    keeps_scores: ClassVar[bool] = False
    revision: ClassVar[int] = 1  # raise it when what the ranker computes changes: kept tables are then remade
    # the task types of the targets it can rank for; the eval leaves it out of a truth with another (and says why)
    tasks: ClassVar[frozenset[str]] = frozenset({"classification", "regression", "qa"})
    why_not: ClassVar[str] = ""
    reads_u: ClassVar[bool] = False  # it labels U (``RankContext.unlabeled``), whose cleaning the eval reports
    surrogate_methods: ClassVar[tuple[str, ...]] = ()  # the methods it embeds with on the surrogate, if it keeps scores

    def fit(self, context: RankContext) -> SourceRanker:
        self.context_ = context
        return self

    @abstractmethod
    def scores(self, target: str, sources: list[str], draw: int = 0) -> np.ndarray:
        """Higher is a better source for the target."""

    def order(self, target: str, sources: list[str], draw: int = 0) -> list[str]:
        s = self.scores(target, sources, draw)
        return [sources[i] for i in sorted(range(len(sources)), key=lambda i: (-s[i], sources[i]))]


class TableRanker(SourceRanker):
    """A ranker's kept scores ({target: {source: score}}), ordering as the ranker did."""

    def __init__(self, name: str, table: dict[str, dict[str, float]], tasks: frozenset[str] | None = None) -> None:
        self.name, self.table_ = name, table
        self.tasks = tasks or SourceRanker.tasks

    def scores(self, target: str, sources: list[str], draw: int = 0) -> np.ndarray:
        return np.array([self.table_[target][s] for s in sources])


def fit_kept(ranker: SourceRanker, context: RankContext) -> SourceRanker:
    """``ranker.fit(context)``, except that a ranker that ``keeps_scores`` computes its whole score table once, in
    ``context.tables`` (one atomic JSON, keyed by ``RankContext.table_key``), and later reads it back."""
    if not ranker.keeps_scores or context.tables is None:
        return ranker.fit(context)
    import json

    from fute.paths import atomic_write

    file = Path(context.tables) / f"{ranker.name}-{context.table_key(ranker)}.json"
    if file.exists():
        return TableRanker(ranker.name, json.loads(file.read_text()), ranker.tasks)
    ranker.fit(context)
    table = {}
    for t in context.targets_for(ranker):
        others = [s for s in context.names if s != t]
        table[t] = dict(zip(others, map(float, ranker.scores(t, others)), strict=True))
    atomic_write(file, lambda tmp: Path(tmp).write_text(json.dumps(table)))
    return TableRanker(ranker.name, table, ranker.tasks)


class EmbeddingRanker(SourceRanker):
    """Cosine between the target's vector and each source's vector."""

    def fit(self, context: RankContext) -> SourceRanker:
        super().fit(context)
        self.targets_ = {n: self.target_vector(n) for n in context.names}
        self.sources_ = {n: self.source_vector(n) for n in context.names}
        return self

    def target_vector(self, name: str) -> np.ndarray:
        raise NotImplementedError

    def source_vector(self, name: str) -> np.ndarray:
        return self.targets_[name]

    def scores(self, target: str, sources: list[str], draw: int = 0) -> np.ndarray:
        return cosine_scores(self.targets_[target], np.stack([self.sources_[s] for s in sources]))


class DTERanker(EmbeddingRanker):
    """Target DTE vs source DTE, both on the one surrogate with ``method``."""

    method: ClassVar[str]
    is_fute = True

    def target_vector(self, name: str) -> np.ndarray:
        return self.context_.dte(name, self.method, query=True)

    def source_vector(self, name: str) -> np.ndarray:
        return self.context_.dte(name, self.method)  # the same stored vector unless the query's rows differ


@register
class FuteFisher(DTERanker):
    """FUTE with TaskEmb (``fisher``) on the one surrogate (Wang, Xu, Gui and He, ACL Findings 2024):
    the DTE of the target's limited training set vs the DTE of each source."""

    name = "fute-fisher"
    method = "fisher"


@register
class FutePrompt(DTERanker):
    """FUTE with an input-level soft prompt (``prompt``) on the one surrogate (Wang, Xu, Gui and He, 2024)."""

    name = "fute-prompt"
    method = "prompt"


@register
class FutePrefix(DTERanker):
    """FUTE with TuPaTE (``prefix``: a tuned prefix) on the one surrogate (Wang, Xu, Gui and He, 2024)."""

    name = "fute-prefix"
    method = "prefix"


@register
class FuteMTE(EmbeddingRanker):
    """FUTE with a source represented by its model: the target's ``fisher`` DTE vs the MTE of the task
    model fine-tuned on the source (U labeled by that model, embedded on the surrogate)."""

    name = "fute-mte"
    is_fute = True
    keeps_scores = True
    reads_u = True
    surrogate_methods = ("fisher",)

    def target_vector(self, name: str) -> np.ndarray:
        return self.context_.dte(name, "fisher", query=True)

    def source_vector(self, name: str) -> np.ndarray:
        return self.context_.mte(name, self.context_.model_dir("source", name), "fisher")


class OwnModelRanker(EmbeddingRanker):
    """The model-specific original: each dataset embedded with *its own* fine-tuned task model (the
    no-transfer model of the run, trained on the same examples), its trained head included and nothing
    retrained. Every vector then lives in a space of its own; the cosine across those spaces is what the
    original methods compute (same architecture, same coordinates by name), done here on purpose."""

    keeps_scores = True

    def target_vector(self, name: str) -> np.ndarray:
        samples = self.context_.samples(name).take(self.context_.embed_examples, 0)
        return self.own_vector(self.context_.model_dir("target", name), samples)

    @staticmethod
    def own_vector(model_dir: str, samples: Any) -> np.ndarray:
        raise NotImplementedError


@register
class TaskEmbOriginal(OwnModelRanker):
    """TaskEmb as in Vu et al. (2020): the diagonal Fisher on each task's own fine-tuned model, with its own
    trained head (``fute.methods.fisher.classifier_fisher``)."""

    name = "taskemb"

    @staticmethod
    def own_vector(model_dir: str, samples: Any) -> np.ndarray:
        from fute.methods.fisher import classifier_fisher

        return classifier_fisher(model_dir, samples)


@register
class TuPaTEOriginal(OwnModelRanker):
    """TuPaTE as in Zhou et al. (2022): a prefix tuned on each task's own fine-tuned model, whose backbone and
    trained head stay frozen (``fute.methods.prefix.classifier_prefix``)."""

    name = "tupate"

    @staticmethod
    def own_vector(model_dir: str, samples: Any) -> np.ndarray:
        from fute.methods.prefix import classifier_prefix

        return classifier_prefix(model_dir, samples)


def model_features(model_dir: str, samples: Any, max_length: int = 128) -> np.ndarray:
    """The pooled output of a fine-tuned model's backbone (its head left off) on ``samples``, [N, H]."""
    return _feature_encoder(model_dir, max_length)(samples)


def _feature_encoder(model_dir: str, max_length: int = 128) -> Callable[[Any], np.ndarray]:
    """``model_features`` of one model, loaded once, for many sample sets."""
    from fute.methods.training import frozen_features
    from fute.surrogate import Surrogate

    sur = Surrogate(model_dir, max_length=max_length)
    return lambda samples: frozen_features(sur, sur.encode(samples)).numpy().astype(np.float64)


def label_array(samples: Any) -> tuple[np.ndarray, bool]:
    """(labels for LogME, whether regression): class ids for classification, values for regression."""
    if samples.task == "regression":
        return np.asarray(samples.targets, dtype=np.float64), True
    return np.asarray(samples.targets).argmax(axis=1), False


@register
class LogME(SourceRanker):
    """LogME (You et al., ICML 2021): the evidence of a Bayesian linear model of the target's labels on each
    source model's features (``fute.evaluation.logme``), i.e. the pooled backbone output of the task model the
    truth run fine-tuned on that source, computed on the target's training rows (``embed_examples``, seed 0).
    Higher evidence: the source's representation carries the target's labels more linearly. Every (source,
    target) score is computed in ``fit``, source by source, so each source model is loaded once."""

    name = "logme"
    keeps_scores = True
    tasks = frozenset({"classification", "regression"})
    why_not = (
        "LogME is the evidence of a linear model of one label (or value) per example on fixed features; an answer "
        "span is a pair of positions over a varying number of tokens, and no published LogME scores it"
    )

    def fit(self, context: RankContext) -> SourceRanker:
        super().fit(context)
        from fute.evaluation.logme import logme

        rows = {t: context.samples(t).take(context.embed_examples, 0) for t in context.targets_for(self)}
        labels = {t: label_array(r) for t, r in rows.items()}
        self.scores_: dict[str, dict[str, float]] = {t: {} for t in rows}
        for s in context.names:
            encoder = _feature_encoder(context.model_dir("source", s))
            for t in rows:
                if t != s:
                    y, regression = labels[t]
                    self.scores_[t][s] = logme(encoder(rows[t]), y, regression=regression)
        return self

    def scores(self, target: str, sources: list[str], draw: int = 0) -> np.ndarray:
        return np.array([self.scores_[target][s] for s in sources])


@register
class ESMLogME(SourceRanker):
    """ESM-LogME (Schulte et al. 2024, the method of the ``hf-dataset-selector`` package): per source, an
    embedding space map, a linear map (least squares, ridge 1e-3, with a bias) from the base surrogate's pooled
    features to the source-fine-tuned model's, fitted on the source's own training rows; a source's score for
    a target is LogME of the target's labels on its base features mapped by that source's ESM. The source
    models are needed only to fit the maps; scoring a new target needs the base model alone."""

    name = "esm-logme"
    keeps_scores = True
    tasks = LogME.tasks
    why_not = LogME.why_not
    ridge: ClassVar[float] = 1e-3

    def fit(self, context: RankContext) -> SourceRanker:
        super().fit(context)
        from fute.methods.training import frozen_features
        from fute.surrogate import load_surrogate

        self.base_ = load_surrogate(context.surrogate)
        self.maps_ = {}
        for name in context.names:
            rows = context.samples(name).take(context.embed_examples, 0)
            x = frozen_features(self.base_, self.base_.encode(rows)).numpy().astype(np.float64)
            z = model_features(context.model_dir("source", name), rows)
            self.maps_[name] = fit_linear_map(x, z, self.ridge)
        return self

    def scores(self, target: str, sources: list[str], draw: int = 0) -> np.ndarray:
        from fute.evaluation.logme import logme
        from fute.methods.training import frozen_features

        ctx = self.context_
        samples = ctx.samples(target).take(ctx.embed_examples, 0)
        x = frozen_features(self.base_, self.base_.encode(samples)).numpy().astype(np.float64)
        y, regression = label_array(samples)
        x1 = np.hstack([x, np.ones((len(x), 1))])
        return np.array([logme(x1 @ self.maps_[s], y, regression=regression) for s in sources])


def fit_linear_map(x: np.ndarray, z: np.ndarray, ridge: float) -> np.ndarray:
    """W minimising |[x, 1] W - z|^2 + ridge |W|^2 (the bias unpenalised), [D + 1, H]."""
    x1 = np.hstack([x, np.ones((len(x), 1))])
    reg = ridge * np.eye(x1.shape[1])
    reg[-1, -1] = 0.0
    return np.linalg.solve(x1.T @ x1 + reg, x1.T @ z)


@register
class TextEmb(DTERanker):
    """TextEmb (Vu et al. 2020): the mean surrogate representation of each dataset's inputs; no labels."""

    name = "textemb"
    method = "textemb"
    is_fute = False  # a baseline that shares the DTE machinery, not a FUTE method: no paired-test rows of its own


@register
class DataSize(SourceRanker):
    """DataSize: bigger source training sets first (the full training split's size), whatever the target."""

    name = "datasize"

    def scores(self, target: str, sources: list[str], draw: int = 0) -> np.ndarray:
        return np.array([float(self.context_.truth["datasets"][s]["train_size"]) for s in sources])


@register
class CurveGrad(SourceRanker):
    """CurveGrad (Bingel & Søgaard 2017): the gradient of the source's training-loss curve. They found
    gains likelier from auxiliary tasks whose curve has *not* plateaued; without their learned
    regressor, the score is minus the least-squares slope of the (moving-average smoothed) loss over
    the second half of source training: a still-falling curve ranks first."""

    name = "curvegrad"

    def fit(self, context: RankContext) -> SourceRanker:
        super().fit(context)
        self.slopes_ = {n: curve_slope(context.truth["source_losses"][n]) for n in context.names}
        return self

    def scores(self, target: str, sources: list[str], draw: int = 0) -> np.ndarray:
        return np.array([-self.slopes_[s] for s in sources])


def curve_slope(losses: list[float], window: int = 5) -> float:
    """Least-squares slope of the smoothed loss per unit of training progress, over its second half."""
    x = np.asarray(losses, dtype=np.float64)
    if len(x) < 4:
        return 0.0
    w = min(window, len(x) // 2)
    smooth = np.convolve(x, np.ones(w) / w, mode="valid")
    half = smooth[len(smooth) // 2 :]
    if len(half) < 2:
        return 0.0
    t = np.linspace(0.5, 1.0, len(half))
    return float(np.polyfit(t, half, 1)[0])


@register
class Random(SourceRanker):
    """A random order (the floor): metrics are means over ``draws`` seeded permutations."""

    name = "random"
    draws = 1000

    def scores(self, target: str, sources: list[str], draw: int = 0) -> np.ndarray:
        return np.random.default_rng([draw, *target.encode()]).random(len(sources))


def target_task(truth: dict[str, Any], name: str) -> str | None:
    """A truth's target's task type, from the metric it is scored by (None where the truth records none)."""
    from fute.evaluation.transfer.data import METRIC

    metric = truth.get("metric", {}).get(name)
    return {m: task for task, m in METRIC.items()}[metric] if metric else None


def ranks(ranker: SourceRanker, truth: dict[str, Any], name: str) -> bool:
    """Whether ``ranker`` is defined for target ``name`` (its task type among the ranker's ``tasks``)."""
    task = target_task(truth, name)
    return task is None or task in ranker.tasks


def truth_tasks(truth: dict[str, Any]) -> frozenset[str]:
    """The task types of a truth's targets."""
    return frozenset(t for n in truth.get("metric", {}) if (t := target_task(truth, n)))


def rank_all(rankers: list[SourceRanker], truth: dict[str, Any]) -> dict[str, dict[str, list[list[str]]]]:
    """Every fitted ranker's orders of all other datasets, per target it is defined for (a list of draws each)."""
    orders: dict[str, dict[str, list[list[str]]]] = {}
    names = list(truth["datasets"])
    for r in rankers:
        targets = [t for t in names if ranks(r, truth, t)]
        orders[r.name] = {t: [r.order(t, [s for s in names if s != t], d) for d in range(r.draws)] for t in targets}
    return orders
