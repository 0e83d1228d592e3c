"""3+3: the traditional rule-based design, for conduct and as a comparator.

Cohorts of 3 at the current dose, on evaluable patients (a DLT or a complete window): 0 DLTs in 3
escalate; 1 in 3: 3 more at the same dose; at most 1 in 6 escalate; 2 or more DLTs: the dose is
above the MTD -- the trial stops and the dose below is the MTD (none below the lowest dose), or,
with ``allow_deescalation`` (Korn et al. 1994), the next cohort goes to the dose below while it has
fewer than 6 patients, and once it has 6 the trial stops with the highest dose that has at least 6
patients and at most 1 DLT. Escalating from the highest dose, or into a dose that already has 6
patients or 2 DLTs, stops the trial with the current dose as the MTD. The rule itself, and where it
differs from R escalation's ``three_plus_three`` (only on data that left the algorithm or on a
cohort not yet complete), is :mod:`escalation.models.three_plus_three`.

It runs the pipeline of every design (:mod:`escalation.designs.base`): a dose with 2 DLTs is
eliminated with every higher dose (:class:`~escalation.rules.elimination.EliminateWhenDLTs`); the
3+3 stopping rule (:class:`StopThreePlusThree`) ends the trial; pending patients at the current
dose make the decision wait (:class:`~escalation.rules.waiting.WaitForPending`, as BOIN) unless
their dose is already eliminated; no skipping, never an eliminated dose. 3+3 uses no target: the
design's ``target`` (default 0.3) only says which dose counts as correct when its operating
characteristics are simulated.

References
----------
Storer BE (1989). Design and analysis of phase I clinical trials. Biometrics 45:925-937.
Korn EL, Midthune D, Chen TT, Rubinstein LV, Christian MC, Simon RM (1994). A comparison of two
phase I trial designs. Stat Med 13:1799-1806.
R escalation (Brock), ``get_three_plus_three(num_doses, allow_deescalate)``.

Examples
--------
>>> from escalation import ThreePlusThree, TrialData
>>> design = ThreePlusThree(n_doses=5)
>>> decision = design.decide(TrialData.from_counts([3, 3, 0, 0, 0], [0, 1, 0, 0, 0], current_level=2))
>>> decision.action.value, decision.next_level
('stay', 2)
>>> decision = design.decide(TrialData.from_counts([3, 6, 0, 0, 0], [0, 2, 0, 0, 0], current_level=2))
>>> decision.action.value, decision.selection.dose_level
('stop', 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from escalation.data import TrialData
from escalation.decision import Action, PosteriorBands, RuleOutcome, Selection
from escalation.designs.base import (
    START_REASON,
    Design,
    DesignRules,
    ModelFit,
    _maybe,
    provisional_note,
)
from escalation.designs.boin import beta_posterior_bands
from escalation.errors import Problem
from escalation.models.three_plus_three import (
    EXPANDED,
    Step,
    ThreePlusThreeStep,
    three_plus_three_select,
    three_plus_three_step,
    whole_trial_mtd,
)
from escalation.rules.constraints import ExcludeEliminated, NoSkipping
from escalation.rules.context import DecisionContext
from escalation.rules.elimination import EliminateWhenDLTs
from escalation.rules.stopping import StoppingRule, _outcome
from escalation.rules.waiting import WaitForPending

__all__ = ["StopThreePlusThree", "ThreePlusThree"]


def _step(
    n: np.typing.NDArray[np.int64],
    y: np.typing.NDArray[np.int64],
    cur: int,
    allow_deescalation: bool,
) -> ThreePlusThreeStep:
    return three_plus_three_step(
        n[None, :], y[None, :], np.array([cur]), allow_deescalation=allow_deescalation
    )


def _observed(n: int, y: int, index: int) -> str:
    return f"{y} DLT{'s' if y != 1 else ''} in {n} evaluable patients at dose level {index + 1}"


def _explain(step: Step, n: int, y: int, index: int, mtd: int) -> str:
    """A sentence for one branch of the 3+3 rule at dose index ``index``."""
    seen = _observed(n, y, index)
    mtd_text = f"dose level {mtd + 1} is the MTD" if mtd >= 0 else "no dose is the MTD"
    rule_mtd = {Step.STOP_TOP: index, Step.STOP_NEXT_DONE: index, Step.STOP_BELOW: index - 1}
    if step in rule_mtd and rule_mtd[step] != mtd:
        mtd_text += (
            f" (not dose level {rule_mtd[step] + 1}: a lower dose has 2 DLTs, so the MTD is the "
            f"highest dose with at least {EXPANDED} patients and at most 1 DLT below it)"
        )
    return {
        Step.COMPLETE_COHORT: f"{seen}: the cohort of {3 if n < 3 else EXPANDED} is not complete",
        Step.EXPAND: f"{seen}: expand dose level {index + 1} to {EXPANDED} patients",
        Step.ESCALATE: f"{seen}: escalate",
        Step.STOP_TOP: f"{seen} and it is the highest dose: {mtd_text}",
        Step.STOP_NEXT_DONE: (
            f"{seen}, and dose level {index + 2} already has {EXPANDED} patients or 2 DLTs: "
            f"{mtd_text}"
        ),
        Step.STOP_BELOW: f"{seen} (2 or more): {mtd_text}",
        Step.DEESCALATE: (
            f"{seen} (2 or more), and dose level {index} has fewer than {EXPANDED} patients: "
            "de-escalate"
        ),
        Step.STOP_KORN: (
            f"{seen} (2 or more), and dose level {index} has {EXPANDED} patients: {mtd_text} "
            f"(the highest with at least {EXPANDED} patients and at most 1 DLT)"
        ),
    }[step]


@dataclass(frozen=True, slots=True)
class StopThreePlusThree(StoppingRule):
    """Stop when the 3+3 rule at the current dose says so (the cases of
    :mod:`escalation.models.three_plus_three` that stop).

    The rule reads evaluable patients; while a patient at the current dose is pending it stops only
    when that patient cannot change the verdict (the dose already has 2 DLTs).
    """

    allow_deescalation: bool = False

    @property
    def label(self) -> str:
        return f"StopThreePlusThree(allow_deescalation={self.allow_deescalation})"

    def evaluate(self, ctx: DecisionContext) -> tuple[bool, tuple[RuleOutcome, ...]]:
        cur = ctx.current_index
        if cur is None:
            return _outcome(self.label, False, "No patient has been treated yet.")
        s = ctx.summary
        n, y = s.n_complete, s.n_dlt
        step = _step(n, y, cur, self.allow_deescalation)
        kind, mtd = Step(int(step.step[0])), int(step.mtd_index[0])
        why = _explain(kind, int(n[cur]), int(y[cur]), cur, mtd)
        if not step.stop[0]:
            return _outcome(self.label, False, f"{why}: the trial goes on.")
        pending = int(s.n_pending[cur])
        if pending and kind not in (Step.STOP_BELOW, Step.STOP_KORN):
            return _outcome(
                self.label,
                False,
                f"{why}, once the {pending} pending patient{'s' if pending > 1 else ''} at dose "
                f"level {cur + 1} complete{'s' if pending == 1 else ''} the DLT window.",
            )
        return _outcome(self.label, True, f"{why}.")


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreePlusThree(Design):
    """The 3+3 design (see the module docstring).

    Parameters
    ----------
    n_doses
        Number of dose levels.
    allow_deescalation
        Korn et al.'s variant (R escalation's ``allow_deescalate``): after 2 DLTs, de-escalate
        while the dose below has fewer than 6 patients. Default false: stop, the dose below is the
        MTD.
    target
        Not used by the rules; the DLT rate by which simulations judge the selected dose (0.3).
    max_patients
        Maximum sample size (default 6 per dose level, which the rules never exceed).
    cohort_size
        Always 3.
    start_level, stagger_days, stopping
        First dose level; sentinel dosing; further stopping rules (``|``).
    """

    method: ClassVar[str] = "3+3"
    uses_target: ClassVar[bool] = False
    selection_estimate: ClassVar[str] = "Observed DLT rate"

    target: float = 0.3
    max_patients: int | None = None  # type: ignore[assignment]
    allow_deescalation: bool = False

    def __post_init__(self) -> None:
        if self.max_patients is None:
            object.__setattr__(self, "max_patients", EXPANDED * max(self.n_doses, 1))
        Design.__post_init__(self)

    def _problems(self) -> list[Problem]:
        problems = Design._problems(self)
        if self.cohort_size != 3:
            problems.append(
                Problem(
                    field="design.cohort_size",
                    message=f"3+3 treats cohorts of 3 patients, got {self.cohort_size}",
                )
            )
        return problems

    def model_rules(self) -> DesignRules:
        assert self.max_patients is not None
        # the sample size (StopAtN(max_patients)) and any stopping expression come after
        stopping: StoppingRule = StopThreePlusThree(self.allow_deescalation)
        return DesignRules(
            elimination=EliminateWhenDLTs(n_dlt=2),
            stopping=stopping,
            waiting=(WaitForPending(),),
            constraints=(NoSkipping(), ExcludeEliminated()),
        )

    def fit(self, data: TrialData) -> ModelFit:
        s = data.summary
        n, y = s.n_complete, s.n_dlt
        with np.errstate(invalid="ignore", divide="ignore"):
            estimate = np.where(n > 0, y / np.maximum(n, 1), np.nan)
        nothing = np.full(self.n_doses, np.nan)
        current = data.current_dose_level
        diagnostics: dict[str, object] = {}
        if current is None:
            index, direction, reason = self.start_level - 1, Action.STAY, START_REASON
        else:
            cur = current - 1
            step = _step(n, y, cur, self.allow_deescalation)
            kind, mtd = Step(int(step.step[0])), int(step.mtd_index[0])
            index = int(step.next_index[0])
            direction = {Step.ESCALATE: Action.ESCALATE, Step.DEESCALATE: Action.DEESCALATE}.get(
                kind, Action.STOP if step.stop[0] else Action.STAY
            )
            reason = _explain(kind, int(n[cur]), int(y[cur]), cur, mtd) + "."
            diagnostics = {"three_plus_three_step": kind.name.lower()}
        return ModelFit(
            proposed_index=index,
            reason=reason,
            direction=direction,
            estimate=estimate,
            prob_overdose=nothing,
            n_for_safety=n,
            dlt_for_safety=y,
            diagnostics=diagnostics,
        )

    def posterior_bands(self, data: TrialData) -> PosteriorBands:
        """A picture of the data: each tried dose's Beta(1, 1) posterior on its evaluable patients
        (as BOIN's). 3+3's rules do not use it; Pr(DLT rate > target) is for the picture only."""
        self.check_data(data)
        s = data.summary
        return beta_posterior_bands(
            s.n_complete.astype(np.float64),
            s.n_dlt.astype(np.float64),
            self.target,
            model="3+3 (rule-based); independent Beta(1, 1) posteriors per dose, not used by its rules",
        )

    def choose(self, data: TrialData, fit: ModelFit) -> Selection:
        """The MTD: the 3+3 rule's own when it stops the trial on these data; otherwise (the trial
        ended before the rule stopped it) the highest dose with at least 6 evaluable patients and at
        most 1 DLT, below every dose with 2 DLTs (none if no dose has). On data beyond the
        algorithm's (backfill or expansion patients, or more than 6 at a dose: the final regimen
        from all the data), the same MTD read as rates (:func:`whole_trial_mtd`)."""
        s = data.summary
        n, y = s.n_complete, s.n_dlt
        current = data.current_dose_level
        estimates = tuple(_maybe(v) for v in fit.estimate)
        eliminated, _ = EliminateWhenDLTs(n_dlt=2).apply(n, y, fit.prob_overdose, self.target)
        beyond = int(n.max(initial=0)) > EXPANDED or any(
            p.cohort != "escalation" for p in data.patients
        )
        if current is None or not n.any():
            mtd, reason = -1, "No dose is recommended: no patient has completed the DLT window."
        elif beyond:
            # backfill, expansion or more than 6 at a dose: the algorithm's own stop no longer
            # describes the data; Korn's MTD read as rates (equal to it on the algorithm's data)
            mtd = int(whole_trial_mtd(n[None, :], y[None, :])[0])
            toxic = (y >= 2) & (3 * y >= n)
            eliminated = toxic
            reason = (
                "The data go beyond the 3+3 algorithm's (backfill, expansion or more than "
                f"{EXPANDED} patients at a dose); over all of them the MTD is the highest dose with "
                f"at least {EXPANDED} evaluable patients and an observed DLT rate below 1/3, below "
                "every dose with at least 2 DLTs making a rate of at least 1/3"
                + (f": dose level {mtd + 1}." if mtd >= 0 else ": there is none.")
            )
        else:
            cur = current - 1
            mtd = int(
                three_plus_three_select(
                    n[None, :],
                    y[None, :],
                    np.array([cur]),
                    allow_deescalation=self.allow_deescalation,
                )[0]
            )
            step = _step(n, y, cur, self.allow_deescalation)
            kind = Step(int(step.step[0]))
            why = _explain(kind, int(n[cur]), int(y[cur]), cur, mtd)
            if step.stop[0]:
                reason = f"3+3 rule: {why}."
            else:
                why = _explain(kind, int(n[cur]), int(y[cur]), cur, -1)
                reason = (
                    f"The 3+3 rule has not stopped the trial ({why}); the MTD is the highest dose "
                    f"with at least {EXPANDED} evaluable patients and at most 1 DLT, below every "
                    "dose with 2 DLTs"
                    + (f": dose level {mtd + 1}." if mtd >= 0 else ": there is none.")
                )
        if mtd < 0 and not reason.startswith("No dose"):
            reason = "No dose is recommended. " + reason
        elif mtd >= 0:
            reason = f"Recommended dose: level {mtd + 1}. " + reason
        reason += provisional_note(int(s.n_pending.sum()))
        return Selection(
            dose_level=None if mtd < 0 else mtd + 1,
            reason=reason,
            estimates=estimates,
            prob_overdose=tuple(None for _ in range(self.n_doses)),
            eliminated=tuple(int(i) + 1 for i in np.flatnonzero(eliminated)),
            provisional=bool(s.n_pending.sum()),
        )
