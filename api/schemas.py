"""Request and response schemas (pydantic 2), with the examples shown at /docs.

Trial documents, trial protocols and patient records are validated by the engine itself
(``escalation.parse_document``), exactly as the CLI validates them, so that an invalid document gets
every problem at once; their models here describe the shape in the OpenAPI schema. The SRC decision
and key requests are small and validated by these models.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.bounds import (
    NOT_NULL,
    DateText,
    DesignEntryIn,
    DesignIn,
    ExpansionFutilityIn,
    ExpansionMonitoringIn,
    FreeText,
    Label,
    NonEmptyText,
    PatientIdText,
)
from escalation import LIMITS, MAX_DOCUMENT_PATIENTS, MAX_MONITORED_PATIENTS

__all__ = [
    "DOCUMENT_MODELS",
    "AuditEntryOut",
    "DecisionJson",
    "ErrorOut",
    "HealthOut",
    "KeyCreate",
    "KeyCreatedOut",
    "KeyOut",
    "Page",
    "PatientOut",
    "PatientRecordIn",
    "PatientWithStateOut",
    "ReadyOut",
    "RecommendationOut",
    "ReproductionOut",
    "SelectionJson",
    "SimulationJobOut",
    "SimulationSpecIn",
    "SrcDecisionCreate",
    "SrcDecisionOut",
    "TrialCreate",
    "TrialDocumentIn",
    "TrialOut",
]

T = TypeVar("T")

ROLE = Literal["data-system", "src", "statistician", "admin"]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


# ---- errors ----------------------------------------------------------------------------------------
class ProblemOut(BaseModel):
    field: str = Field(description="where the problem is (JSON path, query parameter or header)")
    patient_id: str | None = Field(default=None, description="the patient concerned, if any")
    message: str = Field(description="what is wrong")


class ErrorOut(BaseModel):
    """Every error: a code, a summary and each problem with its field."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "error": "invalid_input",
                "message": "invalid document: 1 problem",
                "problems": [
                    {
                        "field": "patients[0].dose_level",
                        "patient_id": "P001",
                        "message": "unknown dose level 7 (levels are 1 to 5)",
                    }
                ],
            }
        }
    )

    error: str = Field(description="machine-readable code, e.g. invalid_input, conflict")
    message: str
    problems: list[ProblemOut]


class Page(BaseModel, Generic[T]):
    """One page of a list: ``next_offset`` is null on the last page."""

    items: list[T]
    limit: int
    offset: int
    next_offset: int | None


# ---- the trial document (shape for the OpenAPI schema; the engine validates) -----------------------
_EXAMPLE_DOSES: Any = [
    {"level": 1, "label": "0.25e6 CAR+ T cells/kg", "amount": 250000.0},
    {"level": 2, "label": "0.5e6 CAR+ T cells/kg", "amount": 500000.0},
    {"level": 3, "label": "1.0e6 CAR+ T cells/kg", "amount": 1000000.0},
]
_EXAMPLE_DESIGN: Any = {"method": "boin", "target": 0.3, "cohort_size": 3, "max_patients": 24}
_EXAMPLE_PATIENTS: Any = [
    {"id": "P001", "dose_level": 1, "infused_on": "2026-01-07", "dlt": False},
    {"id": "P002", "dose_level": 1, "infused_on": "2026-01-21", "dlt": False},
    {"id": "P003", "dose_level": 1, "infused_on": "2026-02-04", "dlt": False},
    {
        "id": "P004",
        "dose_level": 2,
        "infused_on": "2026-03-10",
        "dlt": True,
        "dlt_on": "2026-03-18",
    },
]


class DoseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: int = Field(
        ge=1, le=LIMITS["n_doses"].high, description="dose level, counted from 1 in order"
    )
    label: Label = Field(default="", description="e.g. '1.0e6 CAR+ T cells/kg'")
    amount: float | None = Field(
        default=None,
        ge=LIMITS["dose_amount"].low,
        le=LIMITS["dose_amount"].high,
        description="dose amount (cells/kg; BLRM)",
    )


class PatientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: PatientIdText
    dose_level: int = Field(ge=1, le=LIMITS["n_doses"].high)
    infused_on: DateText
    dlt: bool
    dlt_on: DateText | None = Field(default=None, description="required when dlt is true")
    withdrawn_on: DateText | None = None


