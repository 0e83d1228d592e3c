"""The trial document: parsing, and one bad-input test per validation rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from escalation import BOIN, InvalidTrialDataError
from escalation.documents import decision_to_json, parse_document, selection_to_json
from tests.conftest import boin_doc

GOOD = boin_doc(
    [
        {"id": "P1", "dose_level": 1, "infused_on": "2026-01-01", "dlt": False},
        {
            "id": "P2",
            "dose_level": 1,
            "infused_on": "2026-01-08",
            "dlt": True,
            "dlt_on": "2026-01-20",
        },
        {"id": "P3", "dose_level": 1, "infused_on": "2026-05-20", "dlt": False},
    ]
)


def test_parses_dates_into_study_days_and_states() -> None:
    doc = parse_document(GOOD)
    assert isinstance(doc.design, BOIN)
    assert doc.design.target == 0.3
    s = doc.data.summary
    assert s.n_complete.tolist() == [2, 0, 0, 0, 0]
    assert s.n_pending.tolist() == [1, 0, 0, 0, 0]
    assert s.followup_days.tolist() == [30, 12, 12]
    assert doc.day_to_date(doc.data.as_of_day).isoformat() == "2026-06-01"


def test_counts_form() -> None:
    doc = parse_document(
        {
            "design": {"method": "boin", "target": 0.25},
            "doses": [{"level": 1}, {"level": 2}, {"level": 3}],
            "counts": [{"level": 1, "n": 3, "dlt": 0}, {"level": 2, "n": 3, "dlt": 1}],
            "current_level": 2,
        }
    )
    assert doc.data.summary.n_complete.tolist() == [3, 3, 0]
    assert doc.data.current_dose_level == 2


def _mutate(path: list[Any], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


_DELETE = object()

BAD = [
    ("unknown dose level", ["patients", 0, "dose_level"], 9, "patients[0].dose_level", "P1"),
    ("dose level not integer", ["patients", 0, "dose_level"], "2", "patients[0].dose_level", "P1"),
    ("duplicate id", ["patients", 1, "id"], "P1", "patients[1].id", "P1"),
    ("DLT before infusion", ["patients", 1, "dlt_on"], "2026-01-02", "patients[1].dlt_on", "P2"),
    ("DLT after window", ["patients", 1, "dlt_on"], "2026-02-20", "patients[1].dlt_on", "P2"),
    ("dlt without dlt_on", ["patients", 1, "dlt_on"], _DELETE, "patients[1].dlt_on", "P2"),
    ("dlt_on without dlt", ["patients", 0, "dlt_on"], "2026-01-05", "patients[0].dlt_on", "P1"),
    (
        "infusion after as_of",
        ["patients", 2, "infused_on"],
        "2026-06-05",
        "patients[2].infused_on",
        "P3",
    ),
    ("DLT after as_of", ["as_of"], "2026-01-15", "patients[1].dlt_on", "P2"),
    ("malformed date", ["patients", 0, "infused_on"], "2026-13-01", "patients[0].infused_on", "P1"),
    ("date not a string", ["patients", 0, "infused_on"], 20260101, "patients[0].infused_on", "P1"),
    ("missing infusion", ["patients", 0, "infused_on"], _DELETE, "patients[0].infused_on", "P1"),
    ("dlt not boolean", ["patients", 0, "dlt"], "no", "patients[0].dlt", "P1"),
    ("unknown patient field", ["patients", 0, "grade"], 3, "patients[0].grade", "P1"),
    (
        "withdrawn after window",
        ["patients", 0, "withdrawn_on"],
        "2026-02-15",
        "patients[0].withdrawn_on",
        "P1",
    ),
    ("target above 1", ["design", "target"], 1.3, "design.target", None),
    ("target zero", ["design", "target"], 0, "design.target", None),
    ("target missing", ["design", "target"], _DELETE, "design.target", None),
    ("target not a number", ["design", "target"], "0.3", "design.target", None),
    ("unknown method", ["design", "method"], "mystery", "design.method", None),
    ("unknown option", ["design", "skeleton_x"], 1, "design.skeleton_x", None),
    ("cutoff outside (0,1)", ["design", "cutoff"], 1.5, "design.cutoff", None),
    ("phi1 above target", ["design", "phi1"], 0.35, "design.phi1", None),
    ("cohort size zero", ["design", "cohort_size"], 0, "design.cohort_size", None),
    ("start level outside", ["design", "start_level"], 7, "design.start_level", None),
    ("extra_safe not bool", ["design", "extra_safe"], "yes", "design.extra_safe", None),
    ("window not positive", ["dlt_window_days"], 0, "dlt_window_days", None),
    ("doses out of order", ["doses", 1, "level"], 3, "doses[1].level", None),
    ("no doses", ["doses"], [], "doses", None),
    ("as_of missing", ["as_of"], _DELETE, "as_of", None),
    ("unknown top-level field", ["sponsor"], "x", "sponsor", None),
]


@pytest.mark.parametrize(
    ("path", "value", "field", "patient"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_each_validation_rule_names_field_and_patient(
    path: list[Any], value: Any, field: str, patient: str | None
) -> None:
    with pytest.raises(InvalidTrialDataError) as err:
        parse_document(_mutate(path, value))
    assert (field, patient) in [(p.field, p.patient_id) for p in err.value.problems], err.value


def test_all_problems_reported_together() -> None:
    doc = copy.deepcopy(GOOD)
    doc["design"]["target"] = 2
    doc["patients"][0]["dose_level"] = 8
    doc["patients"][1]["infused_on"] = "yesterday"
    doc["patients"][2]["id"] = "P1"
    with pytest.raises(InvalidTrialDataError) as err:
        parse_document(doc)
    fields = {p.field for p in err.value.problems}
    assert {
        "design.target",
        "patients[0].dose_level",
        "patients[1].infused_on",
        "patients[2].id",
    } <= fields


def test_decision_json_contract() -> None:
    doc = parse_document(GOOD)
    out = decision_to_json(doc.design.decide(doc.data), doc)
    assert out["action"] == "wait"
    assert out["next_dose"] is None
    assert out["wait_until"] == "2026-06-19"
    assert "2026-06-19" in out["reason"]
    assert out["eliminated"] == []
    assert [d["level"] for d in out["doses"]] == [1, 2, 3, 4, 5]
    assert {"n", "dlt", "pending", "estimate"} <= set(out["doses"][0])
    assert out["doses"][0]["pending"] == 1
    assert out["design"]["phi1"] == pytest.approx(0.18)
    assert out["design"]["n_stop"] == 100
    assert out["engine_version"]
    sel = selection_to_json(doc.design.select(doc.data), doc)
    assert sel["dose"] == 1
    assert sel["provisional"] is True
    assert sel["estimates"][1] is None
