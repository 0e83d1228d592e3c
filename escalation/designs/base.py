"""The decision pipeline every design runs, in one documented order.

A design supplies a model (its fit: per-dose estimates and a proposed dose) and its rules; the
pipeline combines them the same way for every design. Precedence, highest first:

1. data validity (``TrialData`` is valid once built; the design checks it has as many doses);
2. safety elimination -- an eliminated dose is never recommended; every dose eliminated: stop;
3. stopping rules, one expression (they see the proposal after the dose-change limits, since some
   stop only when the decision is to stay; a demand holds off the expression's stops until met,
   except a stop with no dose and the sample size ``max_patients``: see
   :func:`escalation.rules.stopping.decide_stop`);
4. waiting rules (pending patients, stagger): the decision is ``wait`` with the day it ends;
5. dose-change limits (no skipping of untried doses, maximum step, coherence, not into an
   eliminated dose), applied in order to
6. the model's proposal.

The escalation decision uses the escalation and backfill patients only: expansion patients do not
drive the escalation model (DESIGN.md section 7 lets the recommended regimen, not each escalation
step, use all the data). The decision also reports the monitoring status of every expansion
cohort (:mod:`escalation.expansion`). The final selection -- :meth:`Design.select`, and the one
inside a stop decision, which is the same -- uses every patient (escalation, backfill and
expansion: isotonic regression on all data for the BOIN family, the model fitted to all data for
CRM, TITE-CRM and BLRM) and says how many of each it used.

Every rule's outcome is kept in the decision with its label. The safety review committee's own
decision is recorded beside the recommendation (by the service), never inside it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from escalation.backfill import BackfillPlan, closed_at_stop, model_backfill_status
from escalation.data import TrialData
from escalation.decision import (
    Action,
    BackfillStatus,
    Decision,
    DoseEstimate,
    EfficacyEstimate,
    PosteriorBands,
    RuleKind,
    RuleOutcome,
    Selection,
)
from escalation.errors import InvalidDesignError, InvalidTrialDataError, Problem
from escalation.expansion import (
    ExpansionPlan,
    expansion_data_problems,
    expansion_status,
    indication_estimates,
)
from escalation.limits import LIMITS
from escalation.models.boundaries import beta_overdose_prob
from escalation.rules.constraints import NoSkipping, NoSkippingDown
from escalation.rules.context import DecisionContext
from escalation.rules.elimination import EliminateToxicDoses
from escalation.rules.grammar import to_expression
from escalation.rules.stopping import (
    StopAtN,
    StoppingRule,
    StopWhenTooToxic,
    decide_stop,
    leaves,
)
from escalation.rules.waiting import Stagger

__all__ = ["Design", "DesignRules", "ModelFit"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class DoseConstraint(Protocol):
    """A dose-change limit: takes a proposed dose index, returns the allowed one."""

    @property
    def label(self) -> str: ...

    def apply(self, ctx: DecisionContext, index: int) -> tuple[int, RuleOutcome]: ...


class EliminationRule(Protocol):
    """Safety elimination: the doses judged too toxic (each with every higher dose), and why."""

    @property
    def label(self) -> str: ...

    def apply(
        self,
        n_at_dose: IntArray,
        dlt_at_dose: IntArray,
        prob_overdose: FloatArray,
        target: float,
    ) -> tuple[npt.NDArray[np.bool_], RuleOutcome]: ...


class WaitingRule(Protocol):
    """A rule that may postpone the decision; returns its outcome and the day the wait ends."""

    @property
    def label(self) -> str: ...

    def evaluate(self, ctx: DecisionContext) -> tuple[RuleOutcome, int | None]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelFit:
    """What a design's model says about the current data (arrays by dose index).

    ``proposed_index`` is the model's next dose before any rule; ``reason`` says why in a sentence;
    ``direction`` is what the model asks for before the ends of the dose ladder (BOIN at the lowest
    dose may ask to de-escalate and propose to stay). ``estimate`` is the point estimate of each
    dose's DLT probability (NaN where none).
    """

    proposed_index: int
    reason: str
    direction: Action
    estimate: FloatArray
    prob_overdose: FloatArray
    n_for_safety: IntArray
    dlt_for_safety: IntArray
    prob_tox_mean: FloatArray | None = None
    prob_tox_interval: FloatArray | None = None  # shape (n_doses, 2)
    prob_underdose: FloatArray | None = None
    prob_target: FloatArray | None = None
    model: Mapping[str, float] | None = None
    diagnostics: Mapping[str, object] = field(default_factory=dict)
    #: per-dose toxicity-and-efficacy estimates (BOIN12), in the decision's dose table
    efficacy: tuple[EfficacyEstimate, ...] | None = None
    #: the model's own reason to end the trial (BOIN12: no admissible dose to go to), read by
    #: :class:`~escalation.rules.stopping.StopWhenModelStops`
    stop_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DesignRules:
    """The rules a design applies, by kind."""

    elimination: EliminationRule | None
    stopping: StoppingRule | None
    waiting: tuple[WaitingRule, ...]
    constraints: tuple[DoseConstraint, ...]


def _maybe(x: float) -> float | None:
    return None if x != x else float(x)


START_REASON = "No patient has been treated yet: start at the starting dose."


def move(cur: int, direction: Action, n_doses: int, why: str) -> tuple[int, Action, str]:
    """The dose index one step in ``direction`` from ``cur``, held at the ends of the ladder."""
    if direction is Action.ESCALATE:
        if cur == n_doses - 1:
            return cur, direction, f"{why}, but it is the highest dose."
        return cur + 1, direction, f"{why}."
    if direction is Action.DEESCALATE:
        if cur == 0:
            return cur, direction, f"{why}, but it is the lowest dose."
        return cur - 1, direction, f"{why}."
    return cur, direction, f"{why}."


def action_towards(cur: int | None, index: int) -> Action:
    """The move from the current dose index ``cur`` (``None``: nobody treated yet) to ``index``."""
    if cur is None or index == cur:
        return Action.STAY
    return Action.ESCALATE if index > cur else Action.DEESCALATE


def provisional_note(n_pending: int) -> str:
    """The sentence a final selection gets while patients are inside the DLT window ("" if none)."""
    if not n_pending:
        return ""
    return (
        f" {n_pending} patient{'s are' if n_pending > 1 else ' is'} still inside the DLT "
        "window: the selection is provisional."
    )


def limit_problems(
    design: object, names: Sequence[str], *, key: str | None = None, what: str = ""
) -> list[Problem]:
    """A problem for each option of ``design`` in ``names`` outside its range
    (``escalation.limits.LIMITS``, under ``key`` when given, else the option's name)."""
    out = []
    for name in names:
        value = getattr(design, name)
        why = LIMITS[key or name].check(value)
        if why is not None:
            out.append(Problem(field=f"design.{name}", message=why + what))
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Design(ABC):
    """Base of every design: the options common to all, and the decision pipeline.

    Subclasses are frozen dataclasses whose fields are the design's options, spelled as in the
    trial document's ``design`` block.
    """

    method: ClassVar[str]
    #: level of the per-dose credible intervals (``prob_tox_interval``), for designs with a posterior
    interval_level: ClassVar[float | None] = None
    #: whether the design's rules use ``target`` (3+3's do not: only simulations judge by it)
    uses_target: ClassVar[bool] = True
    #: whether the design decides on responses too (BOIN12): its data need each patient's response,
    #: so the counts form (DLTs only) cannot feed it
    uses_efficacy: ClassVar[bool] = False
    #: what the per-dose estimates of the final selection are, for a table's column
    selection_estimate: ClassVar[str] = "Isotonic DLT estimate"
    #: which backfill opening rule the design applies (``None``: the design takes no backfill
    #: option); see :mod:`escalation.backfill`
    backfill_kind: ClassVar[str | None] = None
    #: fields that are not options of the trial document
    _not_options: ClassVar[frozenset[str]] = frozenset({"n_doses"})
    #: options that stand for stopping rules (:meth:`option_stopping`): a ``stopping``
    #: expression replaces them
    stopping_options: ClassVar[tuple[str, ...]] = ()

    n_doses: int
    target: float
    cohort_size: int = 3
    max_patients: int = 30
    start_level: int = 1
    stagger_days: int | None = None
    expansion: ExpansionPlan | None = None
    backfill: BackfillPlan | None = None
    stopping: StoppingRule | None = None
    no_skipping: bool = True
    no_skipping_down: bool = False

    # ---- construction -------------------------------------------------------------------
    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise InvalidDesignError(problems)

    def _problems(self) -> list[Problem]:
        """Every problem with the options; subclasses extend."""
        problems: list[Problem] = []

        def bad(name: str, message: str) -> None:
            problems.append(Problem(field=f"design.{name}", message=message))

        if self.n_doses < 1:
            problems.append(Problem(field="doses", message="at least one dose level is needed"))
        if not 0 < self.target < 1:
            bad("target", f"must be strictly between 0 and 1, got {self.target}")
        if (why := LIMITS["n_doses"].check(self.n_doses)) is not None and self.n_doses >= 1:
            problems.append(Problem(field="doses", message=f"number of dose levels: {why}"))
        problems += limit_problems(self, ("cohort_size", "max_patients"))
        if self.stagger_days is not None:
            problems += limit_problems(self, ("stagger_days",), what=" (or null for no stagger)")
        if not 1 <= self.start_level <= max(self.n_doses, 1):
            bad(
                "start_level",
                f"must be a dose level from 1 to {self.n_doses}, got {self.start_level}",
            )
        if self.backfill is not None and self.backfill_kind is None:
            bad("backfill", f"method {self.method!r} takes no backfill option")
        elif self.backfill is not None and not isinstance(self.backfill, BackfillPlan):
            # a caller without type checking may pass the document's mapping
            bad(  # type: ignore[unreachable]
                "backfill",
                "must be an escalation.BackfillPlan (BackfillPlan(max_per_dose=12, "
                f"min_responses=1, assign='highest')), got {type(self.backfill).__name__}",
            )
        if self.expansion is not None:
            problems += [
                p
                for p in self.expansion.problems("design.expansion", n_doses=self.n_doses)
                if ".dose_levels[" in p.field
            ]
        if self.stopping is not None:
            problems += self._stopping_problems(self.stopping)
        return problems

    def _stopping_problems(self, rule: StoppingRule) -> list[Problem]:
        """Problems of a ``stopping`` expression with this design (levels, thresholds)."""
        out = []
        for leaf in leaves(rule):
            level = getattr(leaf, "level", None)
            dose = getattr(leaf, "dose", None)
            for v in (level, dose):
                if isinstance(v, int) and not 1 <= v <= self.n_doses:
                    out.append(
                        Problem(
                            field="design.stopping",
                            message=f"{leaf.label}: dose level {v} is not one of the "
                            f"{self.n_doses} dose levels",
                        )
                    )
            if isinstance(leaf, StopWhenTooToxic) and not self.supports_too_toxic(leaf):
                out.append(
                    Problem(
                        field="design.stopping",
                        message=f"{leaf.label}: method {self.method!r} has no posterior for "
                        "this rule",
                    )
                )
        return out

    def supports_too_toxic(self, rule: StopWhenTooToxic) -> bool:
        """Whether the design has the posterior ``rule`` needs (every design but BLRM)."""
        return True

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """The option names accepted in a trial document's design block."""
        return tuple(f.name for f in fields(cls) if f.init and f.name not in cls._not_options)

    def options(self) -> dict[str, Any]:
        """The full design as a document block, defaults filled in (``expansion`` and
        ``backfill`` only if set).

        ``stopping`` is the expression the design applies (:meth:`stopping_rule`): the one given,
        or the one its options stand for (the options are then shown too; with an expression
        given they are left out, since it replaces them).
        """
        hidden = set(self.stopping_options) if self.stopping is not None else set()
        out: dict[str, Any] = {"method": self.method}
        for name in self.option_names():
            if name in hidden or (
                name in ("expansion", "backfill") and getattr(self, name) is None
            ):
                continue
            if name == "stopping":
                try:
                    out[name] = to_expression(self.stopping_rule())
                except ValueError:  # a rule of the Python interface the expression cannot state
                    out[name] = self.stopping_rule().label
            else:
                out[name] = _jsonable(getattr(self, name))
        return out

    def option_stopping(self) -> StoppingRule | None:
        """The stopping rules the design's options stand for, the sample size aside (none here;
        designs extend). A ``stopping`` expression replaces them."""
        return None

    def stopping_rule(self) -> StoppingRule:
        """The stopping expression the design applies: stop at ``max_patients``
        (:meth:`max_patients_rule`), or by the ``stopping`` expression given (else the one the
        options stand for). The design's own algorithm (3+3's rule) comes on top (:meth:`rules`)."""
        cap: StoppingRule = self.max_patients_rule()
        given = self.stopping if self.stopping is not None else self.option_stopping()
        return cap if given is None else cap | given

    def max_patients_rule(self) -> StopAtN:
        """Stop at ``max_patients``: every patient, or with backfill the escalation patients only
        (the backfill patients come on top, at most ``backfill.max_per_dose`` per level)."""
        if self.backfill is None:
            return StopAtN(self.max_patients)
        return StopAtN(self.max_patients, cohort="escalation")

    def backfill_status(
        self, data: TrialData, fit: ModelFit, eliminated: npt.NDArray[np.bool_], index: int
    ) -> BackfillStatus | None:
        """Which lower levels take backfill patients (``None`` without the backfill option).

        ``index`` is the dose index the pipeline recommends after the dose-change limits. Designs
        with ``backfill_kind`` set override this with their opening rule
        (:mod:`escalation.backfill`); model-based designs (``backfill_kind = "model"``) use
        :func:`escalation.backfill.model_backfill_status` with the recommended ``index``.
        """
        if self.backfill is None or self.backfill_kind != "model":
            return None
        current = data.current_dose_level
        return model_backfill_status(
            self.backfill,
            data,
            current_index=None if current is None else current - 1,
            eliminated=eliminated.tolist(),
            recommended_index=None if eliminated.all() else index,
        )

    # ---- what a design supplies ------------------------------------------------------------
    @abstractmethod
    def fit(self, data: TrialData) -> ModelFit:
        """The model's view of the data and its proposed next dose (before any rule)."""

    @abstractmethod
    def model_rules(self) -> DesignRules:
        """The rules particular to this design, by kind (see :meth:`rules` for the whole set)."""

    def rules(self) -> DesignRules:
        """Every rule the design applies: its own, plus the options common to all designs.

        Common options: ``stagger_days`` (a :class:`Stagger` waiting rule), the stopping
        expression (:meth:`stopping_rule`, after the design's own stopping rule if it has one),
        ``no_skipping`` (false: no :class:`NoSkipping`) and ``no_skipping_down`` (a
        :class:`NoSkippingDown` where :class:`NoSkipping` stands, or first).
        """
        own = self.model_rules()
        stopping = self.stopping_rule()
        if own.stopping is not None:
            stopping = own.stopping | stopping
        waiting = own.waiting
        if self.stagger_days is not None:
            waiting = (*waiting, Stagger(days=self.stagger_days))
        constraints = list(own.constraints)
        if self.no_skipping_down:
            at = [i + 1 for i, c in enumerate(constraints) if isinstance(c, NoSkipping)]
            constraints.insert(at[0] if at else 0, NoSkippingDown())
        if not self.no_skipping:
            constraints = [c for c in constraints if not isinstance(c, NoSkipping)]
        return replace(own, stopping=stopping, waiting=waiting, constraints=tuple(constraints))

    def select(self, data: TrialData) -> Selection:
        """The final recommended dose regimen on all the data (the trial is over).

        Every patient counts -- escalation, backfill and expansion -- for the design's own
        selection rule (isotonic regression for the BOIN family, the model for CRM, TITE-CRM and
        BLRM); the selection reports the per-dose counts over all patients, the per-indication
        estimates and the number of patients of each cohort type it used.
        """
        self.check_data(data)
        return self._selection(data, self.fit(data))

    def _selection(self, data: TrialData, fit: ModelFit) -> Selection:
        """:meth:`choose` on ``data``, with the data it used, per-dose counts and indications."""
        selection = self.choose(data, fit)
        s = data.summary
        excluded = set(selection.eliminated)
        doses = tuple(
            DoseEstimate(
                dose_level=i + 1,
                n=int(s.n_treated[i]),
                n_complete=int(s.n_complete[i]),
                dlt=int(s.n_dlt[i]),
                pending=int(s.n_pending[i]),
                withdrawn=int(s.n_withdrawn[i]),
                estimate=selection.estimates[i] if i < len(selection.estimates) else None,
                prob_overdose=(
                    selection.prob_overdose[i] if i < len(selection.prob_overdose) else None
                ),
                eliminated=i + 1 in excluded,
            )
            for i in range(self.n_doses)
        )
        return replace(
            selection,
            data_used=data.n_by_cohort(),
            doses=doses,
            indications=indication_estimates(data),
        )

    def _final_selection(
        self, all_data: TrialData, escalation_data: TrialData, fit: ModelFit
    ) -> Selection:
        """The final selection of a stop decision: :meth:`select`'s, on all the data.

        ``fit`` is the model's fit to ``escalation_data`` (the decision's); it is reused when
        there are no other patients, else the model is fitted again to every patient.
        """
        if all_data is escalation_data:
            return self._selection(all_data, fit)
        return self._selection(all_data, self.fit(all_data))

    def posterior_bands(self, data: TrialData) -> PosteriorBands | None:
        """The posterior dose-toxicity curve with 50% and 95% bands, for a picture.

        ``None`` for a design without a posterior.
        """
        return None

    def prob_overdose_definition(self) -> str:
        """What ``prob_overdose`` is in this design's decisions: the event and the posterior."""
        return f"Pr(DLT rate > {self.target:g} | data) under the design's posterior"

    @abstractmethod
    def choose(self, data: TrialData, fit: ModelFit) -> Selection:
        """The final selection, given the model's fit on the same data."""

    # ---- the pipeline -------------------------------------------------------------------------
    def data_problems(self, data: TrialData) -> list[Problem]:
        """Problems of the data against this design: dose levels and the expansion patients."""
        if data.n_doses != self.n_doses:
            return [
                Problem(
                    field="doses",
                    message=f"the data have {data.n_doses} dose levels, the design {self.n_doses}",
                )
            ]
        return expansion_data_problems(self.expansion, data)

    def check_data(self, data: TrialData) -> None:
        """Data validity: the data must describe this design's dose levels and expansion plan."""
        problems = self.data_problems(data)
        if problems:
            raise InvalidTrialDataError(problems)

    def decide(self, data: TrialData) -> Decision:
        """The recommendation for the next cohort, with every rule's outcome.

        See the module docstring for the order in which rules combine.
        """
        self.check_data(data)
        expansion = () if self.expansion is None else expansion_status(self.expansion, data)
        all_data, data = data, data.escalation_data()
        fit = self.fit(data)
        rules = self.rules()
        current = data.current_dose_level
        cur = None if current is None else current - 1
        ctx, outcomes = self.safety_context(data, fit, rules)
        eliminated = ctx.eliminated
        outcomes.append(
            RuleOutcome(label=self.method, kind=RuleKind.MODEL, triggered=True, detail=fit.reason)
        )
        index = fit.proposed_index
        limits: list[RuleOutcome] = []
        for constraint in rules.constraints:
            index, out = constraint.apply(ctx, index)
            limits.append(out)
        ctx = replace(ctx, next_index=index)
        backfill = self.backfill_status(data, fit, eliminated, index)

        stop, stop_outcomes, safety_stop = (
            decide_stop(rules.stopping, ctx) if rules.stopping is not None else (False, (), False)
        )
        wait_outcomes: list[RuleOutcome] = []
        wait_until: int | None = None
        for rule in rules.waiting:
            out, until = rule.evaluate(ctx)
            wait_outcomes.append(out)
            if until is not None:
                wait_until = until if wait_until is None else max(wait_until, until)
        outcomes += [*stop_outcomes, *wait_outcomes, *limits]

        common: dict[str, Any] = {
            "current_level": current,
            "rules": tuple(outcomes),
            "doses": self._dose_estimates(data, fit, eliminated),
            "eliminated": tuple(int(i) + 1 for i in np.flatnonzero(eliminated)),
            "admissible": tuple(int(i) + 1 for i in np.flatnonzero(~eliminated)),
            "model": fit.model,
            "diagnostics": fit.diagnostics,
            "expansion": expansion,
            "backfill": backfill,
            "prob_overdose_definition": self.prob_overdose_definition(),
            "interval_level": self.interval_level,
        }
        if eliminated.all() or safety_stop or (stop and not _escalation_pending(data)):
            # backfill ends with the escalation: once the stop's escalation outcomes are all
            # known, or at once for a safety stop; while the last escalation cohort is pending
            # the cleared levels stay open (R bfboin backfills until its max.t)
            common["backfill"] = closed_at_stop(backfill)
        if eliminated.all():
            detail = next(o.detail for o in outcomes if o.kind is RuleKind.ELIMINATION)
            return Decision(
                action=Action.STOP,
                next_level=None,
                reason=f"Stop the trial: every dose level is too toxic. {detail}"
                + _data_used_note(all_data, data),
                selection=self._final_selection(all_data, data, fit),
                **common,
            )
        if stop:
            selection = self._final_selection(all_data, data, fit)
            if safety_stop and selection.dose_level is not None:
                selection = replace(
                    selection,
                    dose_level=None,
                    reason="No dose is recommended: a safety stopping rule ended the trial."
                    + provisional_note(int(data.summary.n_pending.sum())),
                )
            why = " ".join(o.detail for o in stop_outcomes if o.triggered)
            return Decision(
                action=Action.STOP,
                next_level=None,
                reason=f"Stop the trial: {why} {selection.reason}"
                + _data_used_note(all_data, data),
                selection=selection,
                **common,
            )
        if wait_until is not None:
            why = " ".join(o.detail for o in wait_outcomes if o.triggered)
            return Decision(
                action=Action.WAIT,
                next_level=None,
                reason=f"Wait: {why}",
                wait_until_day=wait_until,
                **common,
            )
        action = action_towards(cur, index)
        limited = " ".join(o.detail for o in limits if o.triggered)
        verb = {
            Action.STAY: "Stay at" if cur is not None else "Start at",
            Action.ESCALATE: "Escalate to",
            Action.DEESCALATE: "De-escalate to",
        }[action]
        reason = f"{verb} dose level {index + 1}. {fit.reason}" + (f" {limited}" if limited else "")
        return Decision(action=action, next_level=index + 1, reason=reason, **common)

    def safety_context(
        self, data: TrialData, fit: ModelFit, rules: DesignRules
    ) -> tuple[DecisionContext, list[RuleOutcome]]:
        """The rules' view of the data after safety elimination, and the elimination outcome."""
        current = data.current_dose_level
        outcomes: list[RuleOutcome] = []
        eliminated = np.zeros(self.n_doses, dtype=np.bool_)
        if rules.elimination is not None:
            # model-based overdose control acts from the first known outcome on (EWOC's conduct)
            early = (
                rules.elimination.not_yet(self.n_doses, bool(data.summary.n_complete.sum() > 0))
                if isinstance(rules.elimination, EliminateToxicDoses)
                else None
            )
            eliminated, out = early or rules.elimination.apply(
                fit.n_for_safety, fit.dlt_for_safety, fit.prob_overdose, self.target
            )
            outcomes.append(out)
        too_toxic = (
            [r for r in leaves(rules.stopping) if isinstance(r, StopWhenTooToxic)]
            if rules.stopping is not None
            else []
        )
        # the design's Pr(p_d > t) for each threshold but the target (``fit.prob_overdose``), and
        # for the target too when the design has no posterior of its own (3+3)
        no_posterior = bool(np.isnan(fit.prob_overdose).all())
        exceeds = {
            t: self.prob_exceeds(data, fit, t)
            for t in {self.target if r.threshold is None else r.threshold for r in too_toxic}
            if t != self.target or no_posterior
        }
        for rule in too_toxic:
            if not rule.eliminate:
                continue
            t = self.target if rule.threshold is None else rule.threshold
            probs = exceeds.get(t, fit.prob_overdose)
            with np.errstate(invalid="ignore"):
                over = (fit.n_for_safety >= rule.min_n) & ~np.isnan(probs)
                over &= probs > rule.prob if rule.strict else probs >= rule.prob
            marked = np.cumsum(over) > 0
            levels = [int(i) + 1 for i in np.flatnonzero(marked)]
            eliminated = eliminated | marked
            outcomes.append(
                RuleOutcome(
                    label=rule.label,
                    kind=RuleKind.ELIMINATION,
                    triggered=bool(levels),
                    detail=(
                        f"Pr(DLT rate > {t:g}) {'>' if rule.strict else '>='} {rule.prob:g}: "
                        f"dose level{'s' if len(levels) > 1 else ''} "
                        f"{', '.join(map(str, levels))} inadmissible (with every higher dose)."
                        if levels
                        else f"No dose has Pr(DLT rate > {t:g}) "
                        f"{'>' if rule.strict else '>='} {rule.prob:g}."
                    ),
                )
            )
        ctx = DecisionContext(
            data=data,
            target=self.target,
            current_index=None if current is None else current - 1,
            start_index=self.start_level - 1,
            n_for_safety=fit.n_for_safety,
            dlt_for_safety=fit.dlt_for_safety,
            prob_overdose=fit.prob_overdose,
            eliminated=eliminated,
            model_direction=fit.direction,
            max_patients=self.max_patients,
            prob_exceeds=exceeds,
            model_stop=fit.stop_reason,
        )
        return ctx, outcomes

    def prob_exceeds(self, data: TrialData, fit: ModelFit, threshold: float) -> FloatArray:
        """Pr(p_d > ``threshold`` | data) per dose under the design's posterior, for a too-toxic
        rule whose threshold is not the target: independent Beta(1, 1) posteriors on the safety
        counts (the BOIN family and 3+3; model-based designs override)."""
        n, y = fit.n_for_safety, fit.dlt_for_safety
        return np.where(n > 0, beta_overdose_prob(threshold, n, y), np.nan)

    def _dose_estimates(
        self, data: TrialData, fit: ModelFit, eliminated: npt.NDArray[np.bool_]
    ) -> tuple[DoseEstimate, ...]:
        s = data.summary
        out = []
        for i in range(self.n_doses):
            interval = None
            if (
                fit.prob_tox_interval is not None
                and fit.prob_tox_interval[i, 0] == fit.prob_tox_interval[i, 0]
            ):
                interval = (float(fit.prob_tox_interval[i, 0]), float(fit.prob_tox_interval[i, 1]))
            out.append(
                DoseEstimate(
                    dose_level=i + 1,
                    n=int(s.n_treated[i]),
                    n_complete=int(s.n_complete[i]),
                    dlt=int(s.n_dlt[i]),
                    pending=int(s.n_pending[i]),
                    withdrawn=int(s.n_withdrawn[i]),
                    estimate=_maybe(fit.estimate[i]),
                    prob_tox_mean=None
                    if fit.prob_tox_mean is None
                    else _maybe(fit.prob_tox_mean[i]),
                    prob_tox_interval=interval,
                    prob_overdose=_maybe(fit.prob_overdose[i]),
                    prob_underdose=None
                    if fit.prob_underdose is None
                    else _maybe(fit.prob_underdose[i]),
                    prob_target=None if fit.prob_target is None else _maybe(fit.prob_target[i]),
                    eliminated=bool(eliminated[i]),
                    efficacy=None if fit.efficacy is None else fit.efficacy[i],
                )
            )
        return tuple(out)


def _escalation_pending(data: TrialData) -> bool:
    """Whether an escalation patient is still inside the DLT window (neither a DLT nor complete)."""
    return bool(data.of_cohorts(("escalation",)).summary.n_pending.sum() > 0)


def _data_used_note(all_data: TrialData, escalation_data: TrialData) -> str:
    """The sentence a stop decision gets when its final selection used more than the escalation
    data ("" when every patient is an escalation or backfill patient)."""
    if all_data is escalation_data:
        return ""
    used = ", ".join(f"{n} {cohort}" for cohort, n in all_data.n_by_cohort().items() if n)
    return f" The final selection uses all the data ({used} patients)."


def _jsonable(value: Any) -> Any:
    """Plain JSON values (lists, floats, ints, dicts) from tuples, numpy arrays and scalars."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple | list | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, ExpansionPlan | BackfillPlan):
        return value.as_dict()
    return value


def check_unknown_options(
    method: str, options: Mapping[str, Any], known: Sequence[str]
) -> list[Problem]:
    """Problems for option names a design does not have."""
    return [
        Problem(
            field=f"design.{name}",
            message=f"unknown option for method {method!r} (options: {', '.join(sorted(known))})",
        )
        for name in options
        if name != "method" and name not in known
    ]
