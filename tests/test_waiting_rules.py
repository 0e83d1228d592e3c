"""The stagger rule (sentinel dosing), common to every design."""

from __future__ import annotations

import pytest

from escalation import DESIGNS, Action, Patient, TrialData
from tests.designs_catalog import OPTIONS


@pytest.mark.parametrize("method", sorted(DESIGNS))
def test_stagger_waits_for_the_sentinel(method: str) -> None:
    design = DESIGNS[method](n_doses=4, stagger_days=7, **OPTIONS[method](4))
    patients = (
        *(Patient(patient_id=f"A{k}", dose_level=1, infused_day=k) for k in range(3)),
        Patient(patient_id="S", dose_level=2, infused_day=60),
    )
    early = design.decide(TrialData(n_doses=4, patients=patients, as_of_day=63))
    if early.action is Action.WAIT and any(
        r.label == "Stagger(days=7)" and r.triggered for r in early.rules
    ):
        assert early.wait_until_day >= 67
    else:  # designs that wait for the pending sentinel anyway (BOIN, CRM)
        assert early.action is Action.WAIT
    later = design.decide(TrialData(n_doses=4, patients=patients, as_of_day=68))
    assert not any(r.label == "Stagger(days=7)" and r.triggered for r in later.rules)


def test_stagger_names_the_sentinel_and_the_date() -> None:
    design = DESIGNS["tite-crm"](n_doses=4, stagger_days=7, **OPTIONS["tite-crm"](4))
    patients = (
        *(Patient(patient_id=f"A{k}", dose_level=1, infused_day=k) for k in range(3)),
        Patient(patient_id="S1", dose_level=2, infused_day=50),
        Patient(patient_id="S2", dose_level=2, infused_day=58),
    )
    d = design.decide(TrialData(n_doses=4, patients=patients, as_of_day=60))
    # TITE-CRM stays at level 2 (nobody there has completed); S2 was infused 2 days ago
    assert d.action is Action.WAIT
    assert d.wait_until_day == 65
    stagger = next(r for r in d.rules if r.label == "Stagger(days=7)")
    assert stagger.triggered and "S2" in stagger.detail
