"""The fast BLRM engine: every trial of a block at once, one cohort per step.

It implements :class:`escalation.BLRM` with the grid engine on complete data (``tite_weights``
off, so the design waits for pending patients and ``decision_timing`` ``auto`` is ``complete``),
taking the model from escalation. Trials in the same state share a posterior: the state is the
sufficient statistics of the likelihood, patients and DLTs per dose, and at every step the
engine asks :func:`escalation.blrm_interval_probs` once for the states it has not met yet in this
run, all of them together (numpy over states and grid nodes; the same numbers, to the last bit, as
the design's own posterior). Decisions then follow the design pipeline's order
(escalation/designs/base.py), with the rules checked against the design's own, rule object by rule
object (:meth:`BLRMEngine.supports`):

1. overdose control (EWOC): from the first dose with Pr(overdosing) >= ``overdose_cutoff``, every
   dose is excluded once some patient has an outcome (the first cohort goes to ``start_level``);
   every dose excluded stops the trial;
2. the model's proposal: among the doses with Pr(overdosing) below the cutoff, the one with the
   highest Pr(target);
3. no skipping, at most ``max_step`` times the highest amount tried, no excluded dose (the highest
   admissible dose below);
4. the trial ends at ``max_patients`` (the calendar);
5. final selection: among the doses with Pr(overdosing) below the cutoff and at least
   ``min_at_mtd`` patients, the highest Pr(target); none otherwise.

A design with other rules (extra stopping rules, a stagger), the MCMC engine or TITE weights runs
on the generic engine.
"""

from __future__ import annotations

import numpy as np

