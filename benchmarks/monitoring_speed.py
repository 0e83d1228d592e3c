"""Time to calibrate the beta-binomial toxicity monitoring rule and to compute its exact operating
characteristics, by number of monitored patients (``escalation monitor``). Nothing is asserted.

    .venv/bin/python benchmarks/monitoring_speed.py
"""

from __future__ import annotations

import time

from escalation.models import monitoring
from escalation.models.monitoring import ToxicityMonitor


def main() -> None:
    print("max_n  calibrate (s)  OC at one rate (ms)  threshold")
    for max_n in (30, 100, 300, 1000):
        monitoring._calibrate.cache_clear()
        start = time.perf_counter()
        monitor = ToxicityMonitor(p0=0.2, alpha=0.1, prior=(0.6, 2.4), max_n=max_n)
        calibrate = time.perf_counter() - start
        start = time.perf_counter()
        monitor.operating_characteristics(0.3)
        oc_ms = (time.perf_counter() - start) * 1000
        print(f"{max_n:5d}  {calibrate:13.3f}  {oc_ms:19.2f}  {monitor.threshold:.6f}")


if __name__ == "__main__":
    main()
