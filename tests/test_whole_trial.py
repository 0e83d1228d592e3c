"""The whole trial (issue 12, points 1, 3 and 5): cohorts, indications and responses in the trial
document; expansion cohorts per indication watched by the toxicity monitoring rule; the final
selection from all the data.

The monitoring status is checked against R's stoppingrule boundaries (tests/data/reference/
stoppingrule_bb.json, ``calc.rule.bin(type = "BB")``), not against the engine's own monitor.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalation import (
    DESIGNS,
    ExpansionPlan,
    FutilityRule,
    InvalidDesignError,
    InvalidTrialDataError,
    Patient,
    TrialData,
    decision_to_json,
    document_to_json,
    parse_document,
    selection_to_json,
)
from tests.designs_catalog import OPTIONS
from tests.reference import load

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "whole_trial_example.json"
ISSUE_CASE = next(
    c
    for c in load("stoppingrule_bb.json")["cases"]
    if c["id"] == "issue_p0.20_a0.10_beta0.6-2.4_n30"
)
MONITORING = {"p0": 0.2, "alpha": 0.1, "prior": [0.6, 2.4]}


def example() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return doc


def problems_of(doc: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    with pytest.raises(InvalidTrialDataError) as e:
        parse_document(doc)
    return [(p.field, p.patient_id, p.message) for p in e.value.problems]


def fields_of(doc: dict[str, Any]) -> set[tuple[str, str | None]]:
    return {(f, pid) for f, pid, _ in problems_of(doc)}


def expansion_doc(
    evaluable: list[bool],
    *,
    pending: int = 0,
    indication: str = "SLE",
    max_per_indication: int = 30,
    dose_levels: list[int] | None = None,
    method: str = "boin",
) -> dict[str, Any]:
    """A trial with 3 escalation patients and an expansion cohort at level 2 (DLT flags given)."""
    patients: list[dict[str, Any]] = [
        {"id": f"E{k}", "dose_level": 1, "infused_on": "2026-01-05", "dlt": False} for k in range(3)
    ]
    for k, dlt in enumerate(evaluable):
        p = {"id": f"X{k}", "dose_level": 2, "infused_on": "2026-02-01", "dlt": dlt}
        if dlt:
            p["dlt_on"] = "2026-02-10"
        patients.append(p | {"cohort": "expansion", "indication": indication})
    for k in range(pending):
        patients.append(
            {
                "id": f"Q{k}",
                "dose_level": 2,
                "infused_on": "2026-05-25",
                "dlt": False,
                "cohort": "expansion",
                "indication": indication,
            }
        )
    design: dict[str, Any] = {"method": method, **OPTIONS[method](3)}
    if method == "blrm":
        design.pop("dose_amounts")
    design["expansion"] = {
        "indications": ["SLE", "AAV"],
        "dose_levels": dose_levels or [2],
        "max_per_indication": max_per_indication,
        "monitoring": copy.deepcopy(MONITORING),
    }
    design = {k: list(v) if isinstance(v, tuple) else v for k, v in design.items()}
    return {
        "design": design,
        "doses": [{"level": i + 1, "label": f"L{i + 1}", "amount": 1e6 * 2**i} for i in range(3)],
        "as_of": "2026-06-01",
        "patients": patients,
    }


# ---- 1. the trial document -------------------------------------------------------------------------
def test_example_parses_with_cohorts_indications_and_responses() -> None:
    doc = parse_document(example())
    by_id = {p.patient_id: p for p in doc.data.patients}
    assert by_id["P001"].cohort == "escalation" and by_id["P001"].indication == "SLE"
    assert by_id["P016"].cohort == "backfill"
    assert by_id["S02"].cohort == "expansion" and by_id["S02"].indication == "SLE"
    assert by_id["P003"].response is True and by_id["P003"].response_day is not None
    assert by_id["S01"].response is None
    assert doc.data.indications == ("SLE", "AAV", "SSc", "IIM")


@pytest.mark.parametrize(
    "name",
    [
        "whole_trial_example.json",
        "lcar_aio_example.json",
        "counts_example.json",
        "blrm_example.json",
        "tite_example.json",
    ],
)
def test_document_round_trip(name: str) -> None:
    doc = parse_document(json.loads((REPO / "examples" / name).read_text()))
    again = parse_document(document_to_json(doc))
    assert again.data == doc.data
    assert again.data.patients == doc.data.patients
    assert again.design == doc.design
    assert document_to_json(again) == document_to_json(doc)


def test_patient_stage_problems_are_named() -> None:
    doc = example()
    doc["patients"][0]["cohort"] = "maintenance"
    doc["patients"][1]["indication"] = "GPA"
    doc["patients"][2]["response"] = "yes"
    doc["patients"][3]["response_on"] = "2025-01-01"  # before the infusion
    doc["patients"][4]["response_on"] = "2027-01-01"  # after as_of
    del doc["patients"][5]["response"]  # a date without a response
    del doc["patients"][17]["indication"]  # S01: an expansion patient without indication
    doc["patients"][6]["indication"] = 7
    found = problems_of(doc)
    fields = {(f, pid) for f, pid, _ in found}
    assert ("patients[0].cohort", "P001") in fields
    assert ("patients[1].indication", "P002") in fields
    assert ("patients[2].response", "P003") in fields
    assert ("patients[3].response_on", "P004") in fields
    assert ("patients[4].response_on", "P005") in fields
    assert ("patients[5].response_on", "P006") in fields
    assert ("patients[17].indication", "S01") in fields
    assert ("patients[6].indication", "P007") in fields
    messages = dict(((f, pid), m) for f, pid, m in found)
    assert "before the infusion" in messages[("patients[3].response_on", "P004")]
    assert "after the as-of date" in messages[("patients[4].response_on", "P005")]
    assert "GPA" in messages[("patients[1].indication", "P002")]


def test_indication_without_declared_indications() -> None:
    doc = expansion_doc([False])
    del doc["design"]["expansion"]
    doc["patients"][3].pop("cohort")
    assert ("patients[3].indication", "X0") in fields_of(doc)


def test_expansion_patients_checked_against_the_plan() -> None:
    doc = expansion_doc([False, False, False], max_per_indication=2)
    doc["patients"][3]["dose_level"] = 3  # not an expansion dose level
    doc["indications"] = ["SLE", "AAV", "SSc"]
    doc["patients"][4]["indication"] = "SSc"  # a trial indication without expansion cohort
    fields = fields_of(doc)
    assert ("patients[3].dose_level", "X0") in fields
    assert ("patients[4].indication", "X1") in fields
    # three at (SLE, level 2) with a cap of 2 once the others are fixed: the last infused is named
    doc = expansion_doc([False, False, False], max_per_indication=2)
    doc["patients"][5]["infused_on"] = "2026-01-20"
    assert fields_of(doc) == {("patients[4].cohort", "X1")}


def test_expansion_patient_without_plan() -> None:
    doc = expansion_doc([False])
    del doc["design"]["expansion"]
    doc["indications"] = ["SLE"]
    assert fields_of(doc) == {("patients[3].cohort", "X0")}


@pytest.mark.parametrize("method", sorted(DESIGNS))
def test_expansion_option_is_validated_for_every_design(method: str) -> None:
    doc = expansion_doc([False], method=method)
    parse_document(doc)  # valid as given
    plan = doc["design"]["expansion"]
    plan["monitoring"] = {"p0": 1.5, "alpha": 0.1, "prior": [0.6, 0], "extra": 1}
    plan["dose_levels"] = [4]
    plan["max_per_indication"] = 0
    plan["indications"] = ["SLE", "SLE"]
    fields = {f for f, _ in fields_of(doc)}
    assert {
        "design.expansion.monitoring.p0",
        "design.expansion.monitoring.prior[1]",
        "design.expansion.monitoring.extra",
        "design.expansion.max_per_indication",
        "design.expansion.indications[1]",
    } <= fields
    doc = expansion_doc([False], method=method)
    doc["design"]["expansion"]["dose_levels"] = [4]
    assert "design.expansion.dose_levels[0]" in {f for f, _ in fields_of(doc)}
    doc = expansion_doc([False], method=method)
    del doc["design"]["expansion"]["monitoring"]["alpha"]
    doc["design"]["expansion"]["color"] = "red"
    assert {"design.expansion.monitoring.alpha", "design.expansion.color"} <= {
        f for f, _ in fields_of(doc)
    }


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("indications", None, "indications"),
        ("indications", "SLE", "indications"),
        ("dose_levels", None, "dose_levels"),
        ("max_per_indication", None, "max_per_indication"),
        ("max_per_indication", 1001, "max_per_indication"),
        ("monitoring", None, "monitoring"),
        ("monitoring", {"p0": None, "alpha": 0.1, "prior": None}, "monitoring.p0"),
        ("monitoring", {"p0": 0.2, "alpha": 0.1, "prior": None}, "monitoring.prior"),
    ],
)
def test_malformed_expansion_values_are_problems_not_crashes(
    key: str, value: Any, field: str
) -> None:
    doc = expansion_doc([False])
    doc["design"]["expansion"][key] = value
    assert f"design.expansion.{field}" in {f for f, _ in fields_of(doc)}


def test_plan_indications_must_be_trial_indications() -> None:
    doc = expansion_doc([False])
    doc["indications"] = ["SLE"]
    assert ("design.expansion.indications[1]", None) in fields_of(doc)


def test_null_indications_mean_none_declared() -> None:
    """``"indications": null`` is the field left out (the HTTP schemas allow null): the plan's
    indications are the trial's, and nothing fails (it raised a TypeError, a 500 over HTTP)."""
    doc = expansion_doc([False])
    doc.pop("indications", None)
    without = parse_document(doc)
    assert parse_document(doc | {"indications": None}).data == without.data


