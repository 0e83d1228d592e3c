"""The log posterior of (log(alpha), log(beta)) and its Laplace approximation, for both engines.

Pending patients enter as in TITE-CRM (Cheung & Chappell 2000): 1 - w p(d).

References
----------
Neuenschwander B, Branson M, Gsponer T (2008). Stat Med 27:2420-2439, eq. (1).
Cheung YK, Chappell R (2000). Biometrics 56:1177-1182 (weighted likelihood).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from escalation.models.blrm.prior import BLRMPrior

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class _Problem:
    """The log posterior of (log(alpha), log(beta)), vectorized over points."""

    amounts: tuple[float, ...]
    reference_dose: float
    prior: BLRMPrior
    x: FloatArray  # log(amount / reference) per dose
    n: FloatArray  # complete patients per dose
    y: FloatArray  # DLTs per dose
    partial: tuple[tuple[int, float, int], ...]  # (dose, weight < 1, count); weight 1 folded in
    precision: FloatArray

    @classmethod
    def build(
        cls,
        amounts: tuple[float, ...],
        reference_dose: float,
        prior: BLRMPrior,
        n: tuple[int, ...],
        y: tuple[int, ...],
        partial: tuple[tuple[int, float, int], ...],
    ) -> _Problem:
        n_arr = np.array(n, dtype=np.float64)
        kept = []
        for d, w, c in partial:
            if w >= 1.0:
                n_arr[d] += c
            else:
                kept.append((d, w, c))
        return cls(
            amounts=amounts,
            reference_dose=reference_dose,
            prior=prior,
            x=np.log(np.array(amounts) / reference_dose),
            n=n_arr,
            y=np.array(y, dtype=np.float64),
            partial=tuple(kept),
            precision=np.asarray(np.linalg.inv(prior.covariance), dtype=np.float64),
        )

    def log_density(self, a: FloatArray, b: FloatArray) -> FloatArray:
        """Unnormalized log posterior at broadcastable arrays ``a`` (log alpha), ``b`` (log beta).

        Complete patients at dose d add y log p + (n - y) log(1 - p) = n log p - (n - y) eta,
        since log(1 - p) = log p - eta; a partial patient with weight w adds
        log(1 - w p) = softplus(eta + log(1 - w)) - softplus(eta).
        """
        a, b = np.broadcast_arrays(a, b)
        beta = np.exp(b)
        mu = self.prior.mean
        da, db = a - mu[0], b - mu[1]
        p = self.precision
        out = -0.5 * (p[0, 0] * da * da + 2.0 * p[0, 1] * da * db + p[1, 1] * db * db)
        for d in np.flatnonzero(self.n > 0):
            eta = a + beta * self.x[d]
            out += -self.n[d] * np.logaddexp(0.0, -eta) - (self.n[d] - self.y[d]) * eta
        for dose, w, c in self.partial:
            eta = a + beta * self.x[dose]
            out += c * (np.logaddexp(0.0, eta + math.log1p(-w)) - np.logaddexp(0.0, eta))
        return np.asarray(out, dtype=np.float64)

    def gradient_hessian(self, theta: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        """Log posterior, gradient and Hessian at one point (for the Laplace approximation)."""
        a, b = float(theta[0]), float(theta[1])
        beta = math.exp(b)
        value = float(self.log_density(np.array(a), np.array(b)))
        eta = a + beta * self.x
        p = expit(eta)
        g1 = self.y - self.n * p  # d loglik / d eta per dose
        g2 = -self.n * p * (1.0 - p)
        for d, w, c in self.partial:
            s = float(expit(eta[d] + math.log1p(-w)))
            g1[d] += c * (s - p[d])
            g2[d] += c * (s * (1.0 - s) - p[d] * (1.0 - p[d]))
        bx = beta * self.x
        grad = np.array([g1.sum(), (g1 * bx).sum()])
        hess = np.array(
            [
                [g2.sum(), (g2 * bx).sum()],
                [(g2 * bx).sum(), (g2 * bx * bx).sum() + (g1 * bx).sum()],
            ]
        )
        delta = theta - np.array(self.prior.mean)
        grad -= self.precision @ delta
        hess -= self.precision
        return value, grad, hess

    def laplace(self) -> tuple[FloatArray, FloatArray]:
        """Posterior mode and the inverse of the negative Hessian there (damped Newton).

        Where the Hessian is not negative definite the step uses the prior precision plus the
        expected information instead (Fisher scoring), so every step is an ascent direction;
        steps are halved until the log posterior increases.
        """
        theta = np.array(self.prior.mean, dtype=np.float64)
        value, grad, hess = self.gradient_hessian(theta)
        for _ in range(200):
            neg = -hess
            if not _positive_definite(neg):
                neg = self._fisher(theta)
            step = np.linalg.solve(neg, grad)
            t = 1.0
            while True:
                candidate = theta + t * step
                new_value, new_grad, new_hess = self.gradient_hessian(candidate)
                if new_value >= value - 1e-12 * abs(value) or t < 1e-10:
                    break
                t *= 0.5
            converged = float(np.max(np.abs(candidate - theta))) < 1e-10
            theta, value, grad, hess = candidate, new_value, new_grad, new_hess
            if converged or float(np.max(np.abs(grad))) < 1e-10:
                break
        neg = -hess
        if not _positive_definite(neg):
            neg = self._fisher(theta)
        return theta, np.asarray(np.linalg.inv(neg), dtype=np.float64)

    def _fisher(self, theta: FloatArray) -> FloatArray:
        beta = math.exp(float(theta[1]))
        eta = float(theta[0]) + beta * self.x
        p = expit(eta)
        weight = (self.n + sum_partial(self.partial, self.x.size)) * p * (1.0 - p)
        bx = beta * self.x
        info = np.array(
            [
                [weight.sum(), (weight * bx).sum()],
                [(weight * bx).sum(), (weight * bx * bx).sum()],
            ]
        )
        return np.asarray(info + self.precision, dtype=np.float64)


def sum_partial(partial: tuple[tuple[int, float, int], ...], k: int) -> FloatArray:
    """Sum of the partial patients' weights per dose."""
    out = np.zeros(k)
    for d, w, c in partial:
        out[d] += w * c
    return out


def _positive_definite(m: FloatArray) -> bool:
    return bool(m[0, 0] > 0.0 and m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0] > 0.0)
