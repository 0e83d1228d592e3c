"""``escalation table --design boin12``: BOIN12's desirability table (Lin et al. 2020, Table 3).

For each number of patients n at a dose (0 and every cohort end up to ``--cohorts`` cohorts) a
grid: one row per number of DLTs, one column per number of responses; each cell is the rank-based
desirability score of that outcome (higher is more desirable) or ``E`` where the dose is
eliminated (not admissible). Ranks are over the whole table, ties sharing their average rank, as
the paper ranks them.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from typing import Any

from escalation.decision import Decision
from escalation.designs.boin12 import BOIN12
from escalation.models.utility import desirability_table, utility_benchmark

__all__ = ["boin12_table", "boin12_table_command", "efficacy_table"]


def _score(value: float | None) -> str:
    if value is None:
        return "E"
    return f"{value:g}"


def boin12_table(
    *,
    target: float,
    efficacy_target: float,
    utility: tuple[float, float, float, float],
    c_t: float,
    c_e: float,
    cohorts: int,
    cohort_size: int,
    fmt: str,
) -> int:
    """Print the table (``fmt``: text, json, csv or markdown); options are checked as the design
    checks them."""
    BOIN12(
        n_doses=1,
        target=target,
        efficacy_target=efficacy_target,
        utility=utility,
        c_t=c_t,
        c_e=c_e,
        cohort_size=cohort_size,
    )
    sizes = tuple(range(0, cohorts * cohort_size + 1, cohort_size))
    rows = desirability_table(
        sizes, target=target, efficacy_target=efficacy_target, utility=utility, c_t=c_t, c_e=c_e
    )
    u_bar, u_b = utility_benchmark(target, efficacy_target, utility)
    if fmt == "json":
        payload: dict[str, Any] = {
            "design": "boin12",
            "target": target,
            "efficacy_target": efficacy_target,
            "utility": list(utility),
            "c_t": c_t,
            "c_e": c_e,
            "u_bar": u_bar,
            "u_b": u_b,
            "rows": [
                {
                    "n": r.n,
                    "dlt": r.dlt,
                    "responses": r.responses,
                    "admissible": r.admissible,
                    "prob_utility_above_benchmark": r.probability,
                    "score": r.score,
                }
                for r in rows
            ],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return 0
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["n", "dlt", "responses", "admissible", "score"])
        for r in rows:
            writer.writerow([r.n, r.dlt, r.responses, r.admissible, _score(r.score)])
        sys.stdout.write(buf.getvalue())
        return 0
    out: list[str] = []
    if fmt == "text":
        out += [
            f"BOIN12 desirability table: target {target:g}, efficacy target {efficacy_target:g}, "
            f"utilities {'/'.join(f'{u:g}' for u in utility)} "
            f"(u_bar {u_bar:.2f}, benchmark u_b {u_b:.2f}), c_t {c_t:g}, c_e {c_e:g}",
            "",
        ]
    for n in sizes:
        cells = {(r.dlt, r.responses): r for r in rows if r.n == n}
        header = ["DLTs \\ responses", *(str(e) for e in range(n + 1))]
        grid = [
            [str(t), *(_score(cells[(t, e)].score) for e in range(n + 1))] for t in range(n + 1)
        ]
        if fmt == "markdown":
            out += [f"**{n} patients**", ""]
            out += ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
            out += ["| " + " | ".join(row) + " |" for row in grid]
        else:
            widths = [max(len(row[i]) for row in [header, *grid]) for i in range(len(header))]
            out.append(f"{n} patients at the dose:")
            out += [
                "  " + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True))
                for row in [header, *grid]
            ]
        out.append("")
    if fmt == "text":
        out.append(
            "Each cell: the rank-based desirability score of n patients with that many DLTs and "
            "responses\n(higher is better; ranks over the whole table, ties averaged); E: the dose "
            "is not admissible\n(Pr(DLT rate > target) > c_t or Pr(response rate < efficacy "
            "target) > c_e, from 3 patients)."
        )
    sys.stdout.write("\n".join(out).rstrip("\n") + "\n")
    return 0


def boin12_table_command(args: argparse.Namespace) -> int:
    """The ``table --design boin12`` command: its options checked, then :func:`boin12_table`."""
    from escalation.cli import _float_list, _UsageError
    from escalation.limits import LIMITS

    given = [
        flag
        for flag, value in (
            ("--phi1", args.phi1),
            ("--phi2", args.phi2),
            ("--extra-safe", args.extra_safe or None),
            ("--offset", args.offset),
            ("--max-pending", args.max_pending),
            ("--compact", args.compact or None),
            ("--allow-deescalation", args.allow_deescalation or None),
        )
        if value is not None
    ]
    if given:
        verb = "does" if len(given) == 1 else "do"
        raise _UsageError(f"{', '.join(given)} {verb} not apply to --design boin12")
    if args.target is None:
        raise _UsageError("--target is required with --design boin12")
    cohorts = 3 if args.cohorts is None else args.cohorts
    if (why := LIMITS["table_patients"].check(cohorts * args.cohort_size)) is not None:
        raise _UsageError(f"--cohorts x --cohort-size: patients at a dose, {why}")
    utility = tuple(_float_list(args.utility, "utility"))
    if len(utility) != 4:
        raise _UsageError("--utility: four numbers, u1 to u4 (e.g. 100,40,60,0)")
    return boin12_table(
        target=args.target,
        efficacy_target=args.efficacy_target,
        utility=(utility[0], utility[1], utility[2], utility[3]),
        c_t=args.cutoff if args.c_t is None else args.c_t,
        c_e=args.c_e,
        cohorts=cohorts,
        cohort_size=args.cohort_size,
        fmt=args.format,
    )


def efficacy_table(decision: Decision, doc: Any) -> str:
    """``recommend``'s second table for a design that uses efficacy: per dose, the patients with
    both outcomes known, their DLTs and responses, the response rate, Pr(response rate < efficacy
    target), the posterior mean utility and the desirability Pr(utility > benchmark)."""
    from escalation._cli_text import render_rows as _render_rows
    from escalation.cli import _fmt

    u_b = (decision.model or {}).get("u_b")
    rows = []
    for d in decision.doses:
        e = d.efficacy
        if e is None:
            continue
        rows.append(
            [
                str(d.dose_level),
                doc.doses[d.dose_level - 1].label,
                f"{e.n_evaluable:g}",
                f"{e.dlt:g}",
                f"{e.responses:g}",
                str(e.waiting),
                _fmt(e.response_rate),
                _fmt(e.prob_futile, 3) if e.n_evaluable else "-",
                f"{e.utility_mean:.1f}",
                f"{100 * e.desirability:.1f}",
                "yes" if e.admissible else "no",
            ]
        )
    header = [
        "Level",
        "Dose",
        "Evaluable",
        "DLTs",
        "Responses",
        "Waiting",
        "Resp. rate",
        "P(futile)",
        "Utility",
        "Desirability",
        "Admissible",
    ]
    bench = f" (benchmark {u_b:.1f})" if u_b is not None else ""
    return (
        f"Efficacy and utility (patients with both outcomes known){bench}:\n"
        + _render_rows(header, rows)
        + "\nDesirability: 100 x Pr(utility > benchmark | data), the rank-based score's basis; "
        "Utility: posterior mean (0-100)."
    )