def test_plan_rejects_bad_values_directly() -> None:
    with pytest.raises(InvalidDesignError) as e:
        ExpansionPlan(
            indications=(), dose_levels=(0,), max_per_indication=5, p0=0.2, alpha=2.0, prior=(1, 1)
        )
    assert {p.field for p in e.value.problems} == {
        "expansion.indications",
        "expansion.dose_levels[0]",
        "expansion.monitoring.alpha",
    }


# ---- 3. expansion per indication -----------------------------------------------------------------------
def r_boundary(n: int) -> int | None:
    """stoppingrule's rejection boundary at n (a boundary above n: no stop at n)."""
    b = int(ISSUE_CASE["reject_bdry"][n - 1])
    return b if b <= n else None


CASES = [
    (n, y)
    for n in (1, 2, 3, 4, 5, 7, 10, 15, 20, 28)
    for b in [r_boundary(n)]
    for y in ([b - 1, b] if b is not None else [0, n])
]


@pytest.mark.parametrize(("n", "y"), CASES, ids=[f"n{n}-y{y}" for n, y in CASES])
def test_monitoring_status_matches_stoppingrule(n: int, y: int) -> None:
    doc = parse_document(expansion_doc([k < y for k in range(n)], pending=1))
    decision = doc.design.decide(doc.data)
    sle, aav = decision.expansion
    bound = r_boundary(n)
    assert (sle.indication, sle.dose_level, sle.n, sle.dlt, sle.pending) == ("SLE", 2, n, y, 1)
    assert sle.stop_at_least == bound
    assert sle.action == ("stop" if bound is not None and y >= bound else "continue")
    assert (aav.n, aav.dlt, aav.action) == (0, 0, "continue")
    payload = decision_to_json(decision, doc)["expansion"]
    assert payload["SLE"]["stop_at_least"] == bound and payload["SLE"]["pending"] == 1
    assert set(payload) == {"SLE", "AAV"}


