"""The fast 3+3 engine: every trial of a block at once, one cohort per step, with numpy.

It implements :class:`escalation.ThreePlusThree` under the harness's calendar with
``decision_timing`` ``complete`` (``auto`` for 3+3, which waits for pending patients), taking the
rule from escalation rather than restating it:

* each decision is :func:`escalation.three_plus_three_step` on the trials' counts at their current
  dose (the function the design's fit and stopping rule call);
* the final selection is :func:`escalation.three_plus_three_select` (the design's ``choose``);
* the rule set is checked against the design's own (:meth:`ThreePlusThreeEngine.supports` compares
  ``design.rules()`` with the rule objects this engine implements -- elimination at 2 DLTs, the 3+3
  stop, the stop at ``max_patients``, waiting for pending patients, no skipping, no eliminated
  dose), so a 3+3 with another rule (a stagger, extra stopping rules) runs on the generic engine.

Elimination needs no code here: under the 3+3 rule a dose with 2 DLTs is never treated again (the
trial stops or de-escalates from it, and never escalates into it).

tests/simulations/test_three_plus_three_engine.py checks that this engine and the generic engine
give identical trials on the same patients, and the selection probabilities against their exact
values by enumeration.

References
----------
Storer BE (1989). Biometrics 45:925-937. Korn EL et al. (1994). Stat Med 13:1799-1806.
"""

from __future__ import annotations

import numpy as np

from escalation import (
    Design,
    EliminateWhenDLTs,
    ExcludeEliminated,
    NoSkipping,
    StopAtN,
    StoppingRule,
    StopThreePlusThree,
    ThreePlusThree,
    WaitForPending,
    three_plus_three_select,
    three_plus_three_step,
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

__all__ = ["ThreePlusThreeEngine"]


def expected_rules(design: ThreePlusThree) -> RuleSet:
    """The rules this engine implements, for the design's options: elimination, stopping, waiting
    and constraints, as rule objects (compared with ``==``, field by field)."""
    assert design.max_patients is not None
    stopping: StoppingRule = StopThreePlusThree(design.allow_deescalation) | StopAtN(
        design.max_patients
    )
    return (
        EliminateWhenDLTs(n_dlt=2),
        stopping,
        (WaitForPending(),),
        (NoSkipping(), ExcludeEliminated()),
    )


class ThreePlusThreeEngine:
    """3+3 vectorized over trials (see the module docstring)."""

    name = "fast-3+3"

    def supports(self, design: Design, conduct: Conduct) -> bool:
        return type(design) is ThreePlusThree and runs_on_fast_engine(
            design, conduct, ThreePlusThree, expected_rules(design)
        )

    def run(
        self,
        design: Design,
        probs: FloatArray,
        block: PatientBlock,
        conduct: Conduct,
        efficacy: Efficacy | None = None,
    ) -> TrialOutcomes:
        assert isinstance(design, ThreePlusThree) and design.max_patients is not None
        n_trials, n_doses = block.n_trials, design.n_doses
        deesc = design.allow_deescalation
        probs = np.asarray(probs, dtype=np.float64)
        trial = np.arange(n_trials)
        cal = CohortCalendar(
            block, conduct, cohort_size=design.cohort_size, max_patients=design.max_patients
        )

        cur = np.full(n_trials, design.start_level - 1, dtype=np.int64)
        n = np.zeros((n_trials, n_doses), dtype=np.int64)
        y = np.zeros((n_trials, n_doses), dtype=np.int64)

        while cal.active.any():
            cohort, n_dlt = cal.treat(probs[cur])
            n[trial, cur] += cohort
            y[trial, cur] += n_dlt
            if not cal.active.any():
                break
            cal.next_decision()  # once every outcome is known and a patient is there

            step = three_plus_three_step(n, y, cur, allow_deescalation=deesc)
            cal.stop(step.stop)
            cur = np.where(cal.active, step.next_index, cur)
            cal.proceed()

        selected = three_plus_three_select(n, y, cur, allow_deescalation=deesc)
        return cal.outcomes(selected, n, y, cur.copy())
