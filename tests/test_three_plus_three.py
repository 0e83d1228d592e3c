"""3+3 against R escalation's own test cases, and its place in the common pipeline.

The cases are those of R escalation's tests/testthat/test_three_plus_three.R (github.com/brockk/
escalation, commit add4557aba9c0a124f1f27b4cef7202078b7540c), copied into
tests/data/three_plus_three_r_cases.json by tests/data/extract_three_plus_three_cases.py: each is an
outcome string ("1NNN 2NTT": cohort at dose 1 without DLT, then one at dose 2 with two DLTs), the
variant (``allow_deescalate``), R's recommended dose (null: none) and whether R continues.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from escalation import (
    DESIGNS,
    Action,
    EscalationError,
    InvalidDesignError,
    Patient,
    PatientState,
    RuleKind,
    ThreePlusThree,
    TrialData,
    parse_document,
)
from escalation.designs.base import Design
from tests.strategies import trial_data
from tests.test_conformance import check_decision

CASES_FILE = Path(__file__).parent / "data" / "three_plus_three_r_cases.json"
R = json.loads(CASES_FILE.read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = R["cases"]
EXPECTED = {(c["outcomes"], c["allow_deescalate"]): c for c in CASES}

#: the one R case our rule answers differently on purpose: the path escalated past dose 1 with 2
#: DLTs in 6; R's Korn selection searches every dose and names dose 2, above a dose with 2 DLTs,
#: which this design never recommends (R's own dose_admissible says dose 1 and above are not)
DIVERGED = {("1NTN 1NTN 2NTN 2NNN 3NTT", True): (None, False)}


def parse_outcomes(outcomes: str) -> list[tuple[int, bool]]:
    """R escalation's phase-1 outcome string as (dose level, DLT) per patient, in order."""
    out = []
    for token in outcomes.split():
        digits = "".join(ch for ch in token if ch.isdigit())
        out += [(int(digits), ch == "T") for ch in token[len(digits) :]]
    return out


def data_of(outcomes: str, n_doses: int) -> TrialData:
    """Every patient of the string complete, infused one a day in order (the last is current)."""
    patients = tuple(
        Patient(
            patient_id=f"P{i + 1:03d}",
            dose_level=level,
            infused_day=i,
            dlt=dlt,
            dlt_day=i + 1 if dlt else None,
        )
        for i, (level, dlt) in enumerate(parse_outcomes(outcomes))
    )
    return TrialData(
        n_doses=n_doses, patients=patients, as_of_day=len(patients) + 40, dlt_window_days=30
    )


def verdict(design: Design, data: TrialData) -> tuple[int | None, bool]:
    """(recommended dose, continue) in R's terms."""
    decision = design.decide(data)
    if decision.action is Action.STOP:
        assert decision.selection is not None
        assert design.select(data).dose_level == decision.selection.dose_level
        return decision.selection.dose_level, False
    assert decision.action is not Action.WAIT
    return decision.next_level, True


def settled_early(outcomes: str) -> bool:
    """The latest cohort is not complete but already has 2 DLTs at its dose."""
    pts = parse_outcomes(outcomes)
    if not pts:
        return False
    level = pts[-1][0]
    n = sum(1 for lv, _ in pts if lv == level)
    y = sum(1 for lv, d in pts if lv == level and d)
    return n % 3 != 0 and y >= 2


def completed(outcomes: str) -> list[str]:
    """The same string with its last cohort completed in every way."""
    n = sum(1 for lv, _ in parse_outcomes(outcomes) if lv == parse_outcomes(outcomes)[-1][0])
    missing = -n % 3
    tails = [""]
    for _ in range(missing):
        tails = [t + ch for t in tails for ch in "NT"]
    return [outcomes + t for t in tails]


def test_the_cases_were_copied() -> None:
    assert R["meta"]["commit"] == "add4557aba9c0a124f1f27b4cef7202078b7540c"
    assert len(CASES) == 178
    assert {c["allow_deescalate"] for c in CASES} == {False, True}


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if not settled_early(c["outcomes"])],
    ids=lambda c: f"{c['outcomes'] or 'empty'}-{'deesc' if c['allow_deescalate'] else 'std'}",
)
def test_reproduces_r_escalation(case: dict[str, Any]) -> None:
    design = ThreePlusThree(n_doses=case["num_doses"], allow_deescalation=case["allow_deescalate"])
    key = (case["outcomes"], case["allow_deescalate"])
    expected = DIVERGED.get(key, (case["recommended_dose"], case["continue"]))
    assert verdict(design, data_of(case["outcomes"], case["num_doses"])) == expected