def test_pending_and_withdrawn_expansion_patients_are_not_evaluable() -> None:
    raw = expansion_doc([True, True], pending=3)
    raw["patients"][-1]["withdrawn_on"] = "2026-05-28"
    doc = parse_document(raw)
    (sle, _aav) = doc.design.decide(doc.data).expansion
    assert (sle.n, sle.dlt, sle.pending, sle.withdrawn, sle.n_treated) == (2, 2, 2, 1, 5)
    assert sle.stop_at_least == r_boundary(2) and sle.action == "continue"
    assert "2 patients pending" in sle.reason


def test_full_cohort_stops_with_its_own_reason() -> None:
    doc = parse_document(expansion_doc([False] * 4, pending=1, max_per_indication=5))
    (sle, aav) = doc.design.decide(doc.data).expansion
    assert sle.action == "stop" and "cohort is full" in sle.reason and sle.n == 4
    assert aav.action == "continue"


def test_several_dose_levels_give_a_list_per_indication() -> None:
    doc = parse_document(expansion_doc([True, True, True], dose_levels=[2, 3]))
    payload = decision_to_json(doc.design.decide(doc.data), doc)["expansion"]
    assert [s["dose_level"] for s in payload["SLE"]] == [2, 3]
    assert [(s["n"], s["dlt"], s["action"]) for s in payload["SLE"]] == [
        (3, 3, "stop"),  # R: 3 DLTs in 3 patients stop (boundary 3)
        (0, 0, "continue"),
    ]


