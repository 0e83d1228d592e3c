"""The same number must not differ between outputs without a word (issue 10, section 5).

* BOIN's recommendation reports Pr(DLT rate > target) under the elimination rule's Beta(1, 1)
  posterior; its final selection reports R's ``select.mtd`` probabilities (Beta(0.05, 0.05) prior,
  isotonic). Both are kept (the selection reproduces R) and every output says which is which;
* TITE-BOIN's plot shows the table's overdose probabilities (the elimination rule's posterior);
* one credible-interval level per design, the same in the table, the JSON and the plot, labelled.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy import stats

from escalation import TrialData
from escalation.cli import main
from escalation.documents import decision_to_json, parse_document, selection_to_json
from tests.designs_catalog import DLT_ONLY_METHODS, make_design

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_demo_trial_recommend_and_select_label_their_different_posteriors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = str(EXAMPLES / "lcar_aio_example.json")
    assert main(["recommend", path, "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert main(["select", path, "--json"]) == 0
    sel = json.loads(capsys.readouterr().out)
    # independent values: level 3 has 1 DLT in 3 complete patients, target 0.3
    assert rec["doses"][2]["prob_overdose"] == pytest.approx(stats.beta.sf(0.3, 2, 3), rel=1e-9)
    assert sel["doses"][2]["prob_overdose"] == pytest.approx(
        stats.beta.sf(0.3, 1.05, 2.05), rel=1e-9
    )  # increasing over levels 1-3: the isotonic fit leaves it as it is
    assert "Beta(1, 1)" in rec["prob_overdose_definition"]
    assert "Beta(0.05, 0.05)" in sel["prob_overdose_definition"]
    assert "select.mtd" in sel["prob_overdose_definition"]
    assert "not the Beta(1, 1) posterior of the decisions" in sel["prob_overdose_definition"]
    for command in ("recommend", "select"):
        assert main([command, path]) == 0
        text = capsys.readouterr().out
        assert "\nP(overdose): Pr(DLT rate > 0.3 | the complete patients at the dose)" in text


@pytest.mark.parametrize("method", DLT_ONLY_METHODS)  # counts form: BOIN12 needs patients
def test_every_output_says_what_p_overdose_is(method: str) -> None:
    design = make_design(method, 3)
    block = design.options()
    doc = parse_document(
        {
            "design": block,
            "doses": [{"level": i + 1, "amount": 0.25e6 * 2.0**i} for i in range(3)],
            "counts": [{"level": 1, "n": 3, "dlt": 0}, {"level": 2, "n": 3, "dlt": 1}],
            "current_level": 2,
        }
    )
    payload = decision_to_json(doc.design.decide(doc.data), doc)
    selection = selection_to_json(doc.design.select(doc.data), doc)
    for out, values in (
        (payload, [d["prob_overdose"] for d in payload["doses"]]),
        (selection, selection["prob_overdose"]),
    ):
        definition = out["prob_overdose_definition"]
        if all(v is None for v in values):  # no P(overdose) at all (3+3): nothing to define
            assert definition is None
        else:
            assert definition.startswith("Pr(DLT rate ") and "posterior" in definition
    if design.interval_level is not None:
        assert payload["interval_level"] == design.interval_level
    else:
        assert payload["interval_level"] is None
        assert all(d["prob_tox_interval"] is None for d in payload["doses"])


def test_tite_boin_plot_shows_the_table_s_overdose_probabilities() -> None:
    doc = parse_document(
        {
            "design": {"method": "tite-boin", "target": 0.3},
            "doses": [{"level": 1}, {"level": 2}, {"level": 3}],
            "as_of": "2026-05-20",
            "patients": [
                {"id": "A", "dose_level": 1, "infused_on": "2026-03-01", "dlt": False},
                {"id": "B", "dose_level": 1, "infused_on": "2026-03-05", "dlt": False},
                {"id": "C", "dose_level": 1, "infused_on": "2026-03-10", "dlt": False},
                {
                    "id": "D",
                    "dose_level": 2,
                    "infused_on": "2026-05-01",
                    "dlt": True,
                    "dlt_on": "2026-05-09",
                },
                {"id": "E", "dose_level": 2, "infused_on": "2026-05-05", "dlt": False},
                {"id": "F", "dose_level": 2, "infused_on": "2026-05-12", "dlt": False},
            ],
        }
    )
    decision = doc.design.decide(doc.data)
    bands = doc.design.posterior_bands(doc.data)
    assert bands is not None
    (bars,) = bands.interval_probs.values()
    table = [d.prob_overdose for d in decision.doses]
    assert [None if b != b else b for b in bars] == table
    # the table's: 1 DLT among the 3 treated at level 2 (pending ones as without DLT), Beta(1, 1)
    assert table[1] == pytest.approx(stats.beta.sf(0.3, 2, 3), rel=1e-12)
    assert "pending ones counted as without DLT" in decision.prob_overdose_definition
    assert "bars as the table" in bands.model


@pytest.mark.parametrize("method", ["crm", "tite-crm", "blrm"])
def test_one_credible_interval_level_per_design(method: str) -> None:
    design = make_design(method, 4)
    data = TrialData.from_counts([3, 3, 3, 0], [0, 0, 1, 0], current_level=3)
    decision = design.decide(data)
    bands = design.posterior_bands(data)
    assert bands is not None and design.interval_level == 0.95
    assert decision.interval_level == 0.95
    for d, band in zip(decision.doses, bands.band95, strict=True):
        assert d.prob_tox_interval == pytest.approx(band, abs=1e-9)
