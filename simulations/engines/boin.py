"""The fast BOIN engine: every trial of a block at once, one cohort per step, with numpy.

It implements :class:`escalation.BOIN` under the harness's calendar with ``decision_timing``
``complete`` (``auto`` for BOIN), taking every rule from escalation rather than restating it:

* escalation, de-escalation and elimination boundaries from :func:`escalation.boundary_rows`
  (R's get.boundary), for the design's target, phi1, phi2, cutoff, extra-safe offset;
* the rule set itself is checked against the design's own (:meth:`BOINEngine.supports` compares
  ``design.rules()`` with the rule objects this engine implements -- elimination, stop at
  ``max_patients``, ``n_stop`` when staying, extra-safe, waiting for pending patients, no skipping,
  no eliminated dose), so a BOIN with another rule, or a changed BOIN, runs on the generic engine;
* the final selection is the design's rule itself, over every trial at once
  (:func:`escalation.select_isotonic_batch`, whose one-trial case is the design's
  :func:`escalation.select_isotonic`).

tests/simulations/test_engines.py checks that this engine and the generic engine give identical
trials on the same patients.

References
----------
Liu S, Yuan Y (2015). JRSS-C 64:507-523. Yuan Y, Hess KR, Hilsenbeck SG, Gilbert MR (2016). Clin
Cancer Res 22:4291-4301. BOIN 2.7.2 (R), ``get.oc`` and ``select.mtd``.
"""

from __future__ import annotations

import numpy as np

from escalation import (
    BOIN,
    Design,
    EliminateToxicDoses,
    ExcludeEliminated,
    NoSkipping,
    StopAtN,
    StoppingRule,
    StopWhenNAtDose,
    StopWhenTooToxic,
    WaitForPending,
    boundary_rows,
    select_isotonic_batch,
)
from simulations.engines.base import (
    Efficacy,
    FloatArray,
    RuleSet,
    TrialOutcomes,
    runs_on_fast_engine,
)
from simulations.engines.calendar import CohortCalendar
from simulations.patients import Conduct, PatientBlock

__all__ = ["BOINEngine", "BoundaryTables"]


#: "never" in a boundary table
_NEVER = np.iinfo(np.int32).max


def expected_rules(design: BOIN, waiting: tuple[object, ...] = (WaitForPending(),)) -> RuleSet:
    """The rules this engine implements, for the design's options: elimination, stopping, waiting
    and constraints, as rule objects (compared with ``==``, field by field). TITE-BOIN's engine
    passes its own waiting rule (accrual suspension); the rest is BOIN's."""
    stopping: StoppingRule = StopAtN(design.max_patients) | StopWhenNAtDose(
        design.n_stop, when_staying=True
    )
    if design.extra_safe:
        stopping = stopping | StopWhenTooToxic(level=1, prob=design.cutoff - design.offset)
    return (
        EliminateToxicDoses(cutoff=design.cutoff),
        stopping,
        waiting,
        (NoSkipping(), ExcludeEliminated()),
    )


class BoundaryTables:
    """BOIN's boundaries indexed by the number of patients n = 0..n_max (escalation's tables)."""

    def __init__(self, design: BOIN, n_max: int) -> None:
        rows = boundary_rows(
            n_max,
            target=design.target,
            phi1=design.phi1,
            phi2=design.phi2,
            cutoff=design.cutoff,
            extra_safe=design.extra_safe,
            offset=design.offset,
        )
        size = n_max + 1
        self.escalate_at_most = np.full(size, -1, dtype=np.int64)
        self.deescalate_at_least = np.full(size, _NEVER, dtype=np.int64)
        self.eliminate_at_least = np.full(size, _NEVER, dtype=np.int64)
        self.stop_lowest_at_least = np.full(size, _NEVER, dtype=np.int64)
        for r in rows:
            self.escalate_at_most[r.n] = r.escalate_at_most
            self.deescalate_at_least[r.n] = r.deescalate_at_least
            if r.eliminate_at_least is not None:
                self.eliminate_at_least[r.n] = r.eliminate_at_least
            if r.stop_lowest_at_least is not None:
                self.stop_lowest_at_least[r.n] = r.stop_lowest_at_least


class BOINEngine:
    """BOIN vectorized over trials (see the module docstring)."""

    name = "fast-boin"

    def supports(self, design: Design, conduct: Conduct) -> bool:
        return type(design) is BOIN and runs_on_fast_engine(
            design, conduct, BOIN, expected_rules(design)
        )

    def run(
        self,
        design: Design,
        probs: FloatArray,
        block: PatientBlock,
        conduct: Conduct,
        efficacy: Efficacy | None = None,
    ) -> TrialOutcomes:
        assert isinstance(design, BOIN)
        n_trials, n_doses = block.n_trials, design.n_doses
        tables = BoundaryTables(design, design.max_patients)
        probs = np.asarray(probs, dtype=np.float64)
        row_start = np.arange(n_trials) * n_doses  # flat index of (trial, dose 0)
        cal = CohortCalendar(
            block, conduct, cohort_size=design.cohort_size, max_patients=design.max_patients
        )

        cur = np.full(n_trials, design.start_level - 1, dtype=np.int64)
        n = np.zeros(n_trials * n_doses, dtype=np.int64)  # flat (trial, dose)
        y = np.zeros(n_trials * n_doses, dtype=np.int64)
        # the lowest eliminated dose (n_doses: none); elimination is never undone here, since a
        # design deciding on complete data never treats an eliminated dose again
        first_eliminated = np.full(n_trials, n_doses, dtype=np.int64)

        while cal.active.any():
            cohort, n_dlt = cal.treat(probs[cur])
            at = row_start + cur
            n[at] += cohort
            y[at] += n_dlt
            if not cal.active.any():
                break
            cal.next_decision()  # once every outcome is known and a patient is there

            # BOIN's decision on complete data, in the pipeline's order
            nd, yd = n[at], y[at]
            over = (nd >= 3) & (yd >= tables.eliminate_at_least[nd])
            first_eliminated = np.where(over, np.minimum(first_eliminated, cur), first_eliminated)
            up = yd <= tables.escalate_at_most[nd]
            down = ~up & (yd >= tables.deescalate_at_least[nd])
            proposal = np.where(
                up, np.minimum(cur + 1, n_doses - 1), np.where(down, np.maximum(cur - 1, 0), cur)
            )
            proposal = np.minimum(proposal, first_eliminated - 1)  # never an eliminated dose
            stop = (first_eliminated == 0) | ((proposal == cur) & (nd >= design.n_stop))
            if design.extra_safe:
                n0, y0 = n[row_start], y[row_start]
                stop |= (n0 >= 3) & (y0 >= tables.stop_lowest_at_least[n0])
            cal.stop(stop)
            cur = np.where(cal.active, proposal, cur)
            cal.proceed()

        n2, y2 = n.reshape(n_trials, n_doses), y.reshape(n_trials, n_doses)
        # the design's own final selection (its choose: select_isotonic), over every trial
        selected = select_isotonic_batch(
            n2,
            y2,
            target=design.target,
            cutoff=design.cutoff,
            extra_safe=design.extra_safe,
            offset=design.offset,
            bound_mtd=design.bound_mtd,
            phi2=design.phi2,
        )
        return cal.outcomes(selected, n2, y2, cur.copy())
