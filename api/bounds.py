"""The engine's bounds (``escalation.LIMITS``) stated in the OpenAPI schema, so that the schema
allows no value the server refuses for a reason a schema can express: one model per design with
its options' types, defaults and ranges, non-null text without NUL characters, dates as exact
calendar-date patterns between 2000-01-01 and a last day (the server's today for what has
happened; 2099-12-31 in stateless documents).

Rules a JSON schema cannot express (a DLT inside its window, one dose level per count, levels
numbered in order, a skeleton as long as the doses and increasing) stay the engine's, named in
each 422.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import math
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from escalation import (
    DESIGNS,
    EARLIEST_DATE,
    LATEST_DATE,
    LIMITS,
    MAX_MONITORED_PATIENTS,
    MAX_STOPPING_DEPTH,
    MAX_TEXT_LENGTH,
    BackfillPlan,
    ExpansionPlan,
    StoppingRule,
)

__all__ = [
    "DESIGN_MODELS",
    "NOT_NULL",
    "BackfillIn",
    "DateText",
    "DesignEntryIn",
    "DesignIn",
    "ExpansionFutilityIn",
    "ExpansionMonitoringIn",
    "FreeText",
    "Label",
    "NonEmptyText",
    "PatientIdText",
    "date_pattern",
    "state_todays_bounds",
]

#: text that can be stored: no NUL character (lone surrogates cannot be written in a schema)
_NO_NUL = r"^[^\x00]*$"
Label = Annotated[str, StringConstraints(max_length=MAX_TEXT_LENGTH, pattern=_NO_NUL)]
#: text without a length limit of its own (the body's is enough): no NUL character
FreeText = Annotated[str, StringConstraints(pattern=_NO_NUL)]
NonEmptyText = Annotated[str, StringConstraints(min_length=1, pattern=_NO_NUL)]
PatientIdText = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TEXT_LENGTH, pattern=_NO_NUL)
]


def _not_null(schema: dict[str, Any]) -> None:
    """An optional property that may be left out but not sent as null: its schema without the
    null alternative and without ``default: null``."""
    alternatives = [s for s in schema.pop("anyOf", []) if s.get("type") != "null"]
    if len(alternatives) == 1:
        schema.update(alternatives[0])
    elif alternatives:
        schema["anyOf"] = alternatives
    if schema.get("default", 0) is None:
        del schema["default"]


#: ``Field(default=None, json_schema_extra=NOT_NULL)``: may be left out, may not be null
NOT_NULL: Any = _not_null

_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)


def _alternatives(values: list[str]) -> str:
    return "(?:" + "|".join(values) + ")"


def date_pattern(last: dt.date, first: dt.date = EARLIEST_DATE) -> str:
    """A regular expression matching exactly the calendar dates ``YYYY-MM-DD`` from ``first``
    (a 1 January) to ``last``."""
    if first.month != 1 or first.day != 1 or last < first:
        raise ValueError(f"first must be a 1 January on or before last, got {first}, {last}")
    parts = []
    whole_last = (last.month, last.day) == (12, 31)
    full_years = [str(y) for y in range(first.year, last.year + whole_last)]
    if full_years:
        leap = [y for y in full_years if calendar.isleap(int(y))]
        parts.append(f"{_alternatives(full_years)}-{_MONTH_DAY}")
        if leap:
            parts.append(f"{_alternatives(leap)}-02-29")
    if whole_last:
        return "^(?:" + "|".join(parts) + ")$"
    months = []
    for month in range(1, last.month + 1):
        n_days = calendar.monthrange(last.year, month)[1] if month < last.month else last.day
        days = [f"{d:02d}" for d in range(1, n_days + 1)]
        months.append(f"{month:02d}-{_alternatives(days)}")
    parts.append(f"{last.year}-{_alternatives(months)}")
    return "^(?:" + "|".join(parts) + ")$"


DOCUMENT_DATE_PATTERN = date_pattern(LATEST_DATE)
DateText = Annotated[
    str,
    Field(
        pattern=DOCUMENT_DATE_PATTERN,
        description=f"a calendar date YYYY-MM-DD from {EARLIEST_DATE} to {LATEST_DATE}",
        examples=["2026-03-10"],
    ),
]


class BLRMPriorIn(BaseModel):
    """BLRM's prior: bivariate normal on (log alpha, log beta)."""

    model_config = ConfigDict(extra="forbid")

    mean: list[float] = Field(
        min_length=2, max_length=2, description="means of log alpha, log beta"
    )
    sd: list[Annotated[float, Field(gt=0)]] = Field(
        min_length=2, max_length=2, description="their standard deviations"
    )
    corr: float = Field(default=0.0, gt=-1, lt=1, description="their correlation")


