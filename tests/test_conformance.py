"""One conformance check run over every design (as scikit-learn's estimator checks)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escalation import DESIGNS, Action, Decision, TrialData
from tests.designs_catalog import OPTIONS, make_design
from tests.strategies import trial_data

METHODS = sorted(DESIGNS)


def test_every_design_is_in_the_catalog() -> None:
    assert set(DESIGNS) == set(OPTIONS)


def check_decision(decision: Decision, data: TrialData) -> None:
    k = data.n_doses
    assert len(decision.doses) == k
    assert [d.dose_level for d in decision.doses] == list(range(1, k + 1))
    if decision.action in (Action.STOP, Action.WAIT):
        assert decision.next_level is None
    else:
        assert decision.next_level is not None and 1 <= decision.next_level <= k
        assert decision.next_level not in decision.eliminated
        tried = np.flatnonzero(data.summary.n_treated > 0)
        ceiling = max(int(tried[-1]) + 2 if tried.size else 1, 1)
        assert decision.next_level <= max(ceiling, decision.current_level or 1)
        cur = decision.current_level
        if cur is not None:
            expected = (
                Action.ESCALATE
                if decision.next_level > cur
                else Action.DEESCALATE
                if decision.next_level < cur
                else Action.STAY
            )
            assert decision.action is expected
    if decision.action is Action.STOP:
        assert decision.selection is not None
        sel = decision.selection
        assert sel.dose_level is None or (
            1 <= sel.dose_level <= k and sel.dose_level not in sel.eliminated
        )
        assert sel.reason
    if decision.action is Action.WAIT:
        assert decision.wait_until_day is not None and decision.wait_until_day > data.as_of_day
    assert set(decision.eliminated).isdisjoint(decision.admissible)
    assert sorted((*decision.eliminated, *decision.admissible)) == list(range(1, k + 1))
    assert decision.reason
    assert any(r.triggered for r in decision.rules)


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=trial_data(), n_doses_seed=st.just(0))
def test_conformance(method: str, data: TrialData, n_doses_seed: int) -> None:
    design = make_design(method, data.n_doses)
    decision = design.decide(data)
    check_decision(decision, data)
    again = make_design(method, data.n_doses).decide(data)
    assert again == decision  # deterministic
    selection = design.select(data)
    assert selection.dose_level is None or 1 <= selection.dose_level <= data.n_doses
    assert len(selection.estimates) == data.n_doses
