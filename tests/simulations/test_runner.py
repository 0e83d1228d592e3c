"""run_simulation: results depend on the seed only, whatever the executor; CRN across designs."""

from __future__ import annotations

from typing import Any

import pytest

import escalation
from simulations import BLOCK_TRIALS, run_simulation

S1 = [0.05, 0.1, 0.2, 0.3, 0.5, 0.7]


def spec(**changes: Any) -> dict[str, Any]:
    return {
        "designs": [
            {"name": "BOIN", "method": "boin", "target": 0.3},
            {"name": "BOIN n_stop 9", "method": "boin", "target": 0.3, "n_stop": 9},
        ],
        "scenarios": [
            {"name": "S1", "true_dlt_probs": S1},
            {"name": "flat", "true_dlt_probs": [0.3] * 6},
        ],
        "trials": BLOCK_TRIALS + 700,  # two blocks per scenario, the second partial
        "seed": 99,
    } | changes


def comparable(out: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in out.items() if k not in ("elapsed_s", "workers", "executor")}


@pytest.fixture(scope="module")
def serial() -> dict[str, Any]:
    return run_simulation(spec())


def test_json_shape(serial: dict[str, Any]) -> None:
    assert set(serial) >= {"results", "seed", "engine_version", "elapsed_s", "spec", "trials"}
    assert serial["seed"] == 99 and serial["engine_version"] == escalation.__version__
    assert serial["elapsed_s"] > 0
    row = serial["results"][0]
    for key in (
        "scenario",
        "design",
        "selection_pct",
        "none_pct",
        "patients_mean",
        "dlt_mean",
        "early_stop_pct",
        "n_mean",
        "duration_mean_days",
        "correct_selection_pct",
        "benchmark_correct_pct",
        "above_mtd_pct",
        "dlt_rate_pct",
        "se",
    ):
        assert key in row, key
    assert abs(sum(row["selection_pct"]) + row["none_pct"] - 100) < 1e-9
    assert len(serial["results"]) == 4
    assert row["trials"] == BLOCK_TRIALS + 700


def test_two_workers_give_the_same_results(serial: dict[str, Any]) -> None:
    assert comparable(run_simulation(spec(), workers=2)) == comparable(serial)


def test_a_dask_local_cluster_gives_the_same_results(serial: dict[str, Any]) -> None:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        out = run_simulation(spec(), client=client)
        by_address = run_simulation(spec(), scheduler=cluster.scheduler_address)
    assert out["executor"] == "dask"
    assert comparable(out) == comparable(serial) == comparable(by_address)


def test_another_seed_gives_other_results(serial: dict[str, Any]) -> None:
    assert run_simulation(spec(seed=100))["results"] != serial["results"]


def test_designs_see_the_same_patients() -> None:
    """Two copies of one design under different names give identical results (CRN)."""
    same = {"method": "boin", "target": 0.3}
    out = run_simulation(spec(designs=[{"name": "a", **same}, {"name": "b", **same}], trials=500))[
        "results"
    ]
    assert {k: v for k, v in out[0].items() if k != "design"} == {
        k: v for k, v in out[1].items() if k != "design"
    }


def test_progress_is_reported_up_to_the_total() -> None:
    calls: list[tuple[int, int]] = []
    run_simulation(spec(trials=300), progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 600) and calls[-1] == (600, 600)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_random_scenarios_are_summarized_with_the_benchmark() -> None:
    out = run_simulation(
        spec(
            scenarios={
                "random": {"generator": "pseudo-uniform", "count": 20, "target": 0.3, "levels": 5}
            },
            trials=200,
        )
    )
    assert len(out["results"]) == 40
    summary = {r["design"]: r for r in out["summary"]}
    assert summary["BOIN"]["scenarios"] == 20
    # the benchmark knows more than any design
    assert summary["BOIN"]["benchmark_correct_pct"] > summary["BOIN"]["correct_selection_pct"]


