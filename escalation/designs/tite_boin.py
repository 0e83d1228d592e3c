"""TITE-BOIN: BOIN that decides with pending patients, as TITEgBOIN 0.4.0 implements it.

At the current dose, with n patients (pending ones included), y observed DLTs, m pending patients
and STFT the sum of the pending patients' follow-up fractions (the standardized total follow-up
time), the DLT rate is estimated by phat = y / (n - m + STFT): each pending patient counts as the
fraction of a patient it has been followed. Escalate if phat <= lambda_e, de-escalate if
phat >= lambda_d (both inclusive, as TITEgBOIN), else stay. Accrual is suspended (``wait``) while
more than ``max_pending`` of the patients at the current dose are pending, and at the lowest dose
while the data call for de-escalation with patients pending there. Elimination counts every treated
patient with the observed DLTs, and takes precedence over suspension. A withdrawn patient counts
with the follow-up fraction it had when it left. The final selection is BOIN's isotonic selection on
complete data, with TITEgBOIN's (y + 0.005) / (n + 0.01) estimate (``selection_prior``).

References
----------
Yuan Y, Lin R, Li D, Nie L, Warren KE (2018). Time-to-event Bayesian optimal interval design to
accelerate phase I trials. Clin Cancer Res 24:4921-4930.
Lin R, Yuan Y (2020). Time-to-event model-assisted designs for dose-finding trials with delayed
toxicity. Biostatistics 21:807-824.
TITEgBOIN 0.4.0, ``next_TITE_QuasiBOIN`` and ``select_mtd_TITE_QuasiBOIN``.

Examples
--------
>>> from escalation import TITEBOIN, Patient, TrialData
>>> data = TrialData(n_doses=4, as_of_day=40, patients=(
...     Patient(patient_id="A", dose_level=1, infused_day=0),
...     Patient(patient_id="B", dose_level=1, infused_day=5),
...     Patient(patient_id="C", dose_level=1, infused_day=25)))
>>> TITEBOIN(n_doses=4, target=0.3).decide(data).next_level
2
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from escalation.data import TrialData
from escalation.decision import Action
from escalation.designs.base import START_REASON, ModelFit, WaitingRule, limit_problems, move
from escalation.designs.boin import BOIN
from escalation.errors import Problem
from escalation.models.boundaries import beta_overdose_prob
from escalation.rules.waiting import SuspendWhenPending

__all__ = ["TITEBOIN"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TITEBOIN(BOIN):
    """Time-to-event BOIN (see the module docstring).

    Parameters
    ----------
    max_pending
        Largest share of pending patients at the current dose before accrual is suspended
        (default 0.5, TITEgBOIN's ``maxpen``).
    selection_prior
        a in the final selection's (y + a) / (n + 2a) estimate (default 0.005, as TITEgBOIN).
    """

    method: ClassVar[str] = "tite-boin"

    max_pending: float = 0.5
    selection_prior: float = 0.005

    def _problems(self) -> list[Problem]:
        problems = BOIN._problems(self)
        if not 0 < self.max_pending <= 1:
            problems.append(
                Problem(
                    field="design.max_pending", message=f"must be in (0, 1], got {self.max_pending}"
                )
            )
        problems += limit_problems(self, ("selection_prior",))
        return problems

    def _waiting(self) -> tuple[WaitingRule, ...]:
        """TITE-BOIN decides with pending patients, but suspends accrual when too many are."""
        return (SuspendWhenPending(max_pending=self.max_pending),)

    def _selection_prior(self) -> float:
        return self.selection_prior

    def prob_overdose_definition(self) -> str:
        return (
            f"Pr(DLT rate > {self.target:g} | the DLTs observed among every patient treated at "
            "the dose, pending ones counted as without DLT), independent Beta(1, 1) prior per "
            "dose: the posterior of the elimination rule (as TITEgBOIN)"
        )

    def fit(self, data: TrialData) -> ModelFit:
        s = data.summary
        effective_n = s.n_complete + s.pending_followup + s.withdrawn_followup
        y = s.n_dlt
        with np.errstate(invalid="ignore", divide="ignore"):
            estimate = np.where(effective_n > 0, y / effective_n, np.nan)
        treated = s.n_treated
        prob_overdose = np.where(treated > 0, beta_overdose_prob(self.target, treated, y), np.nan)
        current = data.current_dose_level
        lambda_e, lambda_d = self.lambdas
        if current is None:
            index, direction, reason = self.start_level - 1, Action.STAY, START_REASON
        else:
            cur = current - 1
            yd, n_eff = int(y[cur]), float(effective_n[cur])
            observed = (
                f"{yd} DLT{'s' if yd != 1 else ''} at dose level {cur + 1} over an effective "
                f"{n_eff:.2f} patients ({int(s.n_complete[cur])} complete, "
                f"{int(s.n_pending[cur])} pending with {float(s.pending_followup[cur]):.2f} "
                "windows of follow-up)"
            )
            if yd == 0:
                index, direction, reason = move(
                    cur, Action.ESCALATE, self.n_doses, f"{observed}: rate 0 <= lambda_e"
                )
            elif n_eff <= 0:
                index, direction, reason = (
                    cur,
                    Action.STAY,
                    f"{observed}: no follow-up to estimate from.",
                )
            elif yd / n_eff <= lambda_e:
                index, direction, reason = move(
                    cur,
                    Action.ESCALATE,
                    self.n_doses,
                    f"{observed}: rate {yd / n_eff:.3f} <= lambda_e = {lambda_e:.3f}",
                )
            elif yd / n_eff >= lambda_d:
                index, direction, reason = move(
                    cur,
                    Action.DEESCALATE,
                    self.n_doses,
                    f"{observed}: rate {yd / n_eff:.3f} >= lambda_d = {lambda_d:.3f}",
                )
            else:
                index, direction, reason = (
                    cur,
                    Action.STAY,
                    f"{observed}: rate {yd / n_eff:.3f} between lambda_e = {lambda_e:.3f} and lambda_d = {lambda_d:.3f}.",
                )
            # BF-BOIN's conflict rule on the complete data (backfilled lower doses)
            index, direction, reason = self._with_backfill(
                cur, (index, direction, reason), False, s.n_complete, s.n_dlt
            )
        return ModelFit(
            proposed_index=index,
            direction=direction,
            reason=reason,
            estimate=estimate,
            prob_overdose=prob_overdose,
            n_for_safety=treated,
            dlt_for_safety=y,
            model={"lambda_e": lambda_e, "lambda_d": lambda_d},
        )

    def _bands_model(self) -> str:
        """Short, for a plot's title: the bands use the effective patients (pending ones by their
        follow-up fraction); the Pr(DLT rate > target) bars are the table's, on every treated
        patient with pending ones counted as without DLT (the elimination rule's posterior)."""
        return "Beta(1, 1) per dose; bars as the table (pending = no DLT yet)"

    def _beta_counts(
        self, data: TrialData
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Effective patients (pending ones by their follow-up fraction) and observed DLTs."""
        s = data.summary
        effective = s.n_complete + s.pending_followup + s.withdrawn_followup
        return effective.astype(np.float64), s.n_dlt.astype(np.float64)