Cohort = Literal["escalation", "backfill", "expansion"]


class DocumentPatientIn(PatientIn):
    """A patient of a trial document, with the whole trial's optional fields."""

    cohort: Cohort = "escalation"
    indication: NonEmptyText | None = Field(
        default=None, description="one of the trial's indications"
    )
    response: bool | None = Field(default=None, description="absent while unknown")
    response_on: DateText | None = None


def _count(description: str) -> Any:
    return Field(ge=int(LIMITS["count"].low), le=int(LIMITS["count"].high), description=description)


class CountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: int = Field(ge=1, le=LIMITS["n_doses"].high)
    n: int = _count("patients treated at the level")
    dlt: int = _count("of whom with a DLT (at most n)")


def _window() -> Any:
    return Field(
        default=30,
        ge=int(LIMITS["dlt_window_days"].low),
        le=int(LIMITS["dlt_window_days"].high),
        description="days of DLT follow-up after the infusion",
    )


def _doses() -> Any:
    return Field(min_length=1, max_length=int(LIMITS["n_doses"].high))


class CountOfLastCohortIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = Field(ge=1, le=int(LIMITS["count"].high), description="patients in the last cohort")
    dlt: int = _count("of whom with a DLT (at most n)")


class TrialDocumentIn(BaseModel):
    """A trial document, as read by ``escalation recommend`` (DESIGN.md section 3)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "design": _EXAMPLE_DESIGN,
                "doses": _EXAMPLE_DOSES,
                "dlt_window_days": 30,
                "as_of": "2026-04-20",
                "patients": _EXAMPLE_PATIENTS,
            }
        },
    )

    name: Label | None = None
    design: DesignIn
    doses: list[DoseIn] = _doses()
    dlt_window_days: int = _window()
    efficacy_window_days: int = Field(
        default=90,
        ge=int(LIMITS["efficacy_window_days"].low),
        le=int(LIMITS["efficacy_window_days"].high),
        description="days after the infusion by which a response is known (BOIN12)",
    )
    as_of: DateText | None = Field(default=None, description="required with patients")
    indications: list[NonEmptyText] | None = Field(
        default=None, description="the trial's indications", json_schema_extra={"uniqueItems": True}
    )
    patients: list[DocumentPatientIn] = Field(
        default_factory=list, max_length=MAX_DOCUMENT_PATIENTS, description="or counts"
    )
    counts: list[CountIn] = Field(
        default_factory=list,
        max_length=int(LIMITS["n_doses"].high),
        description="instead of patients",
    )
    current_level: int | None = Field(
        default=None,
        ge=1,
        le=LIMITS["n_doses"].high,
        description="with counts, for a decision (a selection needs none)",
    )
    last_cohort: CountOfLastCohortIn | None = Field(
        default=None,
        description="with counts: the most recent patients at current_level (CRM's coherence "
        "rule reads them; without it, the DLTs are taken as the most recent)",
    )


class TrialCreate(BaseModel):
    """A new trial: its protocol. Patients are added one by one by the data system."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "name": "LCAR-AIO dose exploration",
                "design": _EXAMPLE_DESIGN,
                "doses": _EXAMPLE_DOSES,
                "dlt_window_days": 30,
            }
        },
    )

    name: Label | None = None
    design: DesignIn
    doses: list[DoseIn] = _doses()
    dlt_window_days: int = _window()
    efficacy_window_days: int | None = Field(
        default=None,
        ge=int(LIMITS["efficacy_window_days"].low),
        le=int(LIMITS["efficacy_window_days"].high),
        json_schema_extra=NOT_NULL,
        description="days after the infusion by which a response is known (BOIN12, TITE-BOIN12; "
        "absent: 90)",
    )
    indications: list[NonEmptyText] | None = Field(
        default=None,
        description="the trial's indications (patients' indications are among them; the "
        "design's expansion indications too)",
        json_schema_extra={"uniqueItems": True},
    )


