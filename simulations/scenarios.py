"""Dose-toxicity scenarios: hand-picked curves and random curves with a known MTD.

A scenario is a vector of true DLT probabilities, one per dose level. Its true MTD is the level whose
probability is closest to the target; when two levels are equally close (0.25 and 0.35 around 0.30)
both count as correct.

Two generators give random monotone curves, so that designs are compared over many curves rather than
a few hand-picked ones (DESIGN.md section 5):

* ``"pseudo-uniform"`` -- Clertant & O'Quigley (2017): choose the MTD level j uniformly; draw
  M ~ Beta(max(J - j, 0.5), 1) and the upper bound B = target + (1 - target) M; draw J probabilities
  uniformly on [0, B], sorted, again until level j is the one closest to the target (B is drawn
  again after 10,000 rejections, see ``_TRIES_PER_BOUND``).
* ``"liu-yuan"`` -- the probit-scale generator of Liu & Yuan (2015, section 4): choose the MTD level
  j uniformly; its probit is N(probit(target), ``sigma0``^2); the curve moves away from it on the
  probit scale by half-normal steps of scale ``sigma`` at each level; a curve is kept only when its
  MTD's neighbours are at least ``gap`` further from the target than the MTD is
  (|p_{j +/- 1} - target| - |p_j - target| >= gap), which is how the paper controls how hard the
  MTD is to find.

References
----------
Clertant M, O'Quigley J (2017). Semiparametric dose finding methods. JRSS-B 79:1487-1508 (the
pseudo-uniform algorithm).
Liu S, Yuan Y (2015). Bayesian optimal interval designs for phase I clinical trials. JRSS-C
64:507-523, section 4 (random scenarios on the probit scale).
Paoletti X, O'Quigley J, Maccario J (2004). Design efficiency in dose finding studies. Comput Stat
Data Anal 45:197-214.

Examples
--------
>>> import numpy as np
>>> from simulations.scenarios import Scenario, pseudo_uniform_scenarios
>>> Scenario(name="S1", true_dlt_probs=(0.05, 0.1, 0.2, 0.3, 0.5)).mtd_levels
(4,)
>>> s = pseudo_uniform_scenarios(np.random.default_rng(1), count=3, target=0.3, levels=5)
>>> [len(x.true_dlt_probs) for x in s]
[5, 5, 5]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr, ndtri

__all__ = [
    "GENERATORS",
    "Scenario",
    "liu_yuan_scenarios",
    "mtd_levels",
    "pseudo_uniform_scenarios",
]

FloatArray = npt.NDArray[np.float64]

#: relative tolerance under which two distances to the target count as equal
_TIE_TOL = 1e-12
#: draws a generator may spend on one curve before it gives up (a setting that cannot be met)
_MAX_TRIES = 100_000
#: pseudo-uniform: draws on one upper bound B before B is drawn again. The algorithm keeps B until a
#: curve is accepted, which for a B barely above the target and an MTD below the top level can take
#: practically forever (the accepting region is tiny); redrawing B then only reweights such B.
_TRIES_PER_BOUND = 10_000


def mtd_levels(true_dlt_probs: Sequence[float], target: float) -> tuple[int, ...]:
    """The dose levels (from 1) whose true DLT probability is closest to the target.

    Examples
    --------
    >>> mtd_levels([0.1, 0.25, 0.35, 0.5], 0.3)
    (2, 3)
    """
    p = np.asarray(true_dlt_probs, dtype=np.float64)
    distance = np.abs(p - target)
    best = float(distance.min())
    return tuple(int(i) + 1 for i in np.flatnonzero(distance <= best + _TIE_TOL))


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One dose-toxicity scenario: a name, the true DLT probability per level, and the target.

    ``target`` is the target the true MTD is judged by (by default that of the design being
    simulated; a random scenario records the target it was generated for).
    """

    name: str
    true_dlt_probs: tuple[float, ...]
    target: float | None = None

    @property
    def n_levels(self) -> int:
        return len(self.true_dlt_probs)

    def mtd_levels_for(self, target: float) -> tuple[int, ...]:
        """The true MTD level(s) for a target (the scenario's own when it has one)."""
        return mtd_levels(self.true_dlt_probs, self.target if self.target is not None else target)

    @property
    def mtd_levels(self) -> tuple[int, ...]:
        """The true MTD level(s) for the scenario's own target (0.3 when it has none)."""
        return self.mtd_levels_for(0.3)


