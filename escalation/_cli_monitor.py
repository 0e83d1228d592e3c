"""``escalation monitor``: the beta-binomial toxicity monitoring rule and its exact operating
characteristics (``escalation.models.monitoring``), registered by ``escalation.cli``."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from escalation._cli_text import render_rows
from escalation.models.monitoring import ToxicityMonitor

__all__ = ["add_monitor_command"]


def _probability_list(text: str) -> list[float]:
    """``--oc 0.2,0.3,0.4``: DLT rates in [0, 1]; anything else is a usage error (exit 2)."""
    values = []
    for item in text.split(","):
        try:
            value = float(item)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated DLT rates such as 0.2,0.3,0.4, got {item.strip()!r}"
            ) from None
        if not math.isfinite(value) or not 0 <= value <= 1:
            raise argparse.ArgumentTypeError(f"a DLT rate must be in [0, 1], got {item.strip()}")
        values.append(value)
    return values


def _boundary_ranges(stop_at_least: tuple[int | None, ...]) -> list[list[str]]:
    """Runs of n with the same boundary, as protocols print them (stoppingrule's table.rule.bin)."""
    rows: list[list[str]] = []
    start = 1
    for n in range(1, len(stop_at_least) + 1):
        last = n == len(stop_at_least) or stop_at_least[n] != stop_at_least[n - 1]
        if last:
            bound = stop_at_least[n - 1]
            span = str(start) if start == n else f"{start}-{n}"
            rows.append([span, "-" if bound is None else str(bound)])
            start = n + 1
    return rows


def _monitor_command(args: argparse.Namespace) -> int:
    monitor = ToxicityMonitor(
        p0=args.p0, alpha=args.alpha, prior=tuple(args.prior), max_n=args.max_n
    )
    rates = args.oc if args.oc is not None else [monitor.p0]
    ocs = [monitor.operating_characteristics(p) for p in rates]
    a, b = monitor.prior
    if args.json:
        payload: dict[str, Any] = {
            "p0": monitor.p0,
            "alpha": monitor.alpha,
            "prior": [a, b],
            "max_n": monitor.max_n,
            "threshold": monitor.threshold,
            "rows": [
                {"n": n, "stop_at_least": bound}
                for n, bound in enumerate(monitor.stop_at_least, start=1)
            ],
            "oc": [
                {
                    "p": oc.p,
                    "stop_prob": oc.stop_prob,
                    "expected_events": oc.expected_events,
                    "expected_n": oc.expected_n,
                }
                for oc in ocs
            ],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return 0
    oc_rows = [
        [f"{oc.p:g}", f"{oc.stop_prob:.4f}", f"{oc.expected_events:.2f}", f"{oc.expected_n:.2f}"]
        for oc in ocs
    ]
    text = [
        "Toxicity monitoring, beta-binomial (Geller et al. 2003; R stoppingrule, type BB):",
        f"prior Beta({a:g}, {b:g}); stop when Pr(DLT rate > {monitor.p0:g} | data) > "
        f"{monitor.threshold:.6f},",
        f"the smallest threshold with Pr(ever stop | DLT rate = {monitor.p0:g}) <= "
        f"{monitor.alpha:g} over {monitor.max_n} patients.",
        "",
        render_rows(
            ["Evaluable patients", "Stop if DLTs >="], _boundary_ranges(monitor.stop_at_least)
        ),
        "",
        "'-': no number of DLTs stops at that number of patients.",
        "",
        "Exact operating characteristics (at stopping or at the last patient):",
        "",
        render_rows(["True DLT rate", "Pr(stop)", "E(DLTs)", "E(patients)"], oc_rows),
    ]
    sys.stdout.write("\n".join(text) + "\n")
    return 0


def add_monitor_command(sub: Any) -> None:
    """Add ``monitor`` to the ``escalation`` sub-commands."""
    p = sub.add_parser(
        "monitor",
        help="continuous toxicity monitoring rule (beta-binomial) and its operating characteristics",
        description="Continuous Bayesian toxicity monitoring (Geller et al. 2003; as R's "
        'stoppingrule calc.rule.bin(type = "BB")): after each evaluable patient, stop when '
        "Pr(DLT rate > p0 | data) > c under a Beta(a, b) prior, with c the smallest threshold "
        "for which Pr(ever stop over max-n patients | DLT rate = p0) <= alpha. Prints the "
        "boundary (the fewest DLTs that stop, at each number of evaluable patients) and exact "
        "operating characteristics (by dynamic programming, not simulation).",
    )
    p.add_argument("--p0", type=float, required=True, help="acceptable DLT rate, in (0, 1)")
    p.add_argument(
        "--alpha",
        type=float,
        required=True,
        help="largest probability of ever stopping when the DLT rate is p0, in (0, 1)",
    )
    p.add_argument(
        "--prior",
        type=float,
        nargs=2,
        required=True,
        metavar=("A", "B"),
        help="Beta(a, b) prior on the DLT rate (both > 0)",
    )
    p.add_argument(
        "--max-n", type=int, required=True, help="number of evaluable patients monitored (1-1000)"
    )
    p.add_argument(
        "--oc",
        type=_probability_list,
        default=None,
        metavar="P1,P2,...",
        help="true DLT rates for the operating characteristics (default: p0)",
    )
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(handler=_monitor_command)