SETTLED = [c for c in CASES if settled_early(c["outcomes"])]


@pytest.mark.parametrize(
    "case",
    SETTLED,
    ids=lambda c: f"{c['outcomes']}-{'deesc' if c['allow_deescalate'] else 'std'}",
)
def test_two_dlts_settle_a_cohort_as_r_does_once_it_is_complete(case: dict[str, Any]) -> None:
    """R waits for the third patient of "1TT"; two DLTs already settle the cohort, so the design
    acts at once, with R's own answer for the completed cohort (every completion R tests)."""
    design = ThreePlusThree(n_doses=case["num_doses"], allow_deescalation=case["allow_deescalate"])
    r_answers = {
        (EXPECTED[k]["recommended_dose"], EXPECTED[k]["continue"])
        for full in completed(case["outcomes"])
        if (k := (full, case["allow_deescalate"])) in EXPECTED
    }
    ours = verdict(design, data_of(case["outcomes"], case["num_doses"]))
    if r_answers:
        assert r_answers == {ours}
    else:  # R tests no completion of this cohort: R's rule for 2+ DLTs, by hand
        pts = parse_outcomes(case["outcomes"])
        level = pts[-1][0]
        if not case["allow_deescalate"] or level == 1:
            assert ours == (level - 1 or None, False)
        else:
            assert ours == (level - 1, True)


def test_settled_cases_are_the_only_differences_besides_the_diverged_path() -> None:
    assert len(SETTLED) == 25
    assert all(
        verdict(
            ThreePlusThree(n_doses=c["num_doses"], allow_deescalation=c["allow_deescalate"]),
            data_of(c["outcomes"], c["num_doses"]),
        )
        != (c["recommended_dose"], c["continue"])
        for c in SETTLED
    )


def test_standard_rules_with_counts() -> None:
    design = ThreePlusThree(n_doses=4)

    def decide(n: list[int], y: list[int], cur: int) -> tuple[str, int | None, int | None]:
        d = design.decide(TrialData.from_counts(n, y, current_level=cur))
        sel = d.selection.dose_level if d.selection is not None else None
        return d.action.value, d.next_level, sel

    assert decide([0, 0, 0, 0], [0, 0, 0, 0], 1) == ("stay", 1, None)  # no patient yet
    assert decide([3, 0, 0, 0], [0, 0, 0, 0], 1) == ("escalate", 2, None)  # 0/3
    assert decide([3, 3, 0, 0], [0, 1, 0, 0], 2) == ("stay", 2, None)  # 1/3: expand
    assert decide([3, 6, 0, 0], [0, 1, 0, 0], 2) == ("escalate", 3, None)  # 1/6
    assert decide([3, 6, 3, 0], [0, 1, 2, 0], 3) == ("stop", None, 2)  # 2/3: dose below
    assert decide([3, 6, 6, 0], [0, 1, 2, 0], 3) == ("stop", None, 2)  # 2/6: dose below
    assert decide([3, 0, 0, 0], [2, 0, 0, 0], 1) == ("stop", None, None)  # dose 1 too toxic
    assert decide([3, 3, 3, 3], [0, 0, 0, 0], 4) == ("stop", None, 4)  # 0/3 at the top
    assert decide([3, 3, 3, 6], [0, 0, 0, 1], 4) == ("stop", None, 4)  # 1/6 at the top


