"""The stopping-rule expression of a trial document's design block, and its parser.

A design block may say ``"stopping": RULE``, where RULE is one of (each with an optional
``"label"`` shown in the decision)

* ``{"max_patients": n}`` -- stop once n patients have been treated (R ``stop_at_n``);
* ``{"n_at_dose": n, "dose": "recommended" | "any" | "current" | level}`` -- stop once the dose
  has n patients (``current``: the last cohort's dose, BOIN12's ``n_stop``) (R ``stop_when_n_at_dose``); ``"when_staying": true`` only when the decision is to
  stay (BOIN's ``n_stop``);
* ``{"too_toxic": {"level": 1, "threshold": 0.35, "confidence": 0.8}}`` -- stop, recommending no
  dose, when Pr(p_level > threshold | data) >= confidence under the design's posterior; doses
  where it holds are inadmissible (R ``stop_when_too_toxic``). ``threshold`` defaults to the
  target; ``min_n`` (evaluable patients needed at the level, default 0), ``strict`` (``>``
  instead of ``>=``) and ``eliminate`` (default true) spell the options that exist as this rule;
* ``{"demand_n_at_dose": n, "dose": ...}`` -- the trial may not stop for other reasons until the
  dose has n patients (R ``demand_n_at_dose``; safety stops and ``max_patients`` excepted);
* ``{"deescalation_impossible": true}`` -- stop, recommending no dose, when the model asks to
  de-escalate from the lowest dose (R ``get_boin(stop_when_deescalation_impossible = TRUE)``);
* ``{"all": [RULE, ...]}`` and ``{"any": [RULE, ...]}`` -- and, or.

:func:`parse_stopping` turns an expression into rule objects (:mod:`escalation.rules.stopping`),
naming the field path of every problem (``design.stopping.all[1].n_at_dose``);
:func:`to_expression` writes rule objects back, so a design's options can be shown as the
expression they stand for.

Examples
--------
>>> rule, problems = parse_stopping(
...     {"any": [{"max_patients": 24}, {"n_at_dose": 9, "dose": "recommended"}]}, n_doses=5)
>>> rule.label, problems
('StopAtN(24) | StopWhenNAtDose(9, when_staying=False)', [])
>>> to_expression(rule)
{'any': [{'max_patients': 24}, {'n_at_dose': 9, 'dose': 'recommended'}]}
>>> parse_stopping({"all": [{"max_patients": 0}]}, n_doses=5)[1][0].field
'design.stopping.all[0].max_patients'
"""

from __future__ import annotations

import math
from typing import Any

from escalation.data import COHORTS
from escalation.errors import Problem
from escalation.limits import LIMITS, text_problem
from escalation.rules.stopping import (
    AllOf,
    AnyOf,
    DemandNAtDose,
    DoseChoice,
    StopAtN,
    StoppingRule,
    StopWhenDeescalationImpossible,
    StopWhenNAtDose,
    StopWhenTooToxic,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_RULES",
    "MAX_STOPPING_DEPTH",
    "RULE_KEYS",
    "parse_stopping",
    "to_expression",
]

