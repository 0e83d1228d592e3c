"""What a design answers: the next decision, and the final selection.

A :class:`Decision` carries the action, the next dose level, every rule's outcome with its label,
the admissible and eliminated doses and the per-dose estimates behind it. "No tolerable dose" is a
normal result (``next_level=None`` with a reason), never an exception.

Dose levels here count from 1, as in the protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from escalation.models.bop2 import FutilityCheck

__all__ = [
    "Action",
    "BackfillStatus",
    "Decision",
    "DoseEstimate",
    "EfficacyEstimate",
    "ExpansionStatus",
    "IndicationEstimate",
    "PosteriorBands",
    "RuleKind",
    "RuleOutcome",
    "Selection",
]


class Action(StrEnum):
    """The recommended action for the next cohort."""

    ESCALATE = "escalate"
    STAY = "stay"
    DEESCALATE = "de-escalate"
    STOP = "stop"
    WAIT = "wait"


class RuleKind(StrEnum):
    """The step of the decision pipeline a rule belongs to, in the order of precedence."""

    ELIMINATION = "elimination"
    STOPPING = "stopping"
    WAITING = "waiting"
    CONSTRAINT = "constraint"
    MODEL = "model"
    SELECTION = "selection"


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleOutcome:
    """One rule's verdict: its label, whether it acted, and a sentence saying why."""

    label: str
    kind: RuleKind
    triggered: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.label,
            "kind": self.kind.value,
            "triggered": self.triggered,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class EfficacyEstimate:
    """What a toxicity-and-efficacy design (BOIN12) says about one dose level.

    ``n_evaluable`` patients have both outcomes known, with ``dlt`` DLTs, ``responses`` responses
    and ``both`` patients with both; ``waiting`` patients have an outcome still unknown (for a
    time-to-event design, ``effective_n`` is the follow-up-weighted count it decides with and
    ``responses``/``dlt`` include imputed fractions). ``response_rate`` is responses / evaluable;
    ``prob_futile`` is Pr(efficacy rate < efficacy target | data); ``utility_mean`` the posterior
    mean utility (0-100) and ``desirability`` Pr(utility > benchmark | data); ``admissible`` says
    whether the dose passes both the toxicity and the efficacy admissibility rules.
    """

    n_evaluable: float
    dlt: float
    responses: float
    both: float
    waiting: int
    response_rate: float | None
    prob_futile: float | None
    utility_mean: float
    desirability: float
    admissible: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class DoseEstimate:
    """What the data and the model say about one dose level.

    ``n`` counts every treated patient (complete, pending, withdrawn); ``n_complete`` those whose
    outcome is known; ``estimate`` is the design's point estimate of the DLT probability (BOIN:
    the observed rate among complete patients; model-based designs: the posterior estimate), or
    ``None`` where there is nothing to estimate from. ``prob_overdose`` is the design's posterior
    probability of overdosing (the decision's ``prob_overdose_definition`` says which event under
    which posterior); BLRM also gives ``prob_underdose`` and ``prob_target``, its interval
    probabilities (the three sum to 1).
    """

    dose_level: int
    n: int
    n_complete: int
    dlt: int
    pending: int
    withdrawn: int
    estimate: float | None
    prob_tox_mean: float | None = None
    prob_tox_interval: tuple[float, float] | None = None
    prob_overdose: float | None = None
    prob_underdose: float | None = None
    prob_target: float | None = None
    eliminated: bool = False
    efficacy: EfficacyEstimate | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PosteriorBands:
    """What a picture of the posterior dose-toxicity curve needs, per dose level.

    ``center`` is the curve (``center_label`` says which summary: mean or median); the bands are
    the central 50% and 95% credible intervals (NaN where a design has nothing to say about a
    dose); ``interval_probs`` maps a readable event (``"Pr(DLT rate > 0.3)"``) to its posterior
    probability per dose.
    """

    model: str
    center: tuple[float, ...]
    center_label: str
    band50: tuple[tuple[float, float], ...]
    band95: tuple[tuple[float, float], ...]
    interval_probs: Mapping[str, tuple[float, ...]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpansionStatus:
    """The toxicity monitoring of one expansion cohort (one indication at one dose level).

    ``n`` and ``dlt`` count the cohort's evaluable patients (complete, or with a DLT); ``pending``
    those still inside the DLT window, ``withdrawn`` those who left early (not evaluable);
    ``n_treated`` all of them. ``stop_at_least`` is the monitoring boundary at ``n`` (``None``: no
    number of DLTs stops there); ``action`` is ``"stop"`` when the boundary is reached or the
    cohort is full (``max_per_indication`` patients treated), or when the plan's BOP2 futility
    rule finds the cohort futile (``futility``: its verdict on the known responses, with the
    boundary at the next look), else ``"continue"``.
    """

    indication: str
    dose_level: int
    n: int
    dlt: int
    pending: int
    withdrawn: int
    n_treated: int
    stop_at_least: int | None
    posterior_prob: float
    action: str
    reason: str
    futility: FutilityCheck | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillStatus:
    """Which lower dose levels take backfill patients now, and why the others do not.

    ``open_levels`` are the dose levels open for backfill (ascending); ``closed`` maps every other
    level below the current dose to the reason it is closed; ``assign`` is the plan's rule for
    choosing among the open levels (``"highest"``, ``"lowest"`` or ``"random"``) and
    ``assign_level`` the level it picks (``None`` when no level is open or the rule is random).
    See :mod:`escalation.backfill`.
    """

    open_levels: tuple[int, ...]
    closed: Mapping[int, str]
    assign: str
    assign_level: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "open_levels": list(self.open_levels),
            "closed": {str(k): v for k, v in sorted(self.closed.items())},
            "assign": self.assign,
            "assign_level": self.assign_level,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class IndicationEstimate:
    """What all the patients of one indication say: counts, observed DLT rate and responses.

    ``n`` counts every patient of the indication (all cohorts, all doses), ``n_complete`` those
    whose DLT outcome is known; ``rate`` is ``dlt / n_complete`` (``None`` when nobody is
    complete); ``responses`` counts responders among the ``n_response_known`` patients whose
    response is known (``response_rate`` likewise).
    """

    indication: str
    n: int
    n_complete: int
    dlt: int
    pending: int
    rate: float | None
    n_response_known: int
    responses: int
    response_rate: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """The final recommended dose (MTD / recommended dose regimen), or none with the reason.

    ``estimates`` are the per-level DLT probability estimates the selection used (``None`` for
    untried levels); ``prob_overdose`` likewise, defined by ``prob_overdose_definition`` (which
    event, which posterior: BOIN's selection reports R's ``select.mtd`` probabilities, which are
    not those of BOIN's decisions); BLRM adds ``prob_underdose`` and ``prob_target``.
    ``data_used`` counts the patients of each cohort type the selection used, ``doses`` the
    per-dose counts over those patients, and ``indications`` the per-indication estimates (filled
    in by :meth:`Design.select`).
    """

    dose_level: int | None
    reason: str
    estimates: tuple[float | None, ...]
    prob_overdose: tuple[float | None, ...]
    eliminated: tuple[int, ...] = ()
    provisional: bool = False
    rules: tuple[RuleOutcome, ...] = ()
    data_used: Mapping[str, int] = field(default_factory=dict)
    doses: tuple[DoseEstimate, ...] = ()
    indications: tuple[IndicationEstimate, ...] = ()
    prob_overdose_definition: str = ""
    prob_underdose: tuple[float | None, ...] = ()
    prob_target: tuple[float | None, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The recommendation for the next cohort, with every reason behind it.

    ``next_level`` is ``None`` when the action is ``stop`` (then ``selection`` holds the final
    dose) or ``wait`` (then ``wait_until_day`` says until when: the day accrual may resume at the
    latest). The escalation decision uses the escalation and backfill patients; ``expansion``
    gives the monitoring status of each expansion cohort (indication and dose level), in the
    plan's order; ``backfill`` which lower levels take backfill patients (designs with the
    ``backfill`` option). ``prob_overdose_definition`` says what each dose's ``prob_overdose`` is (which event,
    under which posterior); ``interval_level`` is the level of ``prob_tox_interval`` (``None`` for
    a design without credible intervals).
    """

    action: Action
    current_level: int | None
    next_level: int | None
    reason: str
    rules: tuple[RuleOutcome, ...]
    doses: tuple[DoseEstimate, ...]
    eliminated: tuple[int, ...]
    admissible: tuple[int, ...]
    wait_until_day: int | None = None
    selection: Selection | None = None
    model: Mapping[str, float] | None = None
    diagnostics: Mapping[str, object] = field(default_factory=dict)
    expansion: tuple[ExpansionStatus, ...] = ()
    backfill: BackfillStatus | None = None
    prob_overdose_definition: str = ""
    interval_level: float | None = None

    def __post_init__(self) -> None:
        a, cur, nxt = self.action, self.current_level, self.next_level
        if a in (Action.STOP, Action.WAIT):
            ok = nxt is None
        elif a is Action.STAY:
            ok = nxt is not None and (cur is None or nxt == cur)
        elif a is Action.ESCALATE:
            ok = nxt is not None and cur is not None and nxt > cur
        else:
            ok = nxt is not None and cur is not None and nxt < cur
        if not ok:
            raise AssertionError(f"inconsistent decision: {a.value} from {cur} to {nxt}")
        if a is Action.WAIT and self.wait_until_day is None:
            raise AssertionError("a wait decision needs the day the wait ends")
        if a is Action.STOP and self.selection is None:
            raise AssertionError("a stop decision needs the final selection")
        if nxt is not None and nxt in self.eliminated:
            raise AssertionError(f"dose level {nxt} is eliminated and cannot be recommended")

    @property
    def triggered(self) -> tuple[RuleOutcome, ...]:
        """The rules that shaped this decision."""
        return tuple(r for r in self.rules if r.triggered)
