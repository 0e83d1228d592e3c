"""Trial data: states of patients on the as-of day, follow-up, counts form."""

from __future__ import annotations

import numpy as np
import pytest

from escalation import InvalidTrialDataError, Patient, PatientState, TrialData


def test_states_and_followup() -> None:
    data = TrialData(
        n_doses=3,
        as_of_day=60,
        patients=(
            Patient(patient_id="A", dose_level=1, infused_day=0),  # complete
            Patient(patient_id="B", dose_level=1, infused_day=10, dlt=True, dlt_day=18),
            Patient(patient_id="C", dose_level=2, infused_day=45),  # pending, 15/30
            Patient(patient_id="D", dose_level=2, infused_day=40, withdrawn_day=52),
            Patient(patient_id="E", dose_level=2, infused_day=30),  # exactly complete on day 60
        ),
    )
    s = data.summary
    assert s.state == (
        PatientState.COMPLETE,
        PatientState.DLT,
        PatientState.PENDING,
        PatientState.WITHDRAWN,
        PatientState.COMPLETE,
    )
    assert s.followup_days.tolist() == [30, 8, 15, 12, 30]
    np.testing.assert_allclose(s.followup_fraction, [1, 8 / 30, 0.5, 0.4, 1])
    assert s.n_treated.tolist() == [2, 3, 0]
    assert s.n_complete.tolist() == [2, 1, 0]
    assert s.n_dlt.tolist() == [1, 0, 0]
    assert s.n_pending.tolist() == [0, 1, 0]
    assert s.n_withdrawn.tolist() == [0, 1, 0]
    np.testing.assert_allclose(s.pending_followup, [0, 0.5, 0])
    assert data.current_dose_level == 2


def test_current_level_is_latest_infusion_lowest_on_ties() -> None:
    patients = (
        Patient(patient_id="A", dose_level=3, infused_day=5),
        Patient(patient_id="B", dose_level=2, infused_day=5),
        Patient(patient_id="C", dose_level=1, infused_day=1),
    )
    assert TrialData(n_doses=3, as_of_day=10, patients=patients).current_dose_level == 2
    assert TrialData(n_doses=3).current_dose_level is None


def test_counts_form_builds_complete_patients() -> None:
    data = TrialData.from_counts([3, 6, 0], [0, 2, 0], current_level=2)
    s = data.summary
    assert s.n_complete.tolist() == [3, 6, 0]
    assert s.n_dlt.tolist() == [0, 2, 0]
    assert s.n_pending.sum() == 0
    assert data.current_dose_level == 2


def test_every_problem_reported_at_once() -> None:
    with pytest.raises(InvalidTrialDataError) as err:
        TrialData(
            n_doses=2,
            as_of_day=50,
            patients=(
                Patient(patient_id="A", dose_level=3, infused_day=0),
                Patient(patient_id="A", dose_level=1, infused_day=60),
                Patient(patient_id="C", dose_level=1, infused_day=0, dlt=True),
                Patient(patient_id="D", dose_level=1, infused_day=10, dlt=True, dlt_day=5),
            ),
        )
    fields = [(p.field, p.patient_id) for p in err.value.problems]
    assert ("patients[0].dose_level", "A") in fields
    assert ("patients[1].id", "A") in fields
    assert ("patients[1].infused_on", "A") in fields
    assert ("patients[2].dlt_on", "C") in fields
    assert ("patients[3].dlt_on", "D") in fields


def test_counts_form_rejects_impossible_counts() -> None:
    with pytest.raises(InvalidTrialDataError, match=r"counts\[1\]\.dlt"):
        TrialData.from_counts([3, 2], [0, 3], current_level=1)