def _is_mtd(p: FloatArray, j: int, target: float) -> bool:
    distance = np.abs(p - target)
    return bool(np.argmin(distance) == j and np.sum(distance <= distance[j] + _TIE_TOL) == 1)


def pseudo_uniform_scenarios(
    rng: np.random.Generator, *, count: int, target: float, levels: int
) -> list[Scenario]:
    """Random curves by Clertant & O'Quigley's (2017) pseudo-uniform algorithm.

    Parameters
    ----------
    rng
        The source of randomness.
    count
        Number of curves.
    target
        Target DLT probability.
    levels
        Number of dose levels.

    Returns
    -------
    list of Scenario
        Named ``pseudo-uniform-1``, ... each with its unique MTD.

    References
    ----------
    Clertant M, O'Quigley J (2017). Semiparametric dose finding methods. JRSS-B 79:1487-1508.
    """
    out = []
    for k in range(count):
        j = int(rng.integers(levels))
        accepted = None
        for _ in range(_MAX_TRIES):
            m = rng.beta(max(levels - (j + 1), 0.5), 1.0)
            upper = target + (1.0 - target) * m
            for _ in range(_TRIES_PER_BOUND):
                p = np.sort(rng.uniform(0.0, upper, size=levels))
                if _is_mtd(p, j, target):
                    accepted = p
                    break
            if accepted is not None:
                break
        if accepted is None:  # pragma: no cover - the algorithm accepts with positive probability
            raise RuntimeError("pseudo-uniform generator: no curve accepted")
        p = accepted
        out.append(
            Scenario(
                name=f"pseudo-uniform-{k + 1}",
                true_dlt_probs=tuple(float(v) for v in p),
                target=target,
            )
        )
    return out


def liu_yuan_scenarios(
    rng: np.random.Generator,
    *,
    count: int,
    target: float,
    levels: int,
    gap: float = 0.05,
    sigma0: float = 0.05,
    sigma: float = 0.35,
) -> list[Scenario]:
    """Random curves on the probit scale with a minimum gap around the MTD (Liu & Yuan 2015).

    Parameters
    ----------
    rng
        The source of randomness.
    count, target, levels
        Number of curves, target DLT probability, number of dose levels.
    gap
        The MTD's neighbours are at least ``gap`` further from the target than the MTD
        (probability scale).
    sigma0
        Standard deviation of the MTD's probit around probit(target).
    sigma
        Scale of the half-normal probit steps between adjacent levels.

    References
    ----------
    Liu S, Yuan Y (2015). JRSS-C 64:507-523, section 4.
    """
    centre = float(ndtri(target))
    out = []
    for k in range(count):
        j = int(rng.integers(levels))
        for _ in range(_MAX_TRIES):
            z = np.empty(levels)
            z[j] = centre + sigma0 * rng.standard_normal()
            steps = np.abs(sigma * rng.standard_normal(levels))
            for i in range(j + 1, levels):
                z[i] = z[i - 1] + steps[i]
            for i in range(j - 1, -1, -1):
                z[i] = z[i + 1] - steps[i]
            p = np.asarray(ndtr(z), dtype=np.float64)
            if not _is_mtd(p, j, target):
                continue
            here = abs(p[j] - target)
            neighbours = [abs(p[i] - target) for i in (j - 1, j + 1) if 0 <= i < levels]
            if all(d - here >= gap for d in neighbours):
                break
        else:
            raise RuntimeError(
                f"liu-yuan generator: no curve met gap={gap} in {_MAX_TRIES} draws (gap too large?)"
            )
        out.append(
            Scenario(
                name=f"liu-yuan-{k + 1}",
                true_dlt_probs=tuple(float(v) for v in p),
                target=target,
            )
        )
    return out


GENERATORS = {"pseudo-uniform": pseudo_uniform_scenarios, "liu-yuan": liu_yuan_scenarios}
