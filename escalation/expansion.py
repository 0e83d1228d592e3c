"""Expansion cohorts per indication, watched by a toxicity monitoring rule; per-indication estimates.

After escalation, expansion cohorts treat patients of each indication at one or more dose levels
(DESIGN.md section 7). Each cohort -- one indication at one dose level -- is watched by the
beta-binomial toxicity monitoring rule of Geller et al. (2003) (:class:`ToxicityMonitor`, as R's
stoppingrule ``calc.rule.bin(type = "BB")``) over its *evaluable* patients (complete, or with a
DLT; pending patients are listed, not counted; withdrawn patients are not evaluable). A cohort
stops when its DLTs reach the monitoring boundary, or when ``max_per_indication`` patients have
been treated in it (the cohort is full); otherwise it continues. The monitoring rule is calibrated
over ``max_per_indication`` patients, so its type I error (stopping when the DLT rate is ``p0``)
is at most ``alpha`` per cohort.

Optionally, each cohort is also watched by the BOP2 efficacy futility rule (Zhou, Lee & Yuan 2017;
:class:`escalation.FutilityRule`) on its patients' responses, in the order the responses became
known (``response_on``, else the infusion): at each look, a cohort whose responses among its first
n patients are fewer than the rule's boundary stops for futility. The rule's N is
``max_per_indication``; its looks default to every patient (1, 2, ..., N); ``lambda`` and
``gamma`` are given, or calibrated from ``response_alt`` and ``alpha`` (the largest power at
``response_alt`` with a type I error of at most ``alpha``, as the paper).

Expansion patients do not drive the escalation decisions (``Design.decide`` uses the escalation
and backfill patients); the final selection (``Design.select``) uses every patient.

The design option, in the trial document::

    "expansion": {"indications": ["SLE", "AAV"], "dose_levels": [3], "max_per_indication": 10,
                  "monitoring": {"p0": 0.2, "alpha": 0.1, "prior": [0.6, 2.4]},
                  "futility": {"response_null": 0.2, "looks": [5, 10], "lambda": 0.9,
                               "gamma": 1.0}}

References
----------
Geller NL, Follmann D, Leifer ES, Carter SL (2003). Design of early trials in stem cell
transplantation: a hybrid frequentist-Bayesian approach. In: Advances in Clinical Trial
Biostatistics, Marcel Dekker, 289-314.
Zhou H, Lee JJ, Yuan Y (2017). BOP2: Bayesian optimal design for phase II clinical trials with
simple and complex endpoints. Statistics in Medicine 36:3302-3314.

Examples
--------
>>> from escalation.data import Patient, TrialData
>>> plan = ExpansionPlan(indications=("SLE",), dose_levels=(2,), max_per_indication=10,
...                      p0=0.2, alpha=0.1, prior=(0.6, 2.4))
>>> data = TrialData(n_doses=2, as_of_day=60, indications=("SLE",), patients=tuple(
...     Patient(patient_id=f"S{k}", dose_level=2, infused_day=k, cohort="expansion",
...             indication="SLE", dlt=k < 3, dlt_day=k + 5 if k < 3 else None) for k in range(4)))
>>> [(s.indication, s.n, s.dlt, s.stop_at_least, s.action) for s in expansion_status(plan, data)]
[('SLE', 4, 3, 3, 'stop')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from escalation.data import TrialData
from escalation.decision import ExpansionStatus, IndicationEstimate
from escalation.errors import InvalidDesignError, Problem
from escalation.limits import text_problem
from escalation.models.bop2 import (
    FutilityRule,
    calibrate_futility,
    futility_problems,
)
from escalation.models.monitoring import (
    MAX_MONITORED_PATIENTS,
    ToxicityMonitor,
    monitoring_problems,
)

__all__ = [
    "ExpansionPlan",
    "expansion_data_problems",
    "expansion_status",
    "indication_estimates",
    "parse_expansion",
    "parse_futility",
]

_KEYS = ("indications", "dose_levels", "max_per_indication", "monitoring", "futility")
_REQUIRED = ("indications", "dose_levels", "max_per_indication", "monitoring")
_MONITORING_KEYS = ("p0", "alpha", "prior")
_FUTILITY_KEYS = ("response_null", "prior", "looks", "lambda", "gamma", "response_alt", "alpha")


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _indication_problems(value: object, field: str) -> list[Problem]:
    """Problems with a list of indications: non-empty, distinct, non-empty strings."""
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        return [Problem(field=field, message=f"expected a non-empty list of names, got {value!r}")]
    problems = []
    seen: set[str] = set()
    for i, name in enumerate(value):
        if not isinstance(name, str) or not name.strip():
            problems.append(
                Problem(field=f"{field}[{i}]", message=f"expected a name, got {name!r}")
            )
        elif (why := text_problem(name)) is not None:
            problems.append(Problem(field=f"{field}[{i}]", message=why))
        elif name in seen:
            problems.append(Problem(field=f"{field}[{i}]", message=f"{name!r} appears twice"))
        else:
            seen.add(name)
    return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpansionPlan:
    """The expansion stage: indications, dose levels, cohort size and the monitoring rule.

    Parameters
    ----------
    indications
        The indications with an expansion cohort (e.g. ``("SLE", "AAV")``).
    dose_levels
        The expansion dose levels (1-based); every indication has a cohort at each of them.
    max_per_indication
        The most patients an expansion cohort (one indication at one dose level) treats; the
        monitoring rule is calibrated over this many evaluable patients.
    p0, alpha, prior
        The monitoring rule (:class:`ToxicityMonitor`): guard against DLT rates above ``p0``, with
        a probability of at most ``alpha`` of stopping when the rate is ``p0``; Beta ``prior``.
    futility
        The BOP2 futility rule on responses (its last look is ``max_per_indication``), or None.

    Raises
    ------
    InvalidDesignError
        With every problem, named ``expansion.<field>``.
    """

    indications: tuple[str, ...]
    dose_levels: tuple[int, ...]
    max_per_indication: int
    p0: float
    alpha: float
    prior: tuple[float, float]
    futility: FutilityRule | None = None

    def __post_init__(self) -> None:
        for name in ("indications", "dose_levels"):
            value = getattr(self, name)
            if isinstance(value, list | tuple):
                object.__setattr__(self, name, tuple(value))
        problems = self.problems()
        if problems:
            raise InvalidDesignError(problems)
        object.__setattr__(self, "prior", (float(self.prior[0]), float(self.prior[1])))

    def problems(self, where: str = "expansion", *, n_doses: int | None = None) -> list[Problem]:
        """Every problem with the plan, each field prefixed by ``where``; ``n_doses`` checks levels."""
        problems = _indication_problems(self.indications, f"{where}.indications")
        if not isinstance(self.dose_levels, tuple) or not self.dose_levels:
            problems.append(
                Problem(
                    field=f"{where}.dose_levels",
                    message=f"expected a non-empty list of dose levels, got {self.dose_levels!r}",
                )
            )
            return problems + self._monitoring_problems(where)
        seen: set[int] = set()
        for i, level in enumerate(self.dose_levels):
            bad = not _is_int(level) or level < 1
            if not bad and n_doses is not None and level > n_doses:
                bad = True
            if bad:
                limit = f"1 to {n_doses}" if n_doses is not None else ">= 1"
                problems.append(
                    Problem(
                        field=f"{where}.dose_levels[{i}]",
                        message=f"must be a dose level ({limit}), got {level!r}",
                    )
                )
            elif level in seen:
                problems.append(
                    Problem(field=f"{where}.dose_levels[{i}]", message=f"{level} appears twice")
                )
            else:
                seen.add(level)
        return problems + self._monitoring_problems(where)

    def _monitoring_problems(self, where: str) -> list[Problem]:
        problems = []
        m = self.max_per_indication
        if not _is_int(m) or not 1 <= m <= MAX_MONITORED_PATIENTS:
            problems.append(
                Problem(
                    field=f"{where}.max_per_indication",
                    message=f"must be a whole number from 1 to {MAX_MONITORED_PATIENTS}, got {m!r}",
                )
            )
        problems += monitoring_problems(
            p0=self.p0, alpha=self.alpha, prior=self.prior, max_n=1, where=f"{where}.monitoring"
        )
        if self.futility is not None and self.futility.max_n != m:
            problems.append(
                Problem(
                    field=f"{where}.futility.looks",
                    message=(
                        f"the last look must be max_per_indication = {m!r}, got "
                        f"{self.futility.max_n}"
                    ),
                )
            )
        return problems

    @property
    def monitor(self) -> ToxicityMonitor:
        """The monitoring rule, calibrated over ``max_per_indication`` patients (cached)."""
        return ToxicityMonitor(
            p0=self.p0, alpha=self.alpha, prior=self.prior, max_n=self.max_per_indication
        )

    def as_dict(self) -> dict[str, Any]:
        """The plan as the trial document's ``design.expansion`` block."""
        return {
            "indications": list(self.indications),
            "dose_levels": list(self.dose_levels),
            "max_per_indication": self.max_per_indication,
            "monitoring": {"p0": self.p0, "alpha": self.alpha, "prior": list(self.prior)},
        } | ({} if self.futility is None else {"futility": futility_as_dict(self.futility)})