def test_tite_designs_run_on_their_fast_engines_without_waiting() -> None:
    out = run_simulation(
        {
            "designs": [
                {"name": "BOIN", "method": "boin", "target": 0.3},
                {"name": "TITE-BOIN", "method": "tite-boin", "target": 0.3},
            ],
            "scenarios": [{"name": "S1", "true_dlt_probs": S1}],
            "dlt_time": {"distribution": "weibull", "late_onset_share": 0.5},
            "suspended_arrivals": "lost",
            "trials": 60,
            "seed": 3,
        }
    )["results"]
    boin, tite = out
    assert tite["engine"] == "fast-tite-boin" and boin["engine"] == "fast-boin"
    assert tite["duration_mean_days"] < boin["duration_mean_days"]
    assert boin["lost_mean"] > tite["lost_mean"]


def test_a_spec_of_python_objects_runs_like_its_json() -> None:
    from escalation import BOIN
    from simulations import Conduct, Scenario, SimulationSpec

    objects = SimulationSpec.from_objects(
        designs={"BOIN": BOIN(n_doses=6, target=0.3)},
        scenarios=[Scenario(name="S1", true_dlt_probs=tuple(S1))],
        conduct=Conduct(accrual_per_month=3),
        trials=400,
        seed=5,
    )
    from_json = run_simulation(objects.as_json())
    assert comparable(run_simulation(objects)) | {"spec": None} == comparable(from_json) | {
        "spec": None
    }


def test_progress_advances_per_part_of_a_block_on_the_generic_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One scenario, one block of trials on the generic engine: the bar moves every
    GENERIC_PART_TRIALS trials, not once at the end; and the parts change no result."""
    from simulations import runner

    generic = spec(
        designs=[{"name": "BOIN", "method": "boin", "target": 0.3, "engine": "generic"}],
        scenarios=[{"name": "S1", "true_dlt_probs": S1}],
        trials=250,
    )
    calls: list[tuple[int, int]] = []
    parts = run_simulation(generic, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 250), (100, 250), (200, 250), (250, 250)]
    monkeypatch.setattr(runner, "GENERIC_PART_TRIALS", 10_000)  # the whole block in one job
    calls.clear()
    whole = run_simulation(generic, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 250), (250, 250)]
    assert parts["results"] == whole["results"]
    # and the generic engine's trials are the fast engine's, part by part
    fast = run_simulation(
        generic | {"designs": [{"name": "BOIN", "method": "boin", "target": 0.3}]}
    )
    assert [r["engine"] for r in fast["results"]] == ["fast-boin"]
    drop = ("engine",)
    assert {k: v for k, v in fast["results"][0].items() if k not in drop} == {
        k: v for k, v in parts["results"][0].items() if k not in drop
    }


def test_every_dose_too_toxic_counts_no_dose_as_correct() -> None:
    """Level 1 at 45% (above phi2 = 0.42): no true MTD; BOIN mostly stops for safety, and only
    trials that select no dose are correct, for the design and the benchmark alike."""
    out = run_simulation(
        spec(scenarios=[{"name": "toxic", "true_dlt_probs": [0.45, 0.55, 0.65]}], trials=2000)
    )
    row = out["results"][0]
    assert row["mtd_levels"] == []
    assert row["correct_selection_pct"] == row["none_pct"] > 50
    assert row["benchmark_correct_pct"] == row["benchmark_none_pct"] > 50
    assert row["stop_safety_pct"] > 50 and row["stop_n_stop_pct"] == 0.0
    assert row["above_mtd_pct"] == 100.0 and row["poor_allocation_pct"] is None
    # with the rule moved (no dose unacceptable below 2 x target), level 1 is the MTD again
    relaxed = run_simulation(
        spec(
            scenarios=[{"name": "toxic", "true_dlt_probs": [0.45, 0.55, 0.65]}],
            trials=2000,
            unacceptable_ratio=2.0,
        )
    )["results"][0]
    assert relaxed["mtd_levels"] == [1]
    assert relaxed["correct_selection_pct"] == relaxed["selection_pct"][0]


def test_n_stop_is_not_a_safety_stop() -> None:
    rows = run_simulation(spec(trials=2000))["results"]
    n_stop = next(r for r in rows if r["design"] == "BOIN n_stop 9" and r["scenario"] == "S1")
    plain = next(r for r in rows if r["design"] == "BOIN" and r["scenario"] == "S1")
    assert n_stop["stop_n_stop_pct"] > 50 and plain["stop_n_stop_pct"] == 0.0
    for r in rows:
        assert r["early_stop_pct"] == pytest.approx(r["stop_safety_pct"] + r["stop_n_stop_pct"])


def test_benchmark_ties_option_changes_only_the_benchmark() -> None:
    """Levels at 0.25 and 0.35 are both true MTDs; "higher" moves the benchmark's choice
    between such equally close estimates up, and leaves the designs' results alone."""
    scen = [{"name": "tie", "true_dlt_probs": [0.05, 0.25, 0.35, 0.6]}]
    lower = run_simulation(spec(scenarios=scen, trials=1000))["results"][0]
    higher = run_simulation(spec(scenarios=scen, trials=1000, benchmark_ties="higher"))["results"][
        0
    ]
    assert higher["benchmark_selection_pct"][2] > lower["benchmark_selection_pct"][2]
    assert higher["benchmark_selection_pct"][1] < lower["benchmark_selection_pct"][1]
    assert higher["selection_pct"] == lower["selection_pct"]
    assert run_simulation(spec(trials=10, benchmark_ties="higher"))["spec"]["benchmark_ties"] == (
        "higher"
    )


