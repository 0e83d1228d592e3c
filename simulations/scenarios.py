"""Dose-toxicity scenarios: hand-picked curves and random curves with a known MTD.

A scenario is a vector of true DLT probabilities, one per dose level. Its true MTD is the level whose
probability is closest to the target; when two levels are equally close (0.25 and 0.35 around 0.30)
both count as correct. When every level is unacceptably toxic (every probability above 1.4 x the
target, BOIN's default phi2) there is no MTD: the correct selection is no dose.

Two generators give random monotone curves, so that designs are compared over many curves rather than
a few hand-picked ones (DESIGN.md section 5):

* ``"pseudo-uniform"`` -- Clertant & O'Quigley (2017): choose the MTD level j uniformly; draw
  M ~ Beta(max(J - j, 0.5), 1) and the upper bound B = target + (1 - target) M; draw J probabilities
  uniformly on [0, B], sorted, again until level j is the one closest to the target (B is drawn
  again after 10,000 rejections, see ``_TRIES_PER_BOUND``).
* ``"liu-yuan"`` -- the random scenarios of Liu & Yuan (2015, section 4), after Paoletti et al.
  (2004): choose the MTD level j uniformly; on the probit scale its value is
  z_j ~ N(probit(target), ``sigma0``^2); each further level is one squared normal step away,
  z_{i+1} - z_i = eps^2 with eps ~ N(``mu``, ``sigma``^2), so the curve increases; the two
  neighbours of the MTD are first reflected about the target, so that the MTD stays the level
  closest to it (see :func:`liu_yuan_scenarios`). Nothing is rejected; ``mu`` sets how far apart
  the levels are (0.53, the default: the paper's main setting; 0.38: its harder one).
* ``"boin12-random"`` -- curves of DLT *and* response probabilities with a known optimal
  biological dose, for BOIN12 (see :func:`boin12_random_scenarios`): the random scenarios of the
  CRAN package phase12designs (``oc_boin12`` without fixed probabilities, its ``simprob``), which
  derives from MD Anderson's BOIN12 simulation code: the OBD level uniform, the MTD uniform at or
  above it, DLT probabilities by the pseudo-uniform algorithm, response probabilities a plateau
  after the OBD or (half the time) unimodal, curves rejected until the OBD maximizes
  u11 q + u00 (1 - p) up to the MTD with p <= target + 0.05 and q >= efficacy_target + 0.05 there.
* ``"probit-gap"`` -- the generator this package called ``liu-yuan`` before: the same MTD draw,
  half-normal probit steps of scale ``sigma``, and curves rejected until the MTD's neighbours are
  at least ``gap`` further from the target than the MTD. Not a published algorithm; kept for
  reproducing older results.

References
----------
Clertant M, O'Quigley J (2017). Semiparametric dose finding methods. JRSS-B 79:1487-1508 (the
pseudo-uniform algorithm).
Liu S, Yuan Y (2015). Bayesian optimal interval designs for phase I clinical trials. JRSS-C
64:507-523 (random scenarios on the probit scale).
Paoletti X, O'Quigley J, Maccario J (2004). Design efficiency in dose finding studies. Comput Stat
Data Anal 45:197-214.
Lin R, Zhou Y, Yan F, Li D, Yuan Y (2020). BOIN12. JCO Precis Oncol 4:1393-1402 (random
scenarios of toxicity and efficacy); Cao A, Shi H. phase12designs (CRAN), ``simprob`` in R/utils.R
(the algorithm followed here).

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

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "GENERATORS",
    "UNACCEPTABLE_RATIO",
    "IndicationTruth",
    "Scenario",
    "boin12_random_scenarios",
    "liu_yuan_scenarios",
    "mtd_levels",
    "probit_gap_scenarios",
    "pseudo_uniform_scenarios",
]

FloatArray = npt.NDArray[np.float64]

#: every true DLT probability above UNACCEPTABLE_RATIO x target: no dose is acceptable (BOIN's
#: default phi2, the DLT rate it deems unacceptable)
UNACCEPTABLE_RATIO = 1.4
#: relative tolerance under which two distances to the target count as equal
_TIE_TOL = 1e-12
#: draws a generator may spend on one curve before it gives up (a setting that cannot be met)
_MAX_TRIES = 100_000
#: pseudo-uniform: draws on one upper bound B before B is drawn again. The algorithm keeps B until a
#: curve is accepted, which for a B barely above the target and an MTD below the top level can take
#: practically forever (the accepting region is tiny); redrawing B then only reweights such B.
_TRIES_PER_BOUND = 10_000
#: the most draws of a DLT curve the boin12-random generator makes for one scenario
_MAX_DRAWS = 1_000_000


def mtd_levels(
    true_dlt_probs: Sequence[float], target: float, *, unacceptable: float | None = None
) -> tuple[int, ...]:
    """The true MTD level(s) (from 1): those whose DLT probability is closest to the target.

    None (``()``) when every level is unacceptably toxic: every probability above
    ``unacceptable`` (``None``: :data:`UNACCEPTABLE_RATIO` x target, BOIN's default phi2; ``inf``
    turns the rule off). Then the correct selection is no dose.

    Examples
    --------
    >>> mtd_levels([0.1, 0.25, 0.35, 0.5], 0.3)
    (2, 3)
    >>> mtd_levels([0.45, 0.6], 0.3), mtd_levels([0.45, 0.6], 0.3, unacceptable=float("inf"))
    ((), (1,))
    """
    p = np.asarray(true_dlt_probs, dtype=np.float64)
    bound = UNACCEPTABLE_RATIO * target if unacceptable is None else unacceptable
    if p.size and bool(np.all(p > bound)):
        return ()
    distance = np.abs(p - target)
    best = float(distance.min())
    return tuple(int(i) + 1 for i in np.flatnonzero(distance <= best + _TIE_TOL))


@dataclass(frozen=True, slots=True, kw_only=True)
class IndicationTruth:
    """A scenario's true DLT and response probabilities per level for one indication of the
    expansion stage (``None``: the stage's value, as :mod:`simulations.expansion` says)."""

    true_dlt_probs: tuple[float, ...] | None = None
    true_response_probs: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One dose-toxicity scenario: a name, the true DLT probability per level, and the target.

    ``target`` is the target the true MTD is judged by (by default that of the design being
    simulated; a random scenario records the target it was generated for).
    ``true_response_probs`` (optional) are the true response probabilities per level, for the
    designs that use efficacy (BOIN12); ``tox_eff_correlation`` the correlation of the latent
    normal variables behind a patient's DLT and response (a Gaussian copula; 0: independent).
    ``expansion``: the scenario's own truth in the expansion stage, as (indication, truth) pairs;
    an indication not named here takes the stage's values.
    """

    name: str
    true_dlt_probs: tuple[float, ...]
    target: float | None = None
    true_response_probs: tuple[float, ...] | None = None
    tox_eff_correlation: float = 0.0
    expansion: tuple[tuple[str, IndicationTruth], ...] = ()

    def expansion_truth(self, indication: str) -> IndicationTruth:
        """The scenario's truth for an indication of the expansion stage (empty if none)."""
        return next((t for name, t in self.expansion if name == indication), IndicationTruth())

    @property
    def n_levels(self) -> int:
        return len(self.true_dlt_probs)

    def mtd_levels_for(
        self, target: float, *, unacceptable_ratio: float = UNACCEPTABLE_RATIO
    ) -> tuple[int, ...]:
        """The true MTD level(s) for a target (the scenario's own when it has one); none when
        every level's probability is above ``unacceptable_ratio`` x that target."""
        t = self.target if self.target is not None else target
        return mtd_levels(self.true_dlt_probs, t, unacceptable=unacceptable_ratio * t)

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
    mu: float = 0.53,
    sigma0: float = 0.05,
    sigma: float = 0.35,
) -> list[Scenario]:
    """Random curves by Liu & Yuan's (2015) probit-scale algorithm.

    For each curve, with z = probit(p):

    1. the MTD level j is drawn uniformly from the ``levels`` levels;
    2. z_j ~ N(probit(target), ``sigma0``^2);
    3. the neighbours, reflected so that the MTD stays the level closest to the target: with
       m = probit(2 target - p_j) the probit of p_j's mirror image about the target,
       z_{j+1} = z_j + max(m - z_j, 0) + eps^2 and z_{j-1} = z_j - max(z_j - m, 0) - eps^2, so that
       p_{j+1} >= 2 target - p_j and p_{j-1} <= 2 target - p_j;
    4. every further level one step on, z_{i+1} = z_i + eps^2 above and z_{i-1} = z_i - eps^2 below;

    every eps an independent N(``mu``, ``sigma``^2), so the probit increments eps^2 are
    ``sigma``^2 times a noncentral chi-square with one degree of freedom and noncentrality
    (``mu`` / ``sigma``)^2. No curve is rejected by its gaps; z_j alone is drawn again when p_j's
    mirror image 2 target - p_j falls outside (0, 1) on a side that has a neighbour (no neighbour
    could then be further from the target; with the paper's ``sigma0`` = 0.05 it does not happen
    in practice). The MTD is unique with probability 1 (a tie needs
    eps = 0 exactly). Draws per curve, in this order: j, z_j, the eps below j (level j - 1 first,
    then downwards), the eps above j (level j + 1 first, then upwards).

    Parameters
    ----------
    rng
        The source of randomness.
    count, target, levels
        Number of curves, target DLT probability, number of dose levels.
    mu
        Mean of eps: larger steps between levels make the MTD easier to find. 0.53 is the paper's
        main setting, 0.38 its harder one.
    sigma0
        Standard deviation of the MTD's probit around probit(target).
    sigma
        Standard deviation of eps.

    References
    ----------
    Liu S, Yuan Y (2015). Bayesian optimal interval designs for phase I clinical trials. JRSS-C
    64:507-523, section 4 (random scenarios; sigma0 = 0.05, sigma = 0.35, mu = 0.53 or 0.38).
    Paoletti X, O'Quigley J, Maccario J (2004). Comput Stat Data Anal 45:197-214 (the construction).

    Examples
    --------
    >>> import numpy as np
    >>> s = liu_yuan_scenarios(np.random.default_rng(5), count=2, target=0.3, levels=5)
    >>> [x.mtd_levels_for(0.3) for x in s]
    [(4,), (5,)]
    """
    from scipy.special import ndtr, ndtri  # only here: a slow import (0.2 s)

    if not 0 < target < 1:
        raise ValueError(f"target: must be strictly between 0 and 1, got {target}")
    centre = float(ndtri(target))
    out = []
    for k in range(count):
        j = int(rng.integers(levels))
        z = np.empty(levels)
        for _ in range(_MAX_TRIES):
            z[j] = centre + sigma0 * rng.standard_normal()
            p_j = float(ndtr(z[j]))
            # a mirror image outside (0, 1): no neighbour could be further from the target
            if (j == 0 or p_j < 2.0 * target) and (j == levels - 1 or p_j > 2.0 * target - 1.0):
                break
        else:
            raise RuntimeError(f"liu-yuan generator: sigma0={sigma0} too large for the target")
        mirror = float(ndtri(min(max(2.0 * target - p_j, 0.0), 1.0)))
        for i in range(j - 1, -1, -1):
            eps = mu + sigma * rng.standard_normal()
            reflect = max(z[j] - mirror, 0.0) if i == j - 1 else 0.0
            z[i] = z[i + 1] - reflect - eps * eps
        for i in range(j + 1, levels):
            eps = mu + sigma * rng.standard_normal()
            reflect = max(mirror - z[j], 0.0) if i == j + 1 else 0.0
            z[i] = z[i - 1] + reflect + eps * eps
        p = np.asarray(ndtr(z), dtype=np.float64)
        out.append(
            Scenario(
                name=f"liu-yuan-{k + 1}",
                true_dlt_probs=tuple(float(v) for v in p),
                target=target,
            )
        )
    return out


