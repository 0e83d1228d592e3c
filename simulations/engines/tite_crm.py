"""The fast TITE-CRM engine: every trial of a block at once, one decision per arrival, with numpy.

It implements :class:`escalation.TITECRM` with linear weights under ``decision_timing`` ``arrival``
(``auto`` for TITE-CRM): the design is asked whenever a patient is ready, every patient entering the
likelihood, a pending one weighted by its follow-up fraction
(:class:`~simulations.engines.calendar.CohortCalendar` with ``timing="arrival"`` keeps every treated
patient). The model comes from escalation: :func:`escalation.linear_weights` and
:func:`escalation.tite_crm_posterior_batch` (the quadrature of the design's own ``crm_posterior``,
every trial at once, the TITE terms computed once per distinct dose and weight, with
Pr(p_d > target | data) when a rule needs it). The rules are checked against the design's own,
rule object by rule object (:meth:`TITECRMEngine.supports`), then applied in the design pipeline's
order:

1. overdose control (``overdose_control``) once some patient has an outcome;
2. the proposal (the plug-in estimate closest to the target), or the two-stage start-up's;
3. no skipping, coherence (the last ``cohort_size`` patients at the current dose, the most
   recently infused, a DLT counting as more recent on the same day), maximum step, escalation to an
   untried dose only with ``escalation_min_complete`` complete outcomes at the current dose, no
   eliminated dose;
4. stop when every dose is eliminated, at ``n_stop`` patients at the recommended dose, and the
   safety stop (Pr(p_1 > target) above ``safety_stop_prob`` with 3 patients treated at the lowest
   dose); ``max_patients`` ends the trial. TITE-CRM never suspends accrual.

The final selection is the design's, on complete data (:func:`escalation.crm_posterior_batch`).
Adaptive weights (which pool every patient's DLT time) run on the generic engine.

tests/simulations/test_engines.py checks that this engine and the generic engine give identical
trials on the same patients. The batch posterior and ``crm_posterior`` agree to about 1e-15 in ptox
and the overdose probabilities: a trial could differ only where one falls within that of a tie or
a cutoff.

References
----------
Cheung YK, Chappell R (2000). Sequential designs for phase I clinical trials with late-onset
toxicities. Biometrics 56:1177-1182. dfcrm 0.2-2.1 (R), ``titesim``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from escalation import (
    TITECRM,
    CRMPosteriorBatch,
    Design,
    EscalationNeedsCompleteFollowup,
    crm_overdose_thresholds,
    crm_posterior_batch,
    linear_weights,
    tite_crm_posterior_batch,
)
from simulations.engines.base import (
    BoolArray,
    DosesTried,
    Efficacy,
    FloatArray,
    IntArray,
    RuleSet,
    TrialOutcomes,
    runs_on_fast_engine,
)
from simulations.engines.calendar import CohortCalendar, PatientsAsOf
from simulations.engines.crm import SAFETY_MIN_N, first_eliminated, safety_stop
from simulations.engines.crm import expected_rules as crm_rules
from simulations.patients import Conduct, PatientBlock

__all__ = ["TITECRMEngine"]

#: the safety stop's screen (:func:`_screened`): how far below the threshold a bound must stay,
#: and the widest prior it is used with
_SCREEN_MARGIN = 0.05
_SCREEN_MAX_PRIOR_SD = 2.0


def expected_rules(design: TITECRM) -> RuleSet:
    """CRM's rules (:func:`simulations.engines.crm.expected_rules`) with no waiting rule and
    TITE-CRM's complete follow-up constraint on escalation."""
    return crm_rules(
        design,
        waiting=(),
        followup=(EscalationNeedsCompleteFollowup(min_complete=design.escalation_min_complete),),
    )


