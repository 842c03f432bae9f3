"""Target models: black boxes that give label distributions for inputs (lm-eval-harness style: one tiny
interface, capabilities declared, backends registered by name and imported lazily)."""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from tqdm.auto import tqdm

from fute.corpus import Corpus
from fute.device import free_cached_memory, is_out_of_memory
from fute.errors import CapabilityError, ConfigError
from fute.hashing import content_hash
from fute.paths import atomic_write, fute_home
from fute.samples import Samples

LABEL_SCORES = "label_scores"  # full label distributions (softmax, verbalizer log-probs)
TEXT_ONLY = "text"  # only an answer string: one-hot labels
TOKEN_LOGPROBS = "token_logprobs"  # log-probabilities of any given text (perplexity): ``text_nll``
WORD_LOGPROBS = "word_logprobs"  # log p(given word | a context of turns): ``context`` and ``score_words``

# A capability is a promise that these methods of the interface work; a target that does not declare one
# keeps the base class's methods, which raise a one-line CapabilityError (the conformance check holds both).
CAPABILITY_METHODS: dict[str, tuple[str, ...]] = {
    TOKEN_LOGPROBS: ("text_nll",),
    WORD_LOGPROBS: ("context", "score_words"),
}


# What one more forward pass costs besides its tokens, in tokens (streaming the weights once): a setting of the
# batching, not a measurement (docs/speed.md, "Labeling speed", explains the choice).
FORWARD_OVERHEAD_TOKENS = 64


def length_batches(lengths: list[int], max_rows: int, overhead: float = FORWARD_OVERHEAD_TOKENS) -> list[list[int]]:
    """Indices grouped into batches of at most ``max_rows`` that cost the fewest padded tokens plus ``overhead``
    per batch: sorted by length (stable), cut where the next length's jump costs more padding than another
    forward pass (dynamic programming over the sorted lengths: docs/speed.md has what it saves against fixed
    batches). Longest batch first, so that an
    out-of-memory error comes at once. For any local backend that pads its batches."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    sorted_len = np.asarray([lengths[i] for i in order], dtype=float)
    n = len(order)
    best, cut = np.zeros(n + 1), np.zeros(n + 1, dtype=int)
    for j in range(1, n + 1):  # best[j]: the cheapest split of the j shortest; the last batch is (cut[j], j]
        starts = np.arange(max(0, j - max_rows), j)
        costs = best[starts] + overhead + (j - starts) * sorted_len[j - 1]
        k = int(np.argmin(costs))
        best[j], cut[j] = costs[k], starts[k]
    batches, j = [], n
    while j:
        batches.append(order[cut[j] : j])
        j = int(cut[j])
    return batches


def load_local_model(
    target: TargetModel,
    name_or_path: str,
    auto_class: str,
    what: str,
    model: Any,
    tokenizer: Any,
    device: Any,
    dtype: Any,
) -> None:
    """A local target's weights by hub id or folder (``transformers.<auto_class>``), or the ``model`` and
    ``tokenizer`` given, placed on ``device`` in ``dtype`` (``fute.device``: ``auto`` is bfloat16 on a GPU that has
    it, float32 on the CPU), in eval mode: sets ``name``, ``device``, ``dtype``, ``model``, ``tokenizer`` and the
    weights hash of ``target``."""
    import transformers

    from fute.device import place, resolve_device, target_dtype
    from fute.paths import checked_tokenizer, loading, model_source
    from fute.surrogate import _quiet_transformers, weights_hash

    _quiet_transformers()
    target.name = name_or_path
    target.device = resolve_device(device)
    target.dtype = target_dtype(dtype, target.device, model)
    if model is None:
        source = model_source(name_or_path, what)
        with loading(what, name_or_path):
            model = getattr(transformers, auto_class).from_pretrained(source, dtype=target.dtype)
            tokenizer = checked_tokenizer(transformers.AutoTokenizer.from_pretrained(source))
    target.model = place(model, target.device, target.dtype).eval()
    target.tokenizer = tokenizer
    target._hash = weights_hash(model)


def in_input_order(values: Any, batches: list[list[int]]) -> np.ndarray:
    """Results computed batch by batch (``length_batches``), concatenated in that order, put back in the inputs'."""
    return np.asarray(values)[np.argsort([j for rows in batches for j in rows], kind="stable")]