class BackfillIn(BaseModel):
    """Backfill while an escalation cohort is pending (BF-BOIN, Zhao et al. 2024; for CRM,
    TITE-CRM and BLRM at the levels below the recommended dose that the model admits)."""

    model_config = ConfigDict(extra="forbid")

    max_per_dose: int = Field(
        default=12,
        ge=1,
        le=BackfillPlan.max_count,
        description="a level takes backfill patients while fewer than this many patients (every "
        "cohort) have been treated there",
    )
    min_responses: int = Field(
        default=1,
        ge=0,
        le=BackfillPlan.max_count,
        description="responses needed at a level before it opens (0: none)",
    )
    assign: Literal[BackfillPlan.assign_rules] = Field(  # type: ignore[valid-type]
        default="highest", description="which open level the next backfill patient gets"
    )


class ExpansionMonitoringIn(BaseModel):
    """The expansion cohorts' toxicity monitoring rule (beta-binomial, Geller et al. 2003)."""

    model_config = ConfigDict(extra="forbid")

    p0: float = Field(gt=0, lt=1, description="the acceptable DLT rate")
    alpha: float = Field(gt=0, lt=1, description="Pr(ever stopping) when the rate is p0, at most")
    prior: list[Annotated[float, Field(gt=0)]] = Field(
        min_length=2, max_length=2, description="Beta prior (a, b)"
    )


class ExpansionFutilityIn(BaseModel):
    """The expansion cohorts' BOP2 efficacy futility rule (Zhou, Lee & Yuan 2017): lambda and
    gamma given, or calibrated from response_alt and alpha."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    response_null: float = Field(gt=0, lt=1, description="the response rate not worth pursuing")
    prior: list[Annotated[float, Field(gt=0)]] | None = Field(
        default=None, min_length=2, max_length=2, description="Beta prior (a, b)"
    )
    looks: list[Annotated[int, Field(ge=1, le=MAX_MONITORED_PATIENTS)]] | None = Field(
        default=None, min_length=1, description="patients with a known response at each look"
    )
    lambda_: float | None = Field(default=None, ge=0, le=1, alias="lambda")
    gamma: float | None = Field(default=None, ge=0, le=10)
    response_alt: float | None = Field(default=None, gt=0, lt=1)
    alpha: float | None = Field(default=None, gt=0, lt=1)


class ExpansionIn(BaseModel):
    """Expansion cohorts: one per indication and dose level, each watched by the monitoring rule."""

    model_config = ConfigDict(extra="forbid")

    indications: list[NonEmptyText] = Field(min_length=1, json_schema_extra={"uniqueItems": True})
    dose_levels: list[Annotated[int, Field(ge=1, le=LIMITS["n_doses"].high)]] = Field(
        min_length=1, json_schema_extra={"uniqueItems": True}
    )
    max_per_indication: int = Field(ge=1, le=MAX_MONITORED_PATIENTS)
    monitoring: ExpansionMonitoringIn
    futility: ExpansionFutilityIn | None = Field(default=None, json_schema_extra=NOT_NULL)


# ---- the stopping expression (escalation.rules.grammar), stated as a schema -------------------------
_N = Annotated[int, Field(ge=int(LIMITS["max_patients"].low), le=int(LIMITS["max_patients"].high))]
_LEVEL = Annotated[int, Field(ge=1, le=int(LIMITS["n_doses"].high))]
_DOSE = Literal["recommended", "any", "current"] | _LEVEL
_PROBABILITY = Annotated[float, Field(gt=0, lt=1)]
_RULE_LABEL = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TEXT_LENGTH, pattern=_NO_NUL)
]
_RULES_MAX = 100


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: _RULE_LABEL | None = Field(
        default=None, json_schema_extra=NOT_NULL, description="shown in the decision"
    )


class MaxPatientsRuleIn(_Rule):
    """Stop once this many patients have been treated (R ``stop_at_n``)."""

    max_patients: _N


class NAtDoseRuleIn(_Rule):
    """Stop once the dose has this many patients (R ``stop_when_n_at_dose``)."""

    n_at_dose: _N
    dose: _DOSE = "recommended"
    when_staying: bool = Field(default=False, description="only when the decision is to stay")


class DemandRuleIn(_Rule):
    """No stop for other reasons until the dose has this many patients (R ``demand_n_at_dose``)."""

    demand_n_at_dose: _N
    dose: _DOSE = "recommended"


class TooToxicIn(BaseModel):
    """Pr(p_level > threshold | data) >= confidence under the design's posterior."""

    model_config = ConfigDict(extra="forbid")

    level: _LEVEL
    confidence: _PROBABILITY
    threshold: _PROBABILITY | None = Field(
        default=None, json_schema_extra=NOT_NULL, description="default: the target"
    )
    min_n: int = Field(default=0, ge=0, le=int(LIMITS["count"].high))
    strict: bool = Field(default=False, description="> confidence instead of >=")
    eliminate: bool = Field(default=True, description="doses where it holds are inadmissible")


