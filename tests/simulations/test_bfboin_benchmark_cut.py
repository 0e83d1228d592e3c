"""benchmarks/bfboin_oc.py's replay of a trial, cut by a calendar limit or a pool of arrivals: with no
limit it gives back the engine's own trial (selection, sample size as bfboin counts it, duration:
bfboin's max.t, the last escalation outcome, which the engine also uses with backfill), and a limit
only ever shortens a trial."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from simulations.engines.generic import simulate_trial
from simulations.patients import PatientBlock
from simulations.spec import parse_spec

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bfboin_oc.py"
PAPER = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "reference" / "bfboin_table4.json").read_text()
)


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bfboin_oc", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("backfill", [True, False], ids=["BF-BOIN", "BOIN"])
def test_an_uncut_replay_is_the_engine_s_trial(bench: ModuleType, backfill: bool) -> None:
    logging.disable(logging.WARNING)
    try:
        scenario = PAPER["scenarios"][2]
        parsed = parse_spec(bench.spec(scenario, backfill=backfill, trials=12, seed=3, cap=12))
        design = parsed.design(0, 5)
        probs = np.asarray(scenario["true_dlt_probs"])
        block = PatientBlock(
            seed=3,
            scenario_index=0,
            block_index=0,
            n_trials=12,
            capacity=parsed.capacity,
            conduct=parsed.conduct,
            true_response_probs=parsed.scenarios[0].true_response_probs,
        )
        window = parsed.conduct.dlt_window_days
        for t in range(12):
            recorder = bench._Recorder(design)
            result = simulate_trial(recorder, probs, block, t, parsed.conduct)
            arrivals = block.arrival_day[t]
            level, n, end = bench.cut_trial(
                design, recorder.final, arrivals, window, max_start_day=None, arrival_pool=None
            )
            assert level == (None if result.selected_index < 0 else result.selected_index + 1)
            assert n == int(result.n_at_dose.sum()) - result.backfill_unevaluated
            if backfill:  # the engine ends a backfill trial at its last escalation outcome
                assert end == result.duration_days
            else:  # and another at its last window's end; the replay at bfboin's max.t
                assert end <= result.duration_days
                last = max(p.infused_day for p in recorder.final.patients)
                assert result.duration_days == last + window
            cut = bench.cut_trial(
                design, recorder.final, arrivals, window, max_start_day=120, arrival_pool=None
            )
            pooled = bench.cut_trial(
                design, recorder.final, arrivals, window, max_start_day=None, arrival_pool=20
            )
            for _, n_cut, end_cut in (cut, pooled):
                assert n_cut <= n and end_cut <= end
    finally:
        logging.disable(logging.NOTSET)