def test_deescalation_variant_with_counts() -> None:
    design = ThreePlusThree(n_doses=4, allow_deescalation=True)

    def decide(n: list[int], y: list[int], cur: int) -> tuple[str, int | None, int | None]:
        d = design.decide(TrialData.from_counts(n, y, current_level=cur))
        sel = d.selection.dose_level if d.selection is not None else None
        return d.action.value, d.next_level, sel

    assert decide([3, 3, 3, 0], [0, 0, 2, 0], 3) == ("de-escalate", 2, None)  # dose 2 has 3
    assert decide([3, 6, 3, 0], [0, 1, 2, 0], 3) == ("stop", None, 2)  # dose 2 has 6: Korn
    assert decide([3, 6, 3, 0], [0, 1, 2, 0], 2) == ("stop", None, 2)  # back at 2, 3 has 2 DLTs
    assert decide([3, 6, 3, 0], [0, 2, 2, 0], 2) == ("de-escalate", 1, None)
    assert decide([6, 6, 3, 0], [1, 2, 2, 0], 2) == ("stop", None, 1)
    assert decide([6, 6, 3, 0], [2, 2, 2, 0], 1) == ("stop", None, None)


def test_every_rule_is_labelled_in_the_pipeline_order() -> None:
    design = ThreePlusThree(n_doses=3, allow_deescalation=True)
    d = design.decide(TrialData.from_counts([3, 3, 0], [0, 2, 0], current_level=2))
    labels = [(r.kind, r.label) for r in d.rules]
    assert labels == [
        (RuleKind.ELIMINATION, "EliminateWhenDLTs(n_dlt=2)"),
        (RuleKind.MODEL, "3+3"),
        (RuleKind.STOPPING, "StopThreePlusThree(allow_deescalation=True)"),
        (RuleKind.STOPPING, "StopAtN(18)"),
        (RuleKind.WAITING, "WaitForPending()"),
        (RuleKind.CONSTRAINT, "NoSkipping()"),
        (RuleKind.CONSTRAINT, "ExcludeEliminated()"),
    ]
    assert d.action is Action.DEESCALATE and d.next_level == 1
    assert d.eliminated == (2, 3)
    assert [r.label for r in d.triggered] == ["EliminateWhenDLTs(n_dlt=2)", "3+3"]
    assert d.doses[1].estimate == pytest.approx(2 / 3) and d.doses[1].prob_overdose is None


def _patient(pid: str, level: int, day: int, dlt: bool = False) -> Patient:
    return Patient(
        patient_id=pid, dose_level=level, infused_day=day, dlt=dlt, dlt_day=day + 2 if dlt else None
    )


def test_waits_for_pending_patients_as_boin_does() -> None:
    design = ThreePlusThree(n_doses=3)
    patients = (
        _patient("A", 1, 0),
        _patient("B", 1, 1),
        _patient("C", 1, 20),  # pending on day 40
    )
    d = design.decide(TrialData(n_doses=3, patients=patients, as_of_day=40, dlt_window_days=30))
    assert d.action is Action.WAIT and d.wait_until_day == 50
    # at the top dose 0/3 would stop the trial, but only once the pending patient completes
    top = (*(_patient(f"T{i}", 1, i) for i in range(2)), _patient("T2", 1, 20))
    one = ThreePlusThree(n_doses=1)
    d = one.decide(TrialData(n_doses=1, patients=top, as_of_day=40, dlt_window_days=30))
    assert d.action is Action.WAIT
    assert d.selection is None


def test_two_dlts_do_not_wait_for_the_third_patient() -> None:
    design = ThreePlusThree(n_doses=3)
    patients = (
        _patient("A", 1, 0),
        _patient("B", 1, 1),
        _patient("C", 1, 2),
        _patient("D", 2, 40, dlt=True),
        _patient("E", 2, 41, dlt=True),
        _patient("F", 2, 50),  # pending
    )
    d = design.decide(TrialData(n_doses=3, patients=patients, as_of_day=60, dlt_window_days=30))
    assert d.action is Action.STOP
    assert d.selection is not None and d.selection.dose_level == 1
    assert d.selection.provisional


def test_selection_when_the_rule_has_not_stopped() -> None:
    """A trial ended early (or ``select`` before the end): the highest dose with >= 6 patients
    and <= 1 DLT below every dose with 2 DLTs; none when no dose has 6."""
    design = ThreePlusThree(n_doses=4)
    mid = TrialData.from_counts([3, 6, 3, 0], [0, 1, 0, 0], current_level=3)
    assert design.decide(mid).action is Action.ESCALATE
    assert design.select(mid).dose_level == 2
    early = TrialData.from_counts([3, 3, 0, 0], [0, 0, 0, 0], current_level=2)
    sel = design.select(early)
    assert sel.dose_level is None and "at least 6" in sel.reason
    empty = TrialData(n_doses=4)
    assert design.select(empty).dose_level is None