class PatientRecordIn(BaseModel):
    """One patient's record, as in the trial document (``id`` may be left out: the path names it)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "dose_level": 2,
                "infused_on": "2026-03-10",
                "dlt": True,
                "dlt_on": "2026-03-18",
            }
        },
    )

    id: PatientIdText | None = Field(
        default=None, json_schema_extra=NOT_NULL, description="the patient id of the path"
    )
    dose_level: int = Field(ge=1, le=LIMITS["n_doses"].high)
    infused_on: DateText = Field(description="on or before the server's today")
    dlt: bool
    dlt_on: DateText | None = Field(default=None, description="required when dlt is true")
    withdrawn_on: DateText | None = None
    cohort: Cohort = Field(
        default="escalation",
        description="escalation, backfill (treated at a lower open dose while an escalation "
        "cohort is pending) or expansion (an expansion cohort of its indication)",
    )
    indication: NonEmptyText | None = Field(
        default=None,
        description="one of the trial's indications (required for an expansion patient)",
    )
    response: bool | None = Field(default=None, description="absent or null while unknown")
    response_on: DateText | None = Field(
        default=None,
        description="when the response was assessed (with response; not before the infusion)",
    )


def _probabilities(description: str) -> Any:
    return Field(
        default=None,
        json_schema_extra=NOT_NULL,
        min_length=1,
        max_length=int(LIMITS["n_doses"].high),
        description=description,
    )


_Probability = Annotated[float, Field(ge=0, le=1)]


def _names_without_nul(schema: dict[str, Any]) -> None:
    """An object keyed by names (not null): every key non-empty and without NUL characters.
    pydantic states a key pattern as ``patternProperties``, which lets other keys through."""
    NOT_NULL(schema)
    for option in schema.get("anyOf", [schema]):
        if "patternProperties" in option:
            (values,) = option.pop("patternProperties").values()
            option["additionalProperties"] = values
            option["propertyNames"] = {"minLength": 1, "pattern": r"^[^\x00]*$"}


class ScenarioIndicationIn(BaseModel):
    """A scenario's truth for one indication of the expansion stage."""

    model_config = ConfigDict(extra="forbid")

    true_dlt_probs: list[_Probability] | None = _probabilities("one per dose level")
    true_response_probs: list[_Probability] | None = _probabilities("one per dose level")


class ScenarioIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        default=None, json_schema_extra=NOT_NULL, min_length=1, pattern=r"^[^\x00]*$"
    )
    true_dlt_probs: list[Annotated[float, Field(ge=0, le=1)]] = Field(
        min_length=1, max_length=int(LIMITS["n_doses"].high), description="one per dose level"
    )
    true_response_probs: list[Annotated[float, Field(ge=0, le=1)]] | None = Field(
        default=None,
        json_schema_extra=NOT_NULL,
        min_length=1,
        max_length=int(LIMITS["n_doses"].high),
        description="one per dose level (designs that use efficacy: BOIN12)",
    )
    tox_eff_correlation: float = Field(
        default=0.0, gt=-1, lt=1, description="latent correlation of a patient's DLT and response"
    )
    expansion: dict[NonEmptyText, ScenarioIndicationIn] | None = Field(
        default=None,
        json_schema_extra=_names_without_nul,
        description="this scenario's true probabilities in the expansion stage, by indication "
        "(each one of the spec's expansion indications; the stage's own values otherwise)",
    )


class RandomScenarioBlockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    generator: FreeText = Field(
        description="pseudo-uniform, liu-yuan, probit-gap or boin12-random (DLT and response)"
    )
    count: int = Field(ge=1, le=LIMITS["random_scenarios"].high)
    target: float = Field(gt=0, lt=1)
    levels: int = Field(ge=1, le=LIMITS["n_doses"].high)
    mu: float | None = Field(default=None, json_schema_extra=NOT_NULL, ge=0, le=10)
    gap: float | None = Field(default=None, json_schema_extra=NOT_NULL, ge=0, lt=1)
    sigma0: float | None = Field(default=None, json_schema_extra=NOT_NULL, ge=0, le=10)
    sigma: float | None = Field(default=None, json_schema_extra=NOT_NULL, ge=0, le=10)
    efficacy_target: float | None = Field(
        default=None, json_schema_extra=NOT_NULL, gt=0, lt=0.9, description="boin12-random"
    )
    u11: float | None = Field(default=None, json_schema_extra=NOT_NULL, ge=0, le=100)
    u00: float | None = Field(default=None, json_schema_extra=NOT_NULL, ge=0, le=100)
    plateau_share: float | None = Field(default=None, json_schema_extra=NOT_NULL, ge=0, le=1)
    seed: int | None = Field(default=None, ge=0, le=LIMITS["seed"].high)


class RandomScenariosIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    random: RandomScenarioBlockIn = Field(description="random scenarios")


class DltTimeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    distribution: Literal["uniform", "weibull"] = "uniform"
    late_onset_share: float = Field(
        default=0.5, gt=0, lt=1, description="weibull: share of DLTs in the window's second half"
    )


class IndicationStageIn(BaseModel):
    """One indication of the simulated expansion stage."""

    model_config = ConfigDict(extra="forbid")

    name: NonEmptyText
    accrual_per_month: float = Field(ge=0.01, le=1000, description="patients per month")
    true_dlt_probs: list[_Probability] | None = _probabilities(
        "one per dose level (default: the scenario's)"
    )
    true_response_probs: list[_Probability] | None = _probabilities(
        "one per dose level (needed with a futility rule, unless every scenario gives them)"
    )


_Levels = Annotated[
    list[Annotated[int, Field(ge=1, le=LIMITS["n_doses"].high)]],
    Field(min_length=1, json_schema_extra={"uniqueItems": True}),
]


class ExpansionStageIn(BaseModel):
    """The whole trial's expansion stage: cohorts per indication after the escalation, each
    watched by the toxicity monitoring rule (and a futility rule); the final selection on all
    the data."""

    model_config = ConfigDict(extra="forbid")

    dose_levels: Literal["selected"] | _Levels = Field(
        default="selected",
        description='"selected" (the level the escalation selected) or a list of levels',
    )
    max_per_indication: int = Field(ge=1, le=MAX_MONITORED_PATIENTS)
    monitoring: ExpansionMonitoringIn
    futility: ExpansionFutilityIn | None = Field(default=None, json_schema_extra=NOT_NULL)
    timing: Literal["arrival", "complete"] = "arrival"
    indications: list[IndicationStageIn] = Field(min_length=1)


