"""BLRM defaults a statistician can defend, and the interval probabilities in every output
(issue 10, section 5).

The default prior is weakly informative and centred at a provisional MTD in the middle of the dose
range (Neuenschwander, Branson & Gsponer 2008): the reference dose is sqrt(lowest x highest
amount), log(alpha) ~ N(logit(target), 1.5^2), log(beta) ~ N(0, 0.5^2). Its per-dose interval
probabilities are checked against two independent computations: a one-dimensional quadrature
(scipy.integrate.quad over log(beta), the normal CDF in log(alpha) given log(beta)) and Monte Carlo
draws from the bivariate normal.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import expit, logit

from escalation import Action, TrialData
from escalation.cli import main
from escalation.designs.blrm import BLRM
from escalation.documents import decision_to_json, parse_document, selection_to_json
from escalation.errors import InvalidTrialDataError

AMOUNTS = (0.25e6, 0.5e6, 1.0e6, 2.0e6, 4.0e6)  # CAR+ T cells/kg
INTERVAL = (0.16, 0.33)


def make(target: float = 0.25, **options: Any) -> BLRM:
    return BLRM(n_doses=5, target=target, dose_amounts=AMOUNTS, **options)


def _document(design: dict[str, Any], **data: Any) -> dict[str, Any]:
    doses = [{"level": i + 1, "label": f"{a:g}/kg", "amount": a} for i, a in enumerate(AMOUNTS)]
    return {"design": design, "doses": doses} | data


# ---- the defaults ------------------------------------------------------------------------------------
def test_default_reference_dose_is_the_middle_of_the_range_and_the_prior_is_centred_there() -> None:
    opts = make().options()
    assert opts["reference_dose"] == pytest.approx(1.0e6, rel=1e-12)  # sqrt(0.25e6 * 4e6)
    assert opts["prior"] == {
        "mean": [pytest.approx(logit(0.25)), 0.0],
        "sd": [1.5, 0.5],
        "corr": 0.0,
    }
    four = BLRM(n_doses=4, target=0.3, dose_amounts=(1.0, 2.0, 4.0, 8.0))
    assert four.reference_dose == pytest.approx(math.sqrt(8.0), rel=1e-12)  # between doses


def _prob_below_quad(amount: float, bound: float, design: BLRM) -> float:
    """Pr(p(d) < bound) = E over log(beta) of Pr(log(alpha) < logit(bound) - beta x)."""
    prior = design.prior
    assert prior is not None and design.reference_dose is not None
    (m1, m2), (s1, s2), r = prior["mean"], prior["sd"], prior["corr"]
    x = math.log(amount / design.reference_dose)

    def integrand(lb: float) -> float:
        # log(alpha) | log(beta) = lb is normal (bivariate normal conditional)
        mean = m1 + r * s1 / s2 * (lb - m2)
        sd = s1 * math.sqrt(1.0 - r * r)
        return float(
            stats.norm.pdf(lb, m2, s2)
            * stats.norm.cdf((logit(bound) - math.exp(lb) * x - mean) / sd)
        )

    value, _ = integrate.quad(integrand, m2 - 12 * s2, m2 + 12 * s2, epsabs=1e-12, epsrel=1e-10)
    return float(value)


@pytest.mark.parametrize("target", [0.2, 0.25, 0.3])
def test_prior_interval_probabilities_agree_with_quadrature_and_monte_carlo(target: float) -> None:
    design = make(target=target)
    prior = design.prior_summary()
    lo, hi = INTERVAL
    quad_under = np.array([_prob_below_quad(a, lo, design) for a in AMOUNTS])
    quad_over = 1.0 - np.array([_prob_below_quad(a, hi, design) for a in AMOUNTS])
    np.testing.assert_allclose(prior.prob_underdose, quad_under, atol=1e-4)
    np.testing.assert_allclose(prior.prob_overdose, quad_over, atol=1e-4)
    np.testing.assert_allclose(prior.prob_target, 1.0 - quad_under - quad_over, atol=1e-4)

    rng = np.random.default_rng(20261206)
    n = 400_000
    assert design.prior is not None and design.reference_dose is not None
    mean, sd = np.array(design.prior["mean"]), np.array(design.prior["sd"])
    draws = rng.multivariate_normal(mean, np.diag(sd**2), size=n)
    x = np.log(np.array(AMOUNTS) / design.reference_dose)
    p = expit(draws[:, :1] + np.exp(draws[:, 1:]) * x[None, :])
    for got, freq in (
        (prior.prob_underdose, (p < lo).mean(axis=0)),
        (prior.prob_overdose, (p >= hi).mean(axis=0)),
    ):
        se = np.sqrt(freq * (1 - freq) / n)
        assert np.all(np.abs(got - freq) < 5 * se + 1e-4), (got, freq)
    # the prior increases with the dose and is centred: median DLT rate = target at the reference
    assert np.all(np.diff(prior.prob_overdose) > 0)
    assert float(prior.prob_tox_median[2]) == pytest.approx(target, abs=1e-3)


def test_one_dlt_in_three_at_the_lowest_dose_does_not_stop_the_trial() -> None:
    """The issue's case: the former default (sd 2 at the highest dose) stopped the whole trial."""
    for target in (0.25, 0.3):
        design = make(target=target)
        d = design.decide(TrialData.from_counts([3, 0, 0, 0, 0], [1, 0, 0, 0, 0], current_level=1))
        assert (d.action, d.next_level) == (Action.STAY, 1), d.reason
        assert d.doses[0].estimate == pytest.approx(0.18, abs=0.03)
        assert d.doses[0].prob_overdose is not None and d.doses[0].prob_overdose < 0.25
    design = make()
    clean = design.decide(TrialData.from_counts([3, 0, 0, 0, 0], [0, 0, 0, 0, 0], current_level=1))
    assert (clean.action, clean.next_level) == (Action.ESCALATE, 2)
    toxic = design.decide(TrialData.from_counts([3, 0, 0, 0, 0], [2, 0, 0, 0, 0], current_level=1))
    assert toxic.action is Action.STOP  # 2 DLTs in 3 at the lowest dose: no tolerable dose
    # the case is real: the former default (sd 2 and 1, reference at the top dose) stops there
    former = make(
        prior={"mean": [logit(0.25), 0.0], "sd": [2.0, 1.0], "corr": 0.0}, reference_dose=4.0e6
    )
    stopped = former.decide(
        TrialData.from_counts([3, 0, 0, 0, 0], [1, 0, 0, 0, 0], current_level=1)
    )
    assert stopped.action is Action.STOP


