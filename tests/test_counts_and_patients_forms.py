"""The counts form of a trial document against the patients form (issue 10, section 5).

* ``select`` on counts needs no ``current_level`` (R's ``select.mtd`` needs none), and with no
  patient at all selects no dose, with a reason;
* for complete data, the counts form and the patients form of the same data give the same decision
  for every design, once the counts say what the last cohort at the current level had
  (``last_cohort``): CRM's coherence rule reads the most recent patients, and counts carry no order.
  Without it the rule takes the cautious reading (the DLTs as the most recent) and says so.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escalation import Action
from escalation.cli import main
from escalation.documents import TrialDocument, parse_document
from escalation.errors import InvalidTrialDataError
from tests.designs_catalog import DLT_ONLY_METHODS, make_design

ORIGIN = dt.date(2026, 1, 1)
WINDOW = 30


def _doses(k: int) -> list[dict[str, Any]]:
    return [{"level": i + 1, "label": f"L{i + 1}", "amount": 0.25e6 * 2.0**i} for i in range(k)]


def _block(method: str, k: int) -> dict[str, Any]:
    return make_design(method, k).options()


def _date(day: int) -> str:
    return (ORIGIN + dt.timedelta(days=day)).isoformat()


# ---- select without current_level ----------------------------------------------------------------
@pytest.mark.parametrize("method", DLT_ONLY_METHODS)
def test_select_on_counts_needs_no_current_level(method: str) -> None:
    doc = {
        "design": _block(method, 3),
        "doses": _doses(3),
        "counts": [{"level": 1, "n": 6, "dlt": 0}, {"level": 2, "n": 6, "dlt": 1}],
    }
    with pytest.raises(InvalidTrialDataError) as e:  # a decision needs it
        parse_document(doc)
    assert [p.field for p in e.value.problems] == ["current_level"]
    parsed = parse_document(doc, for_selection=True)
    selection = parsed.design.select(parsed.data)
    assert selection.dose_level in (1, 2)


@pytest.mark.parametrize("method", DLT_ONLY_METHODS)
@pytest.mark.parametrize(
    "data",
    [{"counts": []}, {"counts": [{"level": 1, "n": 0, "dlt": 0}]}, {"patients": []}],
    ids=["no-counts", "zero-counts", "no-patients"],
)
def test_select_with_no_patient_selects_no_dose(method: str, data: dict[str, Any]) -> None:
    doc = {"design": _block(method, 3), "doses": _doses(3), "as_of": "2026-03-01"} | data
    parsed = parse_document(doc, for_selection=True)
    selection = parsed.design.select(parsed.data)
    assert selection.dose_level is None
    assert selection.reason.startswith("No dose is recommended: no patient")


def test_cli_select_on_counts_without_current_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "counts.json"
    doc = {
        "design": {"method": "boin", "target": 0.25},
        "doses": [{"level": 1, "label": "0.5e6/kg"}, {"level": 2, "label": "1e6/kg"}],
        "counts": [{"level": 1, "n": 3, "dlt": 0}, {"level": 2, "n": 6, "dlt": 3}],
    }
    path.write_text(json.dumps(doc))
    assert main(["select", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dose"] == 1  # R: select.mtd(0.25, c(3, 6), c(0, 3))$MTD == 1
    assert main(["recommend", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "current_level" in captured.err
    path.write_text(json.dumps(doc | {"counts": []}))
    assert main(["select", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dose"] is None and out["reason"].startswith("No dose is recommended")


# ---- counts form against patients form ------------------------------------------------------------
def _patients_document(
    method: str, k: int, patients: list[tuple[int, int, bool]]
) -> dict[str, Any]:
    """(level, infusion day, dlt) per patient; every window closed by the as-of date."""
    as_of = max((day for _, day, _ in patients), default=0) + WINDOW + 5
    return {
        "design": _block(method, k),
        "doses": _doses(k),
        "dlt_window_days": WINDOW,
        "as_of": _date(as_of),
        "patients": [
            {
                "id": f"P{i:03d}",
                "dose_level": level,
                "infused_on": _date(day),
                "dlt": dlt,
            }
            | ({"dlt_on": _date(day + 3)} if dlt else {})
            for i, (level, day, dlt) in enumerate(patients)
        ],
    }


def _counts_document(patients_doc: dict[str, Any], parsed: TrialDocument) -> dict[str, Any]:
    """The same data as counts, with the current level and its last cohort."""
    data = parsed.data
    s = data.summary
    k = data.n_doses
    doc = {key: patients_doc[key] for key in ("design", "doses", "dlt_window_days")}
    doc["counts"] = [
        {"level": i + 1, "n": int(s.n_treated[i]), "dlt": int(s.n_dlt[i])} for i in range(k)
    ]
    current = data.current_dose_level
    if current is not None:
        doc["current_level"] = current
        # the cohort_size most recent at the current level, DLTs first on ties (the rule's order)
        at = [(p.infused_day, p.dlt) for p in data.patients if p.dose_level == current]
        at.sort(reverse=True)
        last = at[: parsed.design.cohort_size]
        doc["last_cohort"] = {"n": len(last), "dlt": sum(d for _, d in last)}
    return doc


def _summary(parsed: TrialDocument) -> tuple[Any, ...]:
    d = parsed.design.decide(parsed.data)
    selection = d.selection.dose_level if d.selection is not None else None
    return d.action, d.next_level, d.eliminated, selection


@st.composite
def complete_patients(draw: st.DrawFn) -> tuple[int, list[tuple[int, int, bool]]]:
    """Cohorts of 1 to 3 patients moving at most one level at a time (as trials do, so that a
    DLT in an earlier cohort at the current level is common), or patients at any level; infusions
    on the same day are common."""
    k = draw(st.integers(2, 5))
    path_like = draw(st.booleans())
    patients: list[tuple[int, int, bool]] = []
    level, day = 1, 0
    for _ in range(draw(st.integers(0, 7))):
        level = (
            min(k, max(1, level + draw(st.integers(-1, 1))))
            if path_like
            else draw(st.integers(1, k))
        )
        day += draw(st.integers(0, 40))
        for _ in range(draw(st.integers(1, 3))):
            dlt = draw(st.integers(0, 3)) == 0
            patients.append((level, day + draw(st.integers(0, 2)), dlt))
    return k, patients


@pytest.mark.parametrize("method", DLT_ONLY_METHODS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=complete_patients())
def test_counts_and_patients_forms_give_the_same_decision(
    method: str, case: tuple[int, list[tuple[int, int, bool]]]
) -> None:
    k, patients = case
    patients_doc = _patients_document(method, k, patients)
    by_patients = parse_document(patients_doc)
    by_counts = parse_document(_counts_document(patients_doc, by_patients))
    assert _summary(by_counts) == _summary(by_patients)


def test_without_last_cohort_the_counts_form_is_cautious_and_says_so() -> None:
    """0/3 at level 1; at level 2 a first cohort with 1 DLT, then a cohort with none."""
    patients = [(1, 0, False), (1, 1, False), (1, 2, False)]
    patients += [(2, 40, True), (2, 41, False), (2, 42, False)]
    patients += [(2, 80, False), (2, 81, False), (2, 82, False)]
    design = {"method": "crm", "target": 0.3, "skeleton": [0.05, 0.1, 0.2, 0.3, 0.4]}
    patients_doc = _patients_document("crm", 5, patients) | {"design": design}
    by_patients = parse_document(patients_doc)
    d = by_patients.design.decide(by_patients.data)
    assert (d.action, d.next_level) == (Action.ESCALATE, 3)

    counts = _counts_document(patients_doc, by_patients)
    assert counts["last_cohort"] == {"n": 3, "dlt": 0}
    with_last = parse_document(counts)
    assert _summary(with_last) == _summary(by_patients)

    del counts["last_cohort"]
    cautious = parse_document(counts)
    c = cautious.design.decide(cautious.data)
    assert (c.action, c.next_level) == (Action.STAY, 2)
    coherence = next(r for r in c.rules if r.label.startswith("Coherence"))
    assert coherence.triggered
    assert "cautious reading" in coherence.detail and "last_cohort" in coherence.detail
    assert "cautious reading" in c.reason


@pytest.mark.parametrize(
    ("last_cohort", "field"),
    [
        ({"n": 4, "dlt": 0}, "last_cohort.n"),
        ({"n": 3, "dlt": 2}, "last_cohort.dlt"),
        ({"n": 3}, "last_cohort"),
        ({"n": 1.5, "dlt": 0}, "last_cohort"),
    ],
)
def test_a_bad_last_cohort_is_refused(last_cohort: dict[str, Any], field: str) -> None:
    doc = {
        "design": {"method": "crm", "target": 0.3, "skeleton": [0.1, 0.2, 0.3]},
        "doses": _doses(3),
        "counts": [{"level": 1, "n": 3, "dlt": 0}, {"level": 2, "n": 3, "dlt": 1}],
        "current_level": 2,
        "last_cohort": last_cohort,
    }
    with pytest.raises(InvalidTrialDataError) as e:
        parse_document(doc)
    assert [p.field for p in e.value.problems] == [field]