class SimulationSpecIn(BaseModel):
    """A simulation spec, as read by ``escalation simulate`` (validated by the simulation harness)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "design": {"method": "boin", "target": 0.3},
                "scenarios": [{"name": "MTD at level 3", "true_dlt_probs": [0.05, 0.15, 0.3, 0.5]}],
                "trials": 200,
                "seed": 2026,
            }
        },
    )

    design: DesignIn | None = Field(
        default=None, json_schema_extra=NOT_NULL, description="one design, or `designs`"
    )
    name: FreeText | None = None
    dose_amounts: list[Annotated[float, Field(gt=0)]] | None = Field(
        default=None, min_length=1, description="increasing, one per level (BLRM)"
    )
    designs: list[DesignEntryIn] | None = Field(
        default=None,
        json_schema_extra=NOT_NULL,
        description="several designs, each a design block with a unique name",
    )
    scenarios: list[ScenarioIn] | RandomScenariosIn = Field(
        description="a list of scenarios, or random ones"
    )
    accrual_per_month: float = Field(
        default=2.0,
        ge=LIMITS["accrual_per_month"].low,
        le=LIMITS["accrual_per_month"].high,
        description="patients per month",
    )
    accrual: Literal["poisson", "uniform"] = Field(
        default="poisson",
        description="Poisson arrivals, or inter-arrival times U(0, 2 / rate) months (as R bfboin)",
    )
    dlt_time: DltTimeIn | None = Field(
        default=None, json_schema_extra=NOT_NULL, description="time to DLT in the window"
    )
    suspended_arrivals: Literal["wait", "lost"] = "wait"
    decision_timing: Literal["auto", "complete", "arrival"] = "auto"
    dlt_window_days: int = _window()
    efficacy_window_days: int = Field(
        default=90,
        ge=int(LIMITS["efficacy_window_days"].low),
        le=int(LIMITS["efficacy_window_days"].high),
        description="days after the infusion at which a response is assessed (BOIN12)",
    )
    response_time: DltTimeIn | None = Field(
        default=None,
        json_schema_extra=NOT_NULL,
        description="time to response in the efficacy window (absent: at the window's end)",
    )
    trials: int = Field(
        default=1000, ge=1, le=LIMITS["trials"].high, description="trials per scenario"
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=LIMITS["seed"].high,
        description="a fresh one when left out or null",
    )
    benchmark_ties: Literal["lower", "higher"] = Field(
        default="lower",
        description="which of two levels equally close to the target the benchmark selects",
    )
    unacceptable_ratio: float = Field(
        default=1.4,
        ge=1,
        le=10,
        description="no dose is correct when every true DLT probability is above this x target",
    )
    expansion: ExpansionStageIn | None = Field(
        default=None, json_schema_extra=NOT_NULL, description="the whole trial's expansion stage"
    )


DOCUMENT_MODELS: tuple[type[BaseModel], ...] = (
    TrialDocumentIn,
    TrialCreate,
    PatientRecordIn,
    SimulationSpecIn,
)


# ---- the decision JSON (as escalation.decision_to_json; unknown keys pass through) ------------------
class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class DoseEstimateJson(_Open):
    level: int
    label: str
    n: int
    n_complete: int
    dlt: int
    pending: int
    withdrawn: int
    estimate: float | None
    prob_tox_mean: float | None
    prob_tox_interval: list[float | None] | None
    prob_underdose: float | None = Field(default=None, description="BLRM: Pr(DLT rate < lower)")
    prob_target: float | None = Field(default=None, description="BLRM: Pr(target interval)")
    prob_overdose: float | None
    eliminated: bool


class PatientStateJson(_Open):
    id: str
    dose_level: int
    state: Literal["dlt", "complete", "pending", "withdrawn"]
    followup_days: int
    followup_fraction: float | None


class SelectionJson(_Open):
    """The final selection, as ``escalation select --json``."""

    dose: int | None = Field(description="the recommended dose level, or null with the reason")
    dose_label: str | None
    reason: str
    provisional: bool
    prob_overdose_definition: str | None = Field(
        default=None, description="what prob_overdose is: the event and the posterior"
    )
    estimates: list[float | None]
    prob_overdose: list[float | None]
    eliminated: list[int]
    design: dict[str, Any]
    as_of: str | None
    engine_version: str


class DecisionJson(_Open):
    """The decision, exactly as ``escalation recommend --json``.

    A design with expansion cohorts adds ``expansion``: by indication, each cohort's monitoring
    status (``dose_level``, ``n`` evaluable, ``dlt``, ``stop_at_least``, ``action`` continue or
    stop, ``reason``; a list of them with several expansion dose levels). A design with backfill
    adds ``backfill``: ``{"open_levels": [...], "closed": {level: reason}}``.
    """

    action: Literal["escalate", "stay", "de-escalate", "stop", "wait"]
    next_dose: int | None
    next_dose_label: str | None
    current_dose: int | None
    reason: str
    wait_until: str | None
    eliminated: list[int]
    admissible: list[int]
    doses: list[DoseEstimateJson]
    prob_overdose_definition: str | None = Field(
        default=None, description="what each dose's prob_overdose is: the event and the posterior"
    )
    interval_level: float | None = Field(
        default=None, description="the level of prob_tox_interval (null: no credible interval)"
    )
    rules: list[dict[str, Any]]
    final_selection: SelectionJson | None
    model: dict[str, Any] | None
    patients: list[PatientStateJson] | None
    design: dict[str, Any]
    as_of: str | None
    engine_version: str


# ---- resources ----------------------------------------------------------------------------------------
class TrialOut(BaseModel):
    id: int
    name: str | None
    design: dict[str, Any] = Field(description="every design option, defaults resolved")
    doses: list[dict[str, Any]]
    dlt_window_days: int
    efficacy_window_days: int | None = Field(
        default=None, description="days by which a response is known (null: not set, 90 days)"
    )
    indications: list[str] | None = Field(
        default=None, description="the trial's indications (null: none declared)"
    )
    n_patients: int
    frozen: bool = Field(
        description="true once a patient exists: the protocol can no longer change"
    )
    version: int = Field(description="also the ETag; send it back in If-Match to change the trial")
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime


class PatientOut(BaseModel):
    trial_id: int
    id: str
    dose_level: int
    infused_on: dt.date
    dlt: bool
    dlt_on: dt.date | None
    withdrawn_on: dt.date | None
    cohort: Cohort = Field(default="escalation", description="escalation, backfill or expansion")
    indication: str | None = Field(default=None, description="one of the trial's indications")
    response: bool | None = Field(default=None, description="null while unknown")
    response_on: dt.date | None = None
    version: int = Field(description="1 for a new record, +1 for each change; also the ETag")
    updated_at: dt.datetime
    updated_by: str


class PatientWithStateOut(PatientOut):
    """A patient's record and what is known of it on the list's ``as_of``."""

    as_of: dt.date = Field(description="the date the state describes")
    state: Literal["dlt", "complete", "pending", "withdrawn"] = Field(
        description="on as_of: dlt (a DLT known by then), complete (the whole window passed "
        "without one), withdrawn (left before the window ended), pending (inside the window)"
    )
    followup_days: int = Field(
        description="days of follow-up on as_of (to the DLT or the withdrawal; the whole window "
        "once complete)"
    )
    window_ends_on: dt.date = Field(
        description="infused_on + dlt_window_days: the patient is complete from that day if no "
        "DLT was seen"
    )


class RecommendationOut(BaseModel):
    id: int
    trial_id: int
    as_of: dt.date
    decision: DecisionJson
    snapshot: dict[str, Any] = Field(description="the trial document the decision was computed on")
    data_hash: str = Field(description="SHA-256 of the patient data snapshot and as_of")
    design_hash: str = Field(description="SHA-256 of the design, doses and DLT window")
    engine_version: str
    hash: str = Field(description="SHA-256 of both hashes, the engine version and the decision")
    created_at: dt.datetime
    created_by: str


class ReproductionOut(BaseModel):
    recommendation_id: int
    reproduced: bool = Field(description="snapshot intact and the same decision recomputed")
    snapshot_intact: bool = Field(description="the stored snapshot still has its stored hashes")
    same_decision: bool
    stored_engine_version: str
    current_engine_version: str
    differences: list[str] = Field(description="top-level decision keys that differ")


class SrcDecisionCreate(BaseModel):
    """The SRC's decision on a recommendation."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "recommendation_id": 1,
                    "action": "accept",
                    "rationale": "Agreed at the SRC meeting of 2026-08-21.",
                },
                {
                    "recommendation_id": 1,
                    "action": "override",
                    "dose_level": 2,
                    "rationale": "Grade 3 CRS at level 3 under review; stay one cohort lower.",
                },
            ]
        },
    )

    recommendation_id: int = Field(ge=1, le=2**31 - 1)
    action: Literal["accept", "override"]
    dose_level: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="accept: the recommended level (may be left out); override: the SRC's "
        "level, or null to stop",
    )
    rationale: Text = Field(default="", max_length=10000, description="required to override")
    confirm_risk: bool = Field(
        default=False,
        description="required (true) for an override that skips an untried dose level or enters "
        "an eliminated one; the decision then records what it does in `risk_flags`",
    )
    supersedes: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="the id of a decision of this trial made in error, which this one replaces "
        "(both are kept and audited)",
    )
    supersede_reason: Text = Field(
        default="", max_length=10000, description="required with `supersedes`: why"
    )


