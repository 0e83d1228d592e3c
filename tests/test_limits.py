"""Every numeric option, count, size, date and text of a trial document, a design, a simulation
spec and the ``table`` command is bounded (escalation.limits): out of range, it is refused with
its field named, never computed on (issue 10 section 6, issue 15 sections 3 and 4)."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import time
from typing import Any

import pytest

from escalation import (
    BLRM,
    BOIN,
    CRM,
    DESIGNS,
    LIMITS,
    TITEBOIN,
    InvalidDesignError,
    InvalidTrialDataError,
    TrialData,
    parse_document,
)
from escalation.cli import main
from escalation.models.boundaries import tite_boin_rows
from simulations import InvalidSpecError, parse_spec


def problems_of(document: dict[str, Any]) -> set[tuple[str, str | None]]:
    with pytest.raises(InvalidTrialDataError) as e:
        parse_document(document)
    return {(p.field, p.patient_id) for p in e.value.problems}


# ---- the trial document -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "window", [0, 366, 3_000_000, 1_000_000_000, 2**31, 2**63, 30.5, math.nan, "30", True]
)
def test_dlt_window_out_of_range(example_doc: dict[str, Any], window: Any) -> None:
    example_doc["dlt_window_days"] = window
    assert problems_of(example_doc) == {("dlt_window_days", None)}


@pytest.mark.parametrize("window", [1, 28, 365, 28.0])
def test_dlt_window_in_range(example_doc: dict[str, Any], window: int) -> None:
    """A whole number written 28.0 is 28 (JSON and JSON Schema's integer make no difference)."""
    example_doc["dlt_window_days"] = window
    example_doc["patients"] = [p for p in example_doc["patients"] if not p["dlt"]]
    parsed = parse_document(example_doc).data.dlt_window_days
    assert parsed == window and isinstance(parsed, int)


def test_whole_numbers_written_as_floats_are_integers(example_doc: dict[str, Any]) -> None:
    example_doc["design"]["cohort_size"] = 3.0
    example_doc["patients"][0]["dose_level"] = 1.0
    doc = parse_document(example_doc)
    assert doc.design.options()["cohort_size"] == 3
    assert isinstance(doc.data.patients[0].dose_level, int)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("infused_on", "0202-03-01"),
        ("infused_on", "9999-12-31"),
        ("infused_on", "1999-12-31"),
        ("infused_on", "2016-03-01"),  # more than 10 years before as_of (2026-08-20)
        ("infused_on", "+2026-03-01"),
        ("dlt_on", "0202-03-01"),
        ("withdrawn_on", "2100-01-01"),
    ],
)
def test_implausible_patient_dates(example_doc: dict[str, Any], key: str, value: str) -> None:
    example_doc["patients"][0][key] = value
    if key == "dlt_on":
        example_doc["patients"][0]["dlt"] = True
    assert problems_of(example_doc) == {(f"patients[0].{key}", "P001")}


@pytest.mark.parametrize("as_of", ["9999-12-31", "0202-08-20", "1999-12-31", "2100-01-01"])
def test_implausible_as_of(example_doc: dict[str, Any], as_of: str) -> None:
    example_doc["as_of"] = as_of
    assert ("as_of", None) in problems_of(example_doc)


@pytest.mark.parametrize("amount", [math.nan, math.inf, -math.inf, 0.0, -1.0, 1e300])
def test_non_finite_or_absurd_amounts(example_doc: dict[str, Any], amount: float) -> None:
    """BOIN does not read amounts, but a NaN amount is not silently accepted."""
    example_doc["doses"][1]["amount"] = amount
    assert problems_of(example_doc) == {("doses[1].amount", None)}


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_design_numbers(example_doc: dict[str, Any], value: float) -> None:
    example_doc["design"]["target"] = value
    assert problems_of(example_doc) == {("design.target", None)}


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("cohort_size", 0),
        ("cohort_size", 31),
        ("max_patients", 2**31),
        ("max_patients", 1001),
        ("n_stop", 10**12),
        ("stagger_days", 366),
    ],
)
def test_design_options_out_of_range(example_doc: dict[str, Any], option: str, value: int) -> None:
    example_doc["design"][option] = value
    assert problems_of(example_doc) == {(f"design.{option}", None)}


