"""The BOP2 futility rule for a binary response (Zhou, Lee & Yuan 2017): boundaries, exact
operating characteristics, calibration.

A single-arm cohort of at most N patients looks at its responses after n_1 < n_2 < ... < n_K = N
patients with a known response. At a look with n patients and x responses it stops for futility
when

    Pr(p <= response_null | x, n) > C(n),    C(n) = 1 - lambda (n / N)^gamma,

under a Beta(a, b) prior on the response rate p (BOP2's default: a = response_null,
b = 1 - response_null, an effective sample size of one). At the last look (n = N) the same rule is
the final decision: "go" (the treatment is promising, the null is rejected) when the cohort passes
it. Since Pr(p <= response_null | x, n) falls as x rises, each look has a boundary: the fewest
responses that continue, ``continue_at_least`` (the cohort stops when x is below it).

The operating characteristics are exact, by dynamic programming over (patients, responses): the
probability of stopping at each look, of stopping early (before N), of "go" (the type I error
when p = response_null, the power when p = response_alt) and the expected number of patients.

Calibration, as the paper's: among the rules whose type I error is at most ``alpha``, the one with
the largest power. For each gamma of a grid (0 to 3 by 0.05, the paper's tuning range for the
power of the information fraction) the type I error falls as lambda rises (C(n) falls at every
look), so the smallest lambda meeting the constraint -- the most powerful for that gamma -- is found
by bisection (to 1e-6); the gamma with the largest power wins (ties: the smaller expected sample
size under the null, then the smaller gamma).

References
----------
Zhou H, Lee JJ, Yuan Y (2017). BOP2: Bayesian optimal design for phase II clinical trials with
simple and complex endpoints. Statistics in Medicine 36:3302-3314 (section 2: the posterior
probability cutoff C(n) = 1 - lambda (n/N)^gamma, the optimization of (lambda, gamma)).

Examples
--------
>>> rule = FutilityRule(response_null=0.2, looks=(10, 15, 20, 25, 30, 35, 40), lambda_=0.909,
...                     gamma=1.0)
>>> rule.continue_at_least
(2, 3, 4, 6, 8, 10, 12)
>>> oc = rule.operating_characteristics(0.2)
>>> round(oc.go_prob, 4), round(oc.expected_n, 2)
(0.0691, 21.23)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from escalation.errors import InvalidDesignError, Problem
from escalation.models import _special as special

__all__ = [
    "FutilityCheck",
    "FutilityOC",
    "FutilityRule",
    "calibrate_futility",
    "futility_oc",
    "futility_problems",
]

FloatArray = npt.NDArray[np.float64]

#: the largest cohort the rule is computed for
MAX_FUTILITY_PATIENTS = 1000
#: the gamma grid of the calibration
GAMMA_GRID = tuple(round(0.05 * k, 2) for k in range(61))


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def futility_problems(
    *,
    response_null: object,
    looks: object,
    prior: object = None,
    lambda_: object = None,
    gamma: object = None,
    where: str = "",
) -> list[Problem]:
    """Every problem with a futility rule's settings, each naming its field (prefixed by ``where``).

    Examples
    --------
    >>> [str(p) for p in futility_problems(response_null=1.5, looks=(10, 5))]
    ['response_null: must be strictly between 0 and 1, got 1.5', 'looks: must increase, got (10, 5)']
    """
    pre = f"{where}." if where else ""
    problems: list[Problem] = []

    def bad(name: str, message: str) -> None:
        problems.append(Problem(field=pre + name, message=message))

    if not _is_number(response_null) or not 0 < response_null < 1:  # type: ignore[operator]
        bad("response_null", f"must be strictly between 0 and 1, got {response_null!r}")
    if (
        not isinstance(looks, Sequence)
        or isinstance(looks, str)
        or not looks
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in looks)
    ):
        bad("looks", f"must be a non-empty list of whole numbers of patients, got {looks!r}")
    elif any(b <= a for a, b in pairwise(looks)) or looks[0] < 1:
        bad("looks", f"must increase, got {looks!r}")
    elif looks[-1] > MAX_FUTILITY_PATIENTS:
        bad("looks", f"at most {MAX_FUTILITY_PATIENTS} patients, got {looks[-1]}")
    if prior is not None:
        if not isinstance(prior, Sequence) or isinstance(prior, str) or len(prior) != 2:
            bad("prior", f"must be two numbers [a, b], got {prior!r}")
        else:
            for i, v in enumerate(prior):
                if not _is_number(v) or not v > 0:
                    bad(f"prior[{i}]", f"must be a number > 0, got {v!r}")
    if lambda_ is not None and (not _is_number(lambda_) or not 0 <= lambda_ <= 1):  # type: ignore[operator]
        bad("lambda", f"must be a number from 0 to 1, got {lambda_!r}")
    if gamma is not None and (not _is_number(gamma) or not 0 <= gamma <= 10):  # type: ignore[operator]
        bad("gamma", f"must be a number from 0 to 10, got {gamma!r}")
    return problems


def _posterior_probs(
    response_null: float, a: float, b: float, looks: tuple[int, ...]
) -> list[FloatArray]:
    """Pr(p <= response_null | x, n) for x = 0..n at each look n (falling in x)."""
    out = []
    for n in looks:
        x = np.arange(n + 1)
        out.append(np.asarray(special.betainc(a + x, b + n - x, response_null), dtype=np.float64))
    return out


def _boundaries(
    probs: Sequence[FloatArray], looks: tuple[int, ...], lambda_: float, gamma: float
) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """C(n) at each look and the fewest responses that continue there (those x whose posterior
    probability does not exceed C(n): the probability falls in x, so they are x >= the count of
    those that exceed it)."""
    big_n = looks[-1]
    thresholds = tuple(1.0 - lambda_ * (n / big_n) ** gamma for n in looks)
    bounds = tuple(int((p > c).sum()) for p, c in zip(probs, thresholds, strict=True))
    return thresholds, bounds


@dataclass(frozen=True, slots=True, kw_only=True)
class FutilityOC:
    """Exact operating characteristics of a futility rule at a true response rate ``p``.

    ``stop_prob_by_look``: probability of stopping at each look (the last is the "no go" at N);
    ``early_stop_prob``: stopping before N; ``go_prob``: passing every look (type I error at the
    null, power at the alternative); ``expected_n``: expected patients treated.
    """

    p: float
    stop_prob_by_look: tuple[float, ...]
    early_stop_prob: float
    go_prob: float
    expected_n: float


def futility_oc(looks: Sequence[int], continue_at_least: Sequence[int], p: float) -> FutilityOC:
    """Exact operating characteristics of futility boundaries at response rate ``p`` (dynamic
    programming over responses, look by look).

    Examples
    --------
    >>> oc = futility_oc((2, 4), (1, 2), 0.5)   # stop with 0 of 2, or fewer than 2 of 4
    >>> [round(v, 6) for v in (*oc.stop_prob_by_look, oc.go_prob, oc.expected_n)]
    [0.25, 0.125, 0.625, 3.5]
    """
    n_max = looks[-1]
    alive = np.zeros(n_max + 1)
    alive[0] = 1.0
    done = 0
    by_look = []
    expected_n = 0.0
    for n, bound in zip(looks, continue_at_least, strict=True):
        step = special.binom_pmf(
            np.arange(n - done + 1), n - done, p
        )  # the responses of the new ones
        alive = np.convolve(alive, step)[: n_max + 1]
        done = n
        stopped = float(alive[: min(bound, n_max + 1)].sum())
        by_look.append(stopped)
        alive[: min(bound, n_max + 1)] = 0.0
        if n < n_max:
            expected_n += n * stopped
    go = float(alive.sum())
    expected_n += n_max * (go + by_look[-1])
    return FutilityOC(
        p=float(p),
        stop_prob_by_look=tuple(by_look),
        early_stop_prob=float(sum(by_look[:-1])),
        go_prob=go,
        expected_n=expected_n,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class FutilityCheck:
    """The futility verdict on a cohort's responses so far (see :meth:`FutilityRule.check`)."""

    n: int
    responses: int
    look: int | None
    continue_at_least: int | None
    futile: bool
    posterior_prob: float
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FutilityRule:
    """The BOP2 futility rule with given (lambda, gamma) (module docstring).

    Parameters
    ----------
    response_null
        The response rate that is not worth pursuing (H0).
    looks
        The numbers of patients with a known response at which the rule is applied; the last is
        the cohort's size N.
    lambda_, gamma
        The tuning parameters of C(n) = 1 - lambda (n/N)^gamma ("lambda" in documents).
    prior
        (a, b) of the Beta prior on the response rate; default (response_null, 1 - response_null).

    Attributes
    ----------
    thresholds
        C(n) at each look.
    continue_at_least
        The fewest responses that continue at each look (fewer: stop for futility).
    """

    response_null: float
    looks: tuple[int, ...]
    lambda_: float
    gamma: float
    prior: tuple[float, float] | None = None
    thresholds: tuple[float, ...] = field(init=False)
    continue_at_least: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        looks: object = self.looks
        if isinstance(looks, list):
            object.__setattr__(self, "looks", tuple(looks))
        problems = futility_problems(
            response_null=self.response_null,
            looks=self.looks,
            prior=self.prior,
            lambda_=self.lambda_,
            gamma=self.gamma,
        )
        if problems:
            raise InvalidDesignError(problems)
        p0 = float(self.response_null)
        a, b = (p0, 1.0 - p0) if self.prior is None else (float(v) for v in self.prior)
        object.__setattr__(self, "prior", (a, b))
        thresholds, bounds = _boundaries(
            _posterior_probs(p0, a, b, self.looks),
            self.looks,
            float(self.lambda_),
            float(self.gamma),
        )
        object.__setattr__(self, "thresholds", thresholds)
        object.__setattr__(self, "continue_at_least", bounds)

    @property
    def max_n(self) -> int:
        return self.looks[-1]

    def posterior_prob(self, *, n: int, responses: int) -> float:
        """Pr(p <= response_null | ``responses`` among ``n``)."""
        assert self.prior is not None
        a, b = self.prior
        return float(special.betainc(a + responses, b + n - responses, self.response_null))

    def operating_characteristics(self, p: float) -> FutilityOC:
        """Exact operating characteristics at a true response rate p."""
        return futility_oc(self.looks, self.continue_at_least, p)

    def check(self, outcomes: Sequence[bool]) -> FutilityCheck:
        """The verdict on the responses in the order they became known (True: a response).

        The cohort is futile when, at a look n_k reached so far, the responses among its first
        n_k patients are fewer than ``continue_at_least``; otherwise it continues, and ``look``
        is the next look (None once every look has passed).

        Examples
        --------
        >>> rule = FutilityRule(response_null=0.2, looks=(10, 20), lambda_=0.9, gamma=1.0)
        >>> rule.check([False] * 10).reason
        '0 responses in the first 10 patients, fewer than the 3 needed to continue (Pr(response rate <= 0.2) = 0.9914 > C(10) = 0.5500)'
        """
        n = len(outcomes)
        counts = np.cumsum(np.asarray(outcomes, dtype=np.int64)) if n else np.zeros(0, int)
        for look, bound, c in zip(self.looks, self.continue_at_least, self.thresholds, strict=True):
            if look > n:
                x = int(counts[-1]) if n else 0
                return FutilityCheck(
                    n=n,
                    responses=x,
                    look=look,
                    continue_at_least=bound,
                    futile=False,
                    posterior_prob=self.posterior_prob(n=n, responses=x),
                    reason=(
                        f"{x} response{'' if x == 1 else 's'} in {n} patient"
                        f"{'' if n == 1 else 's'}; the next look at {look} patients needs at "
                        f"least {bound}"
                    ),
                )
            x = int(counts[look - 1])
            if x < bound:
                prob = self.posterior_prob(n=look, responses=x)
                return FutilityCheck(
                    n=n,
                    responses=int(counts[-1]),
                    look=look,
                    continue_at_least=bound,
                    futile=True,
                    posterior_prob=prob,
                    reason=(
                        f"{x} response{'' if x == 1 else 's'} in the first {look} "
                        f"patients, fewer than the {bound} needed to continue (Pr(response rate "
                        f"<= {self.response_null:g}) = {prob:.4f} > C({look}) = {c:.4f})"
                    ),
                )
        x = int(counts[-1])
        return FutilityCheck(
            n=n,
            responses=x,
            look=None,
            continue_at_least=None,
            futile=False,
            posterior_prob=self.posterior_prob(n=n, responses=x),
            reason=f"not futile: {x} responses in {n} patients passed every look",
        )


