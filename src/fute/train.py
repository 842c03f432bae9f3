"""Fine-tuning a HF sequence classifier on Samples: the task models that benchmarks embed and score."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

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
        with loading("source model", str(backbone_from)):
            trained = AutoModelForSequenceClassification.from_pretrained(str(backbone_from))
        model.base_model.load_state_dict(trained.base_model.state_dict())
        del trained
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
        model.config.pad_token_id = tok.pad_token_id
    dev = resolve_device(device)
    model.to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)
    rng = np.random.default_rng(cfg.seed)
    steps = max(1, round(cfg.epochs * -(-len(samples) // cfg.batch_size)))
    order = np.concatenate([rng.permutation(len(samples)) for _ in range(int(np.ceil(cfg.epochs)) + 1)])
    losses: list[float] = []
    model.train()
    for step in tqdm(range(steps), desc=f"fine-tune on {samples.short_name}", disable=not progress, leave=False):
        idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
        enc = tokenize_rows(tok, samples, idx, cfg.max_length).to(dev)
        logits = model(**enc).logits
        target = torch.from_numpy(np.asarray(samples.targets[idx])).to(dev)
        if regression:
            loss = ((logits[:, 0] - target) ** 2).mean()
        else:
            loss = -(target * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return model.eval(), tok, losses


def load_frozen_classifier(model_dir: str | Path, device: Any = "auto") -> tuple[Any, Any]:
    """A saved classifier (on ``device``) and its tokenizer, in eval mode with every weight frozen (to be
    measured, not trained)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from fute.device import resolve_device
    from fute.surrogate import _quiet_transformers

    _quiet_transformers()
    with loading("classifier", str(model_dir)):
        model = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).to(resolve_device(device)).eval()
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    for p in model.parameters():
        p.requires_grad_(False)
    return model, tokenizer


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
