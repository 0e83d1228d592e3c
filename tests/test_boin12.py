"""BOIN12 against the paper's worked examples, MD Anderson's application and the paper's Table 3.

References: R escalation's BOIN12 tests (``tests/data/reference/boin12_r_escalation.json``: the
paper's example on p. 1396, its section 6 trial cohort by cohort, and single cohorts as MD
Anderson's BOIN12 application decides them) and the desirability scores of Table 3 as R
escalation's ``boin12_rds`` test states them.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from escalation import BOIN12, Action, TrialData, desirability_table, utility_benchmark
from escalation.data import Patient
from escalation.errors import InvalidDesignError, InvalidTrialDataError
from tests.reference import load

REF = load("boin12_r_escalation.json")


def trial(outcomes: str, n_doses: int = 5, *, gap: int = 100) -> TrialData:
    """Complete data from escalation's outcome string ('1NNN 2ENT': level then E/T/N/B)."""
    patients = []
    for c, cohort in enumerate(outcomes.split()):
        m = re.fullmatch(r"(\d+)([ETNB]+)", cohort)
        assert m is not None, cohort
        level, codes = int(m.group(1)), m.group(2)
        for j, code in enumerate(codes):
            day = gap * c
            tox = code in "TB"
            patients.append(
                Patient(
                    patient_id=f"P{c:02d}{j}",
                    dose_level=level,
                    infused_day=day,
                    dlt=tox,
                    dlt_day=day + 10 if tox else None,
                    response=code in "EB",
                    response_day=None,
                )
            )
    return TrialData(n_doses=n_doses, patients=tuple(patients), as_of_day=gap * 50)


def design_for(name: str) -> BOIN12:
    p = REF["params"][name]
    return BOIN12(
        n_doses=5,
        target=p["target"],
        efficacy_target=p["efficacy_target"],
        utility=tuple(p["utility"]),
        c_t=p["c_t"],
        c_e=p["c_e"],
        n_star=p["n_star"],
        max_patients=p["max_patients"],
        n_stop=p["n_stop"],
    )


@pytest.mark.parametrize(
    "case", REF["cases"], ids=[f"{c['set']}-{c['outcomes']}" for c in REF["cases"]]
)
def test_decisions_match_r_escalation(case: dict) -> None:
    decision = design_for(case["set"]).decide(trial(case["outcomes"]))
    if case["continue"]:
        assert decision.action is not Action.STOP, decision.reason
        assert decision.next_level == case["next_level"], decision.reason
    else:
        assert decision.action is Action.STOP, decision.reason
        assert decision.selection is not None
        assert decision.selection.dose_level == case["next_level"], decision.selection.reason


def test_paper_example_p1396_reasons() -> None:
    """1NNN 2ENT 3ETT 2EEN: stay at 2; every rule's outcome is in the decision."""
    decision = design_for("paper").decide(trial("1NNN 2ENT 3ETT 2EEN"))
    assert decision.next_level == 2
    labels = {r.label for r in decision.rules}
    assert {
        "boin12",
        "StopAtN(30)",
        "StopWhenNAtDose(12, when_staying=False, dose=current)",
        "WaitForOutcomes()",
    } <= labels
    assert any(r.label.startswith("EliminateInadmissible") for r in decision.rules)
    eff = decision.doses[1].efficacy
    assert eff is not None and eff.n_evaluable == 6 and eff.responses == 3 and eff.dlt == 1


# Table 3 of Lin et al. (2020), as R escalation's test of boin12_rds states its cells
TABLE3 = [
    ((0, 0, 0), 60),
    ((3, 0, 3), 91),
    ((6, 1, 5), 87),
    ((6, 5, 1), None),
    ((9, 0, 8), 99),
    ((9, 2, 3), 32.5),
    ((9, 5, 5), 32.5),
    ((9, 3, 1), 7),
    ((9, 4, 0), None),
    ((9, 6, 9), None),
]


@pytest.mark.parametrize(("cell", "score"), TABLE3, ids=[str(c) for c, _ in TABLE3])
def test_table3_scores(cell: tuple[int, int, int], score: float | None) -> None:
    rows = desirability_table(
        (0, 3, 6, 9), target=0.35, efficacy_target=0.25, utility=(100, 40, 60, 0)
    )
    by_cell = {(r.n, r.dlt, r.responses): r for r in rows}
    assert by_cell[cell].score == score