@lru_cache(maxsize=4096)
def _go_prob(looks: tuple[int, ...], bounds: tuple[int, ...], p: float) -> float:
    """:func:`futility_oc`'s ``go_prob``, cached: the calibration meets the same boundaries often."""
    return futility_oc(looks, bounds, p).go_prob


@lru_cache(maxsize=64)
def _calibrate(
    response_null: float,
    response_alt: float,
    looks: tuple[int, ...],
    alpha: float,
    a: float,
    b: float,
) -> tuple[float, float]:
    best: tuple[float, float, float, float] | None = None  # (-power, en0, gamma, lambda)
    probs = _posterior_probs(response_null, a, b, looks)
    for gamma in GAMMA_GRID:

        def type1(lam: float, gamma: float = gamma) -> float:
            _, bounds = _boundaries(probs, looks, lam, gamma)
            return _go_prob(looks, bounds, response_null)

        if type1(1.0) > alpha:
            continue  # even the strictest rule of this shape errs too often
        lo, hi = 0.0, 1.0  # type1(hi) <= alpha
        while hi - lo > 1e-6:
            mid = (lo + hi) / 2
            if type1(mid) <= alpha:
                hi = mid
            else:
                lo = mid
        _, bounds = _boundaries(probs, looks, hi, gamma)
        power = futility_oc(looks, bounds, response_alt).go_prob
        en0 = futility_oc(looks, bounds, response_null).expected_n
        key = (-round(power, 12), round(en0, 12), gamma, hi)
        if best is None or key < best:
            best = key
    if best is None:
        raise InvalidDesignError(
            [
                Problem(
                    field="alpha",
                    message=f"no rule of this form keeps the type I error at or below {alpha:g}",
                )
            ]
        )
    return best[3], best[2]