def test_a_non_dlt_completes_the_cohort_before_escalation() -> None:
    """0/3 escalates; 0/4 (one patient over the cohort) stays until 6, as R does ("1NNN 1N")."""
    design = ThreePlusThree(n_doses=3)
    assert (
        design.decide(TrialData.from_counts([3, 0, 0], [0, 0, 0], current_level=1)).next_level == 2
    )
    assert (
        design.decide(TrialData.from_counts([4, 0, 0], [0, 0, 0], current_level=1)).next_level == 1
    )
    assert (
        design.decide(TrialData.from_counts([6, 0, 0], [0, 0, 0], current_level=1)).next_level == 2
    )


def test_options_and_defaults() -> None:
    assert DESIGNS["3+3"] is ThreePlusThree
    design = ThreePlusThree(n_doses=5)
    assert design.options() == {
        "method": "3+3",
        "target": 0.3,
        "cohort_size": 3,
        "max_patients": 30,
        "start_level": 1,
        "stagger_days": None,
        "stopping": {"max_patients": 30},
        "no_skipping": True,
        "no_skipping_down": False,
        "allow_deescalation": False,
    }
    assert ThreePlusThree(n_doses=7).max_patients == 42
    with pytest.raises(InvalidDesignError, match="cohorts of 3"):
        ThreePlusThree(n_doses=3, cohort_size=4)


def test_trial_document() -> None:
    doc = parse_document(
        {
            "design": {"method": "3+3", "allow_deescalation": True},
            "doses": [{"level": i} for i in (1, 2, 3)],
            "counts": [{"level": 1, "n": 3, "dlt": 0}, {"level": 2, "n": 3, "dlt": 2}],
            "current_level": 2,
        }
    )
    assert isinstance(doc.design, ThreePlusThree) and doc.design.allow_deescalation
    assert doc.design.decide(doc.data).next_level == 1
    with pytest.raises(
        EscalationError, match=r"design\.allow_deescalation: expected true or false"
    ):
        parse_document(
            {
                "design": {"method": "3+3", "allow_deescalation": "yes"},
                "doses": [{"level": 1}],
                "counts": [{"level": 1, "n": 3, "dlt": 0}],
                "current_level": 1,
            }
        )


# ---- properties, for both variants (the conformance catalog holds the de-escalation one) ----
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@SETTINGS
@given(data=trial_data())
def test_conformance_of_the_standard_variant(data: TrialData) -> None:
    """The conformance check (tests/test_conformance.py runs it on the de-escalation variant)."""
    design = ThreePlusThree(n_doses=data.n_doses)
    decision = design.decide(data)
    check_decision(decision, data)
    assert design.decide(data) == decision
    selection = design.select(data)
    assert selection.dose_level is None or selection.dose_level not in selection.eliminated


@pytest.mark.parametrize("deesc", [False, True])
@SETTINGS
@given(data=trial_data())
def test_never_skips_an_untried_dose(deesc: bool, data: TrialData) -> None:
    design = ThreePlusThree(n_doses=data.n_doses, allow_deescalation=deesc)
    d = design.decide(data)
    if d.next_level is None:
        return
    treated = [i + 1 for i, n in enumerate(data.summary.n_treated) if n > 0]
    assert d.next_level <= max(max(treated, default=0) + 1, 1)
    assert d.next_level not in d.eliminated


@pytest.mark.parametrize("deesc", [False, True])
@SETTINGS
@given(data=trial_data(), pick=st.integers(0, 10_000))
def test_an_added_dlt_never_raises_the_next_dose(deesc: bool, data: TrialData, pick: int) -> None:
    candidates = [i for i, s in enumerate(data.summary.state) if s is PatientState.COMPLETE]
    assume(candidates)
    i = candidates[pick % len(candidates)]
    p = data.patients[i]
    worse = dataclasses.replace(p, dlt=True, dlt_day=p.infused_day + 1)
    other = dataclasses.replace(data, patients=(*data.patients[:i], worse, *data.patients[i + 1 :]))
    design = ThreePlusThree(n_doses=data.n_doses, allow_deescalation=deesc)
    before, after = design.decide(data), design.decide(other)
    assume(before.action not in (Action.STOP, Action.WAIT))
    if after.action in (Action.STOP, Action.WAIT):
        return
    assert after.next_level is not None and before.next_level is not None
    assert after.next_level <= before.next_level
    # the final selection never moves up either
    a, b = design.select(data).dose_level, design.select(other).dose_level
    assert (b or 0) <= (a or 0)