def probit_gap_scenarios(
    rng: np.random.Generator,
    *,
    count: int,
    target: float,
    levels: int,
    gap: float = 0.05,
    sigma0: float = 0.05,
    sigma: float = 0.35,
) -> list[Scenario]:
    """Random curves on the probit scale, half-normal steps, a minimum gap around the MTD.

    Not Liu & Yuan's generator (:func:`liu_yuan_scenarios` is): the steps are half-normal, and
    curves are drawn again until the MTD's neighbours are ``gap`` further from the target.

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
    Paoletti X, O'Quigley J, Maccario J (2004). Comput Stat Data Anal 45:197-214 (the probit-scale
    construction this variant adapts).
    """
    from scipy.special import ndtr, ndtri  # only here: a slow import (0.2 s)

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
                f"probit-gap generator: no curve met gap={gap} in {_MAX_TRIES} draws (gap too large?)"
            )
        out.append(
            Scenario(
                name=f"probit-gap-{k + 1}",
                true_dlt_probs=tuple(float(v) for v in p),
                target=target,
            )
        )
    return out


def boin12_random_scenarios(
    rng: np.random.Generator,
    *,
    count: int,
    target: float,
    levels: int,
    efficacy_target: float,
    u11: float = 60.0,
    u00: float = 40.0,
    plateau_share: float = 0.5,
) -> list[Scenario]:
    """Random DLT and response curves with a known optimal biological dose (OBD), for BOIN12.

    phase12designs' ``simprob`` (its random scenarios of ``oc_boin12``), level by level (1-based
    as there; p the DLT, q the response probabilities, J levels):

    1. the OBD level b is uniform on 1..J; with b < J the response curve is a plateau with
       probability ``plateau_share``, else unimodal (b = J: increasing);
    2. then, until the curve is accepted: the MTD level m is uniform on b..J; the upper bound of
       the DLT probabilities is B = max(target + 0.1, the largest of J - m uniforms on
       (target, 1)) when m < J, else target + (1 - target) Beta(0.5, 1); p is J sorted uniforms
       on (0, B), drawn again until m is the level closest to the target;
    3. the response bound is C ~ U(efficacy_target + 0.1, 1); plateau: q_1..q_b sorted uniforms on
       (0, C), then q_i = q_b above b; unimodal: the peak level e is uniform on b..J, q_e the
       largest of J uniforms on (0, C), sorted uniforms on (0, q_e) below it and decreasing ones
       above; b = J: J sorted uniforms on (0, C);
    4. accepted when b is the first level maximizing ``simprob``'s u11 q + u00 (1 - p) among
       1..m, with p_b <= target + 0.05 and q_b >= efficacy_target + 0.05. That score is the
       expected BOIN12 utility (100, u00, u11, 0) of independent outcomes, less a constant, only
       when u11 + u00 = 100 (the defaults 60 and 40); otherwise the two may rank levels
       differently. The simulations' OBD is always the design's own (:func:`true_obd` in
       :mod:`simulations.metrics`), whatever the generator's b.

    Two departures: where ``simprob`` redraws p with the same B until m is the level closest to
    the target (practically forever for some B), this draws m and B again after 10,000
    rejections, as :func:`pseudo_uniform_scenarios` does; and a scenario gives up (RuntimeError)
    after :data:`_MAX_DRAWS` draws of p in all, rather than run for hours on settings that
    accept next to no curve. ``target`` must be below 0.9 (the DLT curves reach target + 0.1)
    and ``u11`` above 0 (with u11 = 0 only level 1 can be accepted). Returns scenarios named
    ``boin12-random-1``, ... with ``true_response_probs``.

    References
    ----------
    Cao A, Shi H. phase12designs: model-assisted phase I/II designs (CRAN), R/utils.R ``simprob``
    and R/oc_boin12.R. Lin R, Zhou Y, Yan F, Li D, Yuan Y (2020). JCO Precis Oncol 4:1393-1402.

    Examples
    --------
    >>> s = boin12_random_scenarios(
    ...     np.random.default_rng(3), count=2, target=0.35, levels=5, efficacy_target=0.25)
    >>> [len(x.true_response_probs or ()) for x in s]
    [5, 5]
    """
    if not 0 < efficacy_target < 0.9:
        raise ValueError(f"efficacy_target: must be in (0, 0.9), got {efficacy_target}")
    if not 0 <= plateau_share <= 1:
        raise ValueError(f"plateau_share: must be in [0, 1], got {plateau_share}")
    if not 0 < target < 0.9:
        raise ValueError(f"target: must be in (0, 0.9) for this generator, got {target}")
    if not u11 > 0:
        raise ValueError(f"u11: must be above 0 (else only level 1 is ever accepted), got {u11}")
    out = []
    for k in range(count):
        b = int(rng.integers(levels))  # 0-based OBD
        plateau = b < levels - 1 and bool(rng.random() < plateau_share)
        draws = 0
        for _ in range(_MAX_TRIES):
            if draws >= _MAX_DRAWS:
                raise RuntimeError(
                    f"boin12-random generator: no curve accepted in {_MAX_DRAWS} draws "
                    f"(target {target}, efficacy_target {efficacy_target}, u11 {u11}, u00 {u00})"
                )
            m = b + int(rng.integers(levels - b))  # 0-based MTD, at or above the OBD
            if m < levels - 1:
                bound = max(target + 0.10, float(rng.uniform(target, 1.0, levels - 1 - m).max()))
            else:
                bound = target + (1.0 - target) * float(rng.beta(0.5, 1.0))
            for _ in range(_TRIES_PER_BOUND):
                draws += 1
                p = np.sort(rng.uniform(0.0, bound, levels))
                if int(np.argmin(np.abs(p - target))) == m:
                    break
            else:
                continue
            c = float(rng.uniform(efficacy_target + 0.10, 1.0))
            q = np.empty(levels)
            if b == levels - 1:
                q = np.sort(rng.uniform(0.0, c, levels))
            elif plateau:
                q[: b + 1] = np.sort(rng.uniform(0.0, c, b + 1))
                q[b + 1 :] = q[b]
            else:
                e = b + int(rng.integers(levels - b))  # the peak of the responses
                q[e] = float(rng.uniform(0.0, c, levels).max())
                q[:e] = np.sort(rng.uniform(0.0, q[e], e))
                q[e + 1 :] = np.sort(rng.uniform(0.0, q[e], levels - 1 - e))[::-1]
            utility = u11 * q + u00 * (1.0 - p)
            if (
                int(np.argmax(utility[: m + 1])) == b
                and p[b] <= target + 0.05
                and q[b] >= efficacy_target + 0.05
            ):
                break
        else:
            raise RuntimeError(
                f"boin12-random generator: no curve accepted in {_MAX_TRIES} draws "
                f"(target {target}, efficacy_target {efficacy_target})"
            )
        out.append(
            Scenario(
                name=f"boin12-random-{k + 1}",
                true_dlt_probs=tuple(float(v) for v in p),
                target=target,
                true_response_probs=tuple(float(v) for v in q),
            )
        )
    return out


#: the random generators by name (a spec's ``"generator"``); each takes the generator, then
#: ``count``, ``target``, ``levels`` and its own options as keywords
GENERATORS: dict[str, Callable[..., list[Scenario]]] = {
    "pseudo-uniform": pseudo_uniform_scenarios,
    "boin12-random": boin12_random_scenarios,
    "liu-yuan": liu_yuan_scenarios,
    "probit-gap": probit_gap_scenarios,
}
