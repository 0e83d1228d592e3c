"""BOIN12's operating characteristics against phase12designs' oc_boin12 at 10,000 trials.

The four scenarios of tests/data/reference/boin12_phase12designs_oc.json (R, 10,000 trials each),
simulated here with 10,000 trials as well; prints, per scenario, the selection % per level, the
mean patients per level, the OBD's correct selection %, and the largest |z| over the compared
quantities (the test, tests/simulations/test_boin12_reference_oc.py, does the same at 4,000
trials and fails above 4). Asserts nothing.

Measured (2026-12-06, 10,000 trials each): max |z| 1.7, 1.7, 2.5 in S1-S3; 4.5 in S4 (every
response rate below the efficacy target), on the patients at level 5 (5.21 against 4.97): there
many candidate doses tie on desirability, and oc_boin12 breaks ties at random where this design
takes the higher dose, as MD Anderson's application does (a decision engine is deterministic).

Run: ``.venv/bin/python benchmarks/boin12_oc_reference.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' reference loaders

import tests.simulations.test_boin12_reference_oc as ref


def main() -> None:
    ref.TRIALS = 10_000
    for name in sorted(ref.REF["results"]):
        r = ref.REF["results"][name]
        row = ref.simulate(name)
        z = ref.z_scores(row, name)
        worst = max(z, key=lambda k: abs(z[k]))
        print(f"{name}: pT {r['scenario']['pT']}, pE {r['scenario']['pE']}")
        print(f"  selection %  ours {[round(v, 1) for v in row['selection_pct']]}")
        print(f"               R    {[round(v, 1) for v in r['sel']]}")
        print(f"  patients     ours {[round(v, 2) for v in row['patients_mean']]}")
        print(f"               R    {[round(v, 2) for v in r['pts']]}")
        print(
            f"  OBD correct %  ours {row['obd_correct_pct']:.1f}  R {r['bd.sel']:.1f}"
            f"   none %  ours {row['none_pct']:.2f}  R {r['earlystop']:.2f}"
            f"   max |z| {abs(z[worst]):.2f} ({worst})"
        )


if __name__ == "__main__":
    main()