@pytest.mark.parametrize("method", ["boin", "crm"])
def test_escalation_decision_ignores_expansion_patients(method: str) -> None:
    raw = expansion_doc([True, True, True, False], method=method)
    without = copy.deepcopy(raw)
    without["patients"] = [p for p in raw["patients"] if p.get("cohort") != "expansion"]
    with_exp, no_exp = parse_document(raw), parse_document(without)
    a = decision_to_json(with_exp.design.decide(with_exp.data), with_exp)
    b = decision_to_json(no_exp.design.decide(no_exp.data), no_exp)
    for key in ("action", "next_dose", "current_dose", "reason", "doses", "rules"):
        assert a[key] == b[key], key


# ---- 5. the recommended dose regimen from all data ------------------------------------------------------
def relabelled(raw: dict[str, Any]) -> dict[str, Any]:
    """The same patients, every one an escalation patient (expansion option dropped)."""
    out = copy.deepcopy(raw)
    out["design"].pop("expansion")
    for p in out["patients"]:
        p.pop("cohort", None)
        p.pop("indication", None)
    return out


# 3+3's MTD is a state of its path (the rule's verdict at the current dose, the level of the last
# escalation cohort), not an estimate from the data: relabelling expansion patients as escalation
# moves the current dose, so the same-data-same-answer property is for the estimating designs.
@pytest.mark.parametrize("method", [m for m in sorted(DESIGNS) if m != "3+3"])
def test_select_on_all_data_equals_relabelled(method: str) -> None:
    raw = expansion_doc([True, True, True, False, False, False], method=method)
    doc, same = parse_document(raw), parse_document(relabelled(raw))
    a, b = doc.design.select(doc.data), same.design.select(same.data)
    assert (a.dose_level, a.estimates, a.prob_overdose, a.eliminated) == (
        b.dose_level,
        b.estimates,
        b.prob_overdose,
        b.eliminated,
    )
    assert a.data_used == {"escalation": 3, "backfill": 0, "expansion": 6}
    assert b.data_used == {"escalation": 9, "backfill": 0, "expansion": 0}
    assert [d.n for d in a.doses] == [3, 6, 0]


def test_select_uses_expansion_data_where_it_matters() -> None:
    # escalation alone: 0/3 at level 1, 0/3 at level 2 (level 2 selected); the expansion at level
    # 2 adds 5 DLTs in 6 patients: 5 in 9 eliminates level 2 (BOIN's table at n = 9), so on all
    # the data level 1 is the recommended dose
    raw = expansion_doc([True, True, True, True, True, False])
    for k in range(3):
        raw["patients"].append(
            {"id": f"F{k}", "dose_level": 2, "infused_on": "2026-01-20", "dlt": False}
        )
    doc = parse_document(raw)
    escalation_only = doc.design.select(doc.data.of_cohorts(("escalation", "backfill")))
    whole = doc.design.select(doc.data)
    assert escalation_only.dose_level == 2
    assert whole.dose_level == 1
    payload = selection_to_json(whole, doc)
    assert payload["data_used"] == {"escalation": 6, "backfill": 0, "expansion": 6}
    assert [d["n"] for d in payload["doses"]] == [3, 9, 0]
    assert [d["dlt"] for d in payload["doses"]] == [0, 5, 0]
    assert 2 in whole.eliminated and 2 not in escalation_only.eliminated


