"""CRM's overdose control and the starting dose (issue 10, section 5).

A skeleton calibrated by indifference intervals puts the prior Pr(p_1 > target) near 0.3, above the
usual overdose cutoff 0.25: overdose control applied to the prior alone would stop every trial
before its first patient. As in EWOC's conduct, it applies from the first known outcome on; the
first cohort goes to the protocol's starting dose. Checked with every skeleton that
``escalation skeleton`` produces over a grid of targets, prior MTDs, numbers of levels and models.
"""

from __future__ import annotations

import json

import pytest

from escalation import CRM, TITECRM, Action, Patient, TrialData
from escalation.cli import main

CASES = [
    (target, halfwidth, levels, nu, model)
    for target in (0.2, 0.25, 0.3, 0.33)
    for halfwidth in (0.04, 0.08)
    for levels in (3, 5, 6)
    for nu in range(1, levels + 1)
    for model in ("empiric", "logistic")
]


def _skeleton(
    capsys: pytest.CaptureFixture[str],
    target: float,
    halfwidth: float,
    levels: int,
    nu: int,
    model: str,
) -> tuple[float, ...]:
    args = ["skeleton", "--halfwidth", str(halfwidth), "--target", str(target)]
    args += ["--prior-mtd", str(nu), "--levels", str(levels), "--model", model, "--json"]
    assert main(args) == 0
    return tuple(json.loads(capsys.readouterr().out)["skeleton"])


@pytest.mark.parametrize(("target", "halfwidth", "levels", "nu", "model"), CASES)
def test_overdose_control_lets_every_calibrated_skeleton_start(
    capsys: pytest.CaptureFixture[str],
    target: float,
    halfwidth: float,
    levels: int,
    nu: int,
    model: str,
) -> None:
    skeleton = _skeleton(capsys, target, halfwidth, levels, nu, model)
    for start in sorted({1, nu}):
        design = CRM(
            n_doses=levels,
            target=target,
            skeleton=skeleton,
            model=model,  # type: ignore[arg-type]
            overdose_control=0.25,
            start_level=start,
        )
        empty = TrialData(n_doses=levels, patients=(), as_of_day=0)
        d = design.decide(empty)
        assert (d.action, d.next_level) == (Action.STAY, start), d.reason
        assert d.eliminated == ()
        od = next(r for r in d.rules if r.label.startswith("EliminateToxicDoses"))
        assert not od.triggered and "first outcome" in od.detail
        # TITE-CRM: one patient still inside the window is no outcome yet
        tite = TITECRM(
            n_doses=levels,
            target=target,
            skeleton=skeleton,
            model=model,  # type: ignore[arg-type]
            overdose_control=0.25,
            start_level=start,
        )
        one = TrialData(
            n_doses=levels,
            patients=(Patient(patient_id="P1", dose_level=start, infused_day=0),),
            as_of_day=3,
        )
        t = tite.decide(one)
        assert t.action is not Action.STOP and t.next_level == start, t.reason


def test_the_prior_alone_would_exclude_the_lowest_dose() -> None:
    """The case is real: with dfcrm's calibration the prior Pr(p_1 > target) exceeds 0.25."""
    from escalation.models.skeleton import calibrate_skeleton

    skeleton = tuple(float(v) for v in calibrate_skeleton(0.05, 0.3, 3, 5))
    design = CRM(n_doses=5, target=0.3, skeleton=skeleton, overdose_control=0.25)
    post = design.posterior(TrialData(n_doses=5, patients=(), as_of_day=0))
    assert post.prob_overdose[0] == pytest.approx(0.315, abs=5e-4)


def test_overdose_control_acts_once_there_are_outcomes() -> None:
    from escalation.models.skeleton import calibrate_skeleton

    skeleton = tuple(float(v) for v in calibrate_skeleton(0.06, 0.3, 3, 5))
    design = CRM(n_doses=5, target=0.3, skeleton=skeleton, overdose_control=0.25)
    d = design.decide(TrialData.from_counts([3, 0, 0, 0, 0], [2, 0, 0, 0, 0], current_level=1))
    assert d.action is Action.STOP
    assert d.eliminated == (1, 2, 3, 4, 5)