class TargetModel(ABC):
    """A model to embed: ``predict(texts, pairs) -> [N, C]`` label distributions (or [N] values).

    Subclasses set ``backend``, ``capabilities`` and ``label_names`` and implement ``_predict`` on
    one chunk and ``identity`` (JSON: what makes two targets give the same labels). The optional requests
    (``text_nll``, ``context`` + ``score_words``) belong to the interface too, as lm-eval-harness's
    ``loglikelihood`` does: a backend that declares their capability overrides them.
    """

    backend: ClassVar[str]
    capabilities: ClassVar[frozenset[str]] = frozenset({LABEL_SCORES})
    needs_prompt: ClassVar[bool] = False  # an LLM: load_target(model, prompt=...) passes the prompt on
    runs_locally: ClassVar[bool] = False  # its weights are here: load_target passes device= and dtype= on
    label_names: tuple[str, ...] = ()
    task: str = "classification"
    # where ``predict`` keeps its finished chunks (default $FUTE_HOME/labels): a benchmark puts them in its run
    # folder, so that labels of U, the costly part of an MTE, travel with a commit to the next machine
    label_cache: Path | None = None

    @abstractmethod
    def _predict(self, texts: list[str], text_pairs: list[str] | None) -> np.ndarray:
        """Label distributions [n, C] (rows sum to 1) or regression values [n] for one chunk."""

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """What the labels depend on (backend, model + weights hash or endpoint, prompt)."""

    def can(self, capability: str) -> bool:
        """Whether this target declares ``capability`` (so its methods in ``CAPABILITY_METHODS`` work)."""
        return capability in self.capabilities

    def text_nll(self, texts: list[str]) -> np.ndarray:
        """Mean negative log-likelihood per token of each text, [n] (SPELL's log-perplexity); needs
        ``token_logprobs``."""
        raise self._cannot(TOKEN_LOGPROBS)

    def context(self, turns: list[str]) -> str:
        """The model's input for alternating user/assistant ``turns``, ready for an answer; needs
        ``word_logprobs``."""
        raise self._cannot(WORD_LOGPROBS)

    def score_words(self, contexts: list[str], words: list[str] | None = None) -> np.ndarray:
        """log p(word | context) for every (context, word), [n, words]; needs ``word_logprobs``."""
        raise self._cannot(WORD_LOGPROBS)

    def _cannot(self, capability: str) -> CapabilityError:
        return CapabilityError(
            f"{self.display_name} ({self.backend}) does not give {capability}; use a backend that does (hf-lm)"
        )

    def identity_hash(self) -> str:
        return content_hash(self.identity(), 16)

    def predict(
        self,
        texts: Sequence[str],
        text_pairs: Sequence[str] | None = None,
        *,
        chunk_size: int = 64,
        progress: bool = True,
        cache: bool = True,
    ) -> np.ndarray:
        """Labels for all inputs, chunk by chunk; each finished chunk is cached on disk, so an interrupted
        run resumes where it stopped and a repeated one costs nothing.

        Consecutive uncached chunks go to ``_predict`` together, up to the target's ``batch_size`` rows, so a
        batch size above ``chunk_size`` (a GPU) is used whole; each chunk is still saved under its own key."""
        texts = list(texts)
        pairs = None if text_pairs is None else list(text_pairs)
        folder = Path(self.label_cache or fute_home() / "labels") / self.identity_hash()
        starts = range(0, len(texts), chunk_size)
        files = [
            folder / f"{content_hash(self._slice(texts, pairs, i, chunk_size), 24, ascii=False)}.npy" for i in starts
        ]
        parts: list[np.ndarray | None] = [np.load(f) if cache and f.is_file() else None for f in files]
        bar = tqdm(
            total=len(texts), desc=f"labeling with {self.display_name}", unit="ex", disable=not progress, leave=False
        )
        bar.update(sum(len(p) for p in parts if p is not None))
        for group in self._groups([k for k, p in enumerate(parts) if p is None], chunk_size):
            lo, hi = group[0] * chunk_size, min(len(texts), (group[-1] + 1) * chunk_size)
            t, p = self._slice(texts, pairs, lo, hi - lo)
            values = np.asarray(self._predict_fitting(t, p), dtype=np.float64)
            self._check(values, len(t))
            for k in group:  # each chunk saved as it would be alone: the keys do not depend on the grouping
                parts[k] = values[k * chunk_size - lo : (k + 1) * chunk_size - lo]
                if cache:
                    _atomic_save(files[k], parts[k])
            bar.update(len(t))
        bar.close()
        if not parts:
            return np.zeros(self.output_shape(0))
        return np.concatenate(parts, axis=0)

    @staticmethod
    def _slice(texts: list[str], pairs: list[str] | None, start: int, n: int) -> list[Any]:
        return [texts[start : start + n], None if pairs is None else pairs[start : start + n]]

    def _groups(self, missing: list[int], chunk_size: int) -> list[list[int]]:
        """Runs of consecutive missing chunks, cut at ``batch_size`` rows (at least one chunk each)."""
        per = max(1, int(getattr(self, "batch_size", 1) or 1) // chunk_size)
        groups: list[list[int]] = []
        for k in missing:
            if groups and groups[-1][-1] == k - 1 and len(groups[-1]) < per:
                groups[-1].append(k)
            else:
                groups.append([k])
        return groups

    def _predict_fitting(self, texts: list[str], text_pairs: list[str] | None) -> np.ndarray:
        """``_predict`` at a batch size the device holds: out of memory, the batch is halved (with one warning)
        and the chunk computed again; labels do not depend on the batch size (it is not in ``identity``)."""
        while True:
            try:
                return self._predict(texts, text_pairs)
            except Exception as e:
                if not is_out_of_memory(e):
                    raise
                free_cached_memory()
                size = int(getattr(self, "batch_size", 1) or 1)
                if size <= 1:
                    raise ConfigError(
                        f"{self.display_name}: the device ran out of memory with one input at a time; lower the "
                        "target's max_length, use a smaller model or dtype, or use --device cpu"
                    ) from None
                self.batch_size = max(1, size // 2)
                warnings.warn(
                    f"{self.display_name}: out of memory at batch size {size}; going on at {self.batch_size}",
                    stacklevel=2,
                )

    def label(self, corpus: Corpus, **kw: Any) -> Samples:
        """The corpus labeled by this model: soft labels (or values) as Samples, ready to embed."""
        values = self.predict(corpus.texts, corpus.text_pairs, **kw)
        info = {"target": self.identity(), "corpus": corpus.card()}
        source = f"{corpus.name} labeled by {self.display_name}"
        if self.task == "regression":
            return Samples(
                list(corpus.texts), "regression", corpus.text_pairs, values.astype(np.float32), source=source, info=info
            )
        return Samples.from_distributions(
            corpus.texts, values, self.label_names, corpus.text_pairs, source=source, info=info
        )

    @property
    def display_name(self) -> str:
        return str(self.identity().get("model", self.backend))

    def output_shape(self, n: int) -> tuple[int, ...]:
        """The shape of ``predict``'s result for ``n`` inputs: [n, C] distributions, [n] regression values."""
        return (n,) if self.task == "regression" else (n, len(self.label_names))

    def _check(self, part: np.ndarray, n: int) -> None:
        want = self.output_shape(n)
        if part.shape != want:
            raise ConfigError(f"{self.display_name}: returned labels of shape {part.shape}, expected {want}")
        if not np.isfinite(part).all():
            raise ConfigError(f"{self.display_name}: returned non-finite label scores")


def _atomic_save(path: Path, array: np.ndarray) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.save(f, array)

    atomic_write(path, write)


class MappedTarget(TargetModel):
    """Another target's label distributions summed into a dataset's label set (``targets.prompts.label_map``):
    a 3-way NLI prompt read as 2-way RTE (not_entailment = neutral + contradiction), so that an MTE and the
    DTE it is compared with share one label space. Labels come from the inner target's own cache."""

    backend = "mapped"  # an instance takes its inner target's, so that cards read alike

    def __init__(self, inner: TargetModel, label_names: Sequence[str], mapping: list[list[int]]) -> None:
        self.inner, self.label_names, self.mapping = inner, tuple(label_names), mapping
        self.backend = inner.backend  # type: ignore[misc]
        self.task = inner.task
        self.capabilities = inner.capabilities  # type: ignore[misc]  # what the inner target can do
        self.prompt = getattr(inner, "prompt", None)
        self.label_cache = inner.label_cache

    def identity(self) -> dict[str, Any]:
        """The inner target's identity (model, prompt, ...) plus the label set its distributions are summed into."""
        return {**self.inner.identity(), "mapped_to": list(self.label_names), "mapping": self.mapping}

    @property
    def display_name(self) -> str:
        return f"{self.inner.display_name} as {'/'.join(self.label_names)}"

    def _predict(self, texts: list[str], text_pairs: list[str] | None) -> np.ndarray:
        from fute.targets.prompts import collapse

        # the inner target's own cached labels: an LLM labels U once, whichever label set reads it
        return collapse(self.inner.predict(texts, text_pairs, progress=False), self.mapping)
