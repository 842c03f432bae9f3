from __future__ import annotations

import numpy as np
import pytest
import torch

from fute.errors import ConfigError
from fute.methods import get_method
from fute.methods.base import target_tensor
from fute.methods.fisher import activation_fisher, count_sketch, normalize_blocks, parameter_fisher
from fute.samples import Samples
from fute.surrogate import TaskHead
from tests.conftest import make_classification


def soft_samples() -> Samples:
    base = make_classification(10, pair=True)
    rng = np.random.default_rng(0)
    probs = rng.dirichlet([1.0, 1.0, 1.0], size=len(base))
    probs[0] = [0.0, 1.0, 0.0]  # a hard row among soft ones
    return Samples.from_distributions(base.texts, probs, ["a", "b", "c"], base.text_pairs)


def reference_activation_fisher(sur, model, head, samples, enc):
    """Per-example loop: one example, one class at a time; the expected Fisher under the soft label."""
    blocks = None
    for i in range(len(enc)):
        _, batch = next(sur.batches(enc, 1, np.array([i])))
        q = samples.targets[i]
        for c in range(len(q)):
            fwd = sur.forward(batch, model=model, embeds_grad=True)
            logp = torch.log_softmax(head.linear(fwd.pooled), dim=-1)[0, c]
            grads = torch.autograd.grad(logp, [*fwd.hidden_states, fwd.pooled])
            sq = torch.stack([(g[0] ** 2).mean(dim=0) if g.dim() == 3 else g[0] ** 2 for g in grads]).double()
            blocks = q[c] * sq if blocks is None else blocks + q[c] * sq
    return (blocks / len(enc)).numpy()


def test_batched_activation_fisher_equals_per_example_loop(tiny):
    samples = soft_samples()
    enc = tiny.encode(samples)
    torch.manual_seed(0)
    head = TaskHead("classification", 32, 3)
    got = activation_fisher(tiny, tiny.model, head, samples, enc, batch_size=4, progress=False)
    want = reference_activation_fisher(tiny, tiny.model, head, samples, enc)
    assert got.shape == (4, 32)  # embeddings, 2 layers, pooled
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-10)


def test_not_the_square_of_the_batch_mean_gradient(tiny):
    """The paper's code squares the mean gradient; per-example Fisher is the mean of squares (larger)."""
    samples = make_classification(8)
    enc = tiny.encode(samples)
    torch.manual_seed(0)
    head = TaskHead("classification", 32, 2)
    ours = activation_fisher(tiny, tiny.model, head, samples, enc, batch_size=8, progress=False)[-1]
    _, batch = next(tiny.batches(enc, 8, np.arange(8)))
    fwd = tiny.forward(batch, embeds_grad=True)
    ll = head.log_likelihoods(fwd, batch, target_tensor(samples, np.arange(8)))[0][1].mean()
    mean_grad = torch.autograd.grad(ll, fwd.pooled)[0].sum(dim=0)  # d mean / d pooled_i summed = mean of grads
    squared_mean = (mean_grad**2).double().numpy()
    assert (ours >= squared_mean - 1e-12).all() and ours.sum() > 1.5 * squared_mean.sum()


def test_parameter_fisher_matches_grad_squares(tiny):
    samples = make_classification(4)
    enc = tiny.encode(samples)
    model = tiny.trainable_copy()
    torch.manual_seed(0)
    head = TaskHead("classification", 32, 2)
    for p in head.parameters():
        p.requires_grad_(False)
    got = parameter_fisher(tiny, model, head, samples, enc, dim=64, seed=1, progress=False)
    acc = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for i in range(4):
        model.zero_grad()
        _, batch = next(tiny.batches(enc, 1, np.array([i])))
        (-head.loss(tiny.forward(batch, model=model), batch, target_tensor(samples, np.array([i])))).backward()
        for n, p in model.named_parameters():
            if p.grad is not None:
                acc[n] += p.grad**2 / 4
    np.testing.assert_allclose(got, count_sketch(acc, 64, 1), rtol=1e-4, atol=1e-9)


