"""``escalation table --design boin12``: the paper's Table 3 from the command line."""

from __future__ import annotations

import json

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
