"""BOIN against R's BOIN 2.7.2: boundaries (get.boundary) and final selection (select.mtd)."""

from __future__ import annotations

import numpy as np
import pytest

from escalation import BOIN, TrialData, boin_lambdas, boundary_rows
from escalation.models.isotonic import select_isotonic
from tests.reference import load

BOUNDARY_CASES = load("boin_boundaries.json")["cases"]
SELECT_CASES = load("boin_select_mtd.json")["cases"]


@pytest.mark.parametrize("case", BOUNDARY_CASES, ids=lambda c: c["id"])
def test_lambdas_match_get_boundary(case: dict) -> None:
    i = case["inputs"]
    lambda_e, lambda_d = boin_lambdas(i["target"], i["p.saf"], i["p.tox"])
    assert lambda_e == pytest.approx(case["lambda_e"], rel=1e-12)
    assert lambda_d == pytest.approx(case["lambda_d"], rel=1e-12)


@pytest.mark.parametrize("case", BOUNDARY_CASES, ids=lambda c: c["id"])
def test_full_boundary_table_matches_exactly(case: dict) -> None:
    i = case["inputs"]
    n_max = i["ncohort"] * i["cohortsize"]
    rows = boundary_rows(
        n_max,
        target=i["target"],
        phi1=i["p.saf"],
        phi2=i["p.tox"],
        cutoff=i["cutoff.eli"],
        extra_safe=i["extrasafe"],
        offset=i["offset"],
    )
    ours = [
        {
            "n": r.n,
            "escalate_if_y_le": r.escalate_at_most,
            "deescalate_if_y_ge": r.deescalate_at_least,
            "eliminate_if_y_ge": r.eliminate_at_least,
        }
        for r in rows
    ]
    assert ours == case["full_boundary_tab"]
    at_cohorts = [o for o in ours if o["n"] % i["cohortsize"] == 0]
    assert at_cohorts == case["boundary_tab"]
    if i["extrasafe"]:
        stops = [{"n_at_lowest_dose": r.n, "stop_if_y_ge": r.stop_lowest_at_least} for r in rows]
        assert stops == case["stop_boundary"]


def _select(case: dict):
    i = case["inputs"]
    return select_isotonic(
        i["npts"],
        i["ntox"],
        target=i["target"],
        cutoff=i["cutoff.eli"],
        extra_safe=i["extrasafe"],
        offset=i["offset"],
        bound_mtd=i["boundMTD"],
        phi2=i["p.tox"],
    )


@pytest.mark.parametrize("case", SELECT_CASES, ids=lambda c: c["id"])
def test_select_mtd_dose_matches_exactly(case: dict) -> None:
    sel = _select(case)
    expected = case["returned"]["MTD"]
    assert (99 if sel.dose_index is None else sel.dose_index + 1) == expected


@pytest.mark.parametrize(
    "case", [c for c in SELECT_CASES if c.get("recomputed")], ids=lambda c: c["id"]
)
def test_select_mtd_estimates_to_1e9(case: dict) -> None:
    sel = _select(case)
    rec = case["recomputed"]
    treated = np.atleast_1d(rec["treated_doses"]) - 1
    np.testing.assert_allclose(
        sel.raw_estimates[treated], np.atleast_1d(rec["raw_phat"]), atol=1e-9
    )
    np.testing.assert_allclose(
        sel.estimates[treated], np.atleast_1d(rec["isotonic_phat_treated"]), atol=1e-9
    )
    np.testing.assert_allclose(
        sel.prob_overdose[treated], np.atleast_1d(rec["p_overdose_treated_unrounded"]), atol=1e-9
    )
    assert sel.eliminated.astype(int).tolist() == rec["eliminated_flag"]
    untreated = np.setdiff1d(np.arange(len(case["inputs"]["npts"])), treated)
    assert np.isnan(sel.estimates[untreated]).all()


@pytest.mark.parametrize("case", SELECT_CASES, ids=lambda c: c["id"])
def test_design_select_on_counts_agrees_with_select_mtd(case: dict) -> None:
    """The same selection through the design and the counts form of the data."""
    i = case["inputs"]
    design = BOIN(
        n_doses=len(i["npts"]),
        target=i["target"],
        phi2=i["p.tox"],
        cutoff=i["cutoff.eli"],
        extra_safe=i["extrasafe"],
        offset=i["offset"],
        bound_mtd=i["boundMTD"],
    )
    treated = [k for k, n in enumerate(i["npts"]) if n > 0]
    data = TrialData.from_counts(
        i["npts"], i["ntox"], current_level=(treated[-1] + 1) if treated else None
    )
    sel = design.select(data)
    expected = case["returned"]["MTD"]
    assert (99 if sel.dose_level is None else sel.dose_level) == expected
    assert (sel.dose_level is None) == bool(sel.reason.startswith("No dose"))
