"""The trial document (JSON) <-> core objects, and the JSON forms of decisions and selections.

The document is the common language of the CLI, the HTTP service and the simulation harness
(DESIGN.md section 3). Dates become study days here, at the edge; the core counts days. An invalid
document is rejected whole, with every problem named (field, patient id, bad value).

The counts form (``counts`` instead of ``patients``) is complete data without an order. A decision
needs its ``current_level``; the final selection (``parse_document(..., for_selection=True)``)
does not. The one rule that reads the order of the patients, CRM's coherence (no escalation right
after a cohort whose DLT rate is at least the target), reads the optional ``last_cohort``
``{"n": 3, "dlt": 0}`` (the most recent patients at the current level); without it, it takes the
DLTs at the current dose as the most recent, the cautious reading, and says so in its outcome. With
it the counts form and the patients form of complete data give the same decision for every design
(tests/test_counts_and_patients_forms.py).

Examples
--------
>>> from escalation.documents import parse_document, decision_to_json
>>> doc = parse_document({
...     "design": {"method": "boin", "target": 0.3},
...     "doses": [{"level": 1, "label": "0.5e6/kg"}, {"level": 2, "label": "1e6/kg"}],
...     "as_of": "2026-03-01",
...     "patients": [
...         {"id": "P001", "dose_level": 1, "infused_on": "2026-01-05", "dlt": False},
...         {"id": "P002", "dose_level": 1, "infused_on": "2026-01-12", "dlt": False},
...         {"id": "P003", "dose_level": 1, "infused_on": "2026-01-20", "dlt": False}]})
>>> decision_to_json(doc.design.decide(doc.data), doc)["action"]
'escalate'
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from escalation.backfill import parse_backfill
from escalation.data import (
    COHORTS,
    DEFAULT_DLT_WINDOW_DAYS,
    DEFAULT_EFFICACY_WINDOW_DAYS,
    Patient,
    PatientState,
    TrialData,
    validate_patients,
)
from escalation.decision import (
    Decision,
    DoseEstimate,
    EfficacyEstimate,
    ExpansionStatus,
    Selection,
)
from escalation.designs import DESIGNS, Design
from escalation.designs.base import _jsonable, check_unknown_options
from escalation.errors import InvalidDesignError, InvalidTrialDataError, Problem
from escalation.expansion import parse_expansion
from escalation.limits import (
    LIMITS,
    MAX_DOCUMENT_PATIENTS,
    date_problem,
    text_problem,
    whole_numbers,
)
from escalation.models.bop2 import FutilityCheck
from escalation.rules.grammar import parse_stopping
from escalation.rules.stopping import AnyOf, StopAtN, StoppingRule

__all__ = [
    "Dose",
    "TrialDocument",
    "decision_to_json",
    "parse_design",
    "parse_document",
    "selection_to_json",
]

_TOP_LEVEL = {
    "name",
    "design",
    "doses",
    "dlt_window_days",
    "efficacy_window_days",
    "as_of",
    "patients",
    "counts",
    "current_level",
    "indications",
    "last_cohort",
}
_PATIENT_KEYS = {
    "id",
    "dose_level",
    "infused_on",
    "dlt",
    "dlt_on",
    "withdrawn_on",
    "cohort",
    "indication",
    "response",
    "response_on",
}


def _engine_version() -> str:
    from escalation import __version__

    return __version__


@dataclass(frozen=True, slots=True, kw_only=True)
class Dose:
    """One dose level: its number (from 1), its label and, for BLRM, its amount (cells/kg)."""

    level: int
    label: str = ""
    amount: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialDocument:
    """A parsed trial document: the design, the doses, the data and the calendar origin."""

    name: str | None
    design: Design
    doses: tuple[Dose, ...]
    data: TrialData
    origin: dt.date
    as_of: dt.date | None
    from_counts: bool = False

    def day_to_date(self, day: int) -> dt.date:
        """The calendar date of a study day."""
        return self.origin + dt.timedelta(days=day)


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, field: str, message: str, patient_id: str | None = None) -> None:
        self.problems.append(Problem(field=field, message=message, patient_id=patient_id))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _date(
    value: Any,
    field: str,
    out: _Collector,
    pid: str | None = None,
    *,
    as_of: dt.date | None = None,
) -> dt.date | None:
    """The date of ``value``, which must be plausible (``escalation.limits.date_problem``)."""
    if not isinstance(value, str) or len(value) != 10:
        out.add(field, f"expected a date as 'YYYY-MM-DD', got {value!r}", pid)
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        out.add(field, f"malformed date {value!r} (expected 'YYYY-MM-DD')", pid)
        return None
    why = date_problem(day, as_of=as_of)
    if why is not None:
        out.add(field, why, pid)
        return None
    return day


def _text(value: Any, field: str, out: _Collector, pid: str | None = None) -> str | None:
    """``value`` if it is a string that can be a name, a label or an id, else None (said)."""
    if not isinstance(value, str):
        out.add(field, f"expected a string, got {value!r}", pid)
        return None
    why = text_problem(value)
    if why is not None:
        out.add(field, why, pid)
        return None
    return value


# ---- design ---------------------------------------------------------------------------------------
def _check_type(value: Any, hint: Any) -> Any:
    """``value`` converted to ``hint``, or raise TypeError with what was expected."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(value, arg)
            except TypeError as e:
                errors.append(str(e))
        raise TypeError(" or ".join(errors) + (" or null" if type(None) in args else ""))
    if origin is typing.Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise TypeError("one of " + ", ".join(repr(c) for c in choices))
        return value
    if origin is tuple:
        (item, *_rest) = typing.get_args(hint)
        if not isinstance(value, list | tuple):
            raise TypeError("a list")
        return tuple(_check_type(v, item) for v in value)
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError("true or false")
        return value
    if hint is int:
        if not _is_int(value):
            raise TypeError("an integer")
        return value
    if hint is float:
        if not _is_number(value) or not math.isfinite(value):
            raise TypeError("a finite number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise TypeError("a string")
        return value
    if isinstance(hint, type) and isinstance(value, dict):
        raise TypeError(f"a {hint.__name__}")
    return value


@functools.cache
def _option_types(cls: type) -> dict[str, Any]:
    """The annotated types of a design class's options (resolved once per class: resolving the
    string annotations is most of the time of parsing a design block)."""
    return typing.get_type_hints(cls)


def parse_design(
    block: Any,
    *,
    n_doses: int,
    dose_amounts: Sequence[float | None] | None = None,
    field: str = "design",
) -> Design:
    """A design from a document's design block; raises InvalidDesignError with every problem.

    ``dose_amounts`` (the doses' ``amount``, cells/kg) are passed to designs that model the amount
    (BLRM); every dose must then have one.
    """
    out = _Collector()
    if not isinstance(block, Mapping):
        raise InvalidDesignError([Problem(field=field, message="expected an object")])
    block = whole_numbers(dict(block))
    method = block.get("method")
    if method is None:
        raise InvalidDesignError([Problem(field=f"{field}.method", message="missing")])
    cls = DESIGNS.get(method) if isinstance(method, str) else None
    if cls is None:
        raise InvalidDesignError(
            [
                Problem(
                    field=f"{field}.method",
                    message=f"unknown design method {method!r} (known: {', '.join(sorted(DESIGNS))})",
                )
            ]
        )
    names = cls.option_names()
    out.problems += check_unknown_options(method, block, names)
    hints = _option_types(cls)
    kwargs: dict[str, Any] = {}
    for name in names:
        if name not in block:
            continue
        if name == "expansion":
            if block[name] is not None:
                kwargs[name], found = parse_expansion(block[name], where=f"{field}.expansion")
                out.problems += found
            continue
        if name == "backfill":
            if block[name] is not None:
                kwargs[name], found = parse_backfill(block[name], where=f"{field}.backfill")
                out.problems += found
            continue
        if name == "stopping":
            if block[name] is not None:
                kwargs[name], found = parse_stopping(
                    block[name], n_doses=max(n_doses, 1), field=f"{field}.stopping"
                )
                out.problems += found
            continue
        try:
            kwargs[name] = _check_type(block[name], hints[name])
        except TypeError as e:
            out.add(f"{field}.{name}", f"expected {e}, got {block[name]!r}")
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name in names
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    for name in required:
        if name not in block:
            what = "the target DLT probability" if name == "target" else f"required by {method!r}"
            out.add(f"{field}.{name}", f"missing ({what})")
    optional_with: tuple[str, ...] = getattr(cls, "target_optional_with", ())
    if optional_with and "target" not in block and not all(k in block for k in optional_with):
        out.add(
            f"{field}.target",
            "missing (the target DLT probability; it may be left out only when "
            + " and ".join(optional_with)
            + " are given)",
        )
    if getattr(cls, "uses_dose_amounts", False):
        amounts = list(dose_amounts or [])
        if len(amounts) != n_doses or any(a is None for a in amounts):
            for i in range(n_doses):
                if i >= len(amounts) or amounts[i] is None:
                    out.add(f"doses[{i}].amount", f"missing (required by method {method!r})")
        else:
            kwargs["dose_amounts"] = tuple(float(a) for a in amounts if a is not None)
    if out.problems:
        raise InvalidDesignError(out.problems)
    try:
        if kwargs.get("stopping") is not None:
            kwargs["stopping"] = _stopping_in_place_of_options(cls, n_doses, kwargs, block, field)
        return cls(n_doses=n_doses, **kwargs)
    except InvalidDesignError as e:
        if field == "design":
            raise
        raise InvalidDesignError(
            [Problem(field=field + p.field[len("design") :], message=p.message) for p in e.problems]
        ) from None


def _stopping_in_place_of_options(
    cls: type[Design], n_doses: int, kwargs: dict[str, Any], block: Mapping[str, Any], field: str
) -> StoppingRule | None:
    """The ``stopping`` expression to keep (``None`` when it is the one the options stand for).

    An expression replaces the rules the stopping options stand for; those options may be given
    beside it only when they stand for the same rule (as ``Design.options()`` writes them).
    """
    plain = cls(n_doses=n_doses, **{k: v for k, v in kwargs.items() if k != "stopping"})
    given = cls(n_doses=n_doses, **kwargs)
    if given.stopping_rule() == plain.stopping_rule():
        return None
    clashing = [name for name in cls.stopping_options if name in block]
    if clashing:
        raise InvalidDesignError(
            [
                Problem(
                    field=f"{field}.{name}",
                    message="stands for a stopping rule, and design.stopping states another: "
                    "write every stopping rule in the stopping expression and leave this option "
                    "out",
                )
                for name in clashing
            ]
        )
    rule = given.stopping
    # the sample size at the top (as options() writes it) is the design's own: keep the rest
    cap = StopAtN(given.max_patients)
    if isinstance(rule, AnyOf) and rule.name is None and cap in rule.rules:
        rest = tuple(r for r in rule.rules if r != cap)
        if rest:
            rule = rest[0] if len(rest) == 1 else AnyOf(rules=rest)
    return rule


# ---- document -------------------------------------------------------------------------------------
def parse_document(doc: Any, *, for_selection: bool = False) -> TrialDocument:
    """A trial document (a JSON object) parsed and validated whole.

    ``for_selection``: the document is read for the final selection, which needs no current dose
    level: the counts form may then leave ``current_level`` out (as R's ``select.mtd``).

    Raises
    ------
    InvalidTrialDataError
        With every problem in the document (design problems included), each naming its field and
        patient.
    """
    out = _Collector()
    if not isinstance(doc, Mapping):
        raise InvalidTrialDataError([Problem(field="document", message="expected a JSON object")])
    doc = whole_numbers(dict(doc))
    for key in doc:
        if key not in _TOP_LEVEL:
            out.add(str(key), f"unknown field (fields: {', '.join(sorted(_TOP_LEVEL))})")

    name = doc.get("name")
    if name is not None:
        name = _text(name, "name", out)

    doses = _parse_doses(doc.get("doses"), out)
    window = doc.get("dlt_window_days", DEFAULT_DLT_WINDOW_DAYS)
    if (why := LIMITS["dlt_window_days"].check(window)) is not None:
        out.add("dlt_window_days", f"days of follow-up: {why}")
        window = DEFAULT_DLT_WINDOW_DAYS

    efficacy_window = doc.get("efficacy_window_days", DEFAULT_EFFICACY_WINDOW_DAYS)
    if (why := LIMITS["efficacy_window_days"].check(efficacy_window)) is not None:
        out.add("efficacy_window_days", f"days of follow-up until the response is known: {why}")
        efficacy_window = DEFAULT_EFFICACY_WINDOW_DAYS

    indications = _parse_indications(doc.get("indications"), out)
    design: Design | None = None
    if "design" not in doc:
        out.add("design", "missing")
    elif doses:
        try:
            design = parse_design(
                doc["design"], n_doses=len(doses), dose_amounts=[d.amount for d in doses]
            )
        except InvalidDesignError as e:
            out.problems += e.problems

    as_of = _date(doc["as_of"], "as_of", out) if doc.get("as_of") is not None else None
    has_patients, has_counts = "patients" in doc, "counts" in doc
    data: TrialData | None = None
    origin = as_of or dt.date(2000, 1, 1)
    if has_patients and has_counts:
        out.add("counts", "give either patients or counts, not both")
    elif has_counts:
        data = _parse_counts(doc, len(doses), window, out, for_selection=for_selection)
    else:
        if "current_level" in doc:
            out.add("current_level", "only with counts (with patients it is the latest infusion)")
        if "last_cohort" in doc:
            out.add("last_cohort", "only with counts (with patients the dates give the order)")
        if design is not None and design.expansion is not None:
            indications += tuple(i for i in design.expansion.indications if i not in indications)
        data, origin = _parse_patients(
            doc.get("patients", []), as_of, len(doses), window, out, indications
        )
    if data is not None and efficacy_window != DEFAULT_EFFICACY_WINDOW_DAYS:
        data = dataclasses.replace(data, efficacy_window_days=efficacy_window)
    if design is not None and data is not None:
        if doc.get("indications") is not None and design.expansion is not None:
            for i, indication in enumerate(design.expansion.indications):
                if indication not in doc["indications"]:
                    out.add(
                        f"design.expansion.indications[{i}]",
                        f"{indication!r} is not one of the trial's indications",
                    )
        out.problems += design.data_problems(data)
    if out.problems or design is None or data is None:
        if not out.problems:  # pragma: no cover - defensive
            out.add("document", "incomplete document")
        raise InvalidTrialDataError(out.problems)
    return TrialDocument(
        name=name,
        design=design,
        doses=doses,
        data=data,
        origin=origin,
        as_of=as_of,
        from_counts=has_counts,
    )


def _parse_indications(value: Any, out: _Collector) -> tuple[str, ...]:
    """The trial's indications (document level): distinct non-empty names, in order."""
    if value is None:
        return ()
    if not isinstance(value, list):
        out.add("indications", f"expected a list of names, got {value!r}")
        return ()
    names: list[str] = []
    for i, name in enumerate(value):
        if not isinstance(name, str) or not name.strip():
            out.add(f"indications[{i}]", f"expected a name, got {name!r}")
        elif (why := text_problem(name)) is not None:
            out.add(f"indications[{i}]", why)
        elif name in names:
            out.add(f"indications[{i}]", f"{name!r} appears twice")
        else:
            names.append(name)
    return tuple(names)


def _parse_doses(value: Any, out: _Collector) -> tuple[Dose, ...]:
    if not isinstance(value, list) or not value:
        out.add("doses", "expected a non-empty list of dose levels")
        return ()
    if (why := LIMITS["n_doses"].check(len(value))) is not None:
        out.add("doses", f"number of dose levels: {why}")
        return ()
    doses = []
    for i, d in enumerate(value):
        where = f"doses[{i}]"
        if not isinstance(d, Mapping):
            out.add(where, "expected an object with level and label")
            continue
        for key in d:
            if key not in ("level", "label", "amount"):
                out.add(f"{where}.{key}", "unknown field (fields: amount, label, level)")
        level = d.get("level")
        if level != i + 1 or not _is_int(level):
            out.add(
                f"{where}.level",
                f"expected {i + 1} (levels are numbered 1, 2, ... in order), got {level!r}",
            )
        label = _text(d.get("label", ""), f"{where}.label", out) or ""
        amount = d.get("amount")
        if amount is not None and (why := LIMITS["dose_amount"].check(amount)) is not None:
            out.add(f"{where}.amount", f"a positive dose amount: {why}")
            amount = None
        doses.append(
            Dose(level=i + 1, label=label, amount=None if amount is None else float(amount))
        )
    if len(doses) == len(value):
        amounts = [d.amount for d in doses if d.amount is not None]
        if len(amounts) == len(doses) and any(b <= a for a, b in pairwise(amounts)):
            out.add("doses", "dose amounts must increase with the level")
    return tuple(doses)


def _parse_counts(
    doc: Mapping[str, Any], n_doses: int, window: int, out: _Collector, *, for_selection: bool
) -> TrialData | None:
    counts = doc["counts"]
    if not isinstance(counts, list):
        out.add("counts", "expected a list of {level, n, dlt}")
        return None
    n_at = [0] * n_doses
    y_at = [0] * n_doses
    seen: set[int] = set()
    for i, c in enumerate(counts):
        where = f"counts[{i}]"
        if not isinstance(c, Mapping):
            out.add(where, "expected an object {level, n, dlt}")
            continue
        for key in c:
            if key not in ("level", "n", "dlt"):
                out.add(f"{where}.{key}", "unknown field (fields: dlt, level, n)")
        level: Any = c.get("level")
        n: Any = c.get("n")
        y: Any = c.get("dlt")
        ok = True
        if not _is_int(level) or not 1 <= level <= n_doses:
            out.add(f"{where}.level", f"unknown dose level {level!r} (levels are 1 to {n_doses})")
            ok = False
        elif level in seen:
            out.add(f"{where}.level", f"dose level {level} appears twice")
            ok = False
        if (why := LIMITS["count"].check(n)) is not None:
            out.add(f"{where}.n", f"patients at the level: {why}")
            ok = False
        if (why := LIMITS["count"].check(y)) is not None:
            out.add(f"{where}.dlt", f"DLTs at the level: {why}")
            ok = False
        elif _is_int(n) and y > n:
            out.add(f"{where}.dlt", f"{y} DLTs among {n} patients")
            ok = False
        if ok:
            seen.add(level)
            n_at[level - 1], y_at[level - 1] = n, y
    current = doc.get("current_level")
    if current is None:
        if any(n_at) and not for_selection:
            out.add(
                "current_level",
                "required with counts for a decision: the dose level of the last cohort "
                "(the final selection needs none)",
            )
    elif not _is_int(current) or not 1 <= current <= max(n_doses, 1):
        out.add("current_level", f"unknown dose level {current!r} (levels are 1 to {n_doses})")
    elif n_doses and n_at[current - 1] == 0:
        out.add("current_level", f"no patient was treated at dose level {current}")
    last_cohort = _parse_last_cohort(doc.get("last_cohort"), out)
    if out.problems or not n_doses:
        return None
    try:
        return TrialData.from_counts(
            n_at, y_at, current_level=current, dlt_window_days=window, last_cohort=last_cohort
        )
    except InvalidTrialDataError as e:
        out.problems += e.problems
        return None


def _parse_last_cohort(value: Any, out: _Collector) -> tuple[int, int] | None:
    """The counts form's optional ``last_cohort`` {n, dlt}: the most recent patients at the
    current level (read by CRM's coherence rule; without it the rule takes the cautious reading)."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != {"n", "dlt"}:
        out.add("last_cohort", f"expected an object {{n, dlt}}, got {value!r}")
        return None
    n, y = value["n"], value["dlt"]
    if not _is_int(n) or not _is_int(y):
        out.add("last_cohort", f"expected whole numbers n and dlt, got {value!r}")
        return None
    return int(n), int(y)


def _parse_patients(
    value: Any,
    as_of: dt.date | None,
    n_doses: int,
    window: int,
    out: _Collector,
    indications: tuple[str, ...] = (),
) -> tuple[TrialData | None, dt.date]:
    if not isinstance(value, list):
        out.add("patients", "expected a list of patients")
        return None, as_of or dt.date(2000, 1, 1)
    if value and as_of is None:
        out.add("as_of", "required with patients: the date the data describe")
    if len(value) > MAX_DOCUMENT_PATIENTS:
        out.add("patients", f"at most {MAX_DOCUMENT_PATIENTS} patients, got {len(value)}")
        return None, as_of or dt.date(2000, 1, 1)
    origin = as_of or dt.date(2000, 1, 1)
    patients: list[Patient] = []
    positions: list[int] = []
    for i, p in enumerate(value):
        where = f"patients[{i}]"
        if not isinstance(p, Mapping):
            out.add(where, "expected an object")
            continue
        pid = p.get("id")
        pid_str = pid if isinstance(pid, str) else None
        n_before = len(out.problems)
        for key in p:
            if key not in _PATIENT_KEYS:
                out.add(
                    f"{where}.{key}",
                    f"unknown field (fields: {', '.join(sorted(_PATIENT_KEYS))})",
                    pid_str,
                )
        if not isinstance(pid, str) or not pid:
            out.add(f"{where}.id", f"expected a non-empty string, got {pid!r}")
        elif (why := text_problem(pid)) is not None:
            out.add(f"{where}.id", why)
            pid_str = None
        level: Any = p.get("dose_level")
        if not _is_int(level):
            out.add(
                f"{where}.dose_level", f"expected an integer dose level, got {level!r}", pid_str
            )
        dlt = p.get("dlt")
        if not isinstance(dlt, bool):
            out.add(f"{where}.dlt", f"expected true or false, got {dlt!r}", pid_str)
        if "infused_on" not in p:
            out.add(f"{where}.infused_on", "missing", pid_str)
            infused = None
        else:
            infused = _date(p["infused_on"], f"{where}.infused_on", out, pid_str, as_of=as_of)
        dlt_on = (
            _date(p["dlt_on"], f"{where}.dlt_on", out, pid_str, as_of=as_of)
            if p.get("dlt_on") is not None
            else None
        )
        withdrawn = (
            _date(p["withdrawn_on"], f"{where}.withdrawn_on", out, pid_str, as_of=as_of)
            if p.get("withdrawn_on") is not None
            else None
        )
        cohort = p.get("cohort")
        if cohort is None:
            cohort = "escalation"
        if not isinstance(cohort, str):
            out.add(
                f"{where}.cohort", f"expected one of {', '.join(COHORTS)}, got {cohort!r}", pid_str
            )
        indication = p.get("indication")
        if indication is not None:
            indication = _text(indication, f"{where}.indication", out, pid_str)
        response = p.get("response")
        if response is not None and not isinstance(response, bool):
            out.add(
                f"{where}.response",
                f"expected true, false or absent (unknown), got {response!r}",
                pid_str,
            )
        response_on = (
            _date(p["response_on"], f"{where}.response_on", out, pid_str, as_of=as_of)
            if p.get("response_on") is not None
            else None
        )
        if len(out.problems) > n_before or infused is None or as_of is None:
            continue

        def day(d: dt.date | None) -> int | None:
            return None if d is None else (d - origin).days

        infused_day = day(infused)
        assert infused_day is not None
        patients.append(
            Patient(
                patient_id=pid_str or "",
                dose_level=level,
                infused_day=infused_day,
                dlt=bool(dlt),
                dlt_day=day(dlt_on),
                withdrawn_day=day(withdrawn),
                cohort=cohort,
                indication=indication,
                response=response,
                response_day=day(response_on),
            )
        )
        positions.append(i)
    if not n_doses:
        return None, origin
    out.problems += validate_patients(
        patients,
        n_doses=n_doses,
        dlt_window_days=window,
        as_of_day=0,
        positions=positions,
        indications=indications,
    )
    if out.problems:
        return None, origin
    return TrialData(
        n_doses=n_doses,
        patients=tuple(patients),
        as_of_day=0,
        dlt_window_days=window,
        indications=indications,
    ), origin


# ---- JSON forms -------------------------------------------------------------------------------------
def _round(x: float | None) -> float | None:
    """Full precision in JSON: the numbers must reproduce; the text output rounds for reading."""
    return None if x is None else float(x)


def _per_dose(values: Sequence[float | None], i: int) -> float | None:
    return _round(values[i]) if i < len(values) else None


def _dose_counts(d: DoseEstimate, doc: TrialDocument) -> dict[str, Any]:
    return {
        "level": d.dose_level,
        "label": doc.doses[d.dose_level - 1].label,
        "n": d.n,
        "n_complete": d.n_complete,
        "dlt": d.dlt,
        "pending": d.pending,
        "withdrawn": d.withdrawn,
        "estimate": _round(d.estimate),
    }


def selection_to_json(selection: Selection, doc: TrialDocument) -> dict[str, Any]:
    """The JSON form of a final selection (CLI ``select`` and the service).

    ``doses`` counts every patient the selection used at each level (``data_used`` says how many
    of each cohort type), with the selection's posterior probabilities (``prob_underdose`` and
    ``prob_target`` for BLRM, else null; ``prob_overdose_definition`` says which event under which
    posterior ``prob_overdose`` is); ``indications`` maps each of the trial's indications to its patients'
    counts, observed DLT rate and responses (present only when the trial declares indications).
    """
    payload: dict[str, Any] = {
        "dose": selection.dose_level,
        "dose_label": doc.doses[selection.dose_level - 1].label if selection.dose_level else None,
        "reason": selection.reason,
        "provisional": selection.provisional,
        "prob_overdose_definition": (
            selection.prob_overdose_definition or doc.design.prob_overdose_definition()
        )
        if any(p is not None for p in selection.prob_overdose)
        else None,
        "estimates": [_round(e) for e in selection.estimates],
        "prob_overdose": [_round(p) for p in selection.prob_overdose],
        "eliminated": list(selection.eliminated),
        "data_used": dict(selection.data_used),
        "doses": [
            _dose_counts(d, doc)
            | {
                "prob_underdose": _per_dose(selection.prob_underdose, d.dose_level - 1),
                "prob_target": _per_dose(selection.prob_target, d.dose_level - 1),
                "prob_overdose": _per_dose(selection.prob_overdose, d.dose_level - 1),
                "eliminated": d.dose_level in selection.eliminated,
            }
            for d in selection.doses
        ],
    }
    if doc.data.indications:
        payload["indications"] = {
            e.indication: {
                "n": e.n,
                "n_complete": e.n_complete,
                "dlt": e.dlt,
                "pending": e.pending,
                "rate": _round(e.rate),
                "n_response_known": e.n_response_known,
                "responses": e.responses,
                "response_rate": _round(e.response_rate),
            }
            for e in selection.indications
        }
    return payload | {
        "design": doc.design.options(),
        "as_of": doc.as_of.isoformat() if doc.as_of else None,
        "engine_version": _engine_version(),
    }


def _wait_dates(decision: Decision, doc: TrialDocument, wait_until: str) -> str:
    """When accrual may resume, and, separately, when each open DLT window at the current dose
    closes (TITE-BOIN resumes once enough of them have closed, not when the last one does)."""
    text = f" Accrual may resume on {wait_until} at the latest (earlier if a DLT settles it)."
    cur = decision.current_level
    data = doc.data
    pending = sorted(
        (data.window_closes_day(p), p.patient_id)
        for p, state in zip(data.patients, data.summary.state, strict=True)
        if state is PatientState.PENDING and p.dose_level == cur
    )
    if pending:
        closes = ", ".join(f"{pid} on {doc.day_to_date(day).isoformat()}" for day, pid in pending)
        text += f" DLT windows still open at dose level {cur} close: {closes}."
    return text


def decision_to_json(decision: Decision, doc: TrialDocument) -> dict[str, Any]:
    """The JSON form of a decision (CLI ``recommend`` and the service)."""
    wait_until = (
        doc.day_to_date(decision.wait_until_day).isoformat()
        if decision.wait_until_day is not None
        else None
    )
    reason = decision.reason
    if wait_until is not None:
        reason += _wait_dates(decision, doc, wait_until)
    s = doc.data.summary
    raw_weights = decision.diagnostics.get("weights")  # TITE designs: each patient's weight
    weights: Mapping[str, float] = raw_weights if isinstance(raw_weights, Mapping) else {}
    return {
        "action": decision.action.value,
        "next_dose": decision.next_level,
        "next_dose_label": doc.doses[decision.next_level - 1].label
        if decision.next_level
        else None,
        "current_dose": decision.current_level,
        "reason": reason,
        "wait_until": wait_until,
        "eliminated": list(decision.eliminated),
        "admissible": list(decision.admissible),
        "doses": [
            {
                "level": d.dose_level,
                "label": doc.doses[d.dose_level - 1].label,
                "n": d.n,
                "n_complete": d.n_complete,
                "dlt": d.dlt,
                "pending": d.pending,
                "withdrawn": d.withdrawn,
                "estimate": _round(d.estimate),
                "prob_tox_mean": _round(d.prob_tox_mean),
                "prob_tox_interval": (
                    [_round(d.prob_tox_interval[0]), _round(d.prob_tox_interval[1])]
                    if d.prob_tox_interval
                    else None
                ),
                "prob_underdose": _round(d.prob_underdose),
                "prob_target": _round(d.prob_target),
                "prob_overdose": _round(d.prob_overdose),
                "eliminated": d.eliminated,
                **({"efficacy": _efficacy_json(d.efficacy)} if d.efficacy is not None else {}),
            }
            for d in decision.doses
        ],
        "prob_overdose_definition": (
            decision.prob_overdose_definition or doc.design.prob_overdose_definition()
        )
        if any(d.prob_overdose is not None for d in decision.doses)
        else None,
        "interval_level": decision.interval_level,
        "rules": [r.as_dict() for r in decision.rules],
        "final_selection": (
            selection_to_json(decision.selection, doc) if decision.selection is not None else None
        ),
        "model": dict(decision.model) if decision.model is not None else None,
        "diagnostics": _jsonable(decision.diagnostics),
        **({"expansion": expansion_to_json(decision.expansion)} if doc.design.expansion else {}),
        **({"backfill": decision.backfill.as_dict()} if decision.backfill is not None else {}),
        "patients": None
        if doc.from_counts
        else [
            {
                "id": p.patient_id,
                "dose_level": p.dose_level,
                **stage_json(p),
                "state": state.value,
                "followup_days": int(days),
                "followup_fraction": _round(float(frac)),
                "weight": weights.get(p.patient_id),
            }
            for p, state, days, frac in zip(
                doc.data.patients, s.state, s.followup_days, s.followup_fraction, strict=True
            )
        ],
        "design": doc.design.options(),
        "as_of": doc.as_of.isoformat() if doc.as_of else None,
        "engine_version": _engine_version(),
    }


def _efficacy_json(e: EfficacyEstimate) -> dict[str, Any]:
    """A dose's toxicity-and-efficacy estimates (BOIN12) in a decision's dose table."""
    return {
        "n_evaluable": _round(e.n_evaluable),
        "dlt": _round(e.dlt),
        "responses": _round(e.responses),
        "both": _round(e.both),
        "waiting": e.waiting,
        "response_rate": _round(e.response_rate),
        "prob_futile": _round(e.prob_futile),
        "utility_mean": _round(e.utility_mean),
        "desirability": _round(e.desirability),
        "admissible": e.admissible,
    }


def stage_json(p: Patient) -> dict[str, Any]:
    """A patient's cohort, indication and response, as in the document (defaults left out)."""
    out: dict[str, Any] = {}
    if p.cohort != "escalation":
        out["cohort"] = p.cohort
    if p.indication is not None:
        out["indication"] = p.indication
    if p.response is not None:
        out["response"] = p.response
    return out


