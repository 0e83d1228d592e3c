"""The fast TITE-BOIN engine: every trial of a block at once, one decision per step, with numpy.

It implements :class:`escalation.TITEBOIN` under the harness's calendar with ``decision_timing``
``arrival`` (``auto`` for TITE-BOIN): the design is asked whenever a patient is ready, with the
patients still inside their window pending (:class:`~simulations.engines.calendar.CohortCalendar`
with ``timing="arrival"`` keeps every treated patient). Its rules come from escalation:

* the decision at the current dose is the design's: phat = y / (n - m + STFT), y the observed
  DLTs, m the pending patients and STFT their summed follow-up fractions, against the design's
  ``lambdas`` (escalate if phat <= lambda_e, de-escalate if phat >= lambda_d; escalate with no DLT);
  the sums are taken in the order the design takes them, so the comparisons are the same to the
  last bit;
* elimination and the extra-safe stop from :func:`escalation.boundary_rows` (R's get.boundary), on
  every treated patient with the observed DLTs;
* accrual suspension (``SuspendWhenPending``): while more than ``max_pending`` of the current dose's
  patients are pending, and at the lowest dose while the data call for de-escalation with patients
  pending there; the calendar loses the patient (``suspended_arrivals: lost``) or moves on to the
  day the wait ends or the next event (``wait``);
* the rule set is checked against the design's own, rule object by rule object
  (:meth:`TITEBOINEngine.supports`), then applied in the design pipeline's order: elimination,
  the model's proposal, no skipping, no eliminated dose, stopping, waiting;
* the final selection is the design's, on complete data, over every trial at once
  (:func:`escalation.select_isotonic_batch` with the design's ``selection_prior``).

tests/simulations/test_engines.py checks that this engine and the generic engine give identical
trials on the same patients.

References
----------
Yuan Y, Lin R, Li D, Nie L, Warren KE (2018). Time-to-event Bayesian optimal interval design to
accelerate phase I trials. Clin Cancer Res 24:4921-4930. TITEgBOIN 0.4.0 (R),
``next_TITE_QuasiBOIN`` and ``get_oc_TITE_QuasiBOIN``.
"""

from __future__ import annotations

import numpy as np

from escalation import (
    TITEBOIN,
    Design,
    SuspendWhenPending,
    select_isotonic_batch,
)
from simulations.engines.base import (
    DosesTried,
    Efficacy,
    FloatArray,
    IntArray,
    RuleSet,
    TrialOutcomes,
    runs_on_fast_engine,
)
from simulations.engines.boin import BoundaryTables
from simulations.engines.boin import expected_rules as boin_rules
from simulations.engines.calendar import CohortCalendar, PatientsAsOf
from simulations.patients import Conduct, PatientBlock

__all__ = ["TITEBOINEngine", "dlts_by_dose"]

#: "no day" for a pending-window table
_NO_DAY = np.iinfo(np.int64).max


def expected_rules(design: TITEBOIN) -> RuleSet:
    """BOIN's rules (:func:`simulations.engines.boin.expected_rules`) with TITE-BOIN's accrual
    suspension in place of waiting for every pending patient."""
    return boin_rules(design, (SuspendWhenPending(max_pending=design.max_pending),))


def dlts_by_dose(view: PatientsAsOf, n_doses: int) -> IntArray:
    """The DLTs observed by the decision day, per trial and dose, shape (trials, doses)."""
    n_rows = view.day.size
    flat = np.arange(n_rows)[:, None] * n_doses + view.patients.dose_index
    counts = np.bincount(flat[view.dlt_known], minlength=n_rows * n_doses)
    return counts.reshape(n_rows, n_doses).astype(np.int64)


