"""The simulation harness: operating characteristics of dose-escalation designs.

Every design of a specification is simulated on the same patients (latent tolerances, common random
numbers) with the optimal benchmark beside it, on the trial calendar (arrivals, DLT times, pending
patients), in blocks of trials whose SeedSequence children make the results depend on the seed
only. Uses only escalation's public interface.

Examples
--------
>>> from simulations import run_simulation
>>> out = run_simulation({"design": {"method": "boin", "target": 0.3},
...                       "scenarios": [{"name": "S1", "true_dlt_probs": [0.05, 0.15, 0.3, 0.5]}],
...                       "trials": 500, "seed": 1})
>>> sorted(out)[:4]
['elapsed_s', 'engine_version', 'executor', 'results']
"""

from simulations.engines import (
    BLRMEngine,
    BOIN12Engine,
    BOINEngine,
    CRMEngine,
    Engine,
    GenericEngine,
    ThreePlusThreeEngine,
    TITEBOINEngine,
    TITECRMEngine,
    TrialOutcomes,
    choose_engine,
)
from simulations.errors import InvalidSpecError
from simulations.metrics import benchmark_selection, operating_characteristics
from simulations.patients import Conduct, DltTime, PatientBlock
from simulations.report import write_csv, write_report
from simulations.runner import BLOCK_TRIALS, run_simulation
from simulations.scenarios import (
    Scenario,
    boin12_random_scenarios,
    liu_yuan_scenarios,
    mtd_levels,
    probit_gap_scenarios,
    pseudo_uniform_scenarios,
)
from simulations.spec import SimulationSpec, parse_spec

__all__ = [
    "BLOCK_TRIALS",
    "BLRMEngine",
    "BOIN12Engine",
    "BOINEngine",
    "CRMEngine",
    "Conduct",
    "DltTime",
    "Engine",
    "GenericEngine",
    "InvalidSpecError",
    "PatientBlock",
    "Scenario",
    "SimulationSpec",
    "TITEBOINEngine",
    "TITECRMEngine",
    "ThreePlusThreeEngine",
    "TrialOutcomes",
    "benchmark_selection",
    "boin12_random_scenarios",
    "choose_engine",
    "liu_yuan_scenarios",
    "mtd_levels",
    "operating_characteristics",
    "parse_spec",
    "probit_gap_scenarios",
    "pseudo_uniform_scenarios",
    "run_simulation",
    "write_csv",
    "write_report",
]
