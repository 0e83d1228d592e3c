"""``escalation simulate``: the harness's command, registered through the entry point group
``escalation.commands`` (pyproject.toml), so the core never imports the harness.

.. code-block:: console

    $ escalation simulate SPEC.json [--trials N] [--seed S] [--workers W] [--scheduler ADDR]
                                    [--json] [--csv FILE] [--report DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from simulations.errors import InvalidSpecError
from simulations.executors import MIN_PARALLEL_SECONDS, available_cores
from simulations.report import whole_trial_tables

__all__ = ["register", "render_text"]

log = logging.getLogger(__name__)

EXIT_BAD_INPUT = 2


def register(subparsers: Any) -> None:
    """Add the ``simulate`` command to the ``escalation`` CLI."""
    p = subparsers.add_parser(
        "simulate",
        help="operating characteristics of designs by simulation",
        description="Simulate the designs of a specification on its scenarios (common random "
        "numbers, the optimal benchmark beside them) and report their operating characteristics "
        "with Monte Carlo standard errors. Results depend on the seed only.",
    )
    p.add_argument("spec", help="simulation specification (JSON file; '-' reads standard input)")
    p.add_argument(
        "--trials", type=int, default=None, help="trials per scenario (overrides the spec)"
    )
    p.add_argument("--seed", type=int, default=None, help="root seed (overrides the spec)")
    p.add_argument(
        "--workers",
        type=_workers,
        default="auto",
        help="local worker processes, or 'auto' (the default): one for a run too short to gain "
        f"from more (estimated work under {MIN_PARALLEL_SECONDS:g} s), else the idle ones of the "
        f"{available_cores()} cores",
    )
    p.add_argument(
        "--scheduler", default=None, metavar="ADDR", help="run on the Dask scheduler at ADDR"
    )
    p.add_argument("--json", action="store_true", help="JSON output (no progress bar)")
    p.add_argument("--csv", default=None, metavar="FILE", help="also write the results as CSV")
    p.add_argument(
        "--report", default=None, metavar="DIR", help="also write an HTML report with plots"
    )
    p.set_defaults(handler=simulate_command)

    plot = subparsers.add_parser(
        "plot",
        help="draw the posterior behind a recommendation",
        description="Draw the posterior dose-toxicity curve with 50% and 95% bands and the "
        "posterior interval probabilities per dose for a trial document (PNG or SVG).",
    )
    plot.add_argument("document", help="trial document (JSON file; '-' reads standard input)")
    plot.add_argument("--out", required=True, metavar="FILE", help="output file, .png or .svg")
    plot.set_defaults(handler=plot_command)


def _fail(messages: Sequence[str]) -> int:
    for m in messages:
        sys.stderr.write(f"error: {m}\n")
    return EXIT_BAD_INPUT


def _load(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(
            f"{path} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"
        ) from None


def _progress_bar(enabled: bool) -> tuple[Callable[[int, int], None] | None, Callable[[], None]]:
    """A tqdm bar on standard error when it is a terminal."""
    if not enabled or not sys.stderr.isatty():
        return None, lambda: None
    from tqdm import tqdm

    bars: list[Any] = []

    def update(done: int, total: int) -> None:
        if not bars:
            bars.append(
                tqdm(total=total, unit="trial", unit_scale=True, file=sys.stderr, desc="simulating")
            )
        bars[0].update(done - bars[0].n)

    def close() -> None:
        for bar in bars:
            bar.close()

    return update, close


def _workers(value: str) -> int | str:
    """``--workers``: a number of processes, or ``auto``."""
    if value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {value!r}") from None


def simulate_command(args: argparse.Namespace) -> int:
    from simulations.report import write_csv, write_report
    from simulations.runner import run_simulation

    try:
        spec = _load(args.spec)
    except ValueError as e:
        return _fail([str(e)])
    if isinstance(spec, dict):
        if args.trials is not None:
            spec["trials"] = args.trials
        if args.seed is not None:
            spec["seed"] = args.seed
    workers = args.workers
    if workers != "auto" and workers < 1:
        return _fail(["--workers: must be >= 1"])
    progress, close = _progress_bar(not args.json)
    try:
        results = run_simulation(spec, workers=workers, progress=progress, scheduler=args.scheduler)
    except InvalidSpecError as e:
        return _fail([str(p) for p in e.problems])
    finally:
        close()
    if args.csv:
        write_csv(results["results"], args.csv)
    if args.report:
        write_report(results, args.report)
    if args.json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
    else:
        sys.stdout.write(render_text(results))
    return 0


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(
        c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    ).rstrip()


def _render(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    return [_row(header, widths), _row(["-" * w for w in widths], widths)] + [
        _row(r, widths) for r in rows
    ]


def render_text(results: dict[str, Any]) -> str:
    """The text report: per scenario, selection and allocation by level, then the summaries.

    Deterministic for a seed (no timing: ``--json`` has ``elapsed_s``).
    """
    spec = results["spec"]
    lines = [
        f"{spec.get('name') or 'Simulation'}: {results['trials']} trials per scenario, seed {results['seed']}, "
        f"engine {results['engine_version']}",
        "",
    ]
    rows = results["results"]
    if results.get("summary"):
        lines.append(f"Averages over {results['summary'][0]['scenarios']} random scenarios (s.e.):")
        keys = (
            ("correct_selection_pct", "Correct %"),
            ("benchmark_correct_pct", "Benchmark %"),
            ("none_pct", "No dose %"),
            ("stop_safety_pct", "Safety stop %"),
            ("above_mtd_pct", "Above MTD %"),
            ("dlt_rate_pct", "DLT rate %"),
            ("overdose60_pct", "Overdose60 %"),
            ("poor_allocation_pct", "Poor alloc. %"),
        )
        header = ["Design", *(h for _, h in keys), "Mean n"]
        table = [
            [r["design"]]
            + ["-" if r[k] is None else f"{r[k]:.1f} ({r['se'][k]:.1f})" for k, _ in keys]
            + [f"{r['n_mean']:.1f}"]
            for r in results["summary"]
        ]
        lines += [*_render(header, table), ""]
        efficacy = [r for r in results["summary"] if "obd_correct_pct" in r]
        if efficacy:
            lines.append("Optimal biological dose, averaged over the same scenarios (s.e.):")
            eff_keys = (
                ("obd_correct_pct", "OBD %"),
                ("benchmark_obd_correct_pct", "Utility benchmark %"),
                ("selected_utility_mean", "Utility of selected"),
                ("benchmark_utility_mean", "Benchmark utility"),
            )
            lines += _render(
                ["Design", *(h for _, h in eff_keys)],
                [
                    [r["design"]]
                    + [
                        "-" if r.get(k) is None else f"{r[k]:.1f} ({r['se'][k]:.1f})"
                        for k, _ in eff_keys
                    ]
                    for r in efficacy
                ],
            )
            lines.append("")
        return "\n".join(lines) + "\n"
    for name in dict.fromkeys(r["scenario"] for r in rows):
        mine = [r for r in rows if r["scenario"] == name]
        first = mine[0]
        levels = len(first["true_dlt_probs"])
        mtd = (
            f"true MTD level {', '.join(str(v) for v in first['mtd_levels'])}"
            if first["mtd_levels"]
            else "no true MTD: every level too toxic"
        )
        lines.append(f"Scenario {name} (target {first['target']:g}, {mtd})")
        header = ["", *[f"L{k + 1}" for k in range(levels)], "none"]
        table = [["true DLT prob.", *[f"{p:.2f}" for p in first["true_dlt_probs"]], ""]]
        efficacy = [r for r in mine if "obd_levels" in r]
        if efficacy:
            e = efficacy[0]
            table.append(
                ["true response prob.", *[f"{p:.2f}" for p in e["true_response_probs"]], ""]
            )
            table.append(["true utility", *[f"{u:.1f}" for u in e["true_utility"]], ""])
        for r in mine:
            table.append(
                [
                    f"{r['design']}: selected %",
                    *[f"{v:.1f}" for v in r["selection_pct"]],
                    f"{r['none_pct']:.1f}",
                ]
            )
            table.append(
                [f"{r['design']}: patients", *[f"{v:.2f}" for v in r["patients_mean"]], ""]
            )
            table.append([f"{r['design']}: DLTs", *[f"{v:.2f}" for v in r["dlt_mean"]], ""])
            if "responses_mean" in r:
                table.append(
                    [f"{r['design']}: responses", *[f"{v:.2f}" for v in r["responses_mean"]], ""]
                )
        table.append(
            [
                "benchmark: selected %",
                *[f"{v:.1f}" for v in first["benchmark_selection_pct"]],
                f"{first['benchmark_none_pct']:.1f}",
            ]
        )
        lines += _render(header, table)
        lines.append("")
        header = [
            "Design",
            "Correct %",
            "Benchmark %",
            "Mean n",
            "Above MTD %",
            "DLT rate %",
            "Safety stop %",
            "n_stop stop %",
            "Duration (days)",
        ]
        table = [
            [
                r["design"],
                f"{r['correct_selection_pct']:.1f}",
                f"{r['benchmark_correct_pct']:.1f}",
                f"{r['n_mean']:.1f}",
                "-" if r["above_mtd_pct"] is None else f"{r['above_mtd_pct']:.1f}",
                "-" if r["dlt_rate_pct"] is None else f"{r['dlt_rate_pct']:.1f}",
                f"{r['stop_safety_pct']:.1f}",
                f"{r['stop_n_stop_pct']:.1f}",
                f"{r['duration_mean_days']:.0f}",
            ]
            for r in mine
        ]
        lines += _render(header, table)
        lines.append("")
        whole = whole_trial_tables(mine)
        if whole:
            lines.append("Whole trial (expansion per indication; final selection on all the data):")
            for header, table in whole:
                lines += _render(header, table)
                lines.append("")
        if efficacy:
            lines += _efficacy_summary(efficacy)
    lines.append(
        "Monte Carlo standard errors and the risks (overdose60/80, poor allocation, high "
        "toxicity): --json, --csv or --report."
    )
    return "\n".join(lines) + "\n"


def _efficacy_summary(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The optimal biological dose's table, for designs that use efficacy (BOIN12)."""

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}"

    obd = rows[0]["obd_levels"]
    header = [
        "Design",
        f"OBD (level {', '.join(map(str, obd))}) %" if obd else "OBD (none) %",
        "Utility benchmark %",
        "Utility of selected",
        "Benchmark utility",
    ]
    table = [
        [
            r["design"],
            fmt(r["obd_correct_pct"]),
            fmt(r.get("benchmark_obd_correct_pct")),
            fmt(r["selected_utility_mean"]),
            fmt(r.get("benchmark_utility_mean")),
        ]
        for r in rows
    ]
    return [*_render(header, table), ""]


def plot_command(args: argparse.Namespace) -> int:
    """``escalation plot DOC.json --out FILE``: exit 0, or 2 with every problem on stderr."""
    from escalation import InvalidDesignError, InvalidTrialDataError, parse_document
    from simulations.decision_plot import write_decision_plot

    try:
        text = sys.stdin.read() if args.document == "-" else Path(args.document).read_text()
        doc = parse_document(json.loads(text))
        decision = write_decision_plot(doc, Path(args.out))
    except (InvalidTrialDataError, InvalidDesignError) as e:
        for problem in e.problems:
            sys.stderr.write(f"error: {problem}\n")
        return 2
    except (OSError, ValueError) as e:  # unreadable file, bad JSON, bad --out
        sys.stderr.write(f"error: {e}\n")
        return 2
    where = f"level {decision.next_level}" if decision.next_level else decision.action.value
    sys.stdout.write(f"wrote {args.out} (decision: {decision.action.value}, {where})\n")
    return 0