class TITEBOINEngine:
    """TITE-BOIN vectorized over trials (see the module docstring)."""

    name = "fast-tite-boin"

    def supports(self, design: Design, conduct: Conduct) -> bool:
        return type(design) is TITEBOIN and runs_on_fast_engine(
            design, conduct, TITEBOIN, expected_rules(design), timing="arrival"
        )

    def run(
        self,
        design: Design,
        probs: FloatArray,
        block: PatientBlock,
        conduct: Conduct,
        efficacy: Efficacy | None = None,
    ) -> TrialOutcomes:
        assert isinstance(design, TITEBOIN)
        n_trials, n_doses = block.n_trials, design.n_doses
        tables = BoundaryTables(design, design.max_patients)
        lambda_e, lambda_d = design.lambdas
        window, max_pending = conduct.dlt_window_days, design.max_pending
        probs = np.asarray(probs, dtype=np.float64)
        cal = CohortCalendar(
            block,
            conduct,
            cohort_size=design.cohort_size,
            max_patients=design.max_patients,
            timing="arrival",
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
            view = cal.as_of(rows)
            c = cur[rows]
            nr = n[rows]
            y_seen = dlts_by_dose(view, n_doses)
            at_cur = view.patients.treated & (view.patients.dose_index == c[:, None])
            pending = view.pending & at_cur
            m = pending.sum(axis=1)
            n_cur = nr[np.arange(rows.size), c]
            y_cur = y_seen[np.arange(rows.size), c]
            # the design's effective n: complete patients plus the pending ones' follow-up
            # fractions summed in patient order (as DoseSummary's bincount), plus no withdrawal
            complete = (at_cur & ~view.pending).sum(axis=1)
            fraction = np.where(pending, view.followup_days / window, 0.0)
            stft = np.cumsum(fraction, axis=1)[:, -1] if fraction.shape[1] else np.zeros(rows.size)
            n_eff = complete + stft + 0.0
            with np.errstate(divide="ignore", invalid="ignore"):
                phat = y_cur / n_eff
            direction = np.where(
                y_cur == 0,
                1,
                np.where(
                    n_eff <= 0, 0, np.where(phat <= lambda_e, 1, np.where(phat >= lambda_d, -1, 0))
                ),
            )
            proposal = np.clip(c + direction, 0, n_doses - 1)

            # elimination: every treated patient with the observed DLTs, from n >= 3
            over = (nr >= 3) & (y_seen >= tables.eliminate_at_least[nr])
            first_eliminated = np.where(over.any(axis=1), np.argmax(over, axis=1), n_doses)
            all_eliminated = first_eliminated == 0
            # no skipping, then no eliminated dose
            proposal = np.minimum(proposal, np.maximum(highest[rows] + 1, design.start_level - 1))
            proposal = np.where(
                (proposal >= first_eliminated) & ~all_eliminated, first_eliminated - 1, proposal
            )
            # stopping: every dose eliminated, n_stop when staying, extra-safe
            stop = all_eliminated | (
                (proposal == c) & (nr[np.arange(rows.size), proposal] >= design.n_stop)
            )
            if design.extra_safe:
                stop |= (nr[:, 0] >= 3) & (y_seen[:, 0] >= tables.stop_lowest_at_least[nr[:, 0]])
            # accrual suspension, unless the current dose is eliminated
            current_ok = c < first_eliminated
            too_many = current_ok & (m > max_pending * n_cur)
            lowest = current_ok & ~too_many & (c == 0) & (m > 0) & (direction == -1)
            wait = ~stop & (too_many | lowest)
            until = np.zeros(n_trials, dtype=np.int64)
            if wait.any() and not cal.lose:
                closes = np.sort(
                    np.where(pending, view.patients.infused_day + window, _NO_DAY), axis=1
                )
                needed = np.ceil(m - max_pending * n_cur - 1e-12).astype(np.int64)
                k = np.where(too_many, needed - 1, 0)
                until[rows[wait]] = closes[np.arange(rows.size), np.maximum(k, 0)][wait]

            stopped = np.zeros(n_trials, dtype=np.bool_)
            stopped[rows[stop]] = True
            waiting = np.zeros(n_trials, dtype=np.bool_)
            waiting[rows[wait]] = True
            cal.stop(stopped)
            cal.suspend(waiting, until)
            go = cal.active & ~waiting
            moving = rows[~stop & ~wait]
            cur[moving] = proposal[~stop & ~wait]
            cal.proceed(go)

        # the design's own final selection (BOIN's choose, with the design's (y + a) / (n + 2a)),
        # on complete data, over every trial
        selected = select_isotonic_batch(
            n,
            y,
            target=design.target,
            cutoff=design.cutoff,
            extra_safe=design.extra_safe,
            offset=design.offset,
            bound_mtd=design.bound_mtd,
            phi2=design.phi2,
            prior=design.selection_prior,
        )
        return cal.outcomes(selected, n, y, cur.copy())
