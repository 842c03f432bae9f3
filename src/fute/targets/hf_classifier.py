"""A fine-tuned HF sequence classifier (any architecture): its softmax is the soft label."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from fute.device import dtype_name
from fute.targets.base import TargetModel, in_input_order, length_batches, load_local_model


class HFClassifier(TargetModel):
    """``AutoModelForSequenceClassification`` by hub id or local folder; a 1-output head is regression. It runs
    on ``device`` in ``dtype`` (``fute.device``: ``auto`` is bfloat16 on a GPU that has it, float32 on the CPU)."""

    backend = "hf-classifier"
    runs_locally = True

    def __init__(
        self,
        name_or_path: str,
        *,
        batch_size: int = 32,
        max_length: int = 256,
        model: Any = None,
        tokenizer: Any = None,
        device: Any = "auto",
        dtype: Any = "auto",
    ) -> None:
        load_local_model(
            self, name_or_path, "AutoModelForSequenceClassification", "classifier", model, tokenizer, device, dtype
        )
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.batch_size = batch_size
        self.max_length = max_length
        cfg = self.model.config
        self.task = "regression" if cfg.num_labels == 1 or cfg.problem_type == "regression" else "classification"
        self.label_names = (
            () if self.task == "regression" else tuple(str(cfg.id2label.get(i, i)) for i in range(cfg.num_labels))
        )

    def identity(self) -> dict[str, Any]:
        d = {
            "backend": self.backend,
            "model": self.name,
            "weights_sha256": self._hash,
            "labels": list(self.label_names),
            "task": self.task,
            "max_length": self.max_length,
        }
        if self.dtype != torch.float32:  # float32 identities stay as they were written before dtypes
            d["dtype"] = dtype_name(self.dtype)
        return d

    @torch.no_grad()
    def _predict(self, texts: list[str], text_pairs: list[str] | None) -> np.ndarray:
        """Tokenized once, then run in batches of similar length (``length_batches``: less padding to compute)."""
        enc = self.tokenizer(texts, text_pairs, truncation=True, max_length=self.max_length)
        batches = length_batches([len(x) for x in enc["input_ids"]], self.batch_size)
        out = []
        for rows in batches:
            batch = self.tokenizer.pad({k: [v[j] for j in rows] for k, v in enc.items()}, return_tensors="pt")
            logits = self.model(**batch.to(self.device)).logits.float().cpu().double()
            out.append((logits[:, 0] if self.task == "regression" else torch.softmax(logits, dim=-1)).numpy())
        return in_input_order(np.concatenate(out), batches)