def futility_as_dict(rule: FutilityRule) -> dict[str, Any]:
    """A futility rule as the ``expansion.futility`` block (lambda and gamma given)."""
    assert rule.prior is not None
    return {
        "response_null": rule.response_null,
        "prior": list(rule.prior),
        "looks": list(rule.looks),
        "lambda": rule.lambda_,
        "gamma": rule.gamma,
    }


def parse_futility(
    block: Any, *, max_n: int, where: str
) -> tuple[FutilityRule | None, list[Problem]]:
    """The futility rule of an ``expansion.futility`` block (N = ``max_n``), or None with every
    problem (named ``where.*``). ``lambda`` and ``gamma`` are given, or calibrated from
    ``response_alt`` and ``alpha`` (default 0.1); ``looks`` default to every patient."""
    if not isinstance(block, Mapping):
        return None, [Problem(field=where, message=f"expected an object, got {block!r}")]
    problems = [
        Problem(
            field=f"{where}.{k}", message=f"unknown field (fields: {', '.join(_FUTILITY_KEYS)})"
        )
        for k in block
        if k not in _FUTILITY_KEYS
    ]
    if "response_null" not in block:
        problems.append(Problem(field=f"{where}.response_null", message="missing"))
    given = [k for k in ("lambda", "gamma") if k in block]
    if len(given) == 1:
        other = "gamma" if given == ["lambda"] else "lambda"
        problems.append(Problem(field=f"{where}.{other}", message="give lambda and gamma together"))
    elif not given and "response_alt" not in block:
        problems.append(
            Problem(
                field=f"{where}.lambda",
                message="give lambda and gamma, or response_alt (and alpha) to calibrate them",
            )
        )
    elif given and ("response_alt" in block or "alpha" in block):
        problems.append(
            Problem(
                field=f"{where}.response_alt",
                message="give lambda and gamma, or response_alt and alpha, not both",
            )
        )
    looks_value: Any = block.get("looks", list(range(1, max_n + 1)))
    if isinstance(looks_value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in looks_value
    ):
        if looks_value and looks_value[-1] > max_n:
            problems.append(
                Problem(
                    field=f"{where}.looks",
                    message=f"looks are numbers of patients up to max_per_indication = {max_n}",
                )
            )
        elif not looks_value or looks_value[-1] < max_n:
            looks_value = [*looks_value, max_n]  # the last look is the cohort's end
    prior: Any = block.get("prior")
    problems += futility_problems(
        response_null=block.get("response_null"),
        looks=looks_value,
        prior=prior,
        lambda_=block.get("lambda"),
        gamma=block.get("gamma"),
        where=where,
    )
    if problems:
        return None, problems
    prior_pair = None if prior is None else (float(prior[0]), float(prior[1]))
    try:
        if given:
            rule = FutilityRule(
                response_null=block["response_null"],
                looks=tuple(looks_value),
                lambda_=float(block["lambda"]),
                gamma=float(block["gamma"]),
                prior=prior_pair,
            )
        else:
            rule = calibrate_futility(
                response_null=block["response_null"],
                response_alt=block["response_alt"],
                looks=tuple(looks_value),
                alpha=block.get("alpha", 0.1),
                prior=prior_pair,
            )
    except InvalidDesignError as e:
        return None, [Problem(field=f"{where}.{p.field}", message=p.message) for p in e.problems]
    return rule, []


