"""The boin12-random generator of DLT and response curves: its defining properties, its
distribution against phase12designs' own ``simprob`` run in R
(tests/data/reference/boin12_random_scenarios_r.json) within Monte Carlo error, with a negative
control, and the spec that asks for it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simulations import run_simulation
from simulations.errors import InvalidSpecError
from simulations.scenarios import boin12_random_scenarios
from simulations.spec import parse_spec
from tests.reference import load

REF = load("boin12_random_scenarios_r.json")
COUNT = 4_000
#: |z| above this fails (about 25 comparisons per setting)
Z_MAX = 4.0


def draw(setting: dict[str, Any], count: int = COUNT, **options: Any) -> tuple[Any, Any]:
    scenarios = boin12_random_scenarios(
        np.random.default_rng(20261206),
        count=count,
        target=setting["target"],
        levels=setting["ndose"],
        efficacy_target=setting["efficacy_target"],
        **options,
    )
    p = np.array([s.true_dlt_probs for s in scenarios])
    q = np.array([s.true_response_probs for s in scenarios])
    return p, q


def obd_mtd(p: Any, q: Any, setting: dict[str, Any]) -> tuple[Any, Any]:
    """The generator's OBD and MTD (0-based): the level closest to the target, and the first
    highest u11 q + u00 (1 - p) at or below it."""
    mtd = np.argmin(np.abs(p - setting["target"]), axis=1)
    u = setting["u11"] * q + setting["u00"] * (1 - p)
    masked = np.where(np.arange(p.shape[1])[None, :] <= mtd[:, None], u, -np.inf)
    return np.argmax(masked, axis=1), mtd


def z_scores(p: Any, q: Any, setting: dict[str, Any]) -> dict[str, float]:
    n, levels = p.shape
    r_n = setting["N"]
    out: dict[str, float] = {}

    def mean(label: str, x: Any, ref: dict[str, float]) -> None:
        se = math.sqrt(float(np.var(x)) / n + ref["sd"] ** 2 / r_n)
        out[label] = (float(np.mean(x)) - ref["mean"]) / se

    def share(label: str, hits: Any, ref: float, n_ours: int, n_ref: int) -> None:
        ours = float(np.mean(hits))
        pooled = (ours * n_ours + ref * n_ref) / (n_ours + n_ref)
        se = math.sqrt(max(pooled * (1 - pooled), 1e-6) * (1 / n_ours + 1 / n_ref))
        out[label] = (ours - ref) / se

    obd, mtd = obd_mtd(p, q, setting)
    for d in range(levels):
        mean(f"pT[{d + 1}]", p[:, d], setting["pT"][d])
        mean(f"pE[{d + 1}]", q[:, d], setting["pE"][d])
        share(f"mtd={d + 1}", mtd == d, setting["mtd_share"][d], n, r_n)
        share(f"obd={d + 1}", obd == d, setting["obd_share"][d], n, r_n)
    rows = np.arange(n)
    mean("pT at OBD", p[rows, obd], setting["pT_at_obd"])
    mean("pE at OBD", q[rows, obd], setting["pE_at_obd"])
    below = obd < levels - 1
    flat = np.array([bool(np.all(q[i, obd[i] :] == q[i, obd[i]])) for i in np.flatnonzero(below)])
    share(
        "plateau",
        flat,
        setting["plateau_share_below_top"],
        int(below.sum()),
        int(setting["n_below_top"]),
    )
    return out


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(REF["settings"])), ids=lambda i: f"setting{i}")
def test_the_distribution_agrees_with_phase12designs_simprob(index: int) -> None:
    setting = REF["settings"][index]
    z = z_scores(*draw(setting), setting)
    bad = {k: round(v, 2) for k, v in z.items() if abs(v) > Z_MAX}
    assert not bad, bad


@pytest.mark.slow
def test_negative_control_without_plateaus() -> None:
    """The same comparison fails for curves that are never plateaus: the check has power."""
    setting = REF["settings"][0]
    z = z_scores(*draw(setting, plateau_share=0.0), setting)
    assert max(abs(v) for v in z.values()) > Z_MAX


def test_every_curve_has_its_obd_as_the_generator_defines_it() -> None:
    setting = {"target": 0.3, "efficacy_target": 0.2, "ndose": 6, "u11": 60, "u00": 40}
    p, q = draw(setting, count=500)
    assert np.all(np.diff(p, axis=1) >= 0)  # DLT probabilities increase
    assert np.all((q >= 0) & (q <= 1))
    obd, _ = obd_mtd(p, q, setting)
    rows = np.arange(len(obd))
    assert np.all(p[rows, obd] <= 0.35 + 1e-12) and np.all(q[rows, obd] >= 0.25 - 1e-12)
    again = draw(setting, count=500)
    np.testing.assert_array_equal(p, again[0])  # reproducible from the generator


def test_the_spec_asks_for_it_and_checks_its_options() -> None:
    base: dict[str, Any] = {
        "design": {"method": "boin12", "target": 0.35, "efficacy_target": 0.25},
        "trials": 20,
        "seed": 3,
    }
    block = {
        "generator": "boin12-random",
        "count": 3,
        "target": 0.35,
        "levels": 5,
        "efficacy_target": 0.25,
    }
    out = run_simulation(base | {"scenarios": {"random": block}})
    assert [r["scenario"] for r in out["results"]] == [f"boin12-random-{k}" for k in (1, 2, 3)]
    assert all(len(r["true_response_probs"]) == 5 for r in out["results"])
    for change, field in (
        ({"efficacy_target": None}, "scenarios.random.efficacy_target"),
        ({"efficacy_target": 0.95}, "scenarios.random.efficacy_target"),
        ({"u11": 120}, "scenarios.random.u11"),
        ({"plateau_share": -0.1}, "scenarios.random.plateau_share"),
        ({"mu": 0.5}, "scenarios.random.mu"),
    ):
        bad = {k: v for k, v in (block | change).items() if v is not None}
        with pytest.raises(InvalidSpecError) as err:
            parse_spec(base | {"scenarios": {"random": bad}})
        assert field in {p.field for p in err.value.problems}, change
    with pytest.raises(InvalidSpecError) as err:
        parse_spec(
            base
            | {
                "scenarios": {
                    "random": {"generator": "liu-yuan", "count": 2, "target": 0.3, "levels": 4}
                    | {"u00": 30}
                }
            }
        )
    assert "scenarios.random.u00" in {p.field for p in err.value.problems}


def test_the_summary_averages_the_obd_metrics_over_the_random_scenarios(tmp_path: Path) -> None:
    """BOIN12 on random scenarios: the summary row averages the OBD's correct selection and the
    utilities over the scenarios (s.e. from the rows'), a DLT-only design beside it has none, and
    the text and HTML reports show them."""
    from simulations.cli import render_text
    from simulations.report import write_report

    spec: dict[str, Any] = {
        "designs": [
            {"name": "BOIN12", "method": "boin12", "target": 0.35, "efficacy_target": 0.25},
            {"name": "BOIN", "method": "boin", "target": 0.35},
        ],
        "scenarios": {
            "random": {
                "generator": "boin12-random",
                "count": 6,
                "target": 0.35,
                "levels": 4,
                "efficacy_target": 0.25,
            }
        },
        "trials": 40,
        "seed": 11,
    }
    out = run_simulation(spec)
    summary = {r["design"]: r for r in out["summary"]}
    rows = [r for r in out["results"] if r["design"] == "BOIN12"]
    assert len(rows) == 6
    for key in ("obd_correct_pct", "selected_utility_mean", "benchmark_obd_correct_pct"):
        values = [r[key] for r in rows if r[key] is not None]
        assert summary["BOIN12"][key] == pytest.approx(sum(values) / len(values))
        ses = [r["se"][key] for r in rows if r[key] is not None]
        expected_se = math.sqrt(sum(e * e for e in ses)) / len(ses)
        assert summary["BOIN12"]["se"][key] == pytest.approx(expected_se)
    assert "obd_correct_pct" not in summary["BOIN"]
    text = render_text(out)
    assert "Optimal biological dose, averaged over the same scenarios" in text
    assert f"{summary['BOIN12']['obd_correct_pct']:.1f}" in text
    assert "OBD %" in write_report(out, tmp_path).read_text(encoding="utf-8")


def test_settings_that_give_impossible_or_unreachable_curves_are_refused() -> None:
    """A target of 0.9 or more would draw DLT probabilities above 1 (the curves reach target +
    0.1); u11 = 0 accepts no OBD above level 1 (the generator ran for hours); both are named."""
    base: dict[str, Any] = {
        "design": {"method": "boin12", "target": 0.35, "efficacy_target": 0.1},
        "trials": 5,
        "seed": 1,
    }
    block = {
        "generator": "boin12-random",
        "count": 3,
        "target": 0.35,
        "levels": 5,
        "efficacy_target": 0.1,
    }
    for change, field in (({"target": 0.95}, "target"), ({"u11": 0, "u00": 100}, "u11")):
        with pytest.raises(InvalidSpecError) as err:
            parse_spec(base | {"scenarios": {"random": block | change}})
        assert f"scenarios.random.{field}" in {p.field for p in err.value.problems}, change
    with pytest.raises(ValueError, match="target"):
        boin12_random_scenarios(
            np.random.default_rng(0), count=1, target=0.95, levels=5, efficacy_target=0.1
        )
    with pytest.raises(ValueError, match="u11"):
        boin12_random_scenarios(
            np.random.default_rng(0), count=1, target=0.3, levels=4, efficacy_target=0.3, u11=0
        )
    # a target just below 0.9 gives curves of probabilities
    for s in boin12_random_scenarios(
        np.random.default_rng(1), count=30, target=0.89, levels=5, efficacy_target=0.1
    ):
        assert all(0 <= v <= 1 for v in s.true_dlt_probs)


def test_a_setting_that_accepts_next_to_nothing_gives_up_with_a_named_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import simulations.scenarios as scenarios

    monkeypatch.setattr(scenarios, "_MAX_DRAWS", 200)
    spec: dict[str, Any] = {
        "design": {"method": "boin12", "target": 0.05, "efficacy_target": 0.85},
        "scenarios": {
            "random": {
                "generator": "boin12-random",
                "count": 5,
                "target": 0.05,
                "levels": 20,
                "efficacy_target": 0.85,
                "u11": 1,
                "u00": 99,
            }
        },
        "trials": 5,
        "seed": 1,
    }
    with pytest.raises(InvalidSpecError) as err:
        parse_spec(spec)
    assert any(
        p.field == "scenarios.random" and "200 draws" in p.message for p in err.value.problems
    )
