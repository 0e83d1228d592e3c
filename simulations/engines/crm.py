"""The fast CRM engine: every trial of a block at once, one cohort per step.

It implements :class:`escalation.CRM` under ``decision_timing`` ``complete`` (``auto`` for CRM, which
waits for pending patients), taking the model from escalation: the posterior of every trial comes
from :func:`escalation.crm_posterior_batch` (the same quadrature as the design's own
``crm_posterior``, computed once per distinct count vector, with Pr(p_d > target | data) when a
rule needs it), the proposal is its plug-in estimate closest to the target (``mtd_index``), and the
rules are checked against the design's own, rule object by rule object
(:meth:`CRMEngine.supports`), then applied in the design pipeline's order
(escalation/designs/base.py):

1. overdose control (``overdose_control``): doses from the first with Pr(p_d > target) above the
   cutoff are eliminated (``EliminateToxicDoses(cutoff, min_n=0, from_first_outcome=True)``) once
   some patient has an outcome: the first cohort goes to the starting dose, as in the design;
2. the proposal, or the two-stage start-up's (``startup``);
3. no skipping, coherence, maximum step, then no eliminated dose (the highest admissible dose
   below);
4. stop when every dose is eliminated, at ``n_stop`` patients at the recommended dose, and the
   safety stop (``safety_stop_prob``, on by default): Pr(p_1 > target) above it with at least 3
   patients at the lowest dose; ``max_patients`` ends the trial.

The final selection is the design's: no dose after the safety stop would stop the completed trial,
otherwise the tried, admissible dose whose plug-in estimate is closest to the target.

tests/simulations/test_engines.py checks that this engine and the generic engine give identical
trials on the same patients. The overdose probabilities of the batch and of ``crm_posterior``
agree to about 1e-15 (tests/models/test_crm_posterior.py): a trial could differ only where one
falls within that of a cutoff.

References
----------
O'Quigley J, Pepe M, Fisher L (1990). Biometrics 46:33-48. Cheung YK (2011). Dose Finding by the
Continual Reassessment Method, chapter 3. dfcrm 0.2-2.1 (R), ``crmsim`` (which has neither the
safety stop nor overdose control).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from escalation import (
    CRM,
    Coherence,
    CRMPosteriorBatch,
    Design,
    EliminateToxicDoses,
    ExcludeEliminated,
    MaxStep,
    NoSkipping,
    StopAtN,
    StoppingRule,
    StopWhenNAtDose,
    StopWhenTooToxic,
    WaitForPending,
    crm_posterior_batch,
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
from simulations.engines.calendar import CohortCalendar
from simulations.patients import Conduct, PatientBlock

__all__ = ["CRMEngine"]


#: CRM's safety stop acts with at least this many patients at the lowest dose, and its overdose
#: control eliminates whatever the number of patients (a design built otherwise fails the rule
#: check and runs on the generic engine)
SAFETY_MIN_N = 3
OVERDOSE_MIN_N = 0


def expected_rules(
    design: CRM,
    waiting: tuple[object, ...] = (WaitForPending(),),
    followup: tuple[object, ...] = (),
) -> RuleSet:
    """The rules this engine implements, for the design's options: elimination, stopping, waiting
    and constraints, as rule objects (compared with ``==``, field by field). TITE-CRM's engine
    passes its own waiting rule (none) and its follow-up constraint, placed before the last."""
    stopping: StoppingRule = StopAtN(design.max_patients)
    if design.n_stop is not None:
        stopping = stopping | StopWhenNAtDose(design.n_stop, when_staying=False)
    if design.safety_stop_prob is not None:
        stopping = stopping | StopWhenTooToxic(
            level=1, prob=design.safety_stop_prob, min_n=SAFETY_MIN_N
        )
    elimination = None
    if design.overdose_control is not None:
        elimination = EliminateToxicDoses(
            cutoff=design.overdose_control, min_n=OVERDOSE_MIN_N, from_first_outcome=True
        )
    constraints: list[object] = [NoSkipping()]
    if design.coherence:
        constraints.append(Coherence(cohort_size=design.cohort_size))
    if design.max_step is not None:
        constraints.append(MaxStep(levels=design.max_step))
    constraints.extend(followup)
    constraints.append(ExcludeEliminated())
    return (elimination, stopping, waiting, tuple(constraints))


def first_eliminated(
    design: CRM, post: CRMPosteriorBatch, acting: BoolArray | None = None
) -> IntArray:
    """Per trial, the lowest dose index overdose control eliminates (D: none), in the trials
    where it acts (``acting``; every trial when None: ``min_n`` = 0, whatever the patients)."""
    n_trials, n_doses = post.ptox.shape
    if design.overdose_control is None:
        return np.full(n_trials, n_doses, dtype=np.int64)
    assert post.prob_overdose is not None
    over = post.prob_overdose > design.overdose_control
    if acting is not None:
        over &= acting[:, None]
    return np.asarray(np.where(over.any(axis=1), np.argmax(over, axis=1), n_doses), dtype=np.int64)


def safety_stop(design: CRM, post: CRMPosteriorBatch, n_lowest: IntArray) -> BoolArray:
    """Per trial, whether the safety stop holds: Pr(p_1 > target) > prob with 3 patients there."""
    if design.safety_stop_prob is None:
        return np.zeros(n_lowest.size, dtype=np.bool_)
    assert post.prob_overdose is not None
    return np.asarray(
        (n_lowest >= SAFETY_MIN_N) & (post.prob_overdose[:, 0] > design.safety_stop_prob)
    )


class CRMEngine:
    """CRM vectorized over trials (see the module docstring)."""

    name = "fast-crm"

    def supports(self, design: Design, conduct: Conduct) -> bool:
        return type(design) is CRM and runs_on_fast_engine(
            design,
            conduct,
            CRM,
            expected_rules(design),
            unsupported=("select_untried",) if design.select_untried else (),
        )

    def _posterior(
        self, design: CRM, n: npt.NDArray[np.int64], y: npt.NDArray[np.int64]
    ) -> CRMPosteriorBatch:
        """The posterior of each trial; with Pr(p_d > target) when a rule needs it."""
        needs_tails = design.safety_stop_prob is not None or design.overdose_control is not None
        return crm_posterior_batch(
            design.skeleton,
            n,
            y,
            model=design.model,
            intercept=design.intercept,
            prior_sd=design.prior_sd,
            target=design.target if needs_tails else None,
        )

    def run(
        self,
        design: Design,
        probs: FloatArray,
        block: PatientBlock,
        conduct: Conduct,
        efficacy: Efficacy | None = None,
    ) -> TrialOutcomes:
        assert isinstance(design, CRM)
        n_trials, n_doses = block.n_trials, design.n_doses
        size, target = design.cohort_size, design.target
        probs = np.asarray(probs, dtype=np.float64)
        cal = CohortCalendar(block, conduct, cohort_size=size, max_patients=design.max_patients)

        doses = DosesTried(n_trials, n_doses, design.start_level - 1)
        cur, n, y, highest = doses.cur, doses.n, doses.y, doses.highest  # updated in place

        # the first decision, on no patient: the starting dose (overdose control applies from
        # the first outcome on, and every later decision here has the first cohort's outcomes)
        while cal.active.any():
            cohort, n_dlt = cal.treat(probs[cur])
            doses.treated(cohort, n_dlt)
            if not cal.active.any():
                break
            cal.next_decision()  # once every outcome is known and a patient is there

            # CRM's decision on complete data, in the pipeline's order (for the active trials)
            rows = np.flatnonzero(cal.active)
            c = cur[rows]
            post = self._posterior(design, n[rows], y[rows])
            eliminated_at = first_eliminated(design, post)
            proposal = np.asarray(post.mtd_index(target))
            if design.startup:
                no_dlt = y[rows].sum(axis=1) == 0
                step_up = np.where(n[rows, c] >= size, np.minimum(c + 1, n_doses - 1), c)
                proposal = np.where(no_dlt, step_up, proposal)
            # no skipping, coherence, maximum step, no eliminated dose
            ceiling = np.maximum(highest[rows] + 1, design.start_level - 1)
            proposal = np.minimum(proposal, ceiling)
            if design.coherence:
                cohort_rate = n_dlt[rows] / np.maximum(cohort[rows], 1)
                proposal = np.where((proposal > c) & (cohort_rate >= target), c, proposal)
            if design.max_step is not None:
                proposal = np.minimum(proposal, c + design.max_step)
            all_eliminated = eliminated_at == 0
            proposal = np.where(
                (proposal >= eliminated_at) & ~all_eliminated, eliminated_at - 1, proposal
            )
            # stop: every dose eliminated, n_stop at the recommended dose, the safety stop
            stop = all_eliminated | safety_stop(design, post, n[rows, 0])
            if design.n_stop is not None:
                stop |= n[rows, proposal] >= design.n_stop
            stopped = np.zeros(n_trials, dtype=np.bool_)
            stopped[rows[stop]] = True
            cal.stop(stopped)
            cur[rows[~stop]] = proposal[~stop]
            cal.proceed()

        # final selection (the design's choose): none after the safety stop, otherwise the tried,
        # admissible dose whose plug-in estimate is closest to the target
        post = self._posterior(design, n, y)
        admissible = (n > 0) & (np.arange(n_doses) < first_eliminated(design, post)[:, None])
        distance = np.where(admissible, np.abs(post.ptox - target), np.inf)
        chosen = admissible.any(axis=1) & ~safety_stop(design, post, n[:, 0])
        selected = np.where(chosen, np.argmin(distance, axis=1), -1)
        return cal.outcomes(selected, n, y, cur.copy())