def test_no_dlt_in_six_at_the_middle_dose_lets_the_trial_escalate_past_it() -> None:
    """The slope's prior (log(beta) sd 0.5) lets data at the provisional MTD open the next dose;
    with sd 1 Pr(overdose) at level 4 stays at 0.38 after 0 DLTs in 3, 3 and 6 patients."""
    data = TrialData.from_counts([3, 3, 6, 0, 0], [0, 0, 0, 0, 0], current_level=3)
    d = make().decide(data)
    assert (d.action, d.next_level) == (Action.ESCALATE, 4), d.reason
    steep = make(prior={"mean": [logit(0.25), 0.0], "sd": [1.5, 1.0], "corr": 0.0})
    assert steep.decide(data).next_level == 3


def test_the_trial_starts_at_the_starting_dose_whatever_the_prior() -> None:
    pessimistic = {"mean": [2.0, 0.0], "sd": [1.5, 0.5], "corr": 0.0}
    design = make(prior=pessimistic)
    assert design.prior_summary().prob_overdose[0] > 0.25  # the prior alone excludes every dose
    d = design.decide(TrialData(n_doses=5))
    assert (d.action, d.next_level) == (Action.STAY, 1)
    assert "first outcome" in d.rules[0].detail


# ---- target optional with a prior and a target interval -------------------------------------------
def test_target_is_optional_when_a_prior_and_target_interval_are_given() -> None:
    prior = {"mean": [-1.0, 0.0], "sd": [1.5, 0.5], "corr": 0.0}
    doc = parse_document(
        _document({"method": "blrm", "prior": prior, "target_interval": [0.2, 0.35]}, patients=[])
    )
    assert doc.design.target == pytest.approx(0.275)
    assert doc.design.options()["prior"] == prior
    for block in (
        {"method": "blrm", "prior": prior},
        {"method": "blrm", "target_interval": [0.2, 0.35]},
    ):
        with pytest.raises(InvalidTrialDataError) as e:
            parse_document(_document(block, patients=[]))
        assert [p.field for p in e.value.problems] == ["design.target"]


# ---- the interval probabilities in every output -----------------------------------------------------
def test_interval_probabilities_are_in_each_dose_entry_of_the_json() -> None:
    doc = parse_document(
        _document(
            {"method": "blrm", "target": 0.25},
            counts=[{"level": 1, "n": 3, "dlt": 0}, {"level": 2, "n": 6, "dlt": 1}],
            current_level=2,
        )
    )
    decision = doc.design.decide(doc.data)
    payload = decision_to_json(decision, doc)
    diag = payload["diagnostics"]
    for i, entry in enumerate(payload["doses"]):
        for key in ("prob_underdose", "prob_target", "prob_overdose"):
            assert entry[key] == diag[key][i]
        total = entry["prob_underdose"] + entry["prob_target"] + entry["prob_overdose"]
        assert total == pytest.approx(1.0, abs=1e-9)
    assert "Pr(DLT rate >= 0.33 | data)" in payload["prob_overdose_definition"]
    assert payload["interval_level"] == 0.95
    assert set(diag["prior"]) >= {"prob_underdose", "prob_target", "prob_overdose"}
    selection = selection_to_json(doc.design.select(doc.data), doc)
    for i, entry in enumerate(selection["doses"]):
        for key in ("prob_underdose", "prob_target", "prob_overdose"):
            assert entry[key] == diag[key][i]
    assert selection["prob_overdose_definition"] == payload["prob_overdose_definition"]


def test_recommend_shows_the_prior_and_the_interval_probabilities(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "blrm.json"
    path.write_text(json.dumps(_document({"method": "blrm", "target": 0.25}, patients=[])))
    assert main(["recommend", str(path)]) == 0
    out = capsys.readouterr().out
    assert "P(under)  P(target)  P(overdose)" in out
    assert "Prior, before any data:" in out
    prior = make().prior_summary()
    assert f"{prior.prob_overdose[4]:.3f}" in out.split("Prior, before any data:")[1]
