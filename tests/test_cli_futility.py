"""``escalation futility``, run as a user runs it: the boundaries of BOP2FE's printed example
(tests/data/reference/bop2fe_binary_boundary.json), the library's operating characteristics, the
calibration, and the errors."""

from __future__ import annotations

import json
import subprocess

import pytest

from escalation import FutilityRule, calibrate_futility
from tests.reference import load


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([script, *args], capture_output=True, text=True, timeout=120)


def test_futility_json_gives_bop2fe_boundaries(console_script: str) -> None:
    case = load("bop2fe_binary_boundary.json")["cases"][0]
    looks = ",".join(str(n) for n in case["looks"])
    out = run(
        console_script,
        *["futility", "--response-null", "0.2", "--looks", looks],
        *["--lambda", str(case["lambda"]), "--gamma", str(case["gamma"]), "--oc", "0.2,0.4"],
        "--json",
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert [r["n"] for r in payload["rows"]] == case["looks"]
    assert [r["continue_at_least"] - 1 for r in payload["rows"]] == case["futility_boundary"]
    rule = FutilityRule(
        response_null=0.2, looks=tuple(case["looks"]), lambda_=case["lambda"], gamma=case["gamma"]
    )
    for got, p in zip(payload["oc"], (0.2, 0.4), strict=True):
        oc = rule.operating_characteristics(p)
        assert got["go_prob"] == pytest.approx(oc.go_prob, abs=1e-12)
        assert got["expected_n"] == pytest.approx(oc.expected_n, abs=1e-12)


def test_futility_calibrates_and_prints_the_table(console_script: str) -> None:
    out = run(
        console_script,
        *["futility", "--response-null", "0.2", "--looks", "10,20,30,40"],
        *["--response-alt", "0.4", "--alpha", "0.1"],
    )
    assert out.returncode == 0, out.stderr
    rule = calibrate_futility(response_null=0.2, response_alt=0.4, looks=(10, 20, 30, 40))
    assert f"1 - {rule.lambda_:.6g} (n/40)^{rule.gamma:.6g}" in out.stdout
    assert "Stop if responses <=" in out.stdout and "Pr(go)" in out.stdout


def test_futility_errors_exit_2(console_script: str) -> None:
    out = run(
        console_script, "futility", "--response-null", "1.2", "--looks", "5,3", "--gamma", "1"
    )
    assert out.returncode == 2
    assert "response_null" in out.stderr and "looks" in out.stderr
