"""TITE-BOIN12: BOIN12 deciding with patients whose DLT or response is still pending.

Zhou et al. (2022)'s approximated likelihood: at each dose, with A_T and A_E the DLT and efficacy
windows and w = (follow-up) / A the fraction of a pending patient's window already passed, the
effective numbers of patients are ESS_T = (patients with the DLT outcome known) + sum of w_T over
those pending, ESS_E likewise, and the rates p_T = DLTs / ESS_T, p_E = responses / ESS_E. A pending
patient's outcome is imputed by its conditional probability given no event so far,
p (1 - w) / (1 - p w); the quasi-events of the utility are x = sum over the dose's n patients of
the utility of their (observed or imputed) outcomes / 100, outcomes independent for a patient with
both imputed. BOIN12's rules then apply with n all the patients at the dose, p_T in place of the
observed DLT rate (escalation allowed while p_T <= lambda_e, de-escalation when p_T >= lambda_d, as
TITE-BOIN), p_T n and p_E n in place of the DLT and response counts (admissibility), and x in the
desirability. Accrual is suspended at the current dose until more than ``max_pending`` of its
patients have their DLT outcome known and as many have their response known (the software's rule,
with 0.5: at least floor(n / 2) + 1 of each). The final selection is BOIN12's on complete data.

References
----------
Zhou Y, Lin R, Lee JJ, Li D, Wang L, Li R, Yuan Y (2022). TITE-BOIN12: a Bayesian phase I/II trial
design to find the optimal biological dose with late-onset toxicity and efficacy. Stat Med
41:1918-1931 (section 2.3, the approximated likelihood; the accrual suspension rule).
Lin R, Zhou Y, Yan F, Li D, Yuan Y (2020). JCO Precision Oncology 4:1393-1402.

Examples
--------
Patient C's response is pending after 60 of 90 days: p_E = 1 / (2 + 60/90) = 0.375, imputed
0.375 (1 - 2/3) / (1 - 0.375 x 2/3) = 1/6, so x = 1 + 0.4 + (1/6 + 5/6 x 0.4) = 1.9 and the
posterior mean utility is 100 (1 + 1.9) / (2 + 3) = 58.

>>> from escalation import TITEBOIN12, TrialData
>>> from escalation.data import Patient
>>> data = TrialData(n_doses=4, as_of_day=120, patients=(
...     Patient(patient_id="A", dose_level=1, infused_day=0, response=True),
...     Patient(patient_id="B", dose_level=1, infused_day=10, response=False),
...     Patient(patient_id="C", dose_level=1, infused_day=60)))
>>> decision = TITEBOIN12(n_doses=4, target=0.35, efficacy_target=0.25).decide(data)
>>> decision.next_level, round(decision.doses[0].efficacy.utility_mean, 1)
(1, 58.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from escalation.data import EfficacySummary, TrialData
from escalation.decision import Selection
from escalation.designs.base import ModelFit, WaitingRule
from escalation.designs.boin12 import BOIN12
from escalation.errors import Problem
from escalation.rules.waiting import SuspendForOutcomes

__all__ = ["TITEBOIN12"]

FloatArray = npt.NDArray[np.float64]


def _impute(p: FloatArray, w: FloatArray) -> FloatArray:
    """Pr(event | none in the fraction w of the window), events uniform over the window."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = p * (1.0 - w) / (1.0 - p * w)
    return np.asarray(np.nan_to_num(out, nan=0.0), dtype=np.float64)


@dataclass(frozen=True, slots=True, kw_only=True)
class TITEBOIN12(BOIN12):
    """Time-to-event BOIN12 (see the module docstring).

    Parameters
    ----------
    max_pending
        Accrual is suspended while this share or more of the current dose's patients lack their
        DLT outcome, or their response (default 0.5: at least floor(n / 2) + 1 of each known).
    """

    method: ClassVar[str] = "tite-boin12"

    max_pending: float = 0.5

    def _problems(self) -> list[Problem]:
        problems = BOIN12._problems(self)
        if not 0 < self.max_pending <= 1:
            problems.append(
                Problem(
                    field="design.max_pending", message=f"must be in (0, 1], got {self.max_pending}"
                )
            )
        return problems

    def _waiting(self) -> tuple[WaitingRule, ...]:
        return (SuspendForOutcomes(max_pending=self.max_pending),)

    def _counts(
        self, data: TrialData
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, EfficacySummary]:
        """(n, imputed DLTs p_T n, imputed responses p_E n, quasi-events x) per dose."""
        e = data.efficacy_summary()
        k = self.n_doses
        idx = e.dose_index
        if data.counts is not None or idx.size == 0:
            zero = np.zeros(k)
            return zero, zero.copy(), zero.copy(), zero.copy(), e
        s = data.summary
        tox_known = e.tox_known
        # a withdrawn patient counts with the follow-up it had (as TITE-BOIN)
        w_t = np.where(tox_known, 1.0, s.followup_fraction)
        eff_known = e.eff_known
        w_e = np.where(eff_known, 1.0, e.eff_fraction)
        obs_t = (e.tox & tox_known).astype(np.float64)
        obs_e = (e.eff & eff_known).astype(np.float64)
        n = np.bincount(idx, minlength=k).astype(np.float64)
        ess_t = np.bincount(idx, weights=w_t, minlength=k)
        ess_e = np.bincount(idx, weights=w_e, minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            p_t = np.where(ess_t > 0, np.bincount(idx, weights=obs_t, minlength=k) / ess_t, 0.0)
            p_e = np.where(ess_e > 0, np.bincount(idx, weights=obs_e, minlength=k) / ess_e, 0.0)
        tox = np.where(tox_known, obs_t, _impute(p_t[idx], w_t))
        eff = np.where(eff_known, obs_e, _impute(p_e[idx], w_e))
        u1, u2, u3, u4 = self.utility
        value = (
            u1 * (1 - tox) * eff
            + u2 * (1 - tox) * (1 - eff)
            + u3 * tox * eff
            + u4 * tox * (1 - eff)
        ) / 100.0
        x = np.bincount(idx, weights=value, minlength=k).astype(np.float64)
        return n, np.asarray(p_t * n, dtype=np.float64), np.asarray(p_e * n, dtype=np.float64), x, e

    def _toxicity_zone(self, nd: float, yd: float) -> tuple[bool, bool]:
        """Rates against lambda_e and lambda_d, both inclusive (as TITE-BOIN): p_T = yd / nd."""
        lambda_e, lambda_d = self.lambdas
        rate = yd / nd
        return rate <= lambda_e + 1e-12, rate >= lambda_d - 1e-12

    def fit(self, data: TrialData) -> ModelFit:
        return BOIN12.fit(self, data)

    def choose(self, data: TrialData, fit: ModelFit) -> Selection:
        """BOIN12's selection on the patients with both outcomes known."""
        complete = BOIN12._counts(self, data)
        n, t, r = complete[0], complete[1], complete[2]
        from escalation.designs.boin12 import obd_selection

        eliminated = self.admissibility().apply_both(n, t, r)[0]
        current = data.current_dose_level
        early = fit.stop_reason is not None and (
            current is None or data.summary.n_treated[current - 1] < self.n_stop
        )
        return obd_selection(
            n,
            t,
            r,
            eliminated,
            target=self.target,
            utility=self.utility,
            n_waiting=int(complete[4].n_waiting.sum()),
            early_stop=fit.stop_reason if early else None,
        )