def test_count_sketch_is_seeded_and_keeps_inner_products():
    rng = np.random.default_rng(0)
    a = {"w": torch.from_numpy(rng.standard_normal(20000))}
    b = {"w": a["w"] * 0.8 + 0.2 * torch.from_numpy(rng.standard_normal(20000))}
    pa, pb = count_sketch(a, 2048, 7), count_sketch(b, 2048, 7)
    np.testing.assert_array_equal(pa, count_sketch(a, 2048, 7))
    assert not np.array_equal(pa, count_sketch(a, 2048, 8))
    true = float(a["w"] @ b["w"] / (a["w"].norm() * b["w"].norm()))
    est = float(pa @ pb / (np.linalg.norm(pa) * np.linalg.norm(pb)))
    assert abs(true - est) < 0.05


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def test_block_normalize_turns_cosine_into_per_block_correlation():
    rng = np.random.default_rng(0)
    a, b = rng.gamma(0.5, size=(3, 40)), rng.gamma(0.5, size=(3, 40))
    b[1, :5] = b[1, 5]  # ties
    na, nb = normalize_blocks(a, "centered"), normalize_blocks(b, "centered")
    for k in range(3):
        assert np.sum(na[k] * nb[k]) == pytest.approx(_pearson(a[k], b[k]))
    ra, rb = normalize_blocks(a, "rank"), normalize_blocks(b, "rank")
    for k in range(3):  # Spearman: the Pearson correlation of mean ranks (ties share theirs)
        ranks = [np.array([np.sum(x[k] < v) + (np.sum(x[k] == v) - 1) / 2 for v in x[k]]) for x in (a, b)]
        assert np.sum(ra[k] * rb[k]) == pytest.approx(_pearson(*ranks))
    # the cosine of whole vectors is the mean per-block correlation
    assert float(na.ravel() @ nb.ravel()) / 3 == pytest.approx(np.mean([_pearson(a[k], b[k]) for k in range(3)]))


@pytest.mark.parametrize("how", ["centered", "rank", "l2"])
def test_block_normalize_ignores_a_per_block_scale_and_zeroes_constant_blocks(how):
    """What lets a stored per-block-L2 vector be carried to another normalisation without retraining."""
    rng = np.random.default_rng(1)
    x = rng.gamma(0.5, size=(4, 30))
    scaled = x * np.array([[1e-6], [3.0], [1.0], [1e4]])
    np.testing.assert_allclose(normalize_blocks(scaled, how), normalize_blocks(x, how), atol=1e-12)
    const = normalize_blocks(np.vstack([np.full(30, 0.37), x[0]]), how)
    if how != "l2":
        assert np.all(const[0] == 0)
    np.testing.assert_allclose(np.linalg.norm(const[1]), 1.0)


def test_block_normalize_is_one_of_its_choices():
    with pytest.raises(ConfigError, match="block_normalize='z'.*centered"):
        get_method("fisher", block_normalize="z")


def test_options_that_contradict_each_other_are_one_error():
    with pytest.raises(ConfigError, match="fine_tune=unless-probe-learns and keep_probe=false contradict"):
        get_method("fisher", fine_tune="unless-probe-learns", keep_probe=False)


def test_layer_blocks_are_unit_norm(tiny):
    vec = get_method("fisher", max_epochs=1, batch_size=8).embed(make_classification(8), tiny, progress=False)
    blocks = vec.reshape(-1, 32)
    np.testing.assert_allclose(np.linalg.norm(blocks, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("features", ["parameters"])
def test_parameter_features_have_projection_dim(tiny, features):
    vec = get_method("fisher", features=features, projection_dim=128, max_epochs=1, batch_size=8).embed(
        make_classification(6), tiny, progress=False
    )
    assert vec.shape == (128,) and np.abs(vec).sum() > 0