def parse_expansion(block: Any, *, where: str) -> tuple[ExpansionPlan | None, list[Problem]]:
    """An expansion plan from a document block, or ``None`` with every problem (named ``where.*``)."""
    if not isinstance(block, Mapping):
        return None, [Problem(field=where, message=f"expected an object, got {block!r}")]
    problems = [
        Problem(field=f"{where}.{key}", message=f"unknown field (fields: {', '.join(_KEYS)})")
        for key in block
        if key not in _KEYS
    ]
    for key in _REQUIRED:
        if key not in block:
            problems.append(Problem(field=f"{where}.{key}", message="missing"))
    monitoring = block.get("monitoring", {})
    if not isinstance(monitoring, Mapping):
        problems.append(
            Problem(field=f"{where}.monitoring", message=f"expected an object, got {monitoring!r}")
        )
        monitoring = {}
    problems += [
        Problem(
            field=f"{where}.monitoring.{key}",
            message=f"unknown field (fields: {', '.join(_MONITORING_KEYS)})",
        )
        for key in monitoring
        if key not in _MONITORING_KEYS
    ]
    for key in _MONITORING_KEYS:
        if "monitoring" in block and key not in monitoring:
            problems.append(Problem(field=f"{where}.monitoring.{key}", message="missing"))
    levels = block.get("dose_levels", [])
    if not isinstance(levels, list):
        problems.append(
            Problem(field=f"{where}.dose_levels", message=f"expected a list, got {levels!r}")
        )
        levels = []
    indications = block.get("indications", [])
    prior = monitoring.get("prior", (1.0, 1.0))
    complete = all(k in block for k in _REQUIRED) and all(k in monitoring for k in _MONITORING_KEYS)
    if not complete or not isinstance(levels, list):
        return None, problems
    futility: FutilityRule | None = None
    max_n = block["max_per_indication"]
    if "futility" in block and isinstance(max_n, int) and 1 <= max_n <= MAX_MONITORED_PATIENTS:
        futility, more = parse_futility(block["futility"], max_n=max_n, where=f"{where}.futility")
        problems += more
    try:
        plan = ExpansionPlan(
            indications=tuple(indications) if isinstance(indications, list) else indications,
            dose_levels=tuple(levels),
            max_per_indication=block["max_per_indication"],
            p0=monitoring["p0"],
            alpha=monitoring["alpha"],
            prior=tuple(prior) if isinstance(prior, list) else prior,
            futility=futility,
        )
    except InvalidDesignError as e:
        return None, problems + [
            Problem(field=where + p.field[len("expansion") :], message=p.message)
            for p in e.problems
        ]
    return (None, problems) if problems else (plan, [])