class SrcDecisionOut(BaseModel):
    id: int
    trial_id: int
    recommendation_id: int
    action: Literal["accept", "override"]
    dose_level: int | None
    recommended_dose: int | None
    rationale: str
    decided_at: dt.datetime
    decided_by: str
    risk_flags: list[str] = Field(
        default_factory=list, description="what a confirmed risky override does"
    )
    supersedes: int | None = Field(default=None, description="the decision this one replaces")
    supersede_reason: str | None = None
    superseded_by: int | None = Field(
        default=None, description="the decision that replaced this one (null: in force)"
    )


class AuditEntryOut(BaseModel):
    seq: int
    at: str
    actor: str = Field(description="the API key (key:ID:NAME) or cli:USER")
    action: str
    trial_id: int | None
    entity_type: str
    entity_id: str
    before: Any | None
    after: Any | None
    prev_hash: str
    hash: str


class SimulationJobOut(BaseModel):
    id: int
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress_done: int
    progress_total: int | None
    progress_fraction: float = Field(
        ge=0, le=1, description="the fraction of the simulated trials done (1 when succeeded)"
    )
    result: dict[str, Any] | None = Field(description="as `escalation simulate --json`, when done")
    error: str | None
    created_at: dt.datetime
    created_by: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class KeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"example": {"role": "src", "name": "SRC chair"}}
    )

    role: ROLE
    name: Text = Field(min_length=1, max_length=200)


class KeyOut(BaseModel):
    id: int
    name: str
    role: str
    key_prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class KeyCreatedOut(KeyOut):
    key: str = Field(description="the key itself: shown only once, store it now")


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    status: Literal["ready"]
    database: Literal["sqlite", "postgresql"]
    schema_revision: str