def test_benchmark() -> None:
    """u_bar = 100 x 0.25 x 0.65 + 40 x 0.75 x 0.65 + 60 x 0.25 x 0.35 = 41; u_b = 70.5."""
    u_bar, u_b = utility_benchmark(0.35, 0.25, (100, 40, 60, 0))
    assert u_bar == pytest.approx(41.0, abs=1e-12)
    assert u_b == pytest.approx(70.5, abs=1e-12)


def test_marginal_and_joint_counts_agree_when_u1_plus_u4_is_u2_plus_u3() -> None:
    """With 100 + 0 = 40 + 60 the utility depends on the margins: moving a DLT between a
    responder and a non-responder changes nothing."""
    design = design_for("paper")
    a = design.decide(trial("1NNN 2BNN"))
    b = design.decide(trial("1NNN 2TEN"))
    assert a.doses[1].efficacy is not None and b.doses[1].efficacy is not None
    assert a.doses[1].efficacy.desirability == pytest.approx(b.doses[1].efficacy.desirability)


def test_waits_for_pending_response() -> None:
    """A patient at the current dose whose response is unknown inside the efficacy window: wait
    until the window closes."""
    data = trial("1NNN")
    last = data.patients[-1]
    pending = Patient(patient_id="X", dose_level=1, infused_day=last.infused_day, dlt=False)
    data = TrialData(
        n_doses=5,
        patients=(*data.patients[:-1], pending),
        as_of_day=last.infused_day + 40,
        efficacy_window_days=90,
    )
    decision = design_for("paper").decide(data)
    assert decision.action is Action.WAIT
    assert decision.wait_until_day == last.infused_day + 90


def test_counts_form_refused() -> None:
    data = TrialData.from_counts([3, 0, 0, 0, 0], [0, 0, 0, 0, 0], current_level=1)
    with pytest.raises(InvalidTrialDataError):
        design_for("paper").decide(data)


def test_invalid_utility() -> None:
    with pytest.raises(InvalidDesignError):
        BOIN12(n_doses=3, target=0.3, efficacy_target=0.3, utility=(90, 40, 60, 0))


def test_exploration_rule_option() -> None:
    """Nine patients at level 1 with 2 DLTs and middling efficacy: the untried level 2 is
    explored by default and not when the rule is off."""
    data = trial("1NNE 1TNE 1TNN")
    on = design_for("paper")
    off = BOIN12(
        n_doses=5,
        target=0.35,
        efficacy_target=0.25,
        utility=(100, 40, 60, 0),
        explore_untried=False,
    )
    assert on.decide(data).next_level == 2
    assert off.decide(data).next_level in (1, 2)
    assert np.isfinite(on.decide(data).doses[0].efficacy.desirability)  # type: ignore[union-attr]


UFIT = load("iso_ufit_boin12.json")


def test_response_estimates_reproduce_iso_ufit() -> None:
    """BOIN12's response-rate estimates (MD Anderson's peestimate) against R's Iso::ufit: every
    unimodal fit and the likelihood-weighted average, 150 random cases."""
    from escalation.models.utility import _unimodal_fit, efficacy_estimates

    for case in UFIT["cases"]:
        n = np.array(case["n"], dtype=np.float64)
        y = np.array(case["y"], dtype=np.float64)
        raw = ((y + 0.05) / (n + 0.1))[None, :]
        for mode, expected in enumerate(case["fits"]):
            fit = _unimodal_fit(raw, (n + 0.5)[None, :], mode)[0]
            np.testing.assert_allclose(fit, expected, rtol=0, atol=1e-12)
        np.testing.assert_allclose(
            efficacy_estimates(n, y)[0], case["estimate"], rtol=0, atol=1e-12
        )


def test_final_selection_of_the_paper_trial() -> None:
    """Section 6's trial ends after 4NEN with 12 patients at level 4: the OBD is level 4."""
    decision = design_for("paper").decide(
        trial("1NNN 2NNB 3NEE 3NTN 4ETE 4NBE 4BNN 5BEN 5NBT 4NEN")
    )
    assert decision.action is Action.STOP
    assert decision.selection is not None and decision.selection.dose_level == 4
    assert "Optimal biological dose: level 4" in decision.selection.reason