def expansion_data_problems(plan: ExpansionPlan | None, data: TrialData) -> list[Problem]:
    """Problems with the expansion patients given the plan, each naming the field and the patient.

    An expansion patient needs a plan, an indication of the plan and a dose level of the plan;
    a cohort (indication, dose level) holds at most ``max_per_indication`` patients (the patients
    past the cap, in order of infusion, are named).
    """
    problems: list[Problem] = []
    counted: dict[tuple[str, int], list[tuple[int, str, int]]] = {}
    for i, p in enumerate(data.patients):
        if p.cohort != "expansion":
            continue

        def add(name: str, message: str, i: int = i, pid: str = p.patient_id) -> None:
            problems.append(Problem(field=f"patients[{i}].{name}", message=message, patient_id=pid))

        if plan is None:
            add("cohort", "an expansion patient, but the design has no expansion option")
            continue
        ok = True
        if p.indication not in plan.indications:
            add(
                "indication",
                f"{p.indication!r} has no expansion cohort "
                f"(design.expansion.indications: {', '.join(plan.indications)})",
            )
            ok = False
        if p.dose_level not in plan.dose_levels:
            add(
                "dose_level",
                f"dose level {p.dose_level} is not an expansion dose level "
                f"(design.expansion.dose_levels: {', '.join(map(str, plan.dose_levels))})",
            )
            ok = False
        if ok:
            assert p.indication is not None
            key = (p.indication, p.dose_level)
            counted.setdefault(key, []).append((p.infused_day, p.patient_id, i))
    if plan is not None:
        for (indication, level), members in counted.items():
            for _day, pid, i in sorted(members)[plan.max_per_indication :]:
                problems.append(
                    Problem(
                        field=f"patients[{i}].cohort",
                        message=(
                            f"the {indication} expansion cohort at dose level {level} already has "
                            f"max_per_indication = {plan.max_per_indication} patients"
                        ),
                        patient_id=pid,
                    )
                )
    return problems


