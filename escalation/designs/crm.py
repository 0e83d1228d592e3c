"""CRM and TITE-CRM: the continual reassessment method with an exact posterior.

The working model is dfcrm's: empiric p_d = skeleton_d ** exp(a), or one-parameter logistic
logit p_d = intercept + exp(a) x_d with x_d chosen so that a = 0 reproduces the skeleton; the prior
is a ~ N(0, prior_sd^2). The posterior is computed by quadrature (no MCMC; see
:mod:`escalation.models.crm`). The model proposes the dose whose plug-in estimate (p_d at the
posterior mean of a, dfcrm's ``ptox``) is closest to the target; then the rules, each a small
object with a documented default:

* no skipping of an untried dose (:class:`NoSkipping`);
* coherence (dfcrm's ``restrict``): no escalation right after a cohort whose DLT rate is at least
  the target (``coherence``, default on);
* an optional maximum step (``max_step`` levels);
* stop for safety when Pr(p_1 > target | data) > ``safety_stop_prob`` (default 0.90; ``None``
  switches it off) with at least 3 evaluable patients at the lowest dose;
* optional overdose control: only doses with Pr(p_d > target | data) <= ``overdose_control`` are
  admissible; when none is, the trial stops. As in EWOC's conduct it applies once some patient has
  a known outcome: the first cohort goes to the protocol's starting dose (``start_level``), whatever
  the prior says (a calibrated skeleton has a prior Pr(p_1 > target) near 0.3);
* stop at ``max_patients``, and when ``n_stop`` patients have been treated at the recommended dose;
* an optional two-stage start-up (``startup``): escalate one level per complete cohort until the
  first DLT, then the model.

CRM waits for the patients still inside their window at the current dose. TITE-CRM (Cheung &
Chappell 2000) does not: a patient without a DLT enters the likelihood as (1 - w p_d), with weight
w the follow-up fraction (``weights="linear"``) or Cheung & Chappell's adaptive weight
(``"adaptive"``); a DLT weighs 1; a withdrawn patient keeps the weight of its follow-up at
withdrawal. Escalation to an untried dose needs ``escalation_min_complete`` patients (default 1) at
the current dose with a complete outcome (:class:`EscalationNeedsCompleteFollowup`).

Final selection: among tried doses that are admissible, the dose whose plug-in estimate is closest
to the target (the lowest on ties); no dose after a safety stop.

References
----------
O'Quigley J, Pepe M, Fisher L (1990). Continual reassessment method: a practical design for phase 1
clinical trials in cancer. Biometrics 46:33-48.
Cheung YK, Chappell R (2000). Sequential designs for phase I clinical trials with late-onset
toxicities. Biometrics 56:1177-1182.
Cheung YK (2011). Dose Finding by the Continual Reassessment Method. Chapman & Hall/CRC.
Lee SM, Cheung YK (2009). Model calibration in the continual reassessment method. Clin Trials
6:227-238 (skeletons: :func:`escalation.models.skeleton.calibrate_skeleton`).

Examples
--------
>>> from escalation import CRM, TrialData
>>> design = CRM(n_doses=4, target=0.25, skeleton=(0.08, 0.16, 0.25, 0.35))
>>> d = design.decide(TrialData.from_counts([3, 3, 0, 0], [0, 0, 0, 0], current_level=2))
>>> d.action.value, d.next_level
('escalate', 3)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt

from escalation.data import PatientState, TrialData
from escalation.decision import Action, PosteriorBands, Selection
from escalation.designs.base import (
    START_REASON,
    Design,
    DesignRules,
    DoseConstraint,
    FloatArray,
    ModelFit,
    WaitingRule,
    action_towards,
    limit_problems,
    move,
    provisional_note,
)
from escalation.errors import Problem
from escalation.models.crm import (
    CRMPosterior,
    adaptive_weights,
    crm_posterior,
    crm_posterior_counts,
    linear_weights,
)
from escalation.rules.constraints import (
    Coherence,
    EscalationNeedsCompleteFollowup,
    ExcludeEliminated,
    MaxStep,
    NoSkipping,
)
from escalation.rules.context import DecisionContext
from escalation.rules.elimination import EliminateToxicDoses
from escalation.rules.stopping import StoppingRule, StopWhenNAtDose, StopWhenTooToxic, leaves
from escalation.rules.waiting import WaitForPending

__all__ = ["CRM", "TITECRM"]

#: evaluable patients needed at the lowest dose before the safety stop may act
SAFETY_MIN_N = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class CRM(Design):
    """Bayesian continual reassessment method (see the module docstring).

    Parameters
    ----------
    skeleton
        Prior guesses of the DLT probability per dose, strictly increasing in (0, 1).
    model
        ``"empiric"`` (power) or ``"logistic"`` (one-parameter logistic, fixed ``intercept``).
    intercept, prior_sd
        Logistic intercept (default 3) and prior standard deviation of a (default sqrt(1.34)).
    n_stop
        Stop when this many patients have been treated at the recommended dose (``None``: off).
    safety_stop_prob
        Stop when Pr(p_1 > target) exceeds it (default 0.90; ``None``: off).
    overdose_control
        Admit only doses with Pr(p_d > target) <= this (``None``: off; 0.25 is usual).
    coherence, max_step, startup
        dfcrm's escalation restriction; a maximum escalation step in levels; two-stage start-up.
    select_untried
        Final selection: the model's MTD among the admissible doses even when untried (dfcrm's
        ``crmsim`` and R escalation's ``get_dfcrm``); default false: among the tried doses.
    stopping
        A stopping expression (:mod:`escalation.rules.grammar`) in place of the rules ``n_stop``
        and ``safety_stop_prob`` stand for.
    """

    method: ClassVar[str] = "crm"
    backfill_kind: ClassVar[str | None] = "model"
    stopping_options: ClassVar[tuple[str, ...]] = ("n_stop", "safety_stop_prob")
    #: the level of every credible interval the design reports (table, JSON and plot alike)
    interval_level: ClassVar[float | None] = 0.95
    selection_estimate: ClassVar[str] = "Est. DLT (plug-in, as dfcrm's ptox)"

    skeleton: tuple[float, ...]
    model: Literal["empiric", "logistic"] = "empiric"
    intercept: float = 3.0
    prior_sd: float = math.sqrt(1.34)
    n_stop: int | None = None
    safety_stop_prob: float | None = 0.90
    overdose_control: float | None = None
    coherence: bool = True
    max_step: int | None = None
    startup: bool = False
    select_untried: bool = False

    def _problems(self) -> list[Problem]:
        problems = Design._problems(self)

        def bad(name: str, message: str) -> None:
            problems.append(Problem(field=f"design.{name}", message=message))

        sk = self.skeleton
        if len(sk) != self.n_doses:
            bad("skeleton", f"needs one value per dose level ({self.n_doses}), got {len(sk)}")
        if any(not 0 < v < 1 for v in sk):
            bad("skeleton", "every value must be strictly between 0 and 1")
        elif any(b <= a for a, b in pairwise(sk)):
            bad("skeleton", f"must increase strictly with the dose level, got {list(sk)}")
        if self.model not in ("empiric", "logistic"):
            bad("model", f"must be 'empiric' or 'logistic', got {self.model!r}")
        problems += limit_problems(self, ("prior_sd", "intercept"))
        if self.n_stop is not None:
            problems += limit_problems(self, ("n_stop",), what=" (or null)")
        for name in ("safety_stop_prob", "overdose_control"):
            value = getattr(self, name)
            if value is not None and not 0 < value < 1:
                bad(name, f"must be strictly between 0 and 1 (or null), got {value}")
        if self.max_step is not None and not (
            isinstance(self.max_step, int) and 1 <= self.max_step <= max(self.n_doses, 1)
        ):
            bad(
                "max_step",
                f"must be a number of levels from 1 to {self.n_doses} (or null), "
                f"got {self.max_step!r}",
            )
        return problems

    # ---- model ---------------------------------------------------------------------------
    def _patients(
        self, data: TrialData
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.float64] | None]:
        """The patients entering the likelihood: complete ones for CRM."""
        s = data.summary
        complete = np.array(
            [st in (PatientState.COMPLETE, PatientState.DLT) for st in s.state], dtype=np.bool_
        )
        return s.dose_index[complete], s.dlt[complete], None

    def posterior(
        self,
        data: TrialData,
        *,
        conf_level: float = 0.90,
        intervals: bool = True,
        target: float | None = None,
    ) -> CRMPosterior:
        """The exact posterior on the data (complete patients; weighted ones for TITE-CRM).

        ``conf_level`` sets the level of the credible intervals (and of dfcrm's plug-in bounds);
        without ``intervals`` they are not computed (NaN), the rest is the same.
        ``target`` is the DLT rate of ``prob_overdose`` (default the design's target).
        """
        target = self.target if target is None else target
        if data.counts is not None:  # complete data as counts: every weight is 1, O(doses)
            return crm_posterior_counts(
                self.skeleton,
                data.summary.n_complete,
                data.summary.n_dlt,
                target=target,
                model=self.model,
                intercept=self.intercept,
                prior_sd=self.prior_sd,
                conf_level=conf_level,
                intervals=intervals,
            )
        dose_index, dlt, weight = self._patients(data)
        return crm_posterior(
            self.skeleton,
            dose_index,
            dlt,
            weight,
            target=target,
            model=self.model,
            intercept=self.intercept,
            prior_sd=self.prior_sd,
            conf_level=conf_level,
            intervals=intervals,
        )

    def _n_for_safety(self, data: TrialData) -> npt.NDArray[np.int64]:
        return data.summary.n_complete

    def posterior_bands(self, data: TrialData) -> PosteriorBands:
        """The exact posterior of each p_d: mean, central 50% and 95% intervals, Pr(p_d > target)."""
        self.check_data(data)
        p50, p95 = self.posterior(data, conf_level=0.50), self.posterior(data, conf_level=0.95)

        def pairs(post: CRMPosterior) -> tuple[tuple[float, float], ...]:
            return tuple((float(lo), float(hi)) for lo, hi in post.prob_tox_interval)

        return PosteriorBands(
            model=f"{self.model} CRM, exact posterior",
            center=tuple(float(v) for v in p95.prob_tox_mean),
            center_label="posterior mean",
            band50=pairs(p50),
            band95=pairs(p95),
            interval_probs={
                f"Pr(DLT rate > {self.target:g})": tuple(float(v) for v in p95.prob_overdose)
            },
        )

    def _likelihood_patients(self) -> str:
        return "the complete patients"

    def prob_overdose_definition(self) -> str:
        return (
            f"Pr(DLT rate > {self.target:g} | data) under the {self.model} CRM's exact posterior "
            f"on {self._likelihood_patients()}: the posterior of the safety stop and overdose "
            "control"
        )

    def fit(self, data: TrialData, *, intervals: bool = True) -> ModelFit:
        """The model's fit; ``intervals=False`` leaves the credible intervals out (NaN), which
        nothing but the reported intervals depends on."""
        assert self.interval_level is not None
        post = self.posterior(data, conf_level=self.interval_level, intervals=intervals)
        s = data.summary
        current = data.current_dose_level
        cur = None if current is None else current - 1
        if cur is None:
            index, direction, reason = self.start_level - 1, Action.STAY, START_REASON
        elif self.startup and not s.n_dlt.any():
            index, direction, reason = self._startup(data, cur)
        else:
            index = int(post.mtd_index)
            direction = action_towards(cur, index)
            reason = (
                f"The model puts dose level {index + 1} closest to the target {self.target:g} "
                f"(estimated DLT probability {post.ptox[index]:.3f}; posterior mean of a "
                f"{post.posterior_mean:.3f})."
            )
        return ModelFit(
            proposed_index=index,
            direction=direction,
            reason=reason,
            estimate=post.ptox,
            prob_overdose=post.prob_overdose,
            prob_tox_mean=post.prob_tox_mean,
            prob_tox_interval=post.prob_tox_interval,
            n_for_safety=self._n_for_safety(data),
            dlt_for_safety=s.n_dlt,
            model={"posterior_mean": post.posterior_mean, "posterior_var": post.posterior_var},
        )

    def _startup(self, data: TrialData, cur: int) -> tuple[int, Action, str]:
        complete = int(data.summary.n_complete[cur])
        if complete >= self.cohort_size:
            return move(
                cur,
                Action.ESCALATE,
                self.n_doses,
                f"Start-up stage: no DLT yet and a complete cohort at dose level {cur + 1}",
            )
        return (
            cur,
            Action.STAY,
            f"Start-up stage: no DLT yet; dose level {cur + 1} has {complete} of "
            f"{self.cohort_size} patients with a complete outcome.",
        )

    # ---- rules ---------------------------------------------------------------------------
    def _elimination(self) -> EliminateToxicDoses | None:
        if self.overdose_control is None:
            return None
        return EliminateToxicDoses(cutoff=self.overdose_control, min_n=0, from_first_outcome=True)

    def prob_exceeds(self, data: TrialData, fit: ModelFit, threshold: float) -> FloatArray:
        """Pr(p_d > ``threshold`` | data) under the exact posterior (the model's, not a normal
        approximation to it)."""
        post = self.posterior(data, target=threshold, intervals=False)
        return np.asarray(post.prob_overdose, dtype=np.float64)

    def option_stopping(self) -> StoppingRule | None:
        rules: list[StoppingRule] = []
        if self.n_stop is not None:
            rules.append(StopWhenNAtDose(self.n_stop, when_staying=False))
        if self.safety_stop_prob is not None:
            rules.append(StopWhenTooToxic(level=1, prob=self.safety_stop_prob, min_n=SAFETY_MIN_N))
        if not rules:
            return None
        return rules[0] if len(rules) == 1 else rules[0] | rules[1]

    def model_rules(self) -> DesignRules:
        constraints: list[DoseConstraint] = [NoSkipping()]
        if self.coherence:
            constraints.append(Coherence(cohort_size=self.cohort_size))
        if self.max_step is not None:
            constraints.append(MaxStep(levels=self.max_step))
        constraints += self._extra_constraints()
        constraints.append(ExcludeEliminated())
        return DesignRules(
            elimination=self._elimination(),
            stopping=None,
            waiting=self._waiting(),
            constraints=tuple(constraints),
        )

    def _waiting(self) -> tuple[WaitingRule, ...]:
        return (WaitForPending(),)

    def _extra_constraints(self) -> list[DoseConstraint]:
        return []

    # ---- final selection -----------------------------------------------------------------------
    def select(self, data: TrialData) -> Selection:
        """The final selection (see :meth:`Design.select`): it reports no credible interval, so
        the posterior's quantiles are not computed."""
        self.check_data(data)
        return self._selection(data, self.fit(data, intervals=False))

    def choose(self, data: TrialData, fit: ModelFit) -> Selection:
        rules = self.rules()
        ctx, _ = self.safety_context(data, fit, rules)
        estimates = tuple(float(v) for v in fit.estimate)
        prob_overdose = tuple(float(v) for v in fit.prob_overdose)
        eliminated = tuple(int(i) + 1 for i in np.flatnonzero(ctx.eliminated))
        n_pending = int(data.summary.n_pending.sum())

        def result(level: int | None, reason: str) -> Selection:
            return Selection(
                dose_level=level,
                reason=reason + provisional_note(n_pending),
                estimates=estimates,
                prob_overdose=prob_overdose,
                eliminated=eliminated,
                provisional=n_pending > 0,
                prob_overdose_definition=self.prob_overdose_definition(),
            )

        for rule in leaves(rules.stopping) if rules.stopping is not None else ():
            if isinstance(rule, StopWhenTooToxic) and rule.evaluate(ctx)[0]:
                return result(
                    None,
                    f"No dose is recommended: dose level {rule.level} is too toxic (safety stop).",
                )
        if self.select_untried:
            return self._select_as_next(ctx, fit, rules, result)
        tried = data.summary.n_treated > 0
        admissible = np.flatnonzero(tried & ~ctx.eliminated)
        if not admissible.size:
            why = (
                "no patient has been treated" if not tried.any() else "no tried dose is admissible"
            )
            return result(None, f"No dose is recommended: {why}.")
        distance = np.abs(fit.estimate[admissible] - self.target)
        best = int(admissible[int(np.argmin(distance))])
        return result(
            best + 1,
            f"Recommended dose: level {best + 1}, whose estimated DLT probability "
            f"{fit.estimate[best]:.3f} is the closest to the target {self.target:g} among the tried doses.",
        )

    def _select_as_next(
        self,
        ctx: DecisionContext,
        fit: ModelFit,
        rules: DesignRules,
        result: Callable[[int | None, str], Selection],
    ) -> Selection:
        """``select_untried``: the dose the design would give next -- the model's MTD, tried or
        not, after the dose-change limits -- as R escalation's ``get_dfcrm`` recommends at a stop
        (and dfcrm's ``crmsim`` selects)."""
        if ctx.eliminated.all():
            return result(None, "No dose is recommended: no dose is admissible.")
        index = fit.proposed_index
        limited = []
        for constraint in rules.constraints:
            index, out = constraint.apply(ctx, index)
            if out.triggered:
                limited.append(out.detail)
        return result(
            index + 1,
            f"Recommended dose: level {index + 1}, the model's dose for the next cohort (estimated "
            f"DLT probability {fit.estimate[index]:.3f}; target {self.target:g}), tried or not."
            + (" " + " ".join(limited) if limited else ""),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TITECRM(CRM):
    """Time-to-event CRM (see the module docstring): decides with pending patients, weighted.

    Parameters
    ----------
    weights
        ``"linear"`` (follow-up fraction of the window) or ``"adaptive"`` (Cheung & Chappell 2000).
    escalation_min_complete
        Patients at the current dose with a complete outcome needed before escalating to an untried
        dose (default 1).
    """

    method: ClassVar[str] = "tite-crm"

    weights: Literal["linear", "adaptive"] = "linear"
    escalation_min_complete: int = 1

    def _problems(self) -> list[Problem]:
        problems = CRM._problems(self)
        if self.weights not in ("linear", "adaptive"):
            problems.append(
                Problem(
                    field="design.weights",
                    message=f"must be 'linear' or 'adaptive', got {self.weights!r}",
                )
            )
        problems += limit_problems(self, ("escalation_min_complete",))
        return problems

    def patient_weights(self, data: TrialData) -> npt.NDArray[np.float64]:
        """Each patient's weight in the likelihood (DLT patients weigh 1)."""
        s = data.summary
        if self.weights == "adaptive":
            return adaptive_weights(s.followup_days, s.dlt, data.dlt_window_days)
        w = linear_weights(s.followup_days, data.dlt_window_days)
        w[s.dlt] = 1.0
        return w

    def _patients(
        self, data: TrialData
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.float64] | None]:
        s = data.summary
        weights = self.patient_weights(data)
        # a canonical order, so that sums (and so every digit) do not depend on the patients' order
        order = np.lexsort((weights, s.dlt, s.dose_index))
        return s.dose_index[order], s.dlt[order], weights[order]

    def _n_for_safety(self, data: TrialData) -> npt.NDArray[np.int64]:
        return data.summary.n_treated

    def _likelihood_patients(self) -> str:
        return f"every patient, each weighted by its follow-up ({self.weights} weights)"

    def fit(self, data: TrialData, *, intervals: bool = True) -> ModelFit:
        weights = self.patient_weights(data)
        return replace(
            CRM.fit(self, data, intervals=intervals),
            diagnostics={
                "weights": {
                    p.patient_id: float(w) for p, w in zip(data.patients, weights, strict=True)
                }
            },
        )

    def _waiting(self) -> tuple[WaitingRule, ...]:
        return ()

    def _extra_constraints(self) -> list[DoseConstraint]:
        return [EscalationNeedsCompleteFollowup(min_complete=self.escalation_min_complete)]
