"""Multinomial logistic regression (softmax regression) in numpy, for the per-snapshot intent classifier.

Fitted by full-batch accelerated gradient descent (Nesterov, with the step fixed from the loss's
Lipschitz bound), so the result depends only on the data: the same examples give the same weights,
on every run and every replica. L2 penalty on the weights, none on the biases; per-sample weights
let each class carry a chosen share of the loss whatever its number of examples. Features are
centred before fitting and the centring is folded back into the bias, so ``logits(x) = x @ W + b``
applies to raw features. A few hundred rows and a few hundred features fit in well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

DEFAULT_MAX_ITER = 500
DEFAULT_TOL = 1e-6


@dataclass(frozen=True, slots=True)
class SoftmaxRegression:
    """A fitted classifier: ``weights`` (features, classes) and ``bias`` (classes,), float32."""

    weights: NDArray[np.float32]
    bias: NDArray[np.float32]
    iterations: int

    def logits(self, features: NDArray[np.float32]) -> NDArray[np.float32]:
        out: NDArray[np.float32] = features @ self.weights + self.bias
        return out


def softmax(logits: NDArray[np.floating]) -> NDArray[np.float64]:
    """Row-wise softmax (a 1-d input is one row)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: NDArray[np.float64] = e / e.sum(axis=-1, keepdims=True)
    return out


def fit_softmax_regression(
    features: NDArray[np.floating],
    labels: NDArray[np.integer],
    n_classes: int,
    *,
    sample_weight: NDArray[np.floating] | None = None,
    l2: float = 1e-3,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
) -> SoftmaxRegression:
    """Minimise ``sum_i w_i * cross_entropy_i + l2/2 * |W|^2`` (weights normalised to sum to 1).

    Stops when the largest gradient entry is below ``tol`` or after ``max_iter`` steps.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.intp)
    n, d = x.shape
    if n == 0 or n_classes < 1:
        raise ValueError("need at least one sample and one class")
    if y.shape != (n,) or y.min() < 0 or y.max() >= n_classes:
        raise ValueError("labels must be one class index in [0, n_classes) per row")
    if l2 <= 0:
        raise ValueError("l2 must be positive")
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    w = w / w.sum()
    mean = w @ x
    xc = x - mean
    onehot = np.zeros((n, n_classes))
    onehot[np.arange(n), y] = 1.0
    # The softmax cross-entropy's Hessian is bounded by 1/2 * X^T diag(w) X per class (plus the
    # bias and the penalty): 1/L is a step that never overshoots.
    lipschitz = 0.5 * float(np.linalg.norm(xc * np.sqrt(w)[:, None], 2)) ** 2 + 0.5 + l2
    step = 1.0 / lipschitz
    weights = np.zeros((d, n_classes))
    bias = np.zeros(n_classes)
    look_w, look_b = weights.copy(), bias.copy()
    t = 1.0
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        p = softmax(xc @ look_w + look_b)
        g = (p - onehot) * w[:, None]
        grad_w = xc.T @ g + l2 * look_w
        grad_b = g.sum(axis=0)
        if max(float(np.abs(grad_w).max()), float(np.abs(grad_b).max())) < tol:
            weights, bias = look_w, look_b
            break
        next_w = look_w - step * grad_w
        next_b = look_b - step * grad_b
        t_next = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        momentum = (t - 1.0) / t_next
        look_w = next_w + momentum * (next_w - weights)
        look_b = next_b + momentum * (next_b - bias)
        weights, bias, t = next_w, next_b, t_next
    return SoftmaxRegression(
        weights.astype(np.float32), (bias - mean @ weights).astype(np.float32), iterations
    )
