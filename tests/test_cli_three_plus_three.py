"""3+3 through the console script: recommend, select and the table of its rules."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from escalation import ThreePlusThree
from escalation.documents import decision_to_json, parse_document, selection_to_json
from tests.test_cli import run


def _document(tmp_path: Path, counts: list[tuple[int, int]], current: int, deesc: bool) -> Path:
    doc = {
        "name": "3+3 demo",
        "design": {"method": "3+3", "allow_deescalation": deesc},
        "doses": [{"level": i, "label": f"{i}e6/kg"} for i in range(1, 5)],
        "counts": [{"level": i + 1, "n": n, "dlt": y} for i, (n, y) in enumerate(counts)],
        "current_level": current,
    }
    path = tmp_path / "trial.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_recommend_and_select(console_script: str, tmp_path: Path) -> None:
    # R escalation's example: get_three_plus_three(5) %>% fit('1NNN 2NTT'): without de-escalation
    # stop with dose 1; with de-escalation continue at dose 1
    for deesc, action, level in ((False, "stop", None), (True, "de-escalate", 1)):
        path = _document(tmp_path, [(3, 0), (3, 2)], 2, deesc)
        out = run(console_script, "recommend", str(path), "--json")
        assert out.returncode == 0, out.stderr
        payload = json.loads(out.stdout)
        doc = parse_document(json.loads(path.read_text()))
        assert isinstance(doc.design, ThreePlusThree)
        assert payload == json.loads(json.dumps(decision_to_json(doc.design.decide(doc.data), doc)))
        assert payload["action"] == action and payload["next_dose"] == level
        assert payload["eliminated"] == [2, 3, 4]
        text = run(console_script, "recommend", str(path)).stdout
        assert "design: 3+3\n" in text and "target" not in text.splitlines()[0]
        assert "[x] EliminateWhenDLTs(n_dlt=2)" in text
        sel = run(console_script, "select", str(path), "--json")
        assert sel.returncode == 0, sel.stderr
        expected = selection_to_json(doc.design.select(doc.data), doc)
        assert json.loads(sel.stdout) == json.loads(json.dumps(expected))
        assert json.loads(sel.stdout)["dose"] == (1 if not deesc else None)


def test_select_text(console_script: str, tmp_path: Path) -> None:
    path = _document(tmp_path, [(3, 0), (6, 1), (3, 2)], 3, False)
    out = run(console_script, "select", str(path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Final recommended dose: dose level 2 (2e6/kg)\n")
    assert "Observed DLT rate" in out.stdout and "P(overdose)" not in out.stdout


def test_table_is_the_standard_rule(console_script: str) -> None:
    """Storer's 3+3: 0/3 escalates, 1/3 stays, <= 1/6 escalates, 2 DLTs stop (or de-escalate)."""
    for flag, key in (([], "stop_at_least"), (["--allow-deescalation"], "deescalate_at_least")):
        out = run(console_script, "table", "--design", "3+3", *flag, "--json")
        assert out.returncode == 0, out.stderr
        payload = json.loads(out.stdout)
        assert payload["design"] == "3+3" and payload["allow_deescalation"] == bool(flag)
        rows = {r["n"]: (r["escalate_at_most"], r[key]) for r in payload["rows"]}
        assert rows == {
            1: (None, None),
            2: (None, 2),
            3: (0, 2),
            4: (None, 2),
            5: (None, 2),
            6: (1, 2),
        }
    text = run(console_script, "table", "--design", "3+3").stdout
    assert text.startswith("3+3 decision table (Storer 1989):\n")
    assert "Stop if DLTs >=" in text and "Otherwise stay" in text
    rows = list(
        csv.DictReader(io.StringIO(run(console_script, "table", "--design", "3+3", "--csv").stdout))
    )
    assert rows[2] == {"n": "3", "escalate_at_most": "0", "stop_at_least": "2"}


def test_table_refuses_what_does_not_apply(console_script: str) -> None:
    out = run(console_script, "table", "--design", "3+3", "--target", "0.3", "--phi1", "0.1")
    assert out.returncode == 2 and out.stdout == ""
    assert "error: --target, --phi1 do not apply to --design 3+3" in out.stderr
    out = run(console_script, "table")
    assert out.returncode == 2 and out.stdout == ""
    assert "error: --target is required with --design boin" in out.stderr
