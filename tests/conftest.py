"""Shared fixtures: tiny random-init surrogates (encoder, decoder, encoder-decoder) built on the spot, and a
fake OpenAI-compatible server."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test reaches for the hub: a hub id fails at once, as offline
# Tests never touch the user's $FUTE_HOME (~/.cache/fute): label caches, dequantized LLMs and stores go to a
# folder of the checkout (ignored by git), kept between runs so the dequantized test LLM is made once.
os.environ["FUTE_HOME"] = str(__import__("pathlib").Path(__file__).resolve().parents[1] / ".fute-test-home")
os.environ.pop("FUTE_STORE", None)

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from fute.checks import WORDS, toy_classification, toy_qa, toy_regression
from fute.surrogate import Surrogate

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def build_tokenizer(folder: Path):
    """A word-level fast tokenizer with BERT-style [CLS] a [SEP] b [SEP] templates and offsets."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[EOS]"]
    vocab = {w: i for i, w in enumerate(specials + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        eos_token="[EOS]",
        model_max_length=64,
    )
    fast.save_pretrained(folder)
    return fast


def build_model(kind: str, folder: Path) -> Path:
    from transformers import BertConfig, BertModel, GPT2Config, GPT2Model, T5Config, T5Model

    torch.manual_seed(0)
    tok = build_tokenizer(folder)
    n = len(tok)
    if kind == "encoder":
        model = BertModel(
            BertConfig(
                vocab_size=n,
                hidden_size=32,
                num_hidden_layers=2,
                num_attention_heads=2,
                intermediate_size=64,
                max_position_embeddings=96,
                pad_token_id=0,
            )
        )
    elif kind == "decoder":
        model = GPT2Model(
            GPT2Config(
                vocab_size=n,
                n_embd=32,
                n_layer=2,
                n_head=2,
                n_positions=96,
                pad_token_id=0,
                eos_token_id=4,
                bos_token_id=4,
            )
        )
    else:
        model = T5Model(
            T5Config(
                vocab_size=n,
                d_model=32,
                d_ff=64,
                d_kv=16,
                num_layers=2,
                num_heads=2,
                pad_token_id=0,
                eos_token_id=4,
                decoder_start_token_id=0,
            )
        )
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_paths(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {k: build_model(k, root / k) for k in ("encoder", "decoder", "encoder-decoder")}


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory):
    """A random-init Llama-style causal LM with the tiny word-level tokenizer: (model, tokenizer)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-llama")
    tok = build_tokenizer(folder)
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=256,
            pad_token_id=0,
            bos_token_id=2,
            eos_token_id=4,
        )
    )
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny(tiny_paths) -> Surrogate:
    """The tiny encoder surrogate most tests use."""
    return Surrogate(str(tiny_paths["encoder"]), max_length=32)


# toy tasks: the package's own (fute.checks), under the names these tests use
make_classification, make_regression, make_qa = toy_classification, toy_regression, toy_qa


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Run the `fute` entry point in-process: returns (exit code, stdout, stderr)."""
    from rich.console import Console

    from fute import cli
    from fute.cli import common

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["fute", *args])
        monkeypatch.setattr(common, "console", Console(width=200))
        monkeypatch.setattr(common, "err", Console(stderr=True, width=400))
        try:
            cli.main()
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture(scope="session")
def openai_server() -> Iterator[str]:
    """Base URL of an in-process fake OpenAI-compatible server (tests.fake_openai)."""
    from tests.fake_openai import serve

    with serve() as url:
        yield url


def pytest_collection_modifyitems(config, items) -> None:
    """Tests marked ``gpu`` run where CUDA exists and are skipped, saying why, everywhere else."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (marked gpu)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


CHROMIUM = os.environ.get("FUTE_CHROMIUM", "/usr/bin/chromium")
# Chromium on a closed network: no background connections, no first-run work, no sandbox as root
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_or_skip() -> None:
    """Browser tests need Debian's chromium; under ``make test`` (FUTE_REQUIRE_BROWSER) its absence fails."""
    if not Path(CHROMIUM).is_file():
        if os.environ.get("FUTE_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} missing: `make test` installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} missing (install Debian's chromium, or run `make test`)")
