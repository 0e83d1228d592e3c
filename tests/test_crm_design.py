"""CRM and TITE-CRM designs: dfcrm's fits through the design, and each rule of the conduct."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from escalation import CRM, TITECRM, Action, Patient, TrialData
from tests.reference import load

FITS = load("crm_fits.json")
CRM_CASES = FITS["crm_cases"]
FU_CASES = [c for c in FITS["titecrm_cases"] if c["followup_days"] is not None]
SK = tuple(FITS["skeletons"]["sk_t30_6"]["prior"])
# dfcrm integrates to about 1e-8 on these fits (R's integrate(); the largest difference, 2.1e-7,
# is random_03, empiric): 1e-6 relative, so that a slip such as a prior sd rounded to 1.1576 fails
# (tests/models/test_crm_posterior.py shows it)
REL = 1e-6


def _counts_data(case: dict, n_doses: int) -> TrialData:
    patients = [
        Patient(
            patient_id=f"P{i}",
            dose_level=lv,
            infused_day=i,
            dlt=bool(t),
            dlt_day=i + 1 if t else None,
        )
        for i, (lv, t) in enumerate(zip(case["level"], case["tox"], strict=True))
    ]
    return TrialData(n_doses=n_doses, patients=tuple(patients), as_of_day=len(patients) + 40)


@pytest.mark.parametrize("model", ["empiric", "logistic"])
@pytest.mark.parametrize("case", CRM_CASES, ids=lambda c: c["id"])
def test_design_reproduces_dfcrm_crm(case: dict, model: str) -> None:
    ref = case[model]
    design = CRM(
        n_doses=len(case["prior"]),
        target=case["target"],
        skeleton=tuple(case["prior"]),
        model=model,
    )
    data = _counts_data(case, len(case["prior"]))
    post = design.posterior(data)
    assert post.posterior_mean == pytest.approx(ref["estimate"], rel=REL, abs=1e-10)
    assert post.posterior_var == pytest.approx(ref["post.var"], rel=REL)
    np.testing.assert_allclose(post.ptox, ref["ptox"], rtol=REL)
    fit = design.fit(data)
    assert fit.proposed_index + 1 == ref["mtd"]  # the model's proposal before the rules
    np.testing.assert_allclose(fit.estimate, ref["ptox"], rtol=REL)


def _tite_data(case: dict) -> TrialData:
    as_of = 100
    patients = []
    for i, (lv, t, fu) in enumerate(
        zip(case["level"], case["tox"], case["followup_days"], strict=True)
    ):
        if t:
            infused = as_of - case["obswin"]
            patients.append(
                Patient(
                    patient_id=f"P{i}",
                    dose_level=lv,
                    infused_day=infused,
                    dlt=True,
                    dlt_day=infused + fu,
                )
            )
        else:
            patients.append(Patient(patient_id=f"P{i}", dose_level=lv, infused_day=as_of - fu))
    return TrialData(
        n_doses=len(case["prior"]),
        patients=tuple(patients),
        as_of_day=as_of,
        dlt_window_days=case["obswin"],
    )


@pytest.mark.parametrize("case", FU_CASES, ids=lambda c: c["id"])
def test_design_reproduces_dfcrm_titecrm_from_dates(case: dict) -> None:
    ref = case["fit"]
    design = TITECRM(
        n_doses=len(case["prior"]),
        target=case["target"],
        skeleton=tuple(case["prior"]),
        model=case["model"],
        weights=case["scheme"],
    )
    data = _tite_data(case)
    np.testing.assert_allclose(design.patient_weights(data), ref["weights_used"], rtol=1e-12)
    post = design.posterior(data)
    assert post.posterior_mean == pytest.approx(ref["estimate"], rel=REL)
    assert post.posterior_var == pytest.approx(ref["post.var"], rel=REL)
    np.testing.assert_allclose(post.ptox, ref["ptox"], rtol=REL)
    assert design.fit(data).proposed_index + 1 == ref["mtd"]


def crm(**options: object) -> CRM:
    return CRM(n_doses=6, target=0.3, skeleton=SK, **options)  # type: ignore[arg-type]


def decide(design: CRM, n: list[int], y: list[int], current: int):
    return design.decide(TrialData.from_counts(n, y, current_level=current))


def test_no_skipping_limits_the_model() -> None:
    d = decide(crm(), [3, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], 1)
    assert (d.action, d.next_level) == (Action.ESCALATE, 2)
    assert any(r.label == "NoSkipping()" and r.triggered for r in d.rules)


def test_coherence_blocks_escalation_after_a_toxic_cohort() -> None:
    # the last cohort (3 patients at level 2) had 1 DLT: rate 0.33 >= 0.3, no escalation
    with_rule = decide(crm(), [3, 3, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], 2)
    assert (with_rule.action, with_rule.next_level) == (Action.STAY, 2)
    without = decide(crm(coherence=False), [3, 3, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], 2)
    assert without.next_level == 3


def test_safety_stop_at_the_lowest_dose() -> None:
    d = decide(crm(), [3, 0, 0, 0, 0, 0], [3, 0, 0, 0, 0, 0], 1)
    assert d.action is Action.STOP
    assert d.selection is not None and d.selection.dose_level is None
    assert "safety" in d.selection.reason
    off = decide(crm(safety_stop_prob=None), [3, 0, 0, 0, 0, 0], [3, 0, 0, 0, 0, 0], 1)
    assert (off.action, off.next_level) == (Action.STAY, 1)


def test_overdose_control_excludes_doses_over_the_cutoff() -> None:
    design = crm(overdose_control=0.25, coherence=False)
    d = decide(design, [3, 3, 3, 0, 0, 0], [0, 0, 1, 0, 0, 0], 3)
    over = [e.dose_level for e in d.doses if e.prob_overdose is not None and e.prob_overdose > 0.25]
    assert set(over) == set(d.eliminated)
    assert d.next_level is not None and d.next_level not in over


def test_n_stop_at_the_recommended_dose() -> None:
    d = decide(crm(n_stop=9), [3, 3, 9, 0, 0, 0], [0, 0, 4, 0, 0, 0], 3)
    assert d.action is Action.STOP
    assert d.selection is not None and d.selection.dose_level == 3


def test_startup_escalates_by_complete_cohort_until_the_first_dlt() -> None:
    design = crm(startup=True)
    first = decide(design, [3, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], 1)
    assert first.next_level == 2 and "Start-up" in first.reason
    partial = decide(design, [3, 2, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], 2)
    assert partial.next_level == 2
    after_dlt = decide(design, [3, 3, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], 2)
    assert "Start-up" not in after_dlt.reason


def test_crm_waits_and_tite_crm_decides_with_pending_patients() -> None:
    patients = (
        *(Patient(patient_id=f"A{k}", dose_level=1, infused_day=k) for k in range(3)),
        Patient(patient_id="B0", dose_level=2, infused_day=40),
        Patient(patient_id="B1", dose_level=2, infused_day=48),
    )
    data = TrialData(n_doses=6, patients=patients, as_of_day=60)
    waiting = crm().decide(data)
    assert waiting.action is Action.WAIT and waiting.wait_until_day == 78
    tite = TITECRM(n_doses=6, target=0.3, skeleton=SK).decide(data)
    assert tite.action is not Action.WAIT
    assert tite.next_level == 2  # level 3 is untried and nobody at level 2 has completed
    assert any(
        r.label.startswith("EscalationNeedsCompleteFollowup") and r.triggered for r in tite.rules
    )
    assert tite.diagnostics["weights"]["B1"] == pytest.approx(12 / 30)


def test_tite_crm_escalates_once_a_patient_completes_at_the_current_dose() -> None:
    patients = (
        *(Patient(patient_id=f"A{k}", dose_level=1, infused_day=k) for k in range(3)),
        Patient(patient_id="B0", dose_level=2, infused_day=30),
        Patient(patient_id="B1", dose_level=2, infused_day=48),
    )
    d = TITECRM(n_doses=6, target=0.3, skeleton=SK).decide(
        TrialData(n_doses=6, patients=patients, as_of_day=61)
    )
    assert (d.action, d.next_level) == (Action.ESCALATE, 3)


def test_final_selection_closest_estimate_among_tried_doses() -> None:
    design = crm()
    data = TrialData.from_counts([3, 6, 6, 0, 0, 0], [0, 1, 3, 0, 0, 0], current_level=3)
    sel = design.select(data)
    post = design.posterior(data)
    tried = [0, 1, 2]
    best = tried[int(np.argmin(np.abs(post.ptox[tried] - 0.3)))]
    assert sel.dose_level == best + 1
    assert sel.estimates == pytest.approx(tuple(post.ptox))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("skeleton", (0.1, 0.3, 0.2, 0.4, 0.5, 0.6)),
        ("skeleton", (0.1, 0.2)),
        ("skeleton", (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)),
        ("prior_sd", 0.0),
        ("safety_stop_prob", 1.5),
        ("overdose_control", 0.0),
        ("model", "probit"),
        ("max_step", 0),
    ],
)
def test_invalid_options_name_the_field(field: str, value: object) -> None:
    from escalation import InvalidDesignError

    options = {"skeleton": SK} | {field: value}
    with pytest.raises(InvalidDesignError) as err:
        CRM(n_doses=6, target=0.3, **options)  # type: ignore[arg-type]
    assert f"design.{field}" in [p.field for p in err.value.problems]


def test_tite_crm_holds_an_untried_dose_back_at_the_highest_dose_tried() -> None:
    """After a de-escalation, the current dose is below the highest dose tried: the untried dose
    the model wants is held back to the highest tried dose, not to the current one (else a DLT
    at that highest dose would raise the next dose: hypothesis found that case)."""
    patients = (
        Patient(patient_id="P000", dose_level=3, infused_day=0),
        Patient(patient_id="P001", dose_level=1, infused_day=1),
        Patient(patient_id="P002", dose_level=2, infused_day=0),
    )
    data = TrialData(n_doses=4, patients=patients, as_of_day=30)
    design = TITECRM(n_doses=4, target=0.3, skeleton=(0.1, 0.2, 0.3, 0.4))
    before = design.decide(data)
    assert (
        before.next_level == 3 and "at most dose level 3, the highest dose tried" in before.reason
    )
    worse = (dataclasses.replace(patients[0], dlt=True, dlt_day=1), *patients[1:])
    after = design.decide(dataclasses.replace(data, patients=worse))
    assert after.next_level is not None and after.next_level <= before.next_level


def test_the_final_selection_is_the_same_without_the_quantiles() -> None:
    """select() skips the credible intervals, which a selection does not report."""
    design = TITECRM(n_doses=4, target=0.25, skeleton=(0.08, 0.16, 0.25, 0.35))
    data = TrialData(
        n_doses=4,
        as_of_day=75,
        current_level=2,
        patients=(
            Patient(patient_id="A", dose_level=1, infused_day=0),
            Patient(patient_id="B", dose_level=1, infused_day=3),
            Patient(patient_id="C", dose_level=2, infused_day=40, dlt=True, dlt_day=52),
            Patient(patient_id="D", dose_level=2, infused_day=60),
        ),
    )
    lean = design.select(data)
    full = design._selection(data, design.fit(data))
    assert lean == full
