"""The prior of the BLRM: a bivariate normal on (log(alpha), log(beta)), and its checks.

See :mod:`escalation.models.blrm` for the model and the default priors.

References
----------
Neuenschwander B, Matano A, Tang Z, Roychoudhury S, Wandel S, Bailey S (2015). A Bayesian industry
approach to phase I combination trials in oncology. In: Zhao W, Yang H (eds), Statistical Methods
in Drug Combination Studies. Chapman & Hall/CRC, 95-135 (the weakly informative prior).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from escalation.errors import InvalidDesignError, Problem
from escalation.models import _special as special

__all__ = ["BLRMPrior"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, kw_only=True)
class BLRMPrior:
    """Bivariate normal prior on (log(alpha), log(beta)).

    Parameters
    ----------
    mean
        Prior means of log(alpha) and log(beta).
    sd
        Prior standard deviations (positive).
    corr
        Prior correlation, in (-1, 1).
    """

    mean: tuple[float, float]
    sd: tuple[float, float]
    corr: float = 0.0

    def __post_init__(self) -> None:
        problems = _prior_problems(self.mean, self.sd, self.corr, "prior")
        if problems:
            raise InvalidDesignError(problems)
        object.__setattr__(self, "mean", (float(self.mean[0]), float(self.mean[1])))
        object.__setattr__(self, "sd", (float(self.sd[0]), float(self.sd[1])))
        object.__setattr__(self, "corr", float(self.corr))

    @classmethod
    def weakly_informative(cls, prior_median_at_reference: float) -> BLRMPrior:
        """log(alpha) ~ N(logit(p*), 2^2), log(beta) ~ N(0, 1), independent.

        References
        ----------
        Neuenschwander et al. (2015), section 6.2.2; OncoBayes2 ``example-single-agent``.
        """
        if not 0.0 < prior_median_at_reference < 1.0:
            raise InvalidDesignError(
                f"the prior median DLT probability must be in (0, 1), got {prior_median_at_reference}",
                field="design.prior",
            )
        return cls(
            mean=(float(special.logit(prior_median_at_reference)), 0.0), sd=(2.0, 1.0), corr=0.0
        )

    @classmethod
    def centred_at_mtd(cls, prior_median_at_reference: float) -> BLRMPrior:
        """log(alpha) ~ N(logit(p*), 1.5^2), log(beta) ~ N(0, 0.5^2), independent: the default.

        With the reference dose d* at a provisional MTD in the middle of the dose range, p* (the
        target) is the prior median DLT probability there. sd 1.5 leaves p(d*) nearly unknown
        (for p* = 0.25 a central 95% interval of 0.02 to 0.86) without piling the prior at 0 and 1
        as sd 2 does (a prior vague on the parameters is not vague on the DLT rates: Neuenschwander
        et al. 2008, section 3); such a prior makes overdose control stop a trial after one DLT
        in three patients at a dose whose estimate is 0.18. sd 0.5 for log(beta) puts the odds
        ratio of a DLT for a doubling of the dose between 2^0.37 and 2^2.7 (1.3 to 6.5, central
        95%): with sd 1 (odds ratios up to 2^7 per doubling) no number of patients without a DLT
        at a dose would let the trial escalate past it.

        References
        ----------
        Neuenschwander B, Branson M, Gsponer T (2008). Stat Med 27:2420-2439, sections 3 and 4.
        """
        weak = cls.weakly_informative(prior_median_at_reference)
        return cls(mean=weak.mean, sd=(1.5, 0.5), corr=0.0)

    @classmethod
    def from_mapping(cls, value: Any, *, field: str = "design.prior") -> BLRMPrior:
        """The prior from its document form ``{"mean": [m1, m2], "sd": [s1, s2], "corr": r}``.

        Raises
        ------
        InvalidDesignError
            Naming every bad entry (``design.prior.mean`` and so on).
        """
        if not isinstance(value, Mapping):
            raise InvalidDesignError(
                f'expected {{"mean": [m1, m2], "sd": [s1, s2], "corr": r}}, got {value!r}',
                field=field,
            )
        problems = [
            Problem(field=f"{field}.{key}", message="unknown entry (entries: corr, mean, sd)")
            for key in value
            if key not in ("mean", "sd", "corr")
        ]
        for key in ("mean", "sd"):
            if key not in value:
                problems.append(Problem(field=f"{field}.{key}", message="missing"))
        if problems:
            raise InvalidDesignError(problems)
        mean, sd, corr = value["mean"], value["sd"], value.get("corr", 0.0)
        problems = _prior_problems(mean, sd, corr, field)
        if problems:
            raise InvalidDesignError(problems)
        return cls(mean=(mean[0], mean[1]), sd=(sd[0], sd[1]), corr=corr)

    def as_dict(self) -> dict[str, Any]:
        """The document form."""
        return {"mean": list(self.mean), "sd": list(self.sd), "corr": self.corr}

    @property
    def covariance(self) -> FloatArray:
        s1, s2 = self.sd
        c = self.corr * s1 * s2
        return np.array([[s1 * s1, c], [c, s2 * s2]])


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.floating | np.integer) and not isinstance(v, bool)


def _prior_problems(mean: Any, sd: Any, corr: Any, field: str) -> list[Problem]:
    problems: list[Problem] = []
    for key, value in (("mean", mean), ("sd", sd)):
        if (
            not isinstance(value, Sequence)
            or isinstance(value, str)
            or len(value) != 2
            or not all(_is_number(v) and math.isfinite(v) for v in value)
        ):
            problems.append(
                Problem(field=f"{field}.{key}", message=f"expected two numbers, got {value!r}")
            )
        elif key == "sd" and not all(v > 0 for v in value):
            problems.append(
                Problem(
                    field=f"{field}.sd", message=f"standard deviations must be > 0, got {value!r}"
                )
            )
    if not _is_number(corr) or not -1.0 < corr < 1.0:
        problems.append(
            Problem(field=f"{field}.corr", message=f"expected a number in (-1, 1), got {corr!r}")
        )
    return problems
