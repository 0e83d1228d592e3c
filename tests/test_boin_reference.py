"""BOIN against R's BOIN 2.7.2: boundaries (get.boundary) and final selection (select.mtd)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import isotonic_regression
from scipy.stats import beta

from escalation import (
    BOIN,
    InvalidTrialDataError,
    TrialData,
    boin_lambdas,
    boundary_rows,
    select_isotonic_batch,
)
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


# ---- against an independent restatement of select.mtd --------------------------------------


def _select_mtd_restated(
    n: np.ndarray,
    y: np.ndarray,
    *,
    target: float,
    cutoff: float,
    extra_safe: bool,
    offset: float,
    bound_mtd: bool,
) -> int | None:
    """R's select.mtd step by step, written with scipy's PAVA and Beta tail (0-based index)."""
    tail = beta.sf(target, y + 1, n - y + 1)
    over = (n >= 3) & (tail > cutoff)
    eliminated = np.zeros(n.size, dtype=bool)
    if over.any():
        eliminated[int(np.argmax(over)) :] = True
    if extra_safe and n[0] >= 3 and tail[0] > cutoff - offset:
        eliminated[:] = True
    kept = np.flatnonzero((n > 0) & ~eliminated)
    if eliminated[0] or kept.size == 0:
        return None
    a = 0.05
    phat = (y[kept] + a) / (n[kept] + 2 * a)
    var = (y[kept] + a) * (n[kept] - y[kept] + a) / ((n[kept] + 2 * a) ** 2 * (n[kept] + 2 * a + 1))
    fit = isotonic_regression(phat, weights=1 / var).x + np.arange(1, kept.size + 1) * 1e-10
    if bound_mtd:
        phi2 = 1.4 * target
        lambda_d = math.log((1 - target) / (1 - phi2)) / math.log(
            phi2 * (1 - target) / (target * (1 - phi2))
        )
        kept, fit = kept[fit <= lambda_d], fit[fit <= lambda_d]
        if kept.size == 0:
            return None
    return int(kept[int(np.argmin(np.abs(fit - target)))])


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 15), st.integers(0, 15)).map(lambda t: (t[0], min(t[1], t[0]))),
        min_size=1,
        max_size=8,
    ),
    target=st.sampled_from([0.2, 0.25, 0.3]),
    cutoff=st.sampled_from([0.95, 0.9]),
    extra_safe=st.booleans(),
    bound_mtd=st.booleans(),
)
def test_selection_and_estimates_match_a_restatement_with_scipy(
    data: list[tuple[int, int]],
    target: float,
    cutoff: float,
    extra_safe: bool,
    bound_mtd: bool,
) -> None:
    """The max-min isotonic fit against scipy's pool-adjacent-violators, the selection against
    select.mtd restated with it."""
    n = np.array([a for a, _ in data])
    y = np.array([b for _, b in data])
    options = {"target": target, "cutoff": cutoff, "extra_safe": extra_safe, "offset": 0.05}
    sel = select_isotonic(n, y, bound_mtd=bound_mtd, **options)
    assert sel.dose_index == _select_mtd_restated(n, y, bound_mtd=bound_mtd, **options)
    treated = n > 0
    assert np.isnan(sel.estimates[~treated]).all() and np.isnan(sel.prob_overdose[~treated]).all()
    if treated.any():
        a = 0.05
        nt, yt = n[treated], y[treated]
        phat = (yt + a) / (nt + 2 * a)
        var = (yt + a) * (nt - yt + a) / ((nt + 2 * a) ** 2 * (nt + 2 * a + 1))
        np.testing.assert_allclose(sel.raw_estimates[treated], phat, rtol=1e-15)
        fit = isotonic_regression(phat, weights=1 / var).x
        np.testing.assert_allclose(sel.estimates[treated], fit, rtol=1e-12, atol=1e-15)
        tail = isotonic_regression(beta.sf(target, yt + a, nt - yt + a)).x
        np.testing.assert_allclose(sel.prob_overdose[treated], tail, rtol=1e-12, atol=1e-15)
    batch = select_isotonic_batch(n[None, :], y[None, :], bound_mtd=bound_mtd, **options)
    assert batch.tolist() == [-1 if sel.dose_index is None else sel.dose_index]


def test_batch_selection_of_no_trial_and_bad_counts() -> None:
    empty = np.zeros((0, 4), dtype=np.int64)
    assert select_isotonic_batch(empty, empty, target=0.3).shape == (0,)
    with pytest.raises(InvalidTrialDataError, match=r"dlt_at_dose\[1, 2\]"):
        select_isotonic_batch([[3, 3, 3], [3, 3, 3]], [[0, 1, 2], [0, 1, 4]], target=0.3)
    with pytest.raises(InvalidTrialDataError, match="n_at_dose"):
        select_isotonic_batch([3, 3, 3], [0, 1, 2], target=0.3)
    with pytest.raises(InvalidTrialDataError, match="dlt_at_dose"):
        select_isotonic_batch([[3, 3, 3]], [[0, 1]], target=0.3)