from escalation import (
    BLRM,
    BLRMPrior,
    Design,
    ExcludeEliminated,
    MaxAmountStep,
    NoSkipping,
    OverdoseControl,
    StopAtN,
    WaitForPending,
    blrm_interval_probs,
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

__all__ = ["BLRMEngine"]


def expected_rules(design: BLRM) -> RuleSet:
    """The rules this engine implements, for the design's options."""
    return (
        OverdoseControl(
            cutoff=design.overdose_cutoff,
            overdose_bound=design.target_interval[1],
            from_first_outcome=True,
        ),
        StopAtN(design.max_patients),
        (WaitForPending(),),
        (
            NoSkipping(),
            MaxAmountStep(amounts=design.dose_amounts, factor=design.max_step),
            ExcludeEliminated(),
        ),
    )


class _StateCache:
    """Pr(target) and Pr(overdosing) per state (patients and DLTs per dose) met in one run."""

    def __init__(self, design: BLRM) -> None:
        assert design.reference_dose is not None and design.prior is not None
        self.design = design
        self.reference_dose = float(design.reference_dose)
        self.prior = BLRMPrior.from_mapping(design.prior)
        self.index: dict[bytes, int] = {}
        self.n_doses = design.n_doses
        self.prob_target = np.zeros((0, design.n_doses))
        self.prob_overdose = np.zeros((0, design.n_doses))

    def lookup(self, n: IntArray, y: IntArray) -> tuple[FloatArray, FloatArray]:
        """Pr(target) and Pr(overdosing), (trials, doses), for the trials' states."""
        keys = np.ascontiguousarray(np.concatenate([n, y], axis=1), dtype=np.int64)
        rows = [k.tobytes() for k in keys]
        new = {r: i for i, r in enumerate(rows) if r not in self.index}
        if new:
            fresh = keys[list(new.values())]
            k = self.n_doses
            design = self.design
            probs = blrm_interval_probs(
                design.dose_amounts,
                reference_dose=self.reference_dose,
                prior=self.prior,
                n_at_dose=fresh[:, :k],
                dlt_at_dose=fresh[:, k:],
                target_interval=(design.target_interval[0], design.target_interval[1]),
            )
            start = len(self.index)
            for j, r in enumerate(new):
                self.index[r] = start + j
            self.prob_target = np.concatenate([self.prob_target, probs.prob_target])
            self.prob_overdose = np.concatenate([self.prob_overdose, probs.prob_overdose])
        at = np.fromiter((self.index[r] for r in rows), dtype=np.int64, count=len(rows))
        return self.prob_target[at], self.prob_overdose[at]

    @property
    def size(self) -> int:
        return len(self.index)


def _best_target(prob_target: FloatArray, allowed: BoolArray) -> IntArray:
    """Per trial, the allowed dose with the highest Pr(target) (the first on ties); 0 if none."""
    masked = np.where(allowed, prob_target, -np.inf)
    return np.asarray(np.where(allowed.any(axis=1), np.argmax(masked, axis=1), 0), dtype=np.int64)


def _amount_ceiling(design: BLRM) -> IntArray:
    """Per highest dose index tried, the highest index within ``max_step`` times its amount
    (:class:`escalation.MaxAmountStep`'s rule)."""
    amounts = design.dose_amounts
    out = []
    for highest in amounts:
        limit = design.max_step * highest * (1.0 + 1e-12)
        out.append(max(i for i, a in enumerate(amounts) if a <= limit))
    return np.array(out, dtype=np.int64)


class BLRMEngine:
    """BLRM vectorized over trials, with posteriors shared by trials in the same state (see the
    module docstring)."""

    name = "fast-blrm"

    def __init__(self) -> None:
        #: distinct states whose posterior the last run computed (for benchmarks and tests)
        self.last_states = 0

    def supports(self, design: Design, conduct: Conduct) -> bool:
        return (
            type(design) is BLRM
            and design.engine == "grid"
            and not design.tite
            and runs_on_fast_engine(design, conduct, BLRM, expected_rules(design))
        )

    def run(
        self,
        design: Design,
        probs: FloatArray,
        block: PatientBlock,
        conduct: Conduct,
        efficacy: Efficacy | None = None,
    ) -> TrialOutcomes:
        assert isinstance(design, BLRM)
        n_trials, n_doses = block.n_trials, design.n_doses
        cutoff = design.overdose_cutoff
        probs = np.asarray(probs, dtype=np.float64)
        cal = CohortCalendar(
            block, conduct, cohort_size=design.cohort_size, max_patients=design.max_patients
        )
        cache = _StateCache(design)
        amount_ceiling = _amount_ceiling(design)
        start = design.start_level - 1

        doses = DosesTried(n_trials, n_doses, start)
        cur, n, y, highest = doses.cur, doses.n, doses.y, doses.highest  # updated in place

        # the first decision, on no patient: the starting dose (overdose control acts from the
        # first outcome on, and every later decision here has the first cohort's outcomes)
        while cal.active.any():
            cohort, n_dlt = cal.treat(probs[cur])
            doses.treated(cohort, n_dlt)
            if not cal.active.any():
                break
            cal.next_decision()  # once every outcome is known and a patient is there

            rows = np.flatnonzero(cal.active)
            prob_target, prob_overdose = cache.lookup(n[rows], y[rows])
            over = prob_overdose >= cutoff
            first_excluded = np.where(over.any(axis=1), np.argmax(over, axis=1), n_doses)
            proposal = _best_target(prob_target, ~over)
            # no skipping, maximum amount step, no excluded dose
            top = highest[rows]
            proposal = np.minimum(proposal, np.maximum(top + 1, start))
            proposal = np.minimum(proposal, amount_ceiling[top])
            all_excluded = first_excluded == 0
            proposal = np.where(
                (proposal >= first_excluded) & ~all_excluded, first_excluded - 1, proposal
            )
            stopped = np.zeros(n_trials, dtype=np.bool_)
            stopped[rows[all_excluded]] = True
            cal.stop(stopped)
            go = ~all_excluded
            cur[rows[go]] = proposal[go]
            cal.proceed()

        # final selection (the design's choose) on complete data
        prob_target, prob_overdose = cache.lookup(n, y)
        candidates = (prob_overdose < cutoff) & (n >= design.min_at_mtd)
        chosen = _best_target(prob_target, candidates)
        selected = np.where(candidates.any(axis=1), chosen, -1)
        self.last_states = cache.size
        return cal.outcomes(selected, n, y, cur.copy())