def _screened(design: TITECRM, post: CRMPosteriorBatch) -> BoolArray:
    """The trials whose Pr(p_1 > target) cannot exceed the safety stop's threshold.

    By Cantelli's inequality, Pr(a < x_1) <= var / (var + (mean - x_1)^2) when x_1 (where p_1 =
    target) lies below the posterior mean of a. A trial whose bound stays below the threshold by
    ``_SCREEN_MARGIN`` needs no exact tail probability: it cannot stop. dfcrm's moments leave out
    the posterior beyond +/-10, which the margin covers as long as the prior puts next to nothing
    there (``prior_sd`` <= 2, 5 sd); with a wider prior every trial gets the exact probability.
    """
    n_trials = post.ptox.shape[0]
    if design.safety_stop_prob is None or design.prior_sd > _SCREEN_MAX_PRIOR_SD:
        return np.zeros(n_trials, dtype=np.bool_)
    x_1 = float(
        crm_overdose_thresholds(
            design.skeleton, design.target, model=design.model, intercept=design.intercept
        )[0]
    )
    if x_1 == -np.inf:  # p_1 never exceeds the target
        return np.ones(n_trials, dtype=np.bool_)
    gap = post.posterior_mean - x_1
    var = np.maximum(post.posterior_var, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = np.where(gap > 0, var / (var + gap * gap), 1.0)
    return np.asarray(bound < design.safety_stop_prob - _SCREEN_MARGIN)


def _last_cohort_dlts(
    view: PatientsAsOf, at_cur: BoolArray, size: int
) -> tuple[IntArray, IntArray]:
    """The coherence rule's last cohort at the current dose: its size and its observed DLTs (the
    ``size`` most recently infused patients there, a DLT more recent on the same day)."""
    key = np.where(at_cur, 2 * view.patients.infused_day + view.dlt_known, -1)
    top = -np.sort(-key, axis=1)[:, :size]
    n_last = np.minimum(at_cur.sum(axis=1), size)
    n_dlt = ((top >= 0) & (top % 2 == 1)).sum(axis=1)
    return n_last, n_dlt


class TITECRMEngine:
    """TITE-CRM vectorized over trials (see the module docstring)."""

    name = "fast-tite-crm"

    def supports(self, design: Design, conduct: Conduct) -> bool:
        return (
            type(design) is TITECRM
            and design.weights == "linear"
            and runs_on_fast_engine(
                design,
                conduct,
                TITECRM,
                expected_rules(design),
                "arrival",
                unsupported=("select_untried",) if design.select_untried else (),
            )
        )

    def _posterior(
        self, design: TITECRM, view: PatientsAsOf, window: int, n_lowest: IntArray
    ) -> CRMPosteriorBatch:
        """Each trial's posterior on its patients as of the decision day, weighted, with
        Pr(p_d > target | data) where a rule may act on it (see :func:`_screened`)."""
        patients = view.patients
        followup = np.where(
            view.dlt_known,
            patients.event_day - patients.infused_day,
            np.minimum(view.followup_days, window),
        )
        weight = linear_weights(followup.ravel(), window).reshape(followup.shape)
        weight[view.dlt_known] = 1.0
        doses = np.where(patients.treated, patients.dose_index, -1)
        skeleton, dlt, target = design.skeleton, view.dlt_known, design.target
        model, intercept, prior_sd = design.model, design.intercept, design.prior_sd
        if design.overdose_control is not None:  # every dose's probability, every trial
            return tite_crm_posterior_batch(
                skeleton,
                doses,
                dlt,
                weight,
                target=target,
                model=model,
                intercept=intercept,
                prior_sd=prior_sd,
            )
        post = tite_crm_posterior_batch(
            skeleton, doses, dlt, weight, model=model, intercept=intercept, prior_sd=prior_sd
        )
        if design.safety_stop_prob is None:
            return post
        need = (n_lowest >= SAFETY_MIN_N) & ~_screened(design, post)
        overdose = np.full(post.ptox.shape, np.nan)
        if need.any():
            tails = tite_crm_posterior_batch(
                skeleton,
                doses[need],
                dlt[need],
                weight[need],
                target=target,
                model=model,
                intercept=intercept,
                prior_sd=prior_sd,
            )
            assert tails.prob_overdose is not None
            overdose[need] = tails.prob_overdose
        return replace(post, target=target, prob_overdose=overdose)

    def run(
        self,
        design: Design,
        probs: FloatArray,
        block: PatientBlock,
        conduct: Conduct,
        efficacy: Efficacy | None = None,
    ) -> TrialOutcomes:
        assert isinstance(design, TITECRM)
        n_trials, n_doses = block.n_trials, design.n_doses
        size, target, window = design.cohort_size, design.target, conduct.dlt_window_days
        probs = np.asarray(probs, dtype=np.float64)
        cal = CohortCalendar(
            block, conduct, cohort_size=size, max_patients=design.max_patients, timing="arrival"
        )

        doses = DosesTried(n_trials, n_doses, design.start_level - 1)
        cur, n, y, highest = doses.cur, doses.n, doses.y, doses.highest  # updated in place
        go = np.ones(n_trials, dtype=np.bool_)

        # the first decision, on no patient: the starting dose, on day 0
        while True:
            cohort, n_dlt = cal.treat(probs[cur], go=go, dose=cur)
            doses.treated(cohort, n_dlt)
            if not cal.active.any():
                break
            cal.arrive()  # the next patient is there: the design is asked

            rows = np.flatnonzero(cal.active)
            r = np.arange(rows.size)
            view = cal.as_of(rows)
            c, nr, top = cur[rows], n[rows], highest[rows]
            at_cur = view.patients.treated & (view.patients.dose_index == c[:, None])
            complete_cur = (at_cur & ~view.pending).sum(axis=1)
            any_outcome = np.asarray((view.patients.treated & ~view.pending).any(axis=1))
            post = self._posterior(design, view, window, nr[:, 0])
            eliminated_at = first_eliminated(design, post, any_outcome)

            proposal = np.asarray(post.mtd_index(target))
            if design.startup:
                no_dlt = ~view.dlt_known.any(axis=1)
                step_up = np.where(complete_cur >= size, np.minimum(c + 1, n_doses - 1), c)
                proposal = np.where(no_dlt, step_up, proposal)
            # no skipping, coherence, maximum step, complete follow-up before an untried dose,
            # no eliminated dose
            proposal = np.minimum(proposal, np.maximum(top + 1, design.start_level - 1))
            if design.coherence:
                n_last, n_dlt_last = _last_cohort_dlts(view, at_cur, size)
                with np.errstate(divide="ignore", invalid="ignore"):
                    toxic_cohort = (n_last > 0) & (n_dlt_last / n_last >= target)
                proposal = np.where((proposal > c) & toxic_cohort, c, proposal)
            if design.max_step is not None:
                proposal = np.minimum(proposal, c + design.max_step)
            untried = (proposal > c) & (proposal > top)
            held = untried & (complete_cur < design.escalation_min_complete)
            proposal = np.where(held, np.maximum(c, top), proposal)
            all_eliminated = eliminated_at == 0
            proposal = np.where(
                (proposal >= eliminated_at) & ~all_eliminated, eliminated_at - 1, proposal
            )
            # stop: every dose eliminated, n_stop at the recommended dose, the safety stop
            stop = all_eliminated | safety_stop(design, post, nr[:, 0])
            if design.n_stop is not None:
                stop |= nr[r, proposal] >= design.n_stop
            stopped = np.zeros(n_trials, dtype=np.bool_)
            stopped[rows[stop]] = True
            cal.stop(stopped)
            cur[rows[~stop]] = proposal[~stop]
            go = cal.active
            cal.proceed(go)

        # final selection (the design's choose) on complete data: none after the safety stop,
        # otherwise the tried, admissible dose whose plug-in estimate is closest to the target
        needs_tails = design.safety_stop_prob is not None or design.overdose_control is not None
        post = crm_posterior_batch(
            design.skeleton,
            n,
            y,
            model=design.model,
            intercept=design.intercept,
            prior_sd=design.prior_sd,
            target=design.target if needs_tails else None,
        )
        tried = n > 0
        eliminated_from = first_eliminated(design, post, np.asarray(tried.any(axis=1)))
        admissible = tried & (np.arange(n_doses) < eliminated_from[:, None])
        distance = np.where(admissible, np.abs(post.ptox - target), np.inf)
        chosen = admissible.any(axis=1) & ~safety_stop(design, post, n[:, 0])
        selected = np.where(chosen, np.argmin(distance, axis=1), -1)
        return cal.outcomes(selected, n, y, cur.copy())
