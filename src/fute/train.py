"""Fine-tuning the task models that benchmarks embed and score: a HF sequence classifier on classification and
regression Samples, an extractive QA model (start and end heads) on QA Samples."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from fute.errors import ConfigError
from fute.paths import loading
from fute.samples import Samples


@dataclass
class FinetuneConfig:
    epochs: float = 1.0
    learning_rate: float = 5e-5
    batch_size: int = 32
    max_length: int = 128
    seed: int = 0


def finetune_classifier(
    base: str, samples: Samples, out: str | Path, config: FinetuneConfig | None = None, *, progress: bool = True
) -> Path:
    """Fine-tune ``base`` (hub id or folder) with a fresh head on ``samples``; save to ``out`` atomically."""
    model, tok, _ = train_classifier(base, samples, config, progress=progress)
    return save_classifier(model, tok, out)


def train_classifier(
    base: str,
    samples: Samples,
    config: FinetuneConfig | None = None,
    *,
    backbone_from: str | Path | None = None,
    progress: bool = True,
    device: Any = "auto",
) -> tuple[Any, Any, list[float]]:
    """Fine-tune ``base`` with a fresh head on ``samples``: (model in eval mode, tokenizer, loss per step).

    ``backbone_from``: a classifier saved from ``base`` (e.g. after intermediate training on a source
    task) whose backbone replaces ``base``'s before training; the head is fresh all the same, seeded
    alike whatever the backbone, so that transfer runs differ only in what the backbone learned.

    Classification uses cross-entropy on the (possibly soft) targets with the label names as
    ``id2label``; regression a one-output head with squared error. Trained in float32 on ``device``
    (``fute.device``); the model comes back on that device.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from fute.device import resolve_device
    from fute.surrogate import _quiet_transformers

    _quiet_transformers()
    cfg = config or FinetuneConfig()
    torch.manual_seed(cfg.seed)
    regression = samples.task == "regression"
    kw: dict[str, Any] = (
        {"num_labels": 1, "problem_type": "regression"}
        if regression
        else {
            "num_labels": len(samples.label_names),
            "id2label": dict(enumerate(samples.label_names)),
            "label2id": {n: i for i, n in enumerate(samples.label_names)},
            "problem_type": None,
        }
    )
    # a fresh head even when base is a classifier already (another label set: other sizes)
    with loading("task model base", base):
        model = AutoModelForSequenceClassification.from_pretrained(base, ignore_mismatched_sizes=True, **kw)
        tok = AutoTokenizer.from_pretrained(base)
    if backbone_from is not None:
        copy_backbone(model, backbone_from)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
        model.config.pad_token_id = tok.pad_token_id
    dev = resolve_device(device)
    model.to(dev)

    def loss_of(idx: np.ndarray) -> torch.Tensor:
        enc = tokenize_rows(tok, samples, idx, cfg.max_length).to(dev)
        logits = model(**enc).logits
        target = torch.from_numpy(np.asarray(samples.targets[idx])).to(dev)
        if regression:
            return ((logits[:, 0] - target) ** 2).mean()
        return -(target * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()

    losses = _optimize(model, len(samples), cfg, loss_of, f"fine-tune on {samples.short_name}", progress)
    return model.eval(), tok, losses


def train_task_model(
    base: str,
    samples: Samples,
    config: FinetuneConfig | None = None,
    *,
    backbone_from: str | Path | None = None,
    progress: bool = True,
    device: Any = "auto",
) -> tuple[Any, Any, list[float]]:
    """``train_classifier`` for classification and regression; for QA, an extractive QA model (``base`` with fresh
    start and end heads) trained on each question's window that holds its answer (``fute.qa.fit_windows``, the
    windows the surrogate reads) with the mean of the start and end cross-entropies (Devlin et al., 2019)."""
    if samples.task != "qa":
        return train_classifier(base, samples, config, backbone_from=backbone_from, progress=progress, device=device)
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from fute.device import resolve_device
    from fute.surrogate import _quiet_transformers

    _quiet_transformers()
    cfg = config or FinetuneConfig()
    torch.manual_seed(cfg.seed)
    with loading("task model base", base):
        model = AutoModelForQuestionAnswering.from_pretrained(base)
        tok = AutoTokenizer.from_pretrained(base)
    if backbone_from is not None:
        copy_backbone(model, backbone_from)
    windows, enc, starts, ends = qa_inputs(tok, samples, cfg.max_length)
    dev = resolve_device(device)
    model.to(dev)

    def loss_of(idx: np.ndarray) -> torch.Tensor:
        batch = pad_rows(tok, enc, idx).to(dev)
        return model(**batch, start_positions=starts[idx].to(dev), end_positions=ends[idx].to(dev)).loss

    losses = _optimize(model, len(windows), cfg, loss_of, f"fine-tune on {samples.short_name}", progress)
    return model.eval(), tok, losses


def qa_inputs(tok: Any, samples: Samples, max_length: int) -> tuple[Samples, Any, torch.Tensor, torch.Tensor]:
    """What a QA task model trains and is measured on: each question's window that holds its answer
    (``fute.qa.fit_windows``), its unpadded encoding (``pad_rows`` batches it), and the answers' start and end
    tokens."""
    from fute.qa import answer_positions, fit_windows

    windows, _ = fit_windows(samples, tok, max_length)
    enc = tok(
        windows.texts, windows.text_pairs, truncation="only_second", max_length=max_length, return_offsets_mapping=True
    )
    starts, ends = (torch.tensor(p) for p in answer_positions(enc, windows))
    return windows, enc, starts, ends


def _optimize(
    model: Any, rows: int, cfg: FinetuneConfig, loss_of: Callable[[np.ndarray], Any], desc: str, progress: bool
) -> list[float]:
    """AdamW over ``cfg.epochs`` passes of seeded shuffles of ``rows`` rows, ``loss_of(batch indices)`` a step's
    loss: the loss of every step."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)
    rng = np.random.default_rng(cfg.seed)
    steps = max(1, round(cfg.epochs * -(-rows // cfg.batch_size)))
    order = np.concatenate([rng.permutation(rows) for _ in range(int(np.ceil(cfg.epochs)) + 1)])
    losses: list[float] = []
    model.train()
    for step in tqdm(range(steps), desc=desc, disable=not progress, leave=False):
        loss = loss_of(order[step * cfg.batch_size : (step + 1) * cfg.batch_size])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def copy_backbone(model: Any, folder: str | Path) -> None:
    """Put the backbone of a task model saved in ``folder`` (of ``model``'s base; a classifier or a QA model, as
    its config's architecture says) into ``model``, whose head stays as it is. The pooler alone may be missing on
    one side (a QA model has none): a missing one keeps ``model``'s own, an extra one is not used."""
    import transformers
    from transformers import AutoConfig

    with loading("source model", str(folder)):
        archs = AutoConfig.from_pretrained(str(folder)).architectures or ["AutoModel"]
        trained = getattr(transformers, archs[0], transformers.AutoModel).from_pretrained(str(folder))
    state, own = trained.base_model.state_dict(), model.base_model.state_dict()
    lacking = [k for k in own if k not in state and not k.startswith("pooler.")]
    lacking += [k for k in own if k in state and state[k].shape != own[k].shape]
    if lacking:
        raise ConfigError(
            f"{folder}: its backbone is not of this task model's base (e.g. its weight {lacking[0]} is missing or of "
            "another shape); train source and target from the same base"
        )
    model.base_model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    del trained


def pad_rows(tok: Any, enc: Any, idx: np.ndarray) -> Any:
    """Rows ``idx`` of an unpadded encoding, padded into tensors (the model's inputs only)."""
    keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc]
    return tok.pad({k: [enc[k][int(i)] for i in idx] for k in keys}, return_tensors="pt")


def load_frozen_classifier(model_dir: str | Path, device: Any = "auto") -> tuple[Any, Any]:
    """A saved task model (a classifier, or a QA model: the class its config names) on ``device`` and its
    tokenizer, in eval mode with every weight frozen (to be measured, not trained)."""
    import transformers
    from transformers import AutoConfig, AutoTokenizer

    from fute.device import resolve_device
    from fute.surrogate import _quiet_transformers

    _quiet_transformers()
    with loading("classifier", str(model_dir)):
        archs = AutoConfig.from_pretrained(str(model_dir)).architectures or []
        qa = any("QuestionAnswering" in a for a in archs)
        auto = transformers.AutoModelForQuestionAnswering if qa else transformers.AutoModelForSequenceClassification
        model = auto.from_pretrained(str(model_dir)).to(resolve_device(device)).eval()
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    for p in model.parameters():
        p.requires_grad_(False)
    return model, tokenizer


def span_terms_of(out: Any, mask: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """log p(start) + log p(end) of each row's answer under a QA model's own start and end logits (over its real
    tokens): the span task's log-likelihood, as TaskEmb and TuPaTE read a QA model's own head."""
    from fute.surrogate import span_log_likelihood

    logits = torch.stack([out.start_logits, out.end_logits], dim=-1)
    return span_log_likelihood(logits, mask.bool(), starts, ends)


def tokenize_rows(tok: Any, samples: Samples, idx: Any, max_length: int) -> Any:
    """The padded, truncated tensors of rows ``idx`` of ``samples`` (texts, with their pairs where they have them)."""
    pairs = None if samples.text_pairs is None else [samples.text_pairs[j] for j in idx]
    return tok(
        [samples.texts[j] for j in idx],
        pairs,
        truncation=True,
        max_length=max_length,
        padding=True,
        return_tensors="pt",
    )


def save_classifier(model: Any, tokenizer: Any, out: str | Path) -> Path:
    """Save a classifier and its tokenizer to ``out`` in one step (a temporary folder renamed into place)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out


@torch.no_grad()
def evaluate_classifier(path: str | Path, samples: Samples, *, batch_size: int = 64, device: Any = "auto") -> float:
    """Accuracy (classification) or Pearson r (regression) of a saved classifier on samples."""
    from fute.targets.hf_classifier import HFClassifier

    return score_predictions(HFClassifier(str(path), batch_size=batch_size, device=device), samples)


def score_predictions(classifier: Any, samples: Samples) -> float:
    """Accuracy (classification) or Pearson r (regression) of an ``HFClassifier`` on labeled samples."""
    pred = classifier.predict(samples.texts, samples.text_pairs, progress=False, cache=False)
    if samples.task == "regression":
        return float(np.corrcoef(pred, samples.targets)[0, 1])
    return float((pred.argmax(1) == samples.targets.argmax(1)).mean())


def score_answers(model: Any, tok: Any, samples: Samples, max_length: int, device: Any = "auto") -> dict[str, float]:
    """SQuAD F1 and exact match (means over questions, 0 to 1) of a QA model's best answers (``HFQuestionAnswerer``
    with one answer, read over every window) against each question's gold answers (``Samples.gold``; the first
    answer where there is no list)."""
    from fute.evaluation.metrics import squad_exact, squad_f1
    from fute.targets.hf_qa import HFQuestionAnswerer

    reader = HFQuestionAnswerer(
        "task model", model=model, tokenizer=tok, max_length=max_length, n_best=1, device=device
    )
    spans = reader.predict(samples.texts, samples.text_pairs, progress=False, cache=False)[:, 0]
    predicted = [context[int(c0) : int(c1)] for context, (c0, c1, _) in zip(samples.text_pairs, spans, strict=True)]
    gold = samples.gold or [(text,) for _, text in samples.answers]
    return {
        "f1": float(np.mean([squad_f1(p, g) for p, g in zip(predicted, gold, strict=True)])),
        "exact": float(np.mean([squad_exact(p, g) for p, g in zip(predicted, gold, strict=True)])),
    }
