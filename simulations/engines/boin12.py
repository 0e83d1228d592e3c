"""The fast BOIN12 engine: every trial of a block at once, one cohort per step, with numpy.

It implements :class:`escalation.BOIN12` under the harness's calendar with ``decision_timing``
``complete`` (``auto`` for BOIN12: the design waits for every outcome at the current dose), taking
its statistics from escalation:

* the toxicity boundaries from :func:`escalation.boundary_rows` (R's get.boundary, with the
  design's ``c_t`` as the elimination cutoff that caps the de-escalation boundary);
* admissibility from the design's own rule object (:meth:`escalation.BOIN12.admissibility`), the
  desirability from :func:`escalation.desirability_from_x` and the pseudo-successes from
  :func:`escalation.pseudo_successes`;
* the final selection from :func:`escalation.models.utility.obd_select_batch`, whose one-trial
  case is the design's own;
* the rule set is compared with the design's (:func:`~simulations.engines.base.runs_on_fast_engine`),
  so a BOIN12 with other rules runs on the generic engine; so does a conduct with a
  ``response_time`` (this engine's calendar knows a response at the end of the efficacy window).

The movement rules (the design's ``_propose``) are restated here over arrays:
tests/simulations/test_boin12_engine.py checks that this engine and the generic engine give
identical trials on the same patients.

References
----------
Lin R, Zhou Y, Yan F, Li D, Yuan Y (2020). JCO Precision Oncology 4:1393-1402.
"""

from __future__ import annotations

import numpy as np

from escalation import (
    BOIN12,
    Design,
    ExcludeEliminated,
    NoSkipping,
    StopAtN,
    StopWhenModelStops,
    StopWhenNAtDose,
    WaitForOutcomes,
    boundary_rows,
    desirability_from_x,
    obd_select_batch,
    pseudo_successes,
)
from simulations.engines.base import (
    BoolArray,
    Efficacy,
    FloatArray,
    IntArray,
    RuleSet,
    TrialOutcomes,
    log,
    runs_on_fast_engine,
)
from simulations.engines.calendar import CohortCalendar
from simulations.patients import Conduct, PatientBlock

__all__ = ["BOIN12Engine"]

_NEVER = np.iinfo(np.int32).max


def expected_rules(design: BOIN12) -> RuleSet:
    """The rules this engine implements, as rule objects (compared with ``==``)."""
    return (
        None,
        # the design's own stop, then the sample size and n_stop (no stopping expression given)
        StopWhenModelStops()
        | (
            StopAtN(design.max_patients)
            | StopWhenNAtDose(design.n_stop, when_staying=False, dose="current")
        ),
        (WaitForOutcomes(),),
        (NoSkipping(), ExcludeEliminated()),
    )


