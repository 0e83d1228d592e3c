"""``escalation monitor``, run as a user runs it, against R's stoppingrule (stoppingrule_bb.json)."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from tests.reference import load

ISSUE_ARGS = ["monitor", "--p0", "0.2", "--alpha", "0.1", "--prior", "0.6", "2.4", "--max-n", "30"]


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([script, *args], capture_output=True, text=True, timeout=60)


def _case(case_id: str) -> dict[str, Any]:
    return next(c for c in load("stoppingrule_bb.json")["cases"] if c["id"] == case_id)


def test_monitor_json_matches_stoppingrule(console_script: str) -> None:
    case = _case("issue_p0.20_a0.10_beta0.6-2.4_n30")
    rates = ",".join(f"{o['p']:g}" for o in case["oc"])
    out = run(console_script, *ISSUE_ARGS, "--oc", rates, "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["threshold"] == pytest.approx(case["cval"], abs=1e-6)
    assert [r["n"] for r in payload["rows"]] == list(range(1, 31))
    assert [r["stop_at_least"] for r in payload["rows"]] == [
        b if b <= n else None for n, b in enumerate(case["reject_bdry"], start=1)
    ]
    assert [o["p"] for o in payload["oc"]] == [o["p"] for o in case["oc"]]
    for got, ref in zip(payload["oc"], case["oc"], strict=True):
        assert got["stop_prob"] == pytest.approx(ref["reject_prob"], abs=1e-9)
        assert got["expected_events"] == pytest.approx(ref["exp_events"], abs=1e-9)
        assert got["expected_n"] == pytest.approx(ref["exp_enrolled_tau0"], abs=1e-9)
    assert payload["prior"] == [0.6, 2.4] and payload["max_n"] == 30


def test_monitor_text_shows_boundary_ranges_and_oc_at_p0(console_script: str) -> None:
    case = _case("doc_p0.10_a0.05_beta1-9_n100")
    out = run(
        console_script,
        *["monitor", "--p0", "0.1", "--alpha", "0.05", "--prior", "1", "9", "--max-n", "100"],
    )
    assert out.returncode == 0, out.stderr
    assert f"stop when Pr(DLT rate > 0.1 | data) > {case['cval']:.6f}," in out.stdout
    shown: list[int | None] = []
    for first, last, bound in re.findall(r"^ +(\d+)(?:-(\d+))? +(\d+|-)$", out.stdout, re.M):
        count = int(last or first) - int(first) + 1
        shown += [None if bound == "-" else int(bound)] * count
    assert shown == [b if b <= n else None for n, b in enumerate(case["reject_bdry"], start=1)]
    oc = next(o for o in case["oc"] if o["p"] == 0.1)  # without --oc: the rate p0 only
    oc_rows = re.findall(r"^ +0\.1 +(\S+) +(\S+) +(\S+)$", out.stdout, re.M)
    assert oc_rows == [
        (
            f"{oc['reject_prob']:.4f}",
            f"{oc['exp_events']:.2f}",
            f"{oc['exp_enrolled_tau0']:.2f}",
        )
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--p0", "1.2"], "p0: must be strictly between 0 and 1, got 1.2"),
        (["--alpha", "0"], "alpha: must be strictly between 0 and 1, got 0.0"),
        (["--prior", "0.6", "-1"], "prior[1]: must be a number > 0, got -1.0"),
        (["--max-n", "1001"], "max_n: must be a whole number from 1 to 1000, got 1001"),
        (["--oc", "0.2,abc"], "expected comma-separated DLT rates such as 0.2,0.3,0.4, got 'abc'"),
        (["--oc", "0.2,1.5"], "a DLT rate must be in [0, 1], got 1.5"),
        (["--max-n", "ten"], "argument --max-n: invalid int value: 'ten'"),
    ],
)
def test_monitor_bad_options_exit_2(console_script: str, args: list[str], message: str) -> None:
    options = {"--p0": ["0.2"], "--alpha": ["0.1"], "--prior": ["0.6", "2.4"], "--max-n": ["30"]}
    options[args[0]] = args[1:]
    argv = ["monitor", *(part for flag, values in options.items() for part in (flag, *values))]
    out = run(console_script, *argv)
    assert out.returncode == 2
    assert out.stdout == ""
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_monitor_help(console_script: str) -> None:
    out = run(console_script, "monitor", "--help")
    assert out.returncode == 0
    assert "stoppingrule" in out.stdout and "--prior A B" in out.stdout