class TooToxicRuleIn(_Rule):
    """Stop, recommending no dose, when the level is too toxic (R ``stop_when_too_toxic``)."""

    too_toxic: TooToxicIn


class DeescalationImpossibleRuleIn(_Rule):
    """Stop, recommending no dose, when the model asks to de-escalate from the lowest dose."""

    deescalation_impossible: Literal[True]


def _connective(key: str, depth: int) -> type[BaseModel]:
    """The model of an ``all`` or ``any`` rule whose parts nest at most ``depth`` more levels."""
    parts: Any = _rule_union(depth - 1)
    model: type[BaseModel] = create_model(
        f"{key.capitalize()}RuleIn{depth}",
        __base__=_Rule,
        __doc__=f"Stop when {'every' if key == 'all' else 'any'} rule inside stops.",
        **{key: (list[parts], Field(min_length=1, max_length=_RULES_MAX))},  # type: ignore[call-overload]
    )
    return model


def _rule_union(depth: int) -> Any:
    """A rule of the expression, with ``all``/``any`` nesting at most ``depth`` levels (the
    engine's ``MAX_STOPPING_DEPTH``: a schema without recursion, which generators and readers handle)."""
    leaves: tuple[Any, ...] = (
        MaxPatientsRuleIn,
        NAtDoseRuleIn,
        DemandRuleIn,
        TooToxicRuleIn,
        DeescalationImpossibleRuleIn,
    )
    if depth <= 0:
        return typing.Union[leaves]  # noqa: UP007
    return typing.Union[(*leaves, _connective("all", depth), _connective("any", depth))]


StoppingRuleIn: Any = _rule_union(MAX_STOPPING_DEPTH)


# options whose range the schema states: the limit's name, by option (and for a float max_step)
_PROBABILITIES = {
    "target",
    "phi1",
    "phi2",
    "cutoff",
    "max_pending",
    "safety_stop_prob",
    "overdose_control",
    "overdose_cutoff",
}