class BOIN12Engine:
    """BOIN12 vectorized over trials (see the module docstring)."""

    name = "fast-boin12"

    def supports(self, design: Design, conduct: Conduct) -> bool:
        if type(design) is not BOIN12:
            return False
        if conduct.response_time is not None:
            log.warning(
                "boin12 with a response_time: the fast engine knows responses only at the end "
                "of the efficacy window: generic engine used"
            )
            return False
        return runs_on_fast_engine(design, conduct, BOIN12, expected_rules(design))

    def run(
        self,
        design: Design,
        probs: FloatArray,
        block: PatientBlock,
        conduct: Conduct,
        efficacy: Efficacy | None = None,
    ) -> TrialOutcomes:
        assert isinstance(design, BOIN12)
        if efficacy is None:
            raise ValueError("boin12 needs the scenario's response probabilities")
        n_trials, n_doses = block.n_trials, design.n_doses
        probs = np.asarray(probs, dtype=np.float64)
        q = np.asarray(efficacy.response_probs, dtype=np.float64)
        n_max = design.max_patients
        rows = boundary_rows(
            n_max, target=design.target, phi1=design.phi1, phi2=design.phi2, cutoff=design.c_t
        )
        esc = np.full(n_max + 1, -1, dtype=np.int64)
        deesc = np.full(n_max + 1, _NEVER, dtype=np.int64)
        for r in rows:
            esc[r.n], deesc[r.n] = r.escalate_at_most, r.deescalate_at_least
        admissibility = design.admissibility()
        toxic_at, futile_at = admissibility.flag_tables(n_max)
        _, u_b = design.benchmark
        utility = design.utility

        cal = CohortCalendar(
            block,
            conduct,
            cohort_size=design.cohort_size,
            max_patients=n_max,
            efficacy_window_days=conduct.efficacy_window_days,
        )
        trial = np.arange(n_trials)
        cur = np.full(n_trials, design.start_level - 1, dtype=np.int64)
        n = np.zeros((n_trials, n_doses), dtype=np.int64)
        yt = np.zeros((n_trials, n_doses), dtype=np.int64)
        ye = np.zeros((n_trials, n_doses), dtype=np.int64)
        yb = np.zeros((n_trials, n_doses), dtype=np.int64)
        levels = np.arange(n_doses)[None, :]
        resp = block.response_tolerance(efficacy.correlation)
        base = n_max + 1

        def decide(cur: IntArray) -> tuple[IntArray, BoolArray, BoolArray, BoolArray]:
            """(proposal, the model stops, every dose eliminated, n_stop reached) per trial: the
            design's movement rules (its ``_propose``) on every trial at once."""
            # admissibility (the design's rule, tabulated), on every dose
            elim = (np.cumsum(toxic_at[n, yt], axis=1) > 0) | futile_at[n, ye]
            nd, yd = n[trial, cur], yt[trial, cur]
            up_ok = yd <= esc[nd]
            down = yd >= deesc[nd]
            below = elim | (levels >= cur[:, None])
            above = elim | (levels <= cur[:, None])
            has_lower = ~below.all(axis=1)
            lower = n_doses - 1 - np.argmax(~below[:, ::-1], axis=1)
            has_upper = ~above.all(axis=1)
            upper = np.argmax(~above, axis=1)
            elim_cur = elim[trial, cur]

            # desirability of the three candidates (0 for an eliminated dose), computed once per
            # distinct (n, DLTs, responses, both): the few outcome counts a block visits
            def score(idx: IntArray) -> FloatArray:
                i = np.clip(idx, 0, n_doses - 1)
                nn, tt, ee, bb = n[trial, i], yt[trial, i], ye[trial, i], yb[trial, i]
                key = ((nn * base + tt) * base + ee) * base + bb
                uniq, inverse = np.unique(key, return_inverse=True)
                un, rest = np.divmod(uniq, base**3)
                ut, rest = np.divmod(rest, base**2)
                ue, ub = np.divmod(rest, base)
                x = pseudo_successes(ue - ub, un - ut - ue + ub, ub, ut - ub, utility)
                s = desirability_from_x(un, x, u_b)[inverse]
                return np.asarray(np.where(elim[trial, i], 0.0, s), dtype=np.float64)

            s_cur = score(cur)
            s_low = np.where(has_lower, score(lower), -np.inf)
            explore_up = has_upper & (up_ok | (nd < design.n_star))
            s_up = np.where(explore_up, score(upper), -np.inf)
            # ties go to the higher dose: compare (score, index)
            best = cur.copy()
            best_s = s_cur
            pick_low = s_low > best_s  # lower < cur: it wins only when strictly better
            best = np.where(pick_low, lower, best)
            best_s = np.where(pick_low, s_low, best_s)
            pick_up = s_up >= best_s  # upper > both: it wins ties
            best = np.where(pick_up & explore_up, upper, best)

            proposal = np.where(down, np.where(has_lower, lower, cur), best)
            stop_model = np.where(down, ~has_lower & elim_cur, elim[trial, best])
            explore = (
                design.explore_untried
                & ~stop_model
                & has_upper
                & (nd >= design.n_explore)
                & ~down
                & (n[trial, upper] == 0)
            )
            proposal = np.where(explore, upper, proposal)

            return (
                np.asarray(proposal, dtype=np.int64),
                np.asarray(stop_model, dtype=np.bool_),
                np.asarray(elim.all(axis=1), dtype=np.bool_),
                np.asarray(nd >= design.n_stop, dtype=np.bool_),
            )

        while cal.active.any():
            block.ensure(int(cal.nxt.max()) + design.cohort_size + 1)
            if resp.shape[1] < block.capacity:
                resp = block.response_tolerance(efficacy.correlation)
            cohort, n_dlt = cal.treat(probs[cur], q[cur], resp)
            n[trial, cur] += cohort
            yt[trial, cur] += n_dlt
            ye[trial, cur] += cal.n_eff
            yb[trial, cur] += cal.n_both
            if not cal.active.any():
                break
            cal.next_decision()

            proposal, stop_model, all_elim, n_stop = decide(cur)
            stop = all_elim | stop_model | n_stop
            cal.stop(stop)
            cur = np.where(cal.active, proposal, cur)
            cal.proceed()

        # the final selection is the design's select on the final data: its choose names no dose
        # when the model stops there (after the last cohort too, as MD Anderson's software)
        _, stop_model, _, n_stop = decide(cur)
        elim = (np.cumsum(toxic_at[n, yt], axis=1) > 0) | futile_at[n, ye]
        selected, _, _, _ = obd_select_batch(
            n, yt, ye, elim, target=design.target, utility=design.utility
        )
        selected = np.where(stop_model & ~n_stop, -1, selected)
        return cal.outcomes(selected, n, yt, np.where(cal.total > 0, cur, -1), eff_at_dose=ye)
