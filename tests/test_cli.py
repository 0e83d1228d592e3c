"""The console script, run as a user runs it (subprocess of the installed ``escalation``)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from escalation import __version__, boundary_rows
from escalation.documents import decision_to_json, parse_document
from tests.conftest import EXAMPLE
from tests.reference import load


def run(script: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([script, *args], capture_output=True, text=True, input=stdin, timeout=60)


def test_version(console_script: str) -> None:
    out = run(console_script, "--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"escalation {__version__}"


@pytest.mark.parametrize("command", [[], ["table"], ["recommend"], ["select"]])
def test_help_on_every_command(console_script: str, command: list[str]) -> None:
    out = run(console_script, *command, "--help")
    assert out.returncode == 0
    assert "usage: escalation" in out.stdout


def test_table_json_matches_r_get_boundary(console_script: str) -> None:
    case = next(c for c in load("boin_boundaries.json")["cases"] if c["id"] == "target_0.30")
    out = run(
        console_script,
        "table",
        "--target",
        "0.3",
        "--cohort-size",
        "3",
        "--cohorts",
        "10",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["lambda_e"] == pytest.approx(case["lambda_e"], rel=1e-12)
    assert payload["lambda_d"] == pytest.approx(case["lambda_d"], rel=1e-12)
    assert [r["n"] for r in payload["rows"]] == list(range(1, 31))
    assert [
        [r["escalate_at_most"], r["deescalate_at_least"], r["eliminate_at_least"]]
        for r in payload["rows"]
    ] == [
        [r["escalate_if_y_le"], r["deescalate_if_y_ge"], r["eliminate_if_y_ge"]]
        for r in case["full_boundary_tab"]
    ]


def test_table_extra_safe_has_stopping_boundary(console_script: str) -> None:
    case = next(
        c for c in load("boin_boundaries.json")["cases"] if c["id"] == "target_0.30_extrasafe"
    )
    out = run(console_script, "table", "--target", "0.3", "--extra-safe", "--json")
    rows = json.loads(out.stdout)["rows"]
    assert [r["stop_lowest_at_least"] for r in rows] == [
        s["stop_if_y_ge"] for s in case["stop_boundary"]
    ]


def test_table_csv_and_markdown_and_text(console_script: str) -> None:
    out = run(console_script, "table", "--target", "0.25", "--cohorts", "4", "--csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    expected = boundary_rows(12, target=0.25)
    assert [int(r["escalate_at_most"]) for r in rows] == [e.escalate_at_most for e in expected]
    assert rows[0]["eliminate_at_least"] == ""
    md = run(console_script, "table", "--target", "0.25", "--cohorts", "4", "--markdown").stdout
    assert md.startswith("| Patients at dose |") and md.count("\n") == 14
    text = run(console_script, "table", "--target", "0.25", "--cohorts", "4").stdout
    assert "lambda_e 0.1968" in text


def test_recommend_json_equals_library_call(console_script: str) -> None:
    out = run(console_script, "recommend", str(EXAMPLE), "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    doc = parse_document(json.loads(EXAMPLE.read_text()))
    assert payload == decision_to_json(doc.design.decide(doc.data), doc)
    for key in ("action", "next_dose", "reason", "doses", "eliminated", "design", "engine_version"):
        assert key in payload
    assert payload["design"]["method"] == "boin" and payload["design"]["cutoff"] == 0.95


def test_recommend_text_is_readable(console_script: str) -> None:
    out = run(console_script, "recommend", str(EXAMPLE))
    assert out.returncode == 0
    assert "Recommendation: STAY -> dose level 3" in out.stdout
    assert "Rules applied" in out.stdout


def test_select_json(console_script: str) -> None:
    out = run(console_script, "select", str(EXAMPLE), "--json")
    payload = json.loads(out.stdout)
    assert payload["dose"] == 3
    assert payload["estimates"][3] is None and payload["estimates"][4] is None
    assert payload["estimates"][0] == pytest.approx(0.05 / 3.1)
    assert payload["reason"]


def test_stdin_document(console_script: str) -> None:
    out = run(console_script, "recommend", "-", "--json", stdin=EXAMPLE.read_text())
    assert json.loads(out.stdout)["next_dose"] == 3


def _bad(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


@pytest.mark.parametrize("command", ["recommend", "select"])
def test_invalid_document_exit_2_every_problem_on_stderr(
    console_script: str, tmp_path: Path, example_doc: dict[str, Any], command: str
) -> None:
    example_doc["patients"][0]["dose_level"] = 9
    example_doc["patients"][3]["dlt_on"] = "2026-03-01"
    example_doc["design"]["target"] = 1.5
    out = run(console_script, command, str(_bad(tmp_path, example_doc)), "--json")
    assert out.returncode == 2
    assert out.stdout == ""
    assert "Traceback" not in out.stderr
    assert "patients[0].dose_level (patient P001): unknown dose level 9" in out.stderr
    assert "patients[3].dlt_on (patient P004)" in out.stderr
    assert "design.target" in out.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not valid JSON"), ("[1, 2]", "expected a JSON object")],
)
def test_malformed_input_exit_2(
    console_script: str, tmp_path: Path, content: str, message: str
) -> None:
    out = run(console_script, "recommend", str(_bad(tmp_path, content)))
    assert (out.returncode, out.stdout) == (2, "")
    assert message in out.stderr and "Traceback" not in out.stderr


def test_missing_file_exit_2(console_script: str, tmp_path: Path) -> None:
    out = run(console_script, "select", str(tmp_path / "nope.json"))
    assert (out.returncode, out.stdout) == (2, "")
    assert "cannot read" in out.stderr


def test_bad_table_option_exit_2(console_script: str) -> None:
    out = run(console_script, "table", "--target", "1.2")
    assert (out.returncode, out.stdout) == (2, "")
    assert "design.target" in out.stderr
    out = run(console_script, "table", "--target", "abc")
    assert out.returncode == 2 and "invalid float value" in out.stderr


@pytest.mark.parametrize(
    ("design", "waits"),
    [
        ({"method": "boin", "target": 0.3}, True),
        ({"method": "crm", "target": 0.3, "skeleton": [0.14, 0.22, 0.3, 0.39, 0.48]}, True),
        ({"method": "tite-boin", "target": 0.3}, "suspends"),  # 2 of 3 pending > 0.5
        ({"method": "tite-boin", "target": 0.3, "max_pending": 0.7}, False),
        ({"method": "tite-crm", "target": 0.3, "skeleton": [0.14, 0.22, 0.3, 0.39, 0.48]}, False),
    ],
    ids=lambda v: v["method"] if isinstance(v, dict) else str(v),
)
def test_pending_patients_wait_only_for_non_tite_designs(
    console_script: str, tmp_path: Path, design: dict[str, Any], waits: bool | str
) -> None:
    """Two patients at dose level 3 are inside their window (examples/tite_example.json)."""
    doc = json.loads((EXAMPLE.parent / "tite_example.json").read_text())
    doc["design"] = design
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc))
    out = json.loads(run(console_script, "recommend", str(path), "--json").stdout)
    assert [d["pending"] for d in out["doses"]] == [0, 0, 2, 0, 0]
    waiting_rules = [r["rule"] for r in out["rules"] if r["kind"] == "waiting" and r["triggered"]]
    if waits == "suspends":
        assert out["action"] == "wait" and waiting_rules == ["SuspendWhenPending(max_pending=0.5)"]
    elif waits:
        assert out["action"] == "wait" and out["wait_until"] == "2026-08-14"
        assert waiting_rules == ["WaitForPending()"]
    else:
        assert out["action"] != "wait" and out["next_dose"] is not None