def test_counts_out_of_range(example_doc: dict[str, Any]) -> None:
    del example_doc["patients"]
    example_doc["counts"] = [
        {"level": 1, "n": 2**31, "dlt": 0},
        {"level": 2, "n": 3, "dlt": 1001},
        {"level": 3, "n": 1001, "dlt": 1},
    ]
    example_doc["current_level"] = 2
    found = problems_of(example_doc)
    assert {("counts[0].n", None), ("counts[1].dlt", None), ("counts[2].n", None)} <= found
    with pytest.raises(InvalidTrialDataError):
        TrialData.from_counts([2**31], [0], current_level=1)


def test_number_of_doses_and_patients(example_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(example_doc)
    doc["doses"] = [{"level": k, "label": f"L{k}"} for k in range(1, 52)]
    assert problems_of(doc) == {("doses", None)}
    doc = copy.deepcopy(example_doc)
    doc["patients"] = [
        {"id": f"P{k}", "dose_level": 1, "infused_on": "2026-01-07", "dlt": False}
        for k in range(1001)
    ]
    assert problems_of(doc) == {("patients", None)}


@pytest.mark.parametrize(
    ("where", "field"),
    [("name", "name"), ("label", "doses[0].label"), ("id", "patients[0].id")],
)
@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "x" * 201, "nul\x00"])
def test_text_that_cannot_be_stored(
    example_doc: dict[str, Any], where: str, field: str, text: str
) -> None:
    if where == "name":
        example_doc["name"] = text
    elif where == "label":
        example_doc["doses"][0]["label"] = text
    else:
        example_doc["patients"][0]["id"] = text
    assert problems_of(example_doc) == {(field, None)}


# ---- the designs: one table for every design ---------------------------------------------------------
@pytest.mark.parametrize(
    ("design", "options", "field"),
    [
        (BOIN, {"target": 0.3, "n_stop": 0}, "design.n_stop"),
        (BOIN, {"target": 0.3, "cohort_size": 10**6}, "design.cohort_size"),
        (TITEBOIN, {"target": 0.3, "selection_prior": math.inf}, "design.selection_prior"),
        (
            CRM,
            {"target": 0.3, "skeleton": (0.1, 0.2, 0.3), "prior_sd": math.inf},
            "design.prior_sd",
        ),
        (
            CRM,
            {"target": 0.3, "skeleton": (0.1, 0.2, 0.3), "intercept": math.nan},
            "design.intercept",
        ),
        (CRM, {"target": 0.3, "skeleton": (0.1, 0.2, 0.3), "max_step": 4}, "design.max_step"),
        (
            DESIGNS["tite-crm"],
            {"target": 0.3, "skeleton": (0.1, 0.2, 0.3), "escalation_min_complete": 10**9},
            "design.escalation_min_complete",
        ),
        (
            BLRM,
            {"target": 0.3, "dose_amounts": (1.0, 2.0, 3.0), "min_at_mtd": 0},
            "design.min_at_mtd",
        ),
        (
            BLRM,
            {"target": 0.3, "dose_amounts": (1.0, 2.0, 3.0), "max_step": math.inf},
            "design.max_step",
        ),
        (BLRM, {"target": 0.3, "dose_amounts": (1.0, math.nan, 3.0)}, "doses"),
        (BLRM, {"target": 0.3, "dose_amounts": (1.0, 2.0, 3.0), "seed": 2**64}, "design.seed"),
    ],
)
def test_design_bounds(design: Any, options: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidDesignError) as e:
        design(n_doses=3, **options)
    assert field in {p.field for p in e.value.problems}


def test_every_limit_is_a_sensible_closed_range() -> None:
    assert LIMITS["dlt_window_days"].low == 1 and LIMITS["dlt_window_days"].high == 365
    for name, limit in LIMITS.items():
        assert limit.low <= limit.high, name
        assert limit.check(limit.low) is None and limit.check(limit.high) is None, name
        assert limit.check(limit.high * 2 + 1) is not None, name


# ---- simulation specs -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value"),
    [("dlt_window_days", 1_000_000_000), ("accrual_per_month", math.inf), ("trials", 2**40)],
)
def test_spec_bounds(key: str, value: Any) -> None:
    spec = {
        "design": {"method": "boin", "target": 0.3},
        "scenarios": [{"name": "S1", "true_dlt_probs": [0.1, 0.3, 0.5]}],
        "trials": 10,
        "seed": 1,
        key: value,
    }
    with pytest.raises(InvalidSpecError) as e:
        parse_spec(spec)
    assert [p.field for p in e.value.problems] == [key]


