"""BOIN12's operating characteristics against an independent R implementation (phase12designs'
oc_boin12, 10,000 trials a scenario; tests/data/reference/boin12_phase12designs_oc.json), within
Monte Carlo error, with a negative control that shows the comparison can fail."""

from __future__ import annotations

import math
from typing import Any

import pytest

from simulations import run_simulation
from tests.reference import load

REF = load("boin12_phase12designs_oc.json")
R_TRIALS = 10_000
TRIALS = 4_000
#: |z| above this fails (about 50 comparisons: a false alarm is rare at 4 standard errors)
Z_MAX = 4.0


def simulate(name: str, **options: Any) -> dict[str, Any]:
    sc = REF["results"][name]["scenario"]
    design = {
        "method": "boin12",
        "target": 0.35,
        "efficacy_target": 0.25,
        "utility": [100, 40, 60, 0],
        "c_t": 0.95,
        "c_e": 0.9,
        "max_patients": 30,
        "n_stop": 30,  # oc_boin12 stops at n.earlystop = 30 patients at a dose: never earlier
    } | options
    spec = {
        "design": design,
        "trials": TRIALS,
        "seed": 20261206,
        "scenarios": [{"name": name, "true_dlt_probs": sc["pT"], "true_response_probs": sc["pE"]}],
    }
    row: dict[str, Any] = run_simulation(spec)["results"][0]
    return row


def z_scores(row: dict[str, Any], name: str) -> dict[str, float]:
    """z of every compared quantity: selection % per level and none, mean patients per level, mean
    DLTs and responses in total."""
    r = REF["results"][name]
    out: dict[str, float] = {}

    def pct(label: str, ours: float, theirs: float) -> None:
        p = (ours + theirs) / 200.0
        se = 100.0 * math.sqrt(max(p * (1 - p), 1e-4) * (1 / TRIALS + 1 / R_TRIALS))
        out[label] = (ours - theirs) / se

    for i, (a, b) in enumerate(zip(row["selection_pct"], r["sel"], strict=True)):
        pct(f"selection[{i + 1}]", a, b)
    pct("none", row["none_pct"], r["earlystop"])
    for i, (a, b) in enumerate(zip(row["patients_mean"], r["pts"], strict=True)):
        se = row["se"]["patients_mean"][i] * math.sqrt(1 + TRIALS / R_TRIALS)
        out[f"patients[{i + 1}]"] = (a - b) / max(se, 1e-9)
    se_t = row["se"]["dlt_total_mean"] * math.sqrt(1 + TRIALS / R_TRIALS)
    out["dlt_total"] = (row["dlt_total_mean"] - r["ntox"]) / se_t
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REF["results"]))
def test_boin12_oc_agree_with_phase12designs(name: str) -> None:
    row = simulate(name)
    assert row["engine"] == "fast-boin12"
    z = z_scores(row, name)
    bad = {k: round(v, 2) for k, v in z.items() if abs(v) > Z_MAX}
    assert not bad, f"{name}: {bad}"
    if name != "S4":  # S4 has no acceptable dose: its R 'obd' is a placeholder
        obd = REF["results"][name]["bd.sel"]
        assert row["obd_levels"] == [REF["results"][name]["scenario"]["obd"]]
        p = (row["obd_correct_pct"] + obd) / 200
        se = 100 * math.sqrt(p * (1 - p) * (1 / TRIALS + 1 / R_TRIALS))
        assert abs(row["obd_correct_pct"] - obd) < Z_MAX * se


@pytest.mark.slow
def test_negative_control_without_the_exploration_rule() -> None:
    """The same comparison fails for a design that differs (no untried-dose exploration): the
    check has power."""
    z = z_scores(simulate("S2", explore_untried=False), "S2")
    assert max(abs(v) for v in z.values()) > Z_MAX