def stopping_doc(method: str) -> dict[str, Any]:
    """:func:`test_select_uses_expansion_data_where_it_matters`'s trial, with max_patients = 6
    escalation patients reached: the escalation decision is to stop (3+3: 0/3 at the top dose
    without the rule's 6 patients there is not a stop, so it gets a third dose-2 cohort)."""
    raw = expansion_doc([True, True, True, True, True, False], method=method)
    for k in range(3):
        raw["patients"].append(
            {"id": f"F{k}", "dose_level": 2, "infused_on": "2026-01-20", "dlt": False}
        )
    raw["design"]["max_patients"] = 6
    if method == "3+3":
        raw["design"].pop("max_patients")
        raw["design"]["allow_deescalation"] = False
        raw["doses"] = raw["doses"][:2]
        for k in range(3):
            raw["patients"].append(
                {
                    "id": f"G{k}",
                    "dose_level": 2,
                    "infused_on": "2026-01-25",
                    "dlt": k == 0,
                    **({"dlt_on": "2026-02-01"} if k == 0 else {}),
                }
            )
    return raw


# The final selection inside a stop decision is the design's select on all the data (issue 12,
# point 5): before, it used the escalation and backfill patients only.
@pytest.mark.parametrize("method", sorted(DESIGNS))
def test_stop_decision_selects_from_all_data(method: str) -> None:
    doc = parse_document(stopping_doc(method))
    decision = doc.design.decide(doc.data)
    assert decision.action == "stop", decision.reason
    assert decision.selection == doc.design.select(doc.data)
    n_escalation = 9 if method == "3+3" else 6
    assert decision.selection.data_used == {
        "escalation": n_escalation,
        "backfill": 0,
        "expansion": 6,
    }
    assert decision.reason.endswith(
        f"The final selection uses all the data ({n_escalation} escalation, 6 expansion patients)."
    )
    assert sum(d.n for d in decision.selection.doses) == n_escalation + 6
    # the escalation decision itself still ignores the expansion patients
    assert [d.n for d in decision.doses][:2] == [3, n_escalation - 3]


def test_stop_decision_selection_changes_with_expansion_data() -> None:
    # BOIN: on the escalation data alone level 2 would be selected (0/3, 0/3); the expansion's
    # 5 DLTs in 6 at level 2 eliminate it (5 in 9, BOIN's table), so the stop selects level 1
    doc = parse_document(stopping_doc("boin"))
    decision = doc.design.decide(doc.data)
    escalation_only = doc.design.select(doc.data.escalation_data())
    assert escalation_only.dose_level == 2
    assert decision.selection is not None and decision.selection.dose_level == 1
    assert 2 in decision.selection.eliminated
    payload = decision_to_json(decision, doc)["final_selection"]
    assert payload["dose"] == 1
    assert payload["data_used"] == {"escalation": 6, "backfill": 0, "expansion": 6}


def test_stop_decision_without_other_cohorts_is_unchanged() -> None:
    raw = stopping_doc("crm")
    raw["patients"] = [p for p in raw["patients"] if p.get("cohort") != "expansion"]
    doc = parse_document(raw)
    decision = doc.design.decide(doc.data)
    assert decision.action == "stop"
    assert "final selection uses all the data" not in decision.reason
    assert decision.selection == doc.design.select(doc.data)