def test_spec_random_levels_bound() -> None:
    spec = {
        "design": {"method": "boin", "target": 0.3},
        "scenarios": {
            "random": {"generator": "pseudo-uniform", "count": 2, "target": 0.3, "levels": 51}
        },
        "trials": 10,
        "seed": 1,
    }
    with pytest.raises(InvalidSpecError) as e:
        parse_spec(spec)
    assert [p.field for p in e.value.problems] == ["scenarios.random.levels"]


# ---- escalation table -----------------------------------------------------------------------------------
def test_table_refuses_a_size_no_protocol_uses_at_once(console_script: str) -> None:
    """`--cohorts 100000` ran for more than 10 minutes: now a clear message and exit 2."""
    start = time.monotonic()
    out = subprocess.run(
        [console_script, "table", "--target", "0.3", "--cohorts", "100000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (out.returncode, out.stdout) == (2, "")
    assert "--cohorts" in out.stderr and "100000" in out.stderr
    assert time.monotonic() - start < 60


@pytest.mark.parametrize(
    "args",
    [
        ["--cohorts", "0"],
        ["--cohort-size", "31"],
        ["--cohorts", "40", "--cohort-size", "3"],
        ["--max-pending", "0.4"],
        ["--compact"],
        ["--design", "tite-boin", "--extra-safe"],
        ["--design", "tite-boin", "--offset", "0.1"],
    ],
)
def test_table_refuses_options(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", "--target", "0.3", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert args[-1] in captured.err or args[0] in captured.err


def test_compact_tite_boin_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "table",
                "--design",
                "tite-boin",
                "--target",
                "0.3",
                "--cohorts",
                "4",
                "--compact",
                "--json",
            ]
        )
        == 0
    )

    compact = json.loads(capsys.readouterr().out)
    full = [
        r
        for r in tite_boin_rows(12, target=0.3, phi1=None, phi2=None, cutoff=0.95, max_pending=0.5)
        if r.n % 3 == 0 and r.action != "suspend"
    ]
    assert [(r["n"], r["dlt"], r["pending"], r["action"]) for r in compact["rows"]] == [
        (r.n, r.dlt, r.pending, r.action) for r in full
    ]
    assert {r["n"] for r in compact["rows"]} == {3, 6, 9, 12}
    assert (
        main(["table", "--design", "tite-boin", "--target", "0.3", "--cohorts", "4", "--json"]) == 0
    )
    every = json.loads(capsys.readouterr().out)["rows"]
    assert len(compact["rows"]) < len(every) / 3
    assert {(r["n"], r["dlt"], r["pending"]) for r in compact["rows"]} <= {
        (r["n"], r["dlt"], r["pending"]) for r in every
    }
    assert main(["table", "--design", "tite-boin", "--target", "0.3", "--compact"]) == 0
    assert "cohort ends only" in capsys.readouterr().out


@pytest.mark.parametrize("generator", [{}, [], None, 3])
def test_spec_random_generator_of_another_type_is_a_problem_not_a_crash(generator: Any) -> None:
    """``"generator": {}`` was a TypeError (unhashable), a 500 over HTTP (found by schemathesis),
    with or without a generator's option."""
    spec = {
        "design": {"method": "boin", "target": 0.3},
        "scenarios": {
            "random": {"generator": generator, "count": 2, "target": 0.3, "levels": 3, "sigma": 0.5}
        },
        "trials": 10,
        "seed": 1,
    }
    with pytest.raises(InvalidSpecError) as e:
        parse_spec(spec)
    assert [p.field for p in e.value.problems] == ["scenarios.random.generator"]


def test_recommend_with_a_huge_window_exits_2_without_a_traceback(
    example_doc: dict[str, Any], tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dlt_window_days: 1000000000` was a traceback from `escalation recommend`."""
    example_doc["dlt_window_days"] = 1_000_000_000
    path = tmp_path / "trial.json"
    path.write_text(json.dumps(example_doc))
    assert main(["recommend", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "dlt_window_days" in captured.err and "Traceback" not in captured.err