def _status_json(s: ExpansionStatus) -> dict[str, Any]:
    return {
        "dose_level": s.dose_level,
        "n": s.n,
        "dlt": s.dlt,
        "pending": s.pending,
        "withdrawn": s.withdrawn,
        "n_treated": s.n_treated,
        "stop_at_least": s.stop_at_least,
        "posterior_prob": _round(s.posterior_prob),
        "action": s.action,
        "reason": s.reason,
    } | ({} if s.futility is None else {"futility": _futility_json(s.futility)})


def _futility_json(f: FutilityCheck) -> dict[str, Any]:
    return {
        "n": f.n,
        "responses": f.responses,
        "look": f.look,
        "continue_at_least": f.continue_at_least,
        "futile": f.futile,
        "posterior_prob": _round(f.posterior_prob),
        "reason": f.reason,
    }


def expansion_to_json(statuses: Sequence[ExpansionStatus]) -> dict[str, Any]:
    """The expansion cohorts' monitoring status, keyed by indication.

    With one expansion dose level each indication maps to one object ``{"dose_level", "n",
    "dlt", "pending", "withdrawn", "n_treated", "stop_at_least", "posterior_prob", "action",
    "reason"}`` (with a futility rule, also ``"futility": {"n", "responses", "look",
    "continue_at_least", "futile", "posterior_prob", "reason"}``: the known responses, the look
    that decided or the next one, the fewest responses that continue there, and Pr(response rate
    <= response_null)); with several, to a list of such objects, one per dose level in the plan's
    order.
    """
    by_indication: dict[str, list[dict[str, Any]]] = {}
    for s in statuses:
        by_indication.setdefault(s.indication, []).append(_status_json(s))
    return {k: v[0] if len(v) == 1 else v for k, v in by_indication.items()}