def test_selection_reports_indications_and_responses() -> None:
    doc = parse_document(example())
    payload = selection_to_json(doc.design.select(doc.data), doc)
    patients = example()["patients"]
    for name in ("SLE", "AAV"):
        mine = [p for p in patients if p.get("indication") == name]
        known = [p["response"] for p in mine if "response" in p]
        row = payload["indications"][name]
        assert row["n"] == len(mine)
        assert row["dlt"] == sum(p["dlt"] for p in mine)
        assert (row["n_response_known"], row["responses"]) == (len(known), sum(known))
    assert payload["indications"]["SSc"]["n"] == 0 and payload["indications"]["SSc"]["rate"] is None
    assert payload["data_used"] == {"escalation": 15, "backfill": 2, "expansion": 13}
    assert sum(d["n"] for d in payload["doses"]) == len(patients)


# ---- reordering patients changes nothing ------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(order=st.permutations(range(30)), method=st.sampled_from(["boin", "tite-crm"]))
def test_reordering_patients_changes_nothing(order: list[int], method: str) -> None:
    raw = example()
    assert len(raw["patients"]) == 30
    if method != "boin":
        raw["design"] |= {"method": method, "skeleton": [0.05, 0.12, 0.25, 0.4]}
    doc = parse_document(raw)
    shuffled = copy.deepcopy(raw)
    shuffled["patients"] = [raw["patients"][i] for i in order]
    other = parse_document(shuffled)
    a = decision_to_json(doc.design.decide(doc.data), doc)
    b = decision_to_json(other.design.decide(other.data), other)
    a.pop("patients"), b.pop("patients")
    assert a == b
    assert selection_to_json(doc.design.select(doc.data), doc) == selection_to_json(
        other.design.select(other.data), other
    )


def test_core_objects_carry_the_fields_frozen() -> None:
    p = Patient(
        patient_id="S1",
        dose_level=1,
        infused_day=0,
        cohort="expansion",
        indication="SLE",
        response=True,
        response_day=20,
    )
    with pytest.raises(AttributeError):
        p.cohort = "escalation"  # type: ignore[misc]
    data = TrialData(n_doses=1, patients=(p,), as_of_day=40, indications=("SLE",))
    assert data.n_by_cohort() == {"escalation": 0, "backfill": 0, "expansion": 1}
    with pytest.raises(InvalidTrialDataError) as e:
        TrialData(n_doses=1, patients=(p,), as_of_day=10, indications=("SLE",))
    assert [x.field for x in e.value.problems] == ["patients[0].response_on"]


def test_decision_plot_uses_the_decision_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from simulations import decision_plot

    raw = example()
    raw["design"] |= {"method": "crm", "skeleton": [0.05, 0.12, 0.25, 0.4]}
    seen: list[Any] = []

    class Figure:
        def savefig(self, path: Path, format: str) -> None:
            Path(path).write_text("")

    def capture(doc: Any, decision: Any, bands: Any) -> Figure:
        seen.append(bands)
        return Figure()

    monkeypatch.setattr(decision_plot, "decision_figure", capture)
    doc = parse_document(raw)
    decision_plot.write_decision_plot(doc, tmp_path / "d.svg")
    without = copy.deepcopy(raw)
    without["patients"] = [p for p in raw["patients"] if p.get("cohort") != "expansion"]
    other = parse_document(without)
    assert seen[0] == other.design.posterior_bands(other.data)
    assert seen[0] != doc.design.posterior_bands(doc.data)


# ---- 3. the BOP2 futility rule of the expansion cohorts ---------------------------------------------
FUTILITY = {"response_null": 0.2, "looks": [5, 10], "lambda": 0.9, "gamma": 1.0}


def futility_doc(responses: list[bool | None], **futility: Any) -> dict[str, Any]:
    """:func:`expansion_doc` with no DLT, the given responses (None: unknown) and a futility rule."""
    raw = expansion_doc([False] * len(responses), max_per_indication=10)
    raw["design"]["expansion"]["futility"] = FUTILITY | futility
    expansion = [p for p in raw["patients"] if p.get("cohort") == "expansion"]
    for k, (p, r) in enumerate(zip(expansion, responses, strict=True)):
        if r is not None:
            p["response"] = r
            p["response_on"] = f"2026-03-{k + 1:02d}"
    return raw


