"""The fast BOIN12 engine gives the generic engine's trials, trial for trial, on the same patients;
and BOIN12 simulations report the OBD, the utility and the utility benchmark."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from escalation import BOIN12
from simulations import Conduct, GenericEngine, PatientBlock, TrialOutcomes, run_simulation
from simulations.engines import BOIN12Engine, choose_engine
from simulations.engines.base import Efficacy

PT = np.array([0.05, 0.10, 0.15, 0.30, 0.45])
PE = np.array([0.10, 0.25, 0.45, 0.50, 0.55])
TOXIC = np.array([0.30, 0.45, 0.55, 0.60, 0.70])
FLAT = np.array([0.05, 0.05, 0.10, 0.10, 0.15])
LOW_EFF = np.array([0.05, 0.08, 0.10, 0.12, 0.15])


def boin12(**options: object) -> BOIN12:
    base: dict[str, object] = {
        "n_doses": 5,
        "target": 0.35,
        "efficacy_target": 0.25,
        "utility": (100, 40, 60, 0),
        "max_patients": 30,
    }
    return BOIN12(**(base | options))  # type: ignore[arg-type]


CASES = [
    ("paper-design", boin12(), Conduct(), PT, PE, 0.0),
    ("correlated-lost", boin12(), Conduct(suspended_arrivals="lost"), PT, PE, 0.6),
    ("toxic", boin12(n_stop=9), Conduct(), TOXIC, PE, 0.0),
    ("futile-no-explore", boin12(explore_untried=False), Conduct(), FLAT, LOW_EFF, -0.3),
    ("explore-36", boin12(max_patients=36, n_stop=15), Conduct(), FLAT, PE, 0.0),
]


def assert_same(a: TrialOutcomes, b: TrialOutcomes) -> None:
    for f in fields(TrialOutcomes):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if x is None or y is None:  # backfill counts: BOIN12 takes no backfill
            assert x is None and y is None, f"{f.name}: one engine has it, the other not"
            continue
        bad = np.flatnonzero((x != y).reshape(len(x), -1).any(axis=1))
        assert not bad.size, f"{f.name} differs in trials {bad[:10].tolist()}"


@pytest.mark.parametrize(
    ("name", "design", "conduct", "pt", "pe", "corr"), CASES, ids=[c[0] for c in CASES]
)
def test_fast_boin12_gives_the_generic_engine_s_trials(
    name: str,
    design: BOIN12,
    conduct: Conduct,
    pt: np.ndarray,
    pe: np.ndarray,
    corr: float,
) -> None:
    efficacy = Efficacy(response_probs=pe, correlation=corr)

    def block() -> PatientBlock:
        return PatientBlock(
            seed=14, scenario_index=0, block_index=0, n_trials=120, capacity=31, conduct=conduct
        )

    assert choose_engine(design, conduct).name == "fast-boin12"
    fast = BOIN12Engine().run(design, pt, block(), conduct, efficacy)
    slow = GenericEngine().run(design, pt, block(), conduct, efficacy)
    assert_same(fast, slow)
    assert fast.n_at_dose.sum() > 0
    if name == "toxic":
        assert fast.stopped_early.any()
    if name == "futile-no-explore":
        assert (fast.selected_index < 0).any()  # futility leaves trials with no dose


def test_simulation_reports_obd_utility_and_benchmark() -> None:
    spec = {
        "design": {"method": "boin12", "target": 0.35, "efficacy_target": 0.25},
        "scenarios": [
            {"name": "S", "true_dlt_probs": PT.tolist(), "true_response_probs": PE.tolist()}
        ],
        "trials": 2000,
        "seed": 5,
    }
    row = run_simulation(spec)["results"][0]
    assert row["engine"] == "fast-boin12"
    assert row["obd_levels"] == [3]  # utility 44, 51, 61, 58, 55: level 3, DLT 0.15 <= 0.35
    assert row["true_utility"] == pytest.approx([44.0, 51.0, 61.0, 58.0, 55.0])
    assert row["obd_correct_pct"] == pytest.approx(row["selection_pct"][2])
    assert 0 < row["obd_correct_pct"] < row["benchmark_obd_correct_pct"] <= 100
    assert row["selected_utility_mean"] <= row["benchmark_utility_mean"] + 3 * (
        row["se"]["selected_utility_mean"] + row["se"]["benchmark_utility_mean"]
    )
    assert len(row["responses_mean"]) == 5 and "obd_correct_pct" in row["se"]


def test_a_spec_without_responses_is_refused_for_boin12() -> None:
    from simulations import InvalidSpecError

    with pytest.raises(InvalidSpecError, match="true_response_probs"):
        run_simulation(
            {
                "design": {"method": "boin12", "target": 0.35},
                "scenarios": [{"name": "S", "true_dlt_probs": PT.tolist()}],
                "trials": 10,
            }
        )


def test_text_report_has_the_obd_table() -> None:
    from simulations.cli import render_text

    spec = {
        "design": {"method": "boin12", "target": 0.35, "efficacy_target": 0.25},
        "scenarios": [
            {"name": "S", "true_dlt_probs": PT.tolist(), "true_response_probs": PE.tolist()}
        ],
        "trials": 200,
        "seed": 5,
    }
    text = render_text(run_simulation(spec))
    assert "true utility           44.0  51.0  61.0  58.0  55.0" in text
    assert "OBD (level 3) %" in text and "boin12: responses" in text
