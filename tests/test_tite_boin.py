"""TITE-BOIN: its decision table against TITEgBOIN, and its conduct with pending patients."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from escalation import TITEBOIN, Action, Patient, TrialData
from escalation.models.boundaries import tite_boin_rows
from tests.reference import load

REF = load("titeboin_table.json")
CODE = {
    "E": "escalate",
    "S": "stay",
    "D": "de-escalate",
    "DE_ELIMINATE": "eliminate",
    "STFT_DEPENDENT": "depends",
}


def _rows(n_max: int = 9) -> dict[tuple[int, int, int], object]:
    return {
        (r.n, r.dlt, r.pending): r for r in tite_boin_rows(n_max, target=0.3, phi1=0.18, phi2=0.42)
    }


@pytest.mark.parametrize("ref", REF["rows"], ids=lambda r: f"n{r['n']}-y{r['y']}-m{r['m']}")
def test_table_matches_titegboin(ref: dict) -> None:
    row = _rows()[(ref["n"], ref["y"], ref["m"])]
    assert row.action == CODE[ref["decision"]]  # type: ignore[attr-defined]
    for ours, theirs in (
        (row.escalate_if_stft_at_least, ref.get("esc_if_stft_ge")),  # type: ignore[attr-defined]
        (row.deescalate_if_stft_at_most, ref.get("deesc_if_stft_le")),  # type: ignore[attr-defined]
    ):
        assert (ours is None) == (theirs is None)
        if ours is not None:
            assert ours == pytest.approx(theirs, abs=1e-9)


def test_rows_left_out_of_the_reference_are_exactly_the_suspended_ones() -> None:
    listed = {(r["n"], r["y"], r["m"]) for r in REF["rows"]}
    extra = [r for k, r in _rows().items() if k not in listed]
    assert extra and all(r.action == "suspend" for r in extra)  # type: ignore[attr-defined]
    assert all(r.pending > 0.5 * r.n for r in extra)  # type: ignore[attr-defined]


def _data_at(n: int, y: int, m: int, stft: float) -> TrialData:
    """n patients at level 2 (of 4): y DLTs, m pending sharing ``stft`` windows of follow-up."""
    window, as_of = 30, 400
    patients = [Patient(patient_id=f"Z{k}", dose_level=1, infused_day=k) for k in range(3)]
    complete = n - m
    for k in range(complete):
        dlt = k < y
        day = 100 + k
        patients.append(
            Patient(
                patient_id=f"C{k}",
                dose_level=2,
                infused_day=day,
                dlt=dlt,
                dlt_day=day + 5 if dlt else None,
            )
        )
    for k in range(m):
        followup = round(stft / m * window)
        patients.append(Patient(patient_id=f"Q{k}", dose_level=2, infused_day=as_of - followup))
    return TrialData(n_doses=4, patients=tuple(patients), as_of_day=as_of, dlt_window_days=window)


@pytest.mark.parametrize("key", [k for k in _rows(9) if k[0] >= 3])
def test_design_decisions_agree_with_its_table(key: tuple[int, int, int]) -> None:
    """The design and the closed-form table are the same rule, checked at several STFT values."""
    n, y, m = key
    row = _rows()[key]
    design = TITEBOIN(n_doses=4, target=0.3)
    for days in sorted({0, 7, 15, 22, 29}) if m else [0]:
        stft = m * days / 30
        d = design.decide(_data_at(n, y, m, stft))
        s = stft
        expected = row.action  # type: ignore[attr-defined]
        if expected == "depends":
            esc, deesc = row.escalate_if_stft_at_least, row.deescalate_if_stft_at_most  # type: ignore[attr-defined]
            expected = (
                "escalate"
                if esc is not None and s >= esc
                else "de-escalate"
                if deesc is not None and s <= deesc
                else "stay"
            )
        got = {
            Action.WAIT: "suspend",
            Action.ESCALATE: "escalate",
            Action.STAY: "stay",
            Action.DEESCALATE: "de-escalate",
        }.get(d.action)
        if expected == "eliminate":
            assert 2 in d.eliminated and d.next_level == 1
        else:
            assert got == expected, (key, s, d.reason)


def test_suspension_says_until_when() -> None:
    patients = (
        *(Patient(patient_id=f"A{k}", dose_level=1, infused_day=k) for k in range(3)),
        Patient(patient_id="B0", dose_level=2, infused_day=50),
        Patient(patient_id="B1", dose_level=2, infused_day=55),
    )
    d = TITEBOIN(n_doses=4, target=0.3).decide(
        TrialData(n_doses=4, patients=patients, as_of_day=60)
    )
    assert d.action is Action.WAIT
    assert d.wait_until_day == 80  # B0's window closes: 1 of 2 pending is no longer over half
    assert "suspended" in d.reason


def test_elimination_wins_over_suspension() -> None:
    # target 0.15: 2 DLTs in 5 patients eliminate (Pr(p > 0.15) > 0.95) although 3 of 5 are pending
    patients = (
        *(Patient(patient_id=f"A{k}", dose_level=1, infused_day=k) for k in range(3)),
        *(
            Patient(patient_id=f"D{k}", dose_level=2, infused_day=40 + k, dlt=True, dlt_day=45 + k)
            for k in range(2)
        ),
        *(Patient(patient_id=f"P{k}", dose_level=2, infused_day=50 + k) for k in range(3)),
    )
    d = TITEBOIN(n_doses=4, target=0.15).decide(
        TrialData(n_doses=4, patients=patients, as_of_day=55)
    )
    assert d.eliminated == (2, 3, 4)
    assert (d.action, d.next_level) == (Action.DEESCALATE, 1)
    suspension = next(r for r in d.rules if r.label.startswith("SuspendWhenPending"))
    assert not suspension.triggered and "precedence" in suspension.detail


def test_lowest_dose_deescalation_with_pending_suspends() -> None:
    patients = (
        Patient(patient_id="A0", dose_level=1, infused_day=0, dlt=True, dlt_day=3),
        Patient(patient_id="A1", dose_level=1, infused_day=1),
        Patient(patient_id="A2", dose_level=1, infused_day=2),
    )
    design = TITEBOIN(n_doses=4, target=0.3)
    d = design.decide(TrialData(n_doses=4, patients=patients, as_of_day=10))
    assert d.action is Action.WAIT and d.wait_until_day == 31
    done = design.decide(TrialData(n_doses=4, patients=patients, as_of_day=40))
    assert (done.action, done.next_level) == (Action.STAY, 1)


def test_selection_uses_titegboin_estimate() -> None:
    data = TrialData.from_counts([3, 6, 3], [0, 1, 2], current_level=3)
    sel = TITEBOIN(n_doses=3, target=0.3).select(data)
    assert sel.estimates[0] == pytest.approx(0.005 / 3.01)
    assert sel.dose_level == 2


def test_cli_table_json(console_script: str) -> None:
    out = subprocess.run(
        [
            console_script,
            "table",
            "--design",
            "tite-boin",
            "--target",
            "0.3",
            "--cohorts",
            "3",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    payload = json.loads(out.stdout)
    rows = payload["rows"]
    assert len(rows) == sum((n + 1) * (n + 2) // 2 for n in range(1, 10))
    assert {r["action"] for r in rows} <= {
        "escalate",
        "stay",
        "de-escalate",
        "eliminate",
        "suspend",
        "depends",
    }
    for ref in REF["rows"]:
        ours = next(
            r for r in rows if (r["n"], r["dlt"], r["pending"]) == (ref["n"], ref["y"], ref["m"])
        )
        assert ours["action"] == CODE[ref["decision"]]
        if "deesc_if_stft_le" in ref:
            assert np.isclose(
                ours["deescalate_if_stft_at_most"], ref["deesc_if_stft_le"], atol=1e-9
            )