#: the key that names each kind of rule
RULE_KEYS = (
    "max_patients",
    "n_at_dose",
    "too_toxic",
    "demand_n_at_dose",
    "deescalation_impossible",
    "all",
    "any",
)
#: the other keys each kind of rule may have
_EXTRA = {
    "max_patients": ("cohort",),
    "n_at_dose": ("dose", "when_staying"),
    "too_toxic": (),
    "demand_n_at_dose": ("dose",),
    "deescalation_impossible": (),
    "all": (),
    "any": (),
}
_TOO_TOXIC_KEYS = ("level", "threshold", "confidence", "min_n", "strict", "eliminate")
#: an expression's size at most, and how deep ``all`` and ``any`` nest (a protocol states a
#: handful of rules; the HTTP schema states the same depth)
MAX_RULES = 100
MAX_DEPTH = 4
#: the name the package exports it under
MAX_STOPPING_DEPTH = MAX_DEPTH


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class _Parser:
    def __init__(self, n_doses: int) -> None:
        self.n_doses = n_doses
        self.problems: list[Problem] = []
        self.count = 0

    def bad(self, field: str, message: str) -> None:
        self.problems.append(Problem(field=field, message=message))

    def count_of(self, value: Any, field: str, *, key: str = "max_patients") -> int | None:
        why = LIMITS[key].check(value)
        if why is not None:
            self.bad(field, f"number of patients: {why}")
            return None
        return int(value)

    def dose(self, value: Any, field: str) -> DoseChoice | None:
        if value == "recommended":
            return "recommended"
        if value == "any":
            return "any"
        if value == "current":
            return "current"
        if _is_int(value) and 1 <= value <= self.n_doses:
            return int(value)
        self.bad(
            field,
            f"expected 'recommended', 'any', 'current' or a dose level from 1 to {self.n_doses}, "
            f"got {value!r}",
        )
        return None

    def flag(self, value: Any, field: str) -> bool | None:
        if isinstance(value, bool):
            return value
        self.bad(field, f"expected true or false, got {value!r}")
        return None

    def probability(self, value: Any, field: str) -> float | None:
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and 0 < value < 1
        ):
            return float(value)
        self.bad(field, f"expected a probability strictly between 0 and 1, got {value!r}")
        return None

    def rule(self, value: Any, field: str, depth: int) -> StoppingRule | None:
        self.count += 1
        if self.count > MAX_RULES:
            if self.count == MAX_RULES + 1:
                self.bad(field, f"an expression has at most {MAX_RULES} rules")
            return None
        if not isinstance(value, dict):
            self.bad(field, f"expected a rule object ({', '.join(RULE_KEYS)}), got {value!r}")
            return None
        kinds = [k for k in value if k in RULE_KEYS]
        if len(kinds) != 1:
            what = "no" if not kinds else f"{len(kinds)} ({', '.join(kinds)})"
            self.bad(
                field, f"a rule has exactly one of {', '.join(RULE_KEYS)}; this one has {what}"
            )
            return None
        kind = kinds[0]
        allowed = {kind, "label", *_EXTRA[kind]}
        for key in value:
            if key not in allowed:
                self.bad(
                    f"{field}.{key}",
                    f"unknown key for a {kind!r} rule (keys: {', '.join(sorted(allowed))})",
                )
        name: str | None = None
        if "label" in value:
            label = value["label"]
            why = "expected a string" if not isinstance(label, str) else text_problem(label)
            if why is None and not label:
                why = "expected a non-empty label"
            if why is not None:
                self.bad(f"{field}.label", why)
            else:
                name = label
        at = f"{field}.{kind}"
        arg = value[kind]
        before = len(self.problems)
        rule = self._build(kind, arg, value, field, at, depth, name)
        return rule if len(self.problems) == before else None

    def _build(
        self,
        kind: str,
        arg: Any,
        value: dict[str, Any],
        field: str,
        at: str,
        depth: int,
        name: str | None,
    ) -> StoppingRule | None:
        if kind in ("all", "any"):
            if depth >= MAX_DEPTH:
                self.bad(at, f"all and any nest at most {MAX_DEPTH} deep")
                return None
            if not isinstance(arg, list) or not arg:
                self.bad(at, f"expected a non-empty list of rules, got {arg!r}")
                return None
            parts = [self.rule(r, f"{at}[{i}]", depth + 1) for i, r in enumerate(arg)]
            if any(p is None for p in parts):
                return None
            rules = tuple(p for p in parts if p is not None)
            return (AllOf if kind == "all" else AnyOf)(rules=rules, name=name)
        if kind == "max_patients":
            n = self.count_of(arg, at)
            cohort = value.get("cohort")
            if cohort is not None and cohort not in COHORTS:
                self.bad(
                    f"{field}.cohort",
                    f"expected one of {', '.join(COHORTS)} (only that cohort's patients count), "
                    f"got {cohort!r}",
                )
                return None
            return None if n is None else StopAtN(n, cohort=cohort, name=name)
        if kind in ("n_at_dose", "demand_n_at_dose"):
            n = self.count_of(arg, at)
            dose = self.dose(value.get("dose", "recommended"), f"{field}.dose")
            if n is None or dose is None:
                return None
            if kind == "demand_n_at_dose":
                return DemandNAtDose(n, dose=dose, name=name)
            staying = self.flag(value.get("when_staying", False), f"{field}.when_staying")
            if staying is None:
                return None
            return StopWhenNAtDose(n, when_staying=staying, dose=dose, name=name)
        if kind == "deescalation_impossible":
            if arg is not True:
                self.bad(at, f"expected true, got {arg!r}")
                return None
            return StopWhenDeescalationImpossible(name=name)
        return self._too_toxic(arg, at, name)

    def _too_toxic(self, arg: Any, at: str, name: str | None) -> StoppingRule | None:
        if not isinstance(arg, dict):
            self.bad(at, f"expected an object with level and confidence, got {arg!r}")
            return None
        for key in arg:
            if key not in _TOO_TOXIC_KEYS:
                self.bad(
                    f"{at}.{key}",
                    f"unknown key of too_toxic (keys: {', '.join(_TOO_TOXIC_KEYS)})",
                )
        for key in ("level", "confidence"):
            if key not in arg:
                self.bad(f"{at}.{key}", "missing")
        before = len(self.problems)
        level = arg.get("level", 1)
        if not (_is_int(level) and 1 <= level <= self.n_doses):
            self.bad(
                f"{at}.level", f"expected a dose level from 1 to {self.n_doses}, got {level!r}"
            )
        confidence = self.probability(arg.get("confidence", 0.5), f"{at}.confidence")
        threshold = arg.get("threshold")
        if threshold is not None:
            threshold = self.probability(threshold, f"{at}.threshold")
        min_n = arg.get("min_n", 0)
        if (why := LIMITS["count"].check(min_n)) is not None:
            self.bad(f"{at}.min_n", f"number of patients: {why}")
        strict = self.flag(arg.get("strict", False), f"{at}.strict")
        eliminate = self.flag(arg.get("eliminate", True), f"{at}.eliminate")
        if len(self.problems) != before or confidence is None:
            return None
        return StopWhenTooToxic(
            level=int(level),
            prob=confidence,
            min_n=int(min_n),
            threshold=threshold,
            strict=bool(strict),
            eliminate=bool(eliminate),
            name=name,
        )


