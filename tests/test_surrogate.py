from __future__ import annotations

import warnings

import pytest
import torch

from fute.errors import ConfigError
from fute.surrogate import Surrogate, TaskHead, pool, weights_hash
from tests.conftest import make_classification, make_qa


@pytest.mark.parametrize(("kind", "pooling"), [("encoder", "cls"), ("decoder", "last"), ("encoder-decoder", "mean")])
def test_architectures_load_with_their_pooling(tiny_paths, kind, pooling):
    s = Surrogate(str(tiny_paths[kind]), max_length=32)
    assert s.architecture == kind and s.pooling == pooling and s.hidden_size == 32
    enc = s.encode(make_classification(6, pair=True))
    _, batch = next(s.batches(enc, 4, s.length_order(enc)))
    fwd = s.forward(batch)
    assert fwd.pooled.shape == (4, 32) and len(fwd.hidden_states) == 3


def test_identity_hashes_weights(tiny_paths):
    a = Surrogate(str(tiny_paths["encoder"]), max_length=32)
    b = Surrogate(str(tiny_paths["encoder"]), max_length=32)
    assert a.identity == b.identity
    with torch.no_grad():
        next(b.model.parameters())[0, 0] += 1e-3
    assert weights_hash(b.model) != a.identity.weights_sha256
    assert Surrogate(str(tiny_paths["encoder"]), max_length=16).identity != a.identity


def test_trainable_copy_leaves_surrogate_untouched(tiny):
    before = tiny.identity.weights_sha256
    m = tiny.trainable_copy()
    with torch.no_grad():
        next(m.parameters()).add_(1.0)
    assert weights_hash(tiny.model) == before and all(not p.requires_grad for p in tiny.model.parameters())


def test_truncation_warns_once(tiny_paths, monkeypatch):
    """Once per data source, not once per loaded model (LogME loads one per source model)."""
    import fute.surrogate

    monkeypatch.setattr(fute.surrogate, "_TRUNCATION_WARNED", set())
    s = Surrogate(str(tiny_paths["encoder"]), max_length=5)
    data = make_classification(6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enc = s.encode(data)
        s.encode(data)
        Surrogate(str(tiny_paths["encoder"]), max_length=5).encode(data)
    assert max(len(x) for x in enc.input_ids) == 5
    assert len([w for w in caught if "truncated" in str(w.message)]) == 1
    assert "6 of 6 inputs" in str(caught[0].message)


def test_qa_answer_positions(tiny):
    data = make_qa(4)
    enc = tiny.encode(data)
    for i, (_, text) in enumerate(data.answers):
        ids = enc.input_ids[i][enc.start_positions[i] : enc.end_positions[i] + 1]
        assert tiny.tokenizer.decode(ids) == text
    head = TaskHead("qa", 32, 2)
    _, batch = next(tiny.batches(enc, 4, tiny.length_order(enc)))
    loss = head.loss(tiny.forward(batch), batch, None)
    assert torch.isfinite(loss) and loss > 0


def test_pool_modes_skip_prompt():
    states = torch.arange(2 * 4 * 1, dtype=torch.float32).reshape(2, 4, 1)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    assert pool(states, mask, "cls", skip=1)[:, 0].tolist() == [1.0, 5.0]
    assert pool(states, mask, "last")[:, 0].tolist() == [2.0, 7.0]
    assert pool(states, mask, "mean", skip=1)[:, 0].tolist() == [1.5, 6.0]


def test_unknown_surrogate_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="not loadable"):
        Surrogate(str(tmp_path))
    with pytest.raises(ConfigError, match="unknown pooling"):
        Surrogate("x", pooling="max")


def test_unreachable_hub_surrogate_is_one_line_at_once(monkeypatch):
    """Offline, a hub id that is not cached fails before the hub client's retries (they took 25 s here)."""
    import time

    import huggingface_hub.constants

    from fute.paths import hub_reachable

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    hub_reachable.cache_clear()
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="surrogate 'no-such-org/no-such-model': not a local folder, .*offline") as e:
        Surrogate("no-such-org/no-such-model")
    assert "\n" not in str(e.value) and time.perf_counter() - t0 < 5
    hub_reachable.cache_clear()


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda d: (d / "config.json").write_text("{broken"), "not a valid JSON file"),
        (lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:1000]), "header"),
        (lambda d: (d / "model.safetensors").unlink(), "no file named model.safetensors"),
        (lambda d: (d / "tokenizer.json").write_text("garbage{"), "Expecting value"),
        (lambda d: (d / "tokenizer_config.json").write_text("{x"), "Expecting property name"),
        (
            lambda d: [(d / f).unlink() for f in ("tokenizer.json", "tokenizer_config.json")],
            "no vocabulary beyond 5 special tokens",
        ),
    ],
    ids=[
        "config-not-json",
        "safetensors-cut-short",
        "weights-missing",
        "tokenizer-not-json",
        "tokenizer-config-not-json",
        "tokenizer-missing",
    ],
)
def test_a_damaged_model_folder_is_one_line(tiny_paths, tmp_path, damage, says, run_cli):
    import shutil

    from fute.targets import load_target
    from fute.targets.hf_classifier import HFClassifier

    folder = tmp_path / "m"
    shutil.copytree(tiny_paths["encoder"], folder)
    damage(folder)
    for load in (lambda: Surrogate(str(folder)), lambda: HFClassifier(str(folder))):
        with pytest.raises(ConfigError, match=f"'{folder}': not loadable \\(the local folder\\): .*{says}") as e:
            load()
        assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match=f"'{folder}'") as e:  # the backend is guessed from config.json first
        load_target(str(folder))
    assert "\n" not in str(e.value)
    code, _, err = run_cli("embed", "model", str(folder), "--store", str(tmp_path / "st"), "--quiet")
    assert code == 2 and str(folder) in err and len(err.strip().splitlines()) == 1, err