def calibrate_futility(
    *,
    response_null: float,
    response_alt: float,
    looks: Sequence[int],
    alpha: float = 0.1,
    prior: tuple[float, float] | None = None,
) -> FutilityRule:
    """The BOP2 futility rule with the largest power at ``response_alt`` among those whose type I
    error at ``response_null`` is at most ``alpha`` (module docstring).

    Examples
    --------
    >>> rule = calibrate_futility(response_null=0.2, response_alt=0.4, looks=(10, 20, 30, 40))
    >>> oc0, oc1 = rule.operating_characteristics(0.2), rule.operating_characteristics(0.4)
    >>> oc0.go_prob <= 0.1, round(oc1.go_prob, 3) > 0.8
    (True, True)
    """
    problems = futility_problems(response_null=response_null, looks=looks, prior=prior)
    if not _is_number(response_alt) or not response_null < response_alt < 1:
        problems.append(
            Problem(
                field="response_alt",
                message=f"must be between response_null and 1, got {response_alt!r}",
            )
        )
    if not _is_number(alpha) or not 0 < alpha < 1:
        problems.append(
            Problem(field="alpha", message=f"must be strictly between 0 and 1, got {alpha!r}")
        )
    if problems:
        raise InvalidDesignError(problems)
    p0 = float(response_null)
    a, b = (p0, 1.0 - p0) if prior is None else (float(prior[0]), float(prior[1]))
    lam, gamma = _calibrate(p0, float(response_alt), tuple(looks), float(alpha), a, b)
    return FutilityRule(
        response_null=p0, looks=tuple(looks), lambda_=lam, gamma=gamma, prior=(a, b)
    )