def test_futility_stops_a_cohort_below_the_bop2_boundary() -> None:
    rule = FutilityRule(response_null=0.2, looks=(5, 10), lambda_=0.9, gamma=1.0)
    need = rule.continue_at_least[0]
    assert need >= 1
    # fewer responses than needed in the first 5 known: futile
    raw = futility_doc([True] * (need - 1) + [False] * (6 - need))
    doc = parse_document(raw)
    sle, aav = doc.design.decide(doc.data).expansion
    assert sle.futility is not None and sle.futility.futile
    assert sle.action == "stop" and sle.reason.startswith("Stop for futility: ")
    assert aav.action == "continue" and aav.futility is not None and aav.futility.look == 5
    payload = decision_to_json(doc.design.decide(doc.data), doc)["expansion"]["SLE"]
    assert payload["futility"]["futile"] is True
    assert payload["futility"]["continue_at_least"] == need
    assert payload["futility"]["look"] == 5


def test_futility_looks_at_responses_in_the_order_they_were_known() -> None:
    rule = FutilityRule(response_null=0.2, looks=(5, 10), lambda_=0.9, gamma=1.0)
    need = rule.continue_at_least[0]
    # enough responses among the first 5 known, later non-responders do not undo the look
    raw = futility_doc([True] * need + [False] * (5 - need) + [False])
    doc = parse_document(raw)
    sle = doc.design.decide(doc.data).expansion[0]
    assert sle.futility is not None and not sle.futility.futile
    assert sle.action == "continue" and sle.futility.look == 10
    assert "Futility: " in sle.reason
    # the same responses known in the reverse order: the first 5 known are the non-responders
    for p in raw["patients"]:
        if "response_on" in p:
            day = int(p["response_on"][-2:])
            p["response_on"] = f"2026-03-{20 - day:02d}"
    other = parse_document(raw)
    assert other.design.decide(other.data).expansion[0].futility.futile  # type: ignore[union-attr]


def test_unknown_responses_are_not_counted() -> None:
    doc = parse_document(futility_doc([None] * 6))
    sle = doc.design.decide(doc.data).expansion[0]
    assert sle.futility is not None and sle.futility.n == 0 and not sle.futility.futile


def test_futility_block_round_trips_and_is_calibrated_when_asked() -> None:
    doc = parse_document(futility_doc([True]))
    again = parse_document(document_to_json(doc))
    assert again.design == doc.design
    plan = doc.design.expansion
    assert plan is not None and plan.futility is not None and plan.futility.looks == (5, 10)
    raw = futility_doc([True])
    raw["design"]["expansion"]["futility"] = {
        "response_null": 0.2,
        "response_alt": 0.4,
        "alpha": 0.1,
        "looks": [5],
    }
    calibrated = parse_document(raw).design.expansion
    assert calibrated is not None and calibrated.futility is not None
    rule = calibrated.futility
    assert rule.looks == (5, 10)  # the last look is max_per_indication
    assert rule.operating_characteristics(0.2).go_prob <= 0.1
    assert document_to_json(parse_document(raw))["design"]["expansion"]["futility"]["lambda"] == (
        rule.lambda_
    )


def test_futility_problems_are_named() -> None:
    raw = futility_doc([True])
    raw["design"]["expansion"]["futility"] = {
        "response_null": 1.2,
        "looks": [5, 40],
        "lambda": 0.9,
        "extra": 1,
    }
    fields = {f for f, _ in fields_of(raw)}
    assert {
        "design.expansion.futility.response_null",
        "design.expansion.futility.looks",
        "design.expansion.futility.gamma",
        "design.expansion.futility.extra",
    } <= fields


def test_recommend_cli_shows_the_futility_boundary(tmp_path: Path) -> None:
    from escalation.cli import main

    path = tmp_path / "doc.json"
    path.write_text(json.dumps(futility_doc([False] * 6)))
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["recommend", str(path)])
    text = out.getvalue()
    assert "BOP2 futility" in text and "Continue if resp. >=" in text
    assert "Stop for futility" in text
