"""benchmarks/oc_reference.py reports a failed comparison by its exit status, not only in print."""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "oc_reference.py"


@pytest.fixture(scope="module")
def oc_reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("oc_reference", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_percentage_far_from_r_fails_and_a_close_one_passes(oc_reference: ModuleType) -> None:
    # 30% against R's 20% on 1,000 and 10,000 trials: s.e. of the difference about 1.3 points
    assert oc_reference.pct_check("selection % L1", 30.0, 1000, 20.0, 10_000)[4] is False
    assert oc_reference.pct_check("selection % L1", 21.0, 1000, 20.0, 10_000)[4] is True
    assert oc_reference.mean_check("patients L1", 5.0, 0.05, 1000, 4.0, 10_000)[4] is False
    assert oc_reference.mean_check("patients L1", 4.1, 0.05, 1000, 4.0, 10_000)[4] is True


def test_report_is_false_when_one_comparison_fails(oc_reference: ModuleType) -> None:
    passing = [("close", [oc_reference.pct_check("selection % L1", 21.0, 1000, 20.0, 10_000)])]
    failing = [("far", [oc_reference.pct_check("selection % L1", 30.0, 1000, 20.0, 10_000)])]
    out = io.StringIO()
    assert oc_reference.report([passing], out) is True
    assert oc_reference.report([passing, failing], out) is False
    assert "FAIL" in out.getvalue()
    assert oc_reference.report([[("nothing compared", [])]], io.StringIO()) is False


def test_main_exits_1_when_a_comparison_fails(
    oc_reference: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def far(trials: int, workers: int, z: float) -> list[tuple[str, list[tuple[object, ...]]]]:
        return [("far", [oc_reference.pct_check("selection % L1", 30.0, trials, 20.0, 10_000, z)])]

    def close(trials: int, workers: int, z: float) -> list[tuple[str, list[tuple[object, ...]]]]:
        return [
            ("close", [oc_reference.pct_check("selection % L1", 21.0, trials, 20.0, 10_000, z)])
        ]

    monkeypatch.setattr(oc_reference, "GROUPS", {"boin": close, "crm": far})
    assert oc_reference.main(["--trials", "1000", "--only", "boin"]) == 0
    assert oc_reference.main(["--trials", "1000"]) == 1
    assert "Overall: FAIL" in capsys.readouterr().out


def test_the_script_exits_non_zero_when_run(tmp_path: Path) -> None:
    """The script as a user runs it: CRM against crmsim on 20 trials with no tolerance (z = 0)
    cannot pass, and the exit status says so."""
    out = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--only",
            "crm",
            "--trials",
            "20",
            "--workers",
            "1",
            "--z",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Overall: FAIL" in out.stdout
