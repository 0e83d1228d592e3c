"""``escalation table --design boin12``: the paper's Table 3 from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from escalation.cli import main


def test_table3_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", "--design", "boin12", "--target", "0.35", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["u_b"] == pytest.approx(70.5)
    cells = {(r["n"], r["dlt"], r["responses"]): r["score"] for r in out["rows"]}
    assert {n for n, _, _ in cells} == {0, 3, 6, 9}
    assert cells[(3, 0, 3)] == 91 and cells[(9, 2, 3)] == 32.5 and cells[(9, 4, 0)] is None


def test_table3_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", "--design", "boin12", "--target", "0.35", "--cohorts", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("BOIN12 desirability table: target 0.35, efficacy target 0.25")
    assert "6 patients at the dose:" in out and "9 patients" not in out


def test_options_of_other_designs_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", "--design", "boin12", "--target", "0.35", "--phi1", "0.2"]) != 0
    assert "--phi1 does not apply to --design boin12" in capsys.readouterr().err
    assert main(["table", "--design", "boin12", "--target", "0.35", "--utility", "1,2"]) != 0


EXAMPLE = "examples/boin12_example.json"


def test_recommend_shows_efficacy_and_utility(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", EXAMPLE]) == 0
    out = capsys.readouterr().out
    assert "Recommendation: WAIT until 2026-12-02" in out  # P09's response is due on day 90
    assert "Efficacy and utility (patients with both outcomes known) (benchmark 70.5)" in out
    assert "WaitForOutcomes()" in out


def test_recommend_json_has_efficacy_per_dose(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", EXAMPLE, "--json"]) == 0
    doses = json.loads(capsys.readouterr().out)["doses"]
    assert doses[2]["efficacy"]["n_evaluable"] == 2 and doses[2]["efficacy"]["waiting"] == 1
    assert doses[0]["efficacy"]["utility_mean"] == pytest.approx(44.0)


def test_document_round_trip_keeps_the_efficacy_window() -> None:
    from escalation import document_to_json, parse_document

    doc = json.loads(Path(EXAMPLE).read_text()) | {"efficacy_window_days": 120}
    parsed = parse_document(doc)
    assert parsed.data.efficacy_window_days == 120
    again = parse_document(document_to_json(parsed))
    assert again.data.efficacy_window_days == 120
    bad = doc | {"efficacy_window_days": 0}
    with pytest.raises(Exception, match="efficacy_window_days"):
        parse_document(bad)


def test_plot_draws_toxicity_efficacy_and_utility(tmp_path: object) -> None:
    from pathlib import Path

    from escalation import parse_document
    from simulations.decision_plot import write_decision_plot

    out = Path(str(tmp_path)) / "boin12.svg"
    doc = parse_document(json.loads(Path(EXAMPLE).read_text()))
    write_decision_plot(doc, out)
    svg = out.read_text()
    assert "P(response)" in svg and "Pr(utility &gt; benchmark)" in svg


def test_pathways_are_refused_for_boin12(capsys: pytest.CaptureFixture[str]) -> None:
    """Pathways enumerate DLT outcomes only: for BOIN12 they are refused, not drawn wrong."""
    assert main(["paths", EXAMPLE, "--cohorts", "3"]) == 2
    assert "also decides on their responses" in capsys.readouterr().err
