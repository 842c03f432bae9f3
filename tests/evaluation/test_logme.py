"""LogME against the evidence written out with matrices, and its use for ranking features."""

from __future__ import annotations

import numpy as np
import pytest

from fute.evaluation.logme import EPS, logme


def direct_evidence(f: np.ndarray, y: np.ndarray, iters: int = 11) -> float:
    """The same fixed point in the textbook form (You et al. 2021, eqs. 2-5): A = alpha I + beta F^T F,
    m = beta A^-1 F^T y, gamma = sum beta s_i / (alpha + beta s_i) over the eigenvalues s_i of F^T F."""
    n, d = f.shape
    s = np.clip(np.linalg.eigvalsh(f.T @ f), 0, None)[::-1][: min(n, d)]
    alpha = beta = 1.0
    for _ in range(iters):
        t = alpha / beta
        m = beta * np.linalg.solve(alpha * np.eye(d) + beta * f.T @ f, f.T @ y)
        m2, res2 = float(m @ m), float(((y - f @ m) ** 2).sum())
        gamma = float((s / (s + t)).sum())
        alpha, beta = gamma / (m2 + EPS), (n - gamma) / (res2 + EPS)
        if abs(alpha / beta - t) / t <= 1e-3:
            break
    logdet = (
        np.sum(np.log(alpha + beta * s)) + (d - len(s)) * np.log(alpha)
        if d > len(s)
        else np.sum(np.log(alpha + beta * s))
    )
    ev = d / 2 * np.log(alpha) + n / 2 * np.log(beta) - 0.5 * logdet - beta / 2 * res2 - alpha / 2 * m2
    return float((ev - n / 2 * np.log(2 * np.pi)) / n)


def test_logme_equals_the_matrix_form():
    rng = np.random.default_rng(0)
    f = rng.standard_normal((60, 5))
    y = (f @ np.array([1.0, -2.0, 0.0, 0.5, 0.0]) + 0.3 * rng.standard_normal(60) > 0).astype(int)
    expected = np.mean([direct_evidence(f, (y == c).astype(float)) for c in (0, 1)])
    assert logme(f, y) == pytest.approx(expected, rel=1e-6)
    values = f @ np.array([0.5, 0.0, 1.0, 0.0, 0.0])
    assert logme(f, values, regression=True) == pytest.approx(direct_evidence(f, values), rel=1e-6)


def test_features_that_carry_the_labels_score_higher():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 200)
    informative = np.eye(3)[y] + 0.2 * rng.standard_normal((200, 3))
    noise = rng.standard_normal((200, 3))
    assert logme(informative, y) > logme(noise, y)


def test_esm_map_recovers_a_linear_map():
    from fute.evaluation.rankers import fit_linear_map

    rng = np.random.default_rng(2)
    x = rng.standard_normal((100, 4))
    w = rng.standard_normal((4, 3))
    z = x @ w + 0.5
    fitted = fit_linear_map(x, z, 1e-9)
    np.testing.assert_allclose(fitted[:4], w, atol=1e-6)
    np.testing.assert_allclose(fitted[4], 0.5, atol=1e-6)
