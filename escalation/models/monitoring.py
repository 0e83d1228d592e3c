"""Continuous Bayesian toxicity monitoring: the beta-binomial rule of Geller et al. (2003).

After each evaluable patient, with ``y`` DLTs among ``n`` and a Beta(a, b) prior on the DLT rate
``p``, monitoring stops when

    Pr(p > p0 | y, n) = Pr(Beta(a + y, b + n - y) > p0) > c,

and the threshold ``c`` is the smallest value for which the probability of ever stopping over
``max_n`` patients when ``p = p0`` is at most ``alpha``. This is R's stoppingrule
``calc.rule.bin(ns = 1:max_n, p0, alpha, type = "BB", param = c(a, b))`` (Martens & Logan 2024):
stoppingrule bisects ``c`` over [0, 1] and takes the boundary at ``n`` as the ceiling of the real
root ``y`` of Pr(p > p0 | y, n) = c, so that it stops when the posterior probability reaches ``c``;
its bisection converges from above to the posterior probability of the last cell its type I error
cannot afford (within ``uniroot``'s tolerance: its ``cval`` is within 1e-6 of this module's
threshold on every reference case). Here that limit is found exactly: the threshold is chosen among the posterior
probabilities of the cells (n, y) themselves (the type I error only changes there), and a cell
stops when its posterior probability *exceeds* the threshold, so the threshold is attained and the
boundaries are stoppingrule's.

The operating characteristics are exact, by dynamic programming over (n, DLTs) as stoppingrule's
``opchars.bin``: the probability of stopping by ``max_n``, and the expected numbers of DLTs and of
evaluable patients when monitoring stops or reaches ``max_n``.

References
----------
Geller NL, Follmann D, Leifer ES, Carter SL (2003). Design of early trials in stem cell
transplantation: a hybrid frequentist-Bayesian approach. In: Advances in Clinical Trial
Biostatistics, Marcel Dekker, 289-314.
Martens MJ, Logan BR (2024). Statistical rules for safety monitoring in clinical trials. Clinical
Trials 21(2):152-161 (R package stoppingrule: ``calc.rule.bin``, ``OC.rule.bin``).

Examples
--------
>>> from escalation.models.monitoring import ToxicityMonitor
>>> monitor = ToxicityMonitor(p0=0.2, alpha=0.1, prior=(0.6, 2.4), max_n=30)
>>> round(monitor.threshold, 4)
0.9631
>>> monitor.stop_at_least[:6]
(None, None, 3, 3, 4, 4)
>>> monitor.stops(n=4, dlt=3)
True
>>> oc = monitor.operating_characteristics(0.2)
>>> round(oc.stop_prob, 4), round(oc.expected_n, 2)
(0.0996, 28.26)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from escalation.errors import InvalidDesignError, InvalidTrialDataError, Problem
from escalation.models import _special as special

__all__ = [
    "MAX_MONITORED_PATIENTS",
    "MonitoringCheck",
    "MonitoringOC",
    "ToxicityMonitor",
    "monitoring_boundary",
    "monitoring_oc",
    "monitoring_problems",
    "monitoring_tail_probs",
]

FloatArray = npt.NDArray[np.float64]

#: the largest number of monitored patients (the calibration is O(max_n^2 log max_n))
MAX_MONITORED_PATIENTS = 1000


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def monitoring_problems(
    *, p0: object, alpha: object, prior: object, max_n: object, where: str = ""
) -> list[Problem]:
    """Every problem with a monitoring rule's settings, each naming its field (prefixed by ``where``).

    Examples
    --------
    >>> [str(p) for p in monitoring_problems(p0=1.2, alpha=0.1, prior=(0.6, 0), max_n=30)]
    ['p0: must be strictly between 0 and 1, got 1.2', 'prior[1]: must be a number > 0, got 0']
    """
    pre = f"{where}." if where else ""
    problems: list[Problem] = []
    for name, value in (("p0", p0), ("alpha", alpha)):
        if not _is_number(value) or not 0 < value < 1:  # type: ignore[operator]
            problems.append(
                Problem(
                    field=pre + name, message=f"must be strictly between 0 and 1, got {value!r}"
                )
            )
    if not isinstance(prior, Sequence) or isinstance(prior, str) or len(prior) != 2:
        problems.append(
            Problem(field=pre + "prior", message=f"must be two numbers [a, b], got {prior!r}")
        )
    else:
        for i, value in enumerate(prior):
            if not _is_number(value) or not value > 0:
                problems.append(
                    Problem(
                        field=f"{pre}prior[{i}]", message=f"must be a number > 0, got {value!r}"
                    )
                )
    if (
        not isinstance(max_n, int)
        or isinstance(max_n, bool)
        or not 1 <= max_n <= MAX_MONITORED_PATIENTS
    ):
        problems.append(
            Problem(
                field=pre + "max_n",
                message=f"must be a whole number from 1 to {MAX_MONITORED_PATIENTS}, got {max_n!r}",
            )
        )
    return problems


def monitoring_tail_probs(*, p0: float, prior: tuple[float, float], max_n: int) -> FloatArray:
    """Pr(p > p0 | y DLTs in n) for n = 1..max_n (rows) and y = 0..max_n (columns; NaN for y > n)."""
    a, b = prior
    n_index, y = np.tril_indices(max_n, k=1, m=max_n + 1)  # y <= n = n_index + 1 only
    probs = np.full((max_n, max_n + 1), np.nan)
    probs[n_index, y] = special.betaincc(a + y, b + n_index + 1 - y, p0)
    return probs


def _boundary_from_probs(probs: FloatArray, threshold: float) -> npt.NDArray[np.int64]:
    """Smallest y with probs[n - 1, y] > threshold at each n, n + 1 where there is none."""
    with np.errstate(invalid="ignore"):
        exceeds = probs > threshold  # NaN (y > n) never exceeds
    no_stop = np.arange(2, probs.shape[0] + 2, dtype=np.int64)
    bounds: npt.NDArray[np.int64] = np.where(
        exceeds.any(axis=1), exceeds.argmax(axis=1), no_stop
    ).astype(np.int64)
    return bounds


def _as_optional(bounds: npt.NDArray[np.int64]) -> tuple[int | None, ...]:
    return tuple(int(v) if v <= n else None for n, v in enumerate(bounds.tolist(), start=1))


def monitoring_boundary(
    *, threshold: float, p0: float, prior: tuple[float, float], max_n: int
) -> tuple[int | None, ...]:
    """The smallest DLT count that stops at n = 1..max_n, for a given threshold (None: no stop at n).

    A count stops when Pr(p > p0 | y, n) > ``threshold``.

    Examples
    --------
    >>> monitoring_boundary(threshold=0.9, p0=0.2, prior=(0.6, 2.4), max_n=6)
    (None, 2, 3, 3, 3, 3)
    """
    probs = monitoring_tail_probs(p0=p0, prior=prior, max_n=max_n)
    return _as_optional(_boundary_from_probs(probs, threshold))


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitoringCheck:
    """The monitoring verdict for ``dlt`` DLTs among ``n`` evaluable patients.

    ``stop_at_least`` is the boundary at ``n`` (None: no number of DLTs stops there, or n = 0);
    ``posterior_prob`` is Pr(DLT rate > p0 | data); ``reason`` says it in words.
    """

    n: int
    dlt: int
    stop_at_least: int | None
    stop: bool
    posterior_prob: float
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitoringOC:
    """Exact operating characteristics of a monitoring boundary at a true DLT rate ``p``.

    ``stop_prob``: probability that monitoring stops by ``max_n``; ``expected_events`` and
    ``expected_n``: expected numbers of DLTs and of evaluable patients when it stops or reaches
    ``max_n`` (stoppingrule's 'E(events)' and, with tau = 0, 'E(Enrolled)').
    """

    p: float
    stop_prob: float
    expected_events: float
    expected_n: float


def _oc_arrays(
    bounds: npt.NDArray[np.int64], p: float, *, stop_prob_only: bool = False
) -> tuple[float, float, float]:
    """(stop_prob, expected_events, expected_n) by dynamic programming over (n, DLTs)."""
    max_n = len(bounds)
    events = np.arange(max_n + 1, dtype=np.float64)
    alive = np.zeros(max_n + 1)  # Pr(not stopped yet, y DLTs so far)
    alive[0] = 1.0
    stop_prob = expected_events = expected_n = 0.0
    for n in range(1, max_n + 1):
        alive[1 : n + 1] = alive[1 : n + 1] * (1.0 - p) + alive[0:n] * p
        alive[0] *= 1.0 - p
        b = int(bounds[n - 1])
        if b <= n:
            mass = alive[b : n + 1]
            stopped = float(mass.sum())
            stop_prob += stopped
            if not stop_prob_only:
                expected_events += float(events[b : n + 1] @ mass)
                expected_n += n * stopped
            alive[b:] = 0.0
    if not stop_prob_only:
        expected_events += float(events @ alive)
        expected_n += max_n * float(alive.sum())
    return stop_prob, expected_events, expected_n


def monitoring_oc(stop_at_least: Sequence[int | None], p: float) -> MonitoringOC:
    """Exact operating characteristics of a boundary (``stop_at_least[n - 1]`` at n) at DLT rate p.

    Examples
    --------
    >>> oc = monitoring_oc([None, 2, 2], 0.5)
    >>> oc.stop_prob, oc.expected_events, oc.expected_n
    (0.5, 1.375, 2.75)
    """
    problems = [
        Problem(field=f"stop_at_least[{n - 1}]", message=f"must be None or 0 to {n}, got {b!r}")
        for n, b in enumerate(stop_at_least, start=1)
        if b is not None and (not isinstance(b, int) or isinstance(b, bool) or not 0 <= b <= n)
    ]
    if not _is_number(p) or not 0 <= p <= 1:
        problems.append(Problem(field="p", message=f"must be in [0, 1], got {p!r}"))
    if problems:
        raise InvalidDesignError(problems)
    bounds = np.array(
        [n + 1 if b is None else b for n, b in enumerate(stop_at_least, start=1)], dtype=np.int64
    )
    stop_prob, expected_events, expected_n = _oc_arrays(bounds, float(p))
    return MonitoringOC(
        p=float(p), stop_prob=stop_prob, expected_events=expected_events, expected_n=expected_n
    )


@lru_cache(maxsize=256)
def _calibrate(
    p0: float, alpha: float, a: float, b: float, max_n: int
) -> tuple[float, tuple[int | None, ...]]:
    probs = monitoring_tail_probs(p0=p0, prior=(a, b), max_n=max_n)
    candidates = np.unique(probs[np.isfinite(probs)])

    def stop_prob(threshold: float) -> float:
        return _oc_arrays(_boundary_from_probs(probs, threshold), p0, stop_prob_only=True)[0]

    # The stop probability at p0 falls (weakly) as the threshold rises and only changes at the
    # candidates; at the largest candidate nothing exceeds it, so it is 0 <= alpha there.
    lo, hi = 0, len(candidates) - 1  # invariant: stop_prob(candidates[hi]) <= alpha
    while lo < hi:
        mid = (lo + hi) // 2
        if stop_prob(float(candidates[mid])) <= alpha:
            hi = mid
        else:
            lo = mid + 1
    threshold = float(candidates[hi])
    return threshold, _as_optional(_boundary_from_probs(probs, threshold))


@dataclass(frozen=True, slots=True, kw_only=True)
class ToxicityMonitor:
    """The beta-binomial toxicity monitoring rule (Geller et al. 2003), calibrated on construction.

    Parameters
    ----------
    p0
        The DLT rate that is acceptable; the rule guards against rates above it.
    alpha
        The largest allowed probability of ever stopping over ``max_n`` patients when the rate is p0.
    prior
        (a, b) of the Beta prior on the DLT rate.
    max_n
        The number of evaluable patients monitored (1 to 1000).

    Attributes
    ----------
    threshold
        c: monitoring stops when Pr(p > p0 | data) > c.
    stop_at_least
        The smallest number of DLTs that stops, at n = 1..max_n evaluable patients (None: no
        number of DLTs stops at that n).

    References
    ----------
    Geller et al. (2003); R's stoppingrule ``calc.rule.bin(type = "BB")`` (module docstring).
    """

    p0: float
    alpha: float
    prior: tuple[float, float]
    max_n: int
    threshold: float = field(init=False)
    stop_at_least: tuple[int | None, ...] = field(init=False)

    def __post_init__(self) -> None:
        problems = monitoring_problems(
            p0=self.p0, alpha=self.alpha, prior=self.prior, max_n=self.max_n
        )
        if problems:
            raise InvalidDesignError(problems)
        a, b = (float(v) for v in self.prior)
        object.__setattr__(self, "prior", (a, b))
        threshold, bounds = _calibrate(float(self.p0), float(self.alpha), a, b, self.max_n)
        object.__setattr__(self, "threshold", threshold)
        object.__setattr__(self, "stop_at_least", bounds)

    def posterior_prob(self, *, n: int, dlt: int) -> float:
        """Pr(p > p0 | ``dlt`` DLTs among ``n`` evaluable patients)."""
        self._check_counts(n, dlt, lowest=0, highest=None)
        a, b = self.prior
        return float(special.betaincc(a + dlt, b + n - dlt, self.p0))

    def stops(self, *, n: int, dlt: int) -> bool:
        """Whether ``dlt`` DLTs among ``n`` evaluable patients (n <= max_n) stop monitoring."""
        self._check_counts(n, dlt, lowest=1, highest=self.max_n)
        bound = self.stop_at_least[n - 1]
        return bound is not None and dlt >= bound

    def check(self, *, n: int, dlt: int) -> MonitoringCheck:
        """The monitoring verdict for ``dlt`` DLTs among ``n`` evaluable patients (0 <= n <= max_n).

        Examples
        --------
        >>> monitor = ToxicityMonitor(p0=0.2, alpha=0.1, prior=(0.6, 2.4), max_n=30)
        >>> monitor.check(n=4, dlt=3).reason
        '3 DLTs in 4 evaluable patients: Pr(DLT rate > 0.2) = 0.9634 > 0.9631, stop (the boundary at 4 patients is 3 DLTs)'
        >>> monitor.check(n=4, dlt=2).stop
        False
        """
        self._check_counts(n, dlt, lowest=0, highest=self.max_n)
        if n == 0:
            return MonitoringCheck(
                n=0,
                dlt=0,
                stop_at_least=None,
                stop=False,
                posterior_prob=self.posterior_prob(n=0, dlt=0),
                reason="no evaluable patients yet",
            )
        stop = self.stops(n=n, dlt=dlt)
        bound = self.stop_at_least[n - 1]
        prob = self.posterior_prob(n=n, dlt=dlt)
        limit = (
            f"no number of DLTs stops at {n} patients"
            if bound is None
            else f"the boundary at {n} patients is {bound} DLTs"
        )
        reason = (
            f"{dlt} DLT{'' if dlt == 1 else 's'} in {n} evaluable patient{'' if n == 1 else 's'}: "
            f"Pr(DLT rate > {self.p0:g}) = {prob:.4f} {'>' if stop else '<='} "
            f"{self.threshold:.4f}, {'stop' if stop else 'continue'} ({limit})"
        )
        return MonitoringCheck(
            n=n, dlt=dlt, stop_at_least=bound, stop=stop, posterior_prob=prob, reason=reason
        )

    def operating_characteristics(self, p: float) -> MonitoringOC:
        """Exact probability of stopping and expected DLTs and patients at a true DLT rate p."""
        return monitoring_oc(self.stop_at_least, p)

    def _check_counts(self, n: int, dlt: int, *, lowest: int, highest: int | None) -> None:
        problems = []
        whole = isinstance(n, int) and not isinstance(n, bool)
        if not whole or n < lowest or (highest is not None and n > highest):
            limit = "" if highest is None else f" to {highest}"
            problems.append(
                Problem(
                    field="n", message=f"must be a whole number from {lowest}{limit}, got {n!r}"
                )
            )
        elif not isinstance(dlt, int) or isinstance(dlt, bool) or not 0 <= dlt <= n:
            problems.append(
                Problem(
                    field="dlt", message=f"must be a whole number from 0 to n = {n}, got {dlt!r}"
                )
            )
        if problems:
            raise InvalidTrialDataError(problems)