def _bounded(name: str, hint: Any) -> Any:
    """The annotation (with its range) of option ``name`` of type ``hint``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        inner = [_bounded(name, a) for a in args]
        union = inner[0] if len(inner) == 1 else typing.Union[tuple(inner)]  # noqa: UP007
        return union | None if type(None) in typing.get_args(hint) else union
    if origin is tuple:
        items = typing.get_args(hint)
        probabilities: Any = list[Annotated[float, Field(gt=0, lt=1)]]
        if len(items) == 2 and items[1] is Ellipsis:
            n_max = int(LIMITS["n_doses"].high)
            return Annotated[probabilities, Field(min_length=1, max_length=n_max)]
        return Annotated[probabilities, Field(min_length=len(items), max_length=len(items))]
    if hint is ExpansionPlan:
        return ExpansionIn
    if hint is BackfillPlan:
        return BackfillIn
    if hint is StoppingRule:
        return StoppingRuleIn
    if origin is Mapping or hint is Mapping:
        return BLRMPriorIn if name == "prior" else dict[str, Any]
    if hint is float:
        if name in _PROBABILITIES:
            return Annotated[float, Field(gt=0, lt=1)]
        if name == "offset":
            return Annotated[float, Field(ge=0, lt=0.5)]
        key = {"max_step": "max_step_factor", "reference_dose": "dose_amount"}.get(name, name)
        if key in LIMITS:
            return Annotated[float, Field(ge=LIMITS[key].low, le=LIMITS[key].high)]
        return float
    if hint is int:
        if name in ("start_level", "max_step"):  # a level: at most the number of doses
            return Annotated[int, Field(ge=1, le=LIMITS["n_doses"].high)]
        if name in LIMITS:
            return Annotated[int, Field(ge=int(LIMITS[name].low), le=int(LIMITS[name].high))]
        return int
    return hint


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _design_model(method: str, cls: type, *, entry: bool = False) -> type[BaseModel]:
    """The model of a design block of ``method`` (``entry``: one of a simulation spec's
    ``designs``, with its name and engine)."""
    hints = typing.get_type_hints(cls)
    defaults = {f.name: f for f in dataclasses.fields(cls)}
    fields: dict[str, Any] = {"method": (Literal[method], ...)}
    if entry:
        fields["name"] = (NonEmptyText, Field(description="the design's name in the results"))
        fields["engine"] = (FreeText, Field(default="auto", description="auto or generic"))
    for name in cls.option_names():  # type: ignore[attr-defined]
        f = defaults[name]
        default = f.default
        if default is dataclasses.MISSING:
            fields[name] = (_bounded(name, hints[name]), ...)
        elif isinstance(default, float) and math.isnan(default):
            # optional without a default value (BLRM's target, with a prior): no NaN in the schema
            fields[name] = (
                _bounded(name, hints[name]),
                Field(default=None, json_schema_extra=_drop_default),
            )
        else:
            value = list(default) if isinstance(default, tuple) else default
            fields[name] = (_bounded(name, hints[name]), Field(default=value))
    model_name = ("DesignEntry" if entry else "Design") + "".join(
        p.capitalize() for p in method.replace("+", "p").split("-")
    )
    return create_model(
        model_name,
        __config__=ConfigDict(
            extra="forbid", json_schema_extra={"description": f"The {method} design's options"}
        ),
        **fields,
    )


#: one model per design method (options, defaults and ranges from the design class)
DESIGN_MODELS: dict[str, type[BaseModel]] = {
    method: _design_model(method, cls) for method, cls in sorted(DESIGNS.items())
}
_ENTRY_MODELS = [_design_model(m, cls, entry=True) for m, cls in sorted(DESIGNS.items())]
if typing.TYPE_CHECKING:
    DesignIn = dict[str, Any]
    DesignEntryIn = dict[str, Any]
else:
    DesignIn = Annotated[
        typing.Union[tuple(DESIGN_MODELS.values())],  # noqa: UP007
        Field(discriminator="method", description="The design: its method and options"),
    ]
    DesignEntryIn = Annotated[
        typing.Union[tuple(_ENTRY_MODELS)],  # noqa: UP007
        Field(discriminator="method", description="A named design: its method and options"),
    ]


#: the properties whose dates must not be after the server's today (what has happened)
_PAST_DATES = {"PatientRecordIn": ("infused_on", "dlt_on", "withdrawn_on")}


def _dates_until(prop: dict[str, Any], last: dt.date, what: str) -> None:
    for schema in [prop, *prop.get("anyOf", [])]:
        if schema.get("type") == "string":
            schema["pattern"] = date_pattern(last)
            schema.pop("format", None)
    prop["description"] = f"a calendar date YYYY-MM-DD from {EARLIEST_DATE} to {what}"


def state_todays_bounds(schema: dict[str, Any], today: dt.date, as_of_tolerance_days: int) -> None:
    """Write the bounds that depend on the server's today into an OpenAPI schema: the ``as_of``
    query parameter (today + the tolerance at most) and the dates of a patient record (today at
    most)."""
    latest = min(today + dt.timedelta(days=as_of_tolerance_days), LATEST_DATE)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("name") == "as_of" and parameter.get("in") == "query":
                    _dates_until(
                        parameter["schema"],
                        latest,
                        f"the server's today ({today}) + "
                        f"{as_of_tolerance_days} day; default: today",
                    )
    components = schema.get("components", {}).get("schemas", {})
    for model, names in _PAST_DATES.items():
        for name in names:
            _dates_until(components[model]["properties"][name], today, f"today ({today})")