def expansion_status(plan: ExpansionPlan, data: TrialData) -> tuple[ExpansionStatus, ...]:
    """The monitoring status of every expansion cohort, by indication then dose level.

    See the module docstring for the rule; the data must satisfy :func:`expansion_data_problems`.
    """
    monitor = plan.monitor
    s = data.summary
    out = []
    for indication in plan.indications:
        for level in plan.dose_levels:
            states = [
                (state, bool(dlt))
                for p, state, dlt in zip(data.patients, s.state, s.dlt, strict=True)
                if p.cohort == "expansion" and p.indication == indication and p.dose_level == level
            ]
            evaluable = [dlt for state, dlt in states if state.value in ("dlt", "complete")]
            n, n_dlt = len(evaluable), sum(evaluable)
            pending = sum(state.value == "pending" for state, _ in states)
            withdrawn = sum(state.value == "withdrawn" for state, _ in states)
            check = monitor.check(n=n, dlt=n_dlt)
            full = len(states) >= plan.max_per_indication
            futility = (
                None
                if plan.futility is None
                else plan.futility.check(_responses(data, indication, level))
            )
            if check.stop:
                action, reason = "stop", f"Stop: {check.reason}."
                if futility is not None and futility.futile:
                    reason += f" Also {futility.reason}."
            elif futility is not None and futility.futile:
                action, reason = "stop", f"Stop for futility: {futility.reason}; {check.reason}."
            elif full:
                action = "stop"
                reason = (
                    f"Stop: the cohort is full (max_per_indication = {plan.max_per_indication} "
                    f"patients treated); monitoring: {check.reason}."
                )
            else:
                action, reason = "continue", f"Continue: {check.reason}."
            if futility is not None and not futility.futile:
                reason += f" Futility: {futility.reason}."
            if pending:
                reason += f" {pending} patient{'s' if pending > 1 else ''} pending."
            out.append(
                ExpansionStatus(
                    indication=indication,
                    dose_level=level,
                    n=n,
                    dlt=n_dlt,
                    pending=pending,
                    withdrawn=withdrawn,
                    n_treated=len(states),
                    stop_at_least=check.stop_at_least,
                    posterior_prob=check.posterior_prob,
                    action=action,
                    reason=reason,
                    futility=futility,
                )
            )
    return tuple(out)


def _responses(data: TrialData, indication: str, level: int) -> list[bool]:
    """The known responses of a cohort, in the order they became known (``response_on``, else
    the infusion; then the infusion, then the id)."""
    known = [
        p
        for p in data.patients
        if p.cohort == "expansion"
        and p.indication == indication
        and p.dose_level == level
        and p.response is not None
    ]
    known.sort(
        key=lambda p: (
            p.response_day if p.response_day is not None else p.infused_day,
            p.infused_day,
            p.patient_id,
        )
    )
    return [bool(p.response) for p in known]


def indication_estimates(data: TrialData) -> tuple[IndicationEstimate, ...]:
    """Per-indication counts, observed DLT rate and responses over every patient, in the order of
    ``data.indications`` (indications without patients included)."""
    s = data.summary
    out = []
    for indication in data.indications:
        rows = [
            (p, state.value)
            for p, state in zip(data.patients, s.state, strict=True)
            if p.indication == indication
        ]
        complete = [p for p, state in rows if state in ("dlt", "complete")]
        n_dlt = sum(p.dlt for p, _ in rows)
        known = [p.response for p, _ in rows if p.response is not None]
        out.append(
            IndicationEstimate(
                indication=indication,
                n=len(rows),
                n_complete=len(complete),
                dlt=n_dlt,
                pending=sum(state == "pending" for _, state in rows),
                rate=n_dlt / len(complete) if complete else None,
                n_response_known=len(known),
                responses=sum(known),
                response_rate=sum(known) / len(known) if known else None,
            )
        )
    return tuple(out)
