"""The device option: resolved once, threaded through surrogate, heads, tuned parameters and targets; recorded on
the card, never part of the space. Tests marked ``gpu`` run only where CUDA exists; the rest run anywhere."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from fute.device import check_device, out_of_memory_hint, resolve_device, resolve_dtype
from fute.embed import embed_samples
from fute.errors import ConfigError
from fute.methods import get_method
from fute.space import cosine_scores
from fute.surrogate import Surrogate
from fute.targets.base import TargetModel
from tests.conftest import make_classification, write_jsonl

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the errors of a machine without CUDA")
gpu = pytest.mark.gpu


@no_cuda
def test_auto_is_the_cpu_here_and_a_missing_device_is_one_line_naming_cpu():
    if getattr(torch.backends, "mps", None) is None or not torch.backends.mps.is_available():
        assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("CPU") == torch.device("cpu")
    for asked in ("cuda", "cuda:1"):
        with pytest.raises(ConfigError, match=f"--device {asked}: no CUDA device here .*use --device cpu") as e:
            resolve_device(asked)
        assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="unknown device 'tpu'; use auto, cpu, cuda, cuda:N or mps"):
        resolve_device("tpu")
    assert check_device("cuda:3") == "cuda:3"  # spelling only: a Ray job may run where there is one
    with pytest.raises(ConfigError, match="unknown device 'gpu'"):
        check_device("gpu")


def test_auto_precision_keeps_the_surrogate_in_float32_and_halves_targets_on_a_gpu(monkeypatch):
    cuda, cpu, mps = torch.device("cuda", 0), torch.device("cpu"), torch.device("mps")
    for device in (cpu, cuda, mps):
        assert resolve_dtype("auto", device, "surrogate") == torch.float32  # the Fisher needs it anywhere
    assert resolve_dtype("auto", cpu, "target") == torch.float32
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_dtype("auto", cuda, "target") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_dtype("auto", cuda, "target") == torch.float16
    assert resolve_dtype("auto", mps, "target") == torch.float16
    assert resolve_dtype("bf16", cpu, "surrogate") == torch.bfloat16  # asked for: given, wherever
    with pytest.raises(ConfigError, match="unknown dtype 'int8'; use auto, float32, bfloat16, float16"):
        resolve_dtype("int8", cpu, "target")


def test_out_of_memory_is_one_line_that_names_the_option_to_lower():
    said = r"^embedding sst2: the device ran out of memory; lower --option batch_size"
    with pytest.raises(ConfigError, match=said), out_of_memory_hint("embedding sst2", "--option batch_size=8"):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    with pytest.raises(ValueError, match="not memory"), out_of_memory_hint("x", "y"):
        raise ValueError("not memory")  # anything else goes through untouched


class HungryTarget(TargetModel):
    """Runs out of memory above ``fits`` inputs per batch, as a GPU would."""

    backend = "hungry"
    label_names = ("a", "b")

    def __init__(self, fits: int) -> None:
        self.batch_size, self.fits, self.calls = 8, fits, []

    def identity(self) -> dict:
        return {"backend": self.backend, "model": "hungry"}

    def _predict(self, texts, text_pairs):
        self.calls.append(self.batch_size)
        if self.batch_size > self.fits:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return np.full((len(texts), 2), 0.5)


def test_a_target_halves_its_batch_until_it_fits_and_says_so_once_per_halving():
    t = HungryTarget(fits=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = t.predict(["x"] * 5, progress=False, cache=False)
    assert out.shape == (5, 2) and t.calls == [8, 4, 2] and t.batch_size == 2
    assert [str(w.message) for w in caught] == [
        "hungry: out of memory at batch size 8; going on at 4",
        "hungry: out of memory at batch size 4; going on at 2",
    ]
    with (
        pytest.raises(ConfigError, match="out of memory with one input at a time.*--device cpu"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        HungryTarget(fits=0).predict(["x"], progress=False, cache=False)


def _on(module: torch.nn.Module | None, device: torch.device) -> bool:
    return module is not None and all(t.device == device for t in [*module.parameters(), *module.buffers()])


@pytest.mark.parametrize("method", ["fisher", "prefix", "prompt"])
def test_everything_a_method_trains_is_on_the_surrogate_device_and_the_card_says_where(tiny_paths, tmp_path, method):
    sur = Surrogate(str(tiny_paths["encoder"]), max_length=32, device="cpu")
    assert sur.device == torch.device("cpu") and _on(sur.model, sur.device)
    m = get_method(method, max_epochs=1, max_examples=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vec = embed_samples(make_classification(40), "toy", method=m, surrogate=sur, store=tmp_path, progress=False)
    assert _on(m.head_, sur.device)
    tuned = {"prefix": "prefix_", "prompt": "prompt_"}.get(method)
    if tuned:
        assert getattr(m, tuned).device == sur.device
    assert vec.card.device == "cpu" and vec.vector.dtype == np.float32


def test_a_lower_surrogate_precision_is_another_space_and_float32_ids_are_unchanged(tiny_paths):
    full = Surrogate(str(tiny_paths["encoder"]), max_length=32, device="cpu")
    half = Surrogate(str(tiny_paths["encoder"]), max_length=32, device="cpu", dtype="bfloat16")
    assert "precision" not in full.identity.as_dict()  # every float32 space id stays what it was
    assert half.identity.as_dict()["precision"] == "bfloat16"
    assert half.identity.weights_sha256 == full.identity.weights_sha256  # float32 weights, bfloat16 compute
    samples = make_classification(40)
    m = get_method("textemb")
    a, b = m.embed(samples, full, progress=False), m.embed(samples, half, progress=False)
    assert not np.array_equal(a, b)  # the precision moves coordinates: that is why it is in the space
    assert cosine_scores(a, b[None])[0] > 0.99  # ... by rounding, not by meaning


@no_cuda
def test_the_cli_says_which_device_to_use_instead(run_cli, tmp_path):
    data = write_jsonl(tmp_path / "toy.jsonl", [{"text": f"text {i}", "label": i % 2} for i in range(20)])
    code, _, err = run_cli("embed", "dataset", str(data), "--device", "cuda", "--store", str(tmp_path / "st"))
    assert code == 2 and "no CUDA device here" in err and "--device cpu" in err and "Traceback" not in err


@gpu
def test_gpu_vectors_match_cpu_ones(tiny_paths, tmp_path):
    """The deterministic parts of a method (probe on frozen features, then the Fisher) agree within float
    tolerance on CUDA and on the CPU; fine-tuning is left out, as its dropout masks come from each device's
    own generator."""
    samples = make_classification(60)
    vecs = {}
    for device in ("cpu", "auto"):  # auto: the GPU, where there is one
        sur = Surrogate(str(tiny_paths["encoder"]), max_length=32, device=device)
        assert _on(sur.model, sur.device) and sur.device.type == {"cpu": "cpu", "auto": "cuda"}[device]
        m = get_method("fisher", max_epochs=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vecs[device] = embed_samples(samples, "toy", method=m, surrogate=sur, store=tmp_path / device)
        assert _on(m.head_, sur.device)
    assert vecs["cpu"].space_id == vecs["auto"].space_id
    assert vecs["auto"].card.device.startswith("cuda:")
    np.testing.assert_allclose(vecs["auto"].vector, vecs["cpu"].vector, atol=1e-4)


@gpu
def test_gpu_targets_label_like_cpu_ones(tiny_paths, tiny_llama):
    from fute.targets.hf_classifier import HFClassifier
    from fute.targets.hf_lm import HFCausalLM
    from fute.targets.prompts import load_prompt_set

    texts = ["a good film", "a bad plot", "fine"]
    cls = {}
    for d in ("cpu", "cuda"):
        torch.manual_seed(0)  # the same freshly drawn head on both
        cls[d] = HFClassifier(str(tiny_paths["encoder"]), device=d, dtype="float32")
    assert _on(cls["cuda"].model, torch.device("cuda", torch.cuda.current_device()))
    np.testing.assert_allclose(
        cls["cuda"].predict(texts, progress=False, cache=False),
        cls["cpu"].predict(texts, progress=False, cache=False),
        atol=1e-4,
    )
    p = load_prompt_set("sentiment")["review-sentiment"]
    lms = {d: HFCausalLM(str(tiny_llama), p, device=d, dtype="float32") for d in ("cpu", "cuda")}
    np.testing.assert_allclose(
        lms["cuda"].predict(texts, progress=False, cache=False),
        lms["cpu"].predict(texts, progress=False, cache=False),
        atol=1e-4,
    )
