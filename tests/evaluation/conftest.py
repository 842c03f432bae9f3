"""A tiny transfer run (three small datasets, the tiny encoder as task model) shared by the bench tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fute.evaluation.transfer.data import TransferConfig
from fute.evaluation.transfer.truth import run_truth
from tests.conftest import WORDS, write_jsonl


def write_dataset(
    root: Path,
    name: str,
    category: str,
    *,
    flip: bool = False,
    pair: bool = False,
    regression: bool = False,
    seed: int = 0,
    splits: tuple[str, ...] = ("train", "dev"),
) -> Path:
    """A small dataset folder in the shared data format: 'good' words decide the label."""
    folder = root / name
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for split in splits:
        rows = []
        for i in range(24):
            y = i % 2
            text = " ".join([*rng.choice(WORDS[:20], 4), rng.choice(["good", "great"] if y else ["bad", "awful"])])
            row: dict = {"text": text}
            if pair:
                row["text_pair"] = " ".join(rng.choice(WORDS, 3))
            row["label"] = float(y * 4 + rng.uniform()) if regression else ["negative", "positive"][y ^ int(flip)]
            rows.append(row)
        write_jsonl(folder / f"{split}.jsonl", rows)
    (folder / "dataset.json").write_text(json.dumps({"name": name, "category": category}))
    return folder


def write_qa_dataset(root: Path, name: str, *, seed: int = 0, splits: tuple[str, ...] = ("train", "dev")) -> Path:
    """A small extractive QA folder in SQuAD form: the answer is the city in a context of random words, some contexts
    longer than the tiny model's window; a scored row has two gold answers (SQuAD's dev form)."""
    folder = root / name
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for split in splits:
        rows = []
        for i in range(24):
            city = ["paris", "london", "rome"][i % 3]
            before, after = (" ".join(rng.choice(WORDS[:30], k)) for k in (int(rng.integers(2, 30)), 3))
            context = f"{before} the city {city} is big {after}"
            start = context.index(f"city {city}") + 5
            answers = {"text": [city], "answer_start": [start]}
            if split != "train":
                answers = {"text": [city, f"city {city}"], "answer_start": [start, start - 5]}
            rows.append({"question": "what city is big", "context": context, "answers": answers})
        write_jsonl(folder / f"{split}.jsonl", rows)
    (folder / "dataset.json").write_text(json.dumps({"name": name, "category": "qa"}))
    return folder


def tiny_config(model: Path) -> TransferConfig:
    return TransferConfig(
        model=str(model),
        source_examples=16,
        target_examples=8,
        dev_examples=8,
        source_epochs=1,
        target_epochs=1,
        batch_size=8,
        max_length=32,
    )


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("transfer-data")
    return [
        write_dataset(root, "pos", "sentiment"),
        write_dataset(root, "neg", "sentiment", flip=True, seed=1),
        write_dataset(root, "sim", "similarity", pair=True, regression=True, seed=2),
    ]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_paths, datasets) -> tuple[dict, Path]:
    run_dir = tmp_path_factory.mktemp("transfer-run")
    truth = run_truth(
        datasets, tiny_config(tiny_paths["encoder"]), run_dir=run_dir, progress=False, echo=lambda _: None
    )
    return truth, run_dir
