"""LogME (You et al., ICML 2021; the fixed-point solver of You et al. 2022, "Ranking and Tuning Pre-trained
Models"): how well features f explain labels y under a Bayesian linear model, as the maximum marginal
log-likelihood (evidence) per example, averaged over label dimensions. Higher means the features carry the
labels more linearly: the score a model-selection tool uses to rank candidate models for a task.

For each label dimension y (one-vs-rest for classes, each column for regression), with prior w ~ N(0, 1/alpha)
and noise N(0, 1/beta), alpha and beta maximise the evidence by the fixed point
    gamma = sum_i sigma_i / (sigma_i + alpha/beta),  alpha = gamma / |m|^2,  beta = (N - gamma) / |y - f m|^2,
computed in the SVD basis of f (sigma_i = squared singular values), and
    L = D/2 log alpha + N/2 log beta - 1/2 sum_i log(alpha + beta sigma_i) - beta/2 |y - f m|^2
        - alpha/2 |m|^2 - N/2 log 2 pi,   divided by N.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-5  # the reference's guard on both squared norms


def logme(features: np.ndarray, labels: np.ndarray, *, regression: bool = False, max_iter: int = 11) -> float:
    """LogME of ``labels`` ([N] class ids, or [N] / [N, C] values with ``regression``) on ``features`` [N, D]."""
    f = np.asarray(features, dtype=np.float64)
    n, d = f.shape
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    sigma = s**2
    if regression:
        y = np.asarray(labels, dtype=np.float64).reshape(n, -1)
        columns = [y[:, j] for j in range(y.shape[1])]
    else:
        ids = np.asarray(labels).astype(int)
        columns = [(ids == c).astype(np.float64) for c in range(int(ids.max()) + 1)]
    return float(np.mean([_evidence(u, sigma, col, n, d, max_iter) for col in columns]))


def _evidence(u: np.ndarray, sigma: np.ndarray, y: np.ndarray, n: int, d: int, max_iter: int) -> float:
    x2 = (u.T @ y) ** 2  # y in the basis of f's left singular vectors
    rest = float(y @ y - x2.sum())  # the part of y outside f's column space
    alpha = beta = 1.0
    for _ in range(max_iter):
        t = alpha / beta
        gamma = float((sigma / (sigma + t)).sum())
        m2 = float((sigma * x2 / (t + sigma) ** 2).sum())
        res2 = float((x2 / (1 + sigma / t) ** 2).sum() + rest)
        alpha, beta = gamma / (m2 + EPS), (n - gamma) / (res2 + EPS)
        if abs(alpha / beta - t) / t <= 1e-3:
            break
    evidence = (
        d / 2 * np.log(alpha)
        + n / 2 * np.log(beta)
        - 0.5 * np.sum(np.log(alpha + beta * sigma))
        - beta / 2 * res2
        - alpha / 2 * m2
        - n / 2 * np.log(2 * np.pi)
    )
    return float(evidence / n)