@pytest.mark.parametrize("deesc", [False, True])
def test_off_path_data_never_select_an_untried_dose_below_a_toxic_one(deesc: bool) -> None:
    """Found by hypothesis: 0/3 at level 5 with 2 DLTs at level 6 stops the rule with level 5,
    but level 3 has 2 DLTs too; the MTD was cut to level 2, which nobody had received. Off-path
    data get Korn's MTD, as a trial that ended early does (adding the DLT at level 6 must not
    raise the selection from level 1)."""
    design = ThreePlusThree(n_doses=6, allow_deescalation=deesc)
    before = TrialData.from_counts([6, 0, 3, 0, 3, 3], [1, 0, 2, 0, 0, 1], current_level=5)
    after = TrialData.from_counts([6, 0, 3, 0, 3, 3], [1, 0, 2, 0, 0, 2], current_level=5)
    assert design.select(before).dose_level == 1
    selection = design.select(after)
    assert selection.dose_level == 1
    assert "not dose level 5" in selection.reason
    decision = design.decide(after)
    assert decision.action is Action.STOP and decision.selection is not None
    assert decision.selection.dose_level == 1


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=6),
)
def test_whole_trial_mtd_is_korns_on_the_algorithms_data(cells: list[tuple[int, int]]) -> None:
    """With at most 6 patients at every dose the rate reading changes nothing."""
    import numpy as np

    from escalation.models.three_plus_three import korn_mtd, whole_trial_mtd

    n = np.array([[c[0] for c in cells]])
    y = np.array([[min(c) for c in cells]])
    assert whole_trial_mtd(n, y)[0] == korn_mtd(n, y)[0]


def test_whole_trial_selection_reads_the_counts_as_rates() -> None:
    """Expansion patients at the 3+3 MTD: 4 DLTs in 20 (20 %) keep it, 7 in 20 (35 %) do not, and
    the dose below with 1 DLT in 6 becomes the regimen; the escalation-only rule would have
    dismissed the dose at the second DLT."""
    design = ThreePlusThree(n_doses=4)
    kept = design.select(TrialData.from_counts([3, 6, 20, 3], [0, 1, 4, 2], current_level=4))
    assert kept.dose_level == 3 and "rate below 1/3" in kept.reason
    assert kept.eliminated == (4,)
    cut = design.select(TrialData.from_counts([3, 6, 20, 3], [0, 1, 7, 2], current_level=4))
    assert cut.dose_level == 2 and cut.eliminated == (3, 4)
    none = design.select(TrialData.from_counts([3, 3, 20, 0], [0, 0, 7, 0], current_level=3))
    assert none.dose_level is None and "there is none" in none.reason


def test_whole_trial_selection_with_expansion_patients() -> None:
    """Patients marked as expansion switch to the whole-trial reading even under 6 per dose."""
    esc = [_patient(f"E{i}", 1, i) for i in range(3)] + [
        _patient(f"F{i}", 2, 40 + i, dlt=(i == 0)) for i in range(6)
    ]
    exp = [
        dataclasses.replace(
            _patient(f"X{i}", 2, 90 + i, dlt=(i < 1)), cohort="expansion", indication="SLE"
        )
        for i in range(4)
    ]
    data = TrialData(
        n_doses=3,
        patients=(*esc, *exp),
        as_of_day=200,
        dlt_window_days=30,
        indications=("SLE",),
    )
    from escalation.expansion import ExpansionPlan

    plan = ExpansionPlan(
        indications=("SLE",),
        dose_levels=(2,),
        max_per_indication=10,
        p0=0.2,
        alpha=0.1,
        prior=(0.6, 2.4),
    )
    sel = ThreePlusThree(n_doses=3, expansion=plan).select(data)
    # dose 2: 2 DLTs in 10 (20 %): the escalation-only rule would have eliminated it
    assert sel.dose_level == 2 and "beyond the 3+3 algorithm" in sel.reason