def parse_stopping(
    value: Any, *, n_doses: int, field: str = "design.stopping"
) -> tuple[StoppingRule | None, list[Problem]]:
    """The rule an expression states, and every problem with it (each naming its field path).

    ``n_doses`` bounds the dose levels the expression may name. The rule is ``None`` when there is
    any problem.
    """
    parser = _Parser(n_doses)
    rule = parser.rule(value, field, 0)
    return (rule if not parser.problems else None), parser.problems


def _labelled(out: dict[str, Any], name: str | None) -> dict[str, Any]:
    return out if name is None else out | {"label": name}


def to_expression(rule: StoppingRule) -> dict[str, Any]:
    """The expression of a rule (the inverse of :func:`parse_stopping`).

    Raises
    ------
    ValueError
        For a rule the expression cannot state (a design's own algorithm, such as 3+3's).
    """
    if isinstance(rule, AllOf | AnyOf):
        key = "all" if isinstance(rule, AllOf) else "any"
        return _labelled({key: [to_expression(r) for r in rule.rules]}, rule.name)
    if isinstance(rule, StopAtN):
        cap: dict[str, Any] = {"max_patients": rule.n}
        if rule.cohort is not None:
            cap["cohort"] = rule.cohort
        return _labelled(cap, rule.name)
    if isinstance(rule, StopWhenNAtDose):
        out: dict[str, Any] = {"n_at_dose": rule.n, "dose": rule.dose}
        if rule.when_staying:
            out["when_staying"] = True
        return _labelled(out, rule.name)
    if isinstance(rule, DemandNAtDose):
        return _labelled({"demand_n_at_dose": rule.n, "dose": rule.dose}, rule.name)
    if isinstance(rule, StopWhenDeescalationImpossible):
        return _labelled({"deescalation_impossible": True}, rule.name)
    if isinstance(rule, StopWhenTooToxic):
        spec: dict[str, Any] = {"level": rule.level}
        if rule.threshold is not None:
            spec["threshold"] = rule.threshold
        spec["confidence"] = rule.prob
        if rule.min_n:
            spec["min_n"] = rule.min_n
        if rule.strict:
            spec["strict"] = True
        if not rule.eliminate:
            spec["eliminate"] = False
        return _labelled({"too_toxic": spec}, rule.name)
    raise ValueError(f"{rule.label} cannot be written as a stopping expression")