def test_auto_workers_choose_one_process_for_short_runs_and_all_cores_for_long_ones() -> None:
    from simulations.executors import MIN_PARALLEL_SECONDS
    from simulations.runner import choose_workers, estimated_seconds
    from simulations.spec import parse_spec

    probs = [0.05, 0.1, 0.2, 0.3, 0.5, 0.7]
    short = parse_spec(
        {
            "design": {"method": "boin", "target": 0.3},
            "scenarios": [{"name": f"S{i}", "true_dlt_probs": probs} for i in range(4)],
            "trials": 10_000,
            "seed": 1,
        }
    )
    assert estimated_seconds(short) == pytest.approx(4 * 10_000 * 1e-5)
    assert (
        choose_workers(short, 8, load=0.0) == 1
    )  # 0.4 s of work: workers would cost more than they save
    long = parse_spec(
        {
            "design": {
                "method": "crm",
                "target": 0.3,
                "skeleton": [0.1, 0.2, 0.3],
                "engine": "generic",
            },
            "scenarios": [{"name": "S1", "true_dlt_probs": [0.1, 0.3, 0.5]}],
            "trials": 1_000,
            "seed": 1,
        }
    )
    assert estimated_seconds(long) >= MIN_PARALLEL_SECONDS  # on the generic engine
    assert choose_workers(long, 8, load=0.0) == 8
    assert choose_workers(long, 8, load=5.2) == 3  # the idle cores only
    assert choose_workers(long, 2, load=11.0) == 1
    one_job = parse_spec(
        {
            "design": {"method": "boin", "target": 0.3},
            "scenarios": [{"name": "S1", "true_dlt_probs": probs}],
            "trials": 5_000,
            "seed": 1,
        }
    )
    assert choose_workers(one_job, 8, load=0.0) == 1  # one block: nothing to share out
    out = run_simulation(
        {
            "design": {"method": "boin", "target": 0.3},
            "scenarios": [{"name": "S1", "true_dlt_probs": probs}],
            "trials": 200,
            "seed": 1,
        },
        workers="auto",
    )
    assert out["workers"] == 1 and out["executor"] == "serial"
