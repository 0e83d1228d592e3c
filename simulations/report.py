"""Outputs of a simulation: CSV, plots (PNG and SVG, drawn on matplotlib's Agg canvas) and an HTML report.

The HTML report is one self-contained file: tables, the plots embedded as base64 PNG, the full
specification, the seed and the engine version, with no external URL (the SVG and PNG files are
written beside it as well).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # matplotlib is imported when a plot is drawn: the CLI starts faster
    from matplotlib.figure import Figure

__all__ = [
    "FIGURE_DPI",
    "FIGURE_SIZE_IN",
    "comparison_figure",
    "csv_rows",
    "patients_figure",
    "selection_figure",
    "whole_trial_tables",
    "write_csv",
    "write_report",
]

#: every plot is FIGURE_SIZE_IN inches at FIGURE_DPI (so 800 x 450 pixels as PNG)
FIGURE_SIZE_IN = (8.0, 4.5)
FIGURE_DPI = 100
#: scenarios above which the report shows no per-scenario plots (random scenario sets)
MAX_SCENARIO_PLOTS = 12
#: result rows shown in the HTML report (all of them are in the CSV)
MAX_HTML_ROWS = 300

_METRICS = (
    "none_pct",
    "correct_selection_pct",
    "benchmark_correct_pct",
    "benchmark_none_pct",
    "n_mean",
    "dlt_rate_pct",
    "above_mtd_pct",
    "early_stop_pct",
    "stop_safety_pct",
    "stop_n_stop_pct",
    "overdose60_pct",
    "overdose80_pct",
    "poor_allocation_pct",
    "high_toxicity_pct",
    "duration_mean_days",
    "delay_mean_days",
    "lost_mean",
)
#: the metrics of the per-scenario HTML table: (key, column, digits)
_TABLE_METRICS = (
    ("correct_selection_pct", "Correct %", 1),
    ("benchmark_correct_pct", "Benchmark %", 1),
    ("n_mean", "Mean n", 1),
    ("above_mtd_pct", "Above MTD %", 1),
    ("dlt_rate_pct", "DLT rate %", 1),
    ("stop_safety_pct", "Safety stop %", 1),
    ("stop_n_stop_pct", "n_stop stop %", 1),
    ("overdose60_pct", "Overdose >60% (% trials)", 1),
    ("overdose80_pct", "Overdose >80% (% trials)", 1),
    ("poor_allocation_pct", "Poor allocation %", 1),
    ("high_toxicity_pct", "High toxicity %", 1),
    ("duration_mean_days", "Duration (days)", 0),
)


#: whole-trial metrics (a simulation with an expansion stage): (key, column, digits)
WHOLE_TRIAL_METRICS = (
    ("expansion_pct", "Expansion %", 1),
    ("final_correct_selection_pct", "Final correct %", 1),
    ("final_none_pct", "Final no dose %", 1),
    ("n_total_mean", "Mean n, whole trial", 1),
    ("duration_total_mean_days", "Whole duration (days)", 0),
)
#: per-indication metrics of the expansion stage: (key, column, digits)
INDICATION_METRICS = (
    ("patients_mean", "Mean n", 1),
    ("dlt_mean", "Mean DLTs", 2),
    ("stop_toxicity_pct", "Toxicity stop %", 1),
    ("stop_futility_pct", "Futility stop %", 1),  # with a futility rule
)


def whole_trial_tables(
    rows: Sequence[Mapping[str, Any]], *, with_se: bool = False
) -> list[tuple[list[str], list[list[str]]]]:
    """The whole trial's tables of one scenario's rows (none without an expansion stage): the
    whole-trial metrics per design, then the expansion's metrics per design and indication, each
    as (header, rows) of strings (with standard errors in brackets when ``with_se``)."""
    if not rows or "expansion_pct" not in rows[0]:
        return []

    def cell(value: Any, error: Any, digits: int) -> str:
        if value is None:
            return "-"
        text = f"{value:.{digits}f}"
        return f"{text} ({error:.{digits}f})" if with_se else text

    whole = (
        ["Design", *(c for _, c, _ in WHOLE_TRIAL_METRICS)],
        [
            [r["design"]] + [cell(r[k], r["se"][k], d) for k, _, d in WHOLE_TRIAL_METRICS]
            for r in rows
        ],
    )
    metrics = [m for m in INDICATION_METRICS if m[0] in rows[0]["expansion_indications"][0]]
    per_indication = (
        ["Design", "Indication", *(c for _, c, _ in metrics)],
        [
            [r["design"], row["indication"]] + [cell(row[k], err[k], d) for k, _, d in metrics]
            for r in rows
            for row, err in zip(
                r["expansion_indications"], r["se"]["expansion_indications"], strict=True
            )
        ],
    )
    return [whole, per_indication]


def csv_digits(key: str) -> int:
    """Decimals a CSV column keeps: percentages 2, days 1, counts per trial 3; standard errors
    one more (Monte Carlo error is rarely below these)."""
    if key.startswith("se_"):
        return csv_digits(key[3:]) + 1
    base = key.split("_L")[0] if "_L" in key else key
    if base.endswith("_pct") or "_pct_" in base:  # per indication: stop_toxicity_pct_SLE
        return 2
    if base.endswith("_days"):
        return 1
    return 3


# ---- CSV -------------------------------------------------------------------------------------------
def csv_rows(results: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Header and rows of the CSV: one row per scenario and design, standard errors beside.

    Per-level values have a column per level (``selection_pct_L1``, ...); numbers are rounded by
    :func:`csv_digits`; a missing value is empty."""
    levels = max((len(r["selection_pct"]) for r in results), default=0)
    per_level = ("selection_pct", "patients_mean", "dlt_mean", "benchmark_selection_pct")
    header = ["scenario", "design", "engine", "trials", "target", "true_dlt_probs", "mtd_levels"]
    for key in per_level:
        header += [f"{key}_L{k + 1}" for k in range(levels)]
    header += list(_METRICS)
    for key in per_level:
        header += [f"se_{key}_L{k + 1}" for k in range(levels)]
    header += [f"se_{m}" for m in _METRICS]
    whole = [m for m, _, _ in WHOLE_TRIAL_METRICS]
    indications = list(
        dict.fromkeys(
            row["indication"] for r in results for row in r.get("expansion_indications", ())
        )
    )
    present = {k for r in results for row in r.get("expansion_indications", ()) for k in row}
    per_indication = [
        f"{k}_{name}" for name in indications for k, _, _ in INDICATION_METRICS if k in present
    ]
    if any("expansion_pct" in r for r in results):
        header += [f"final_selection_pct_L{k + 1}" for k in range(levels)]
        header += whole + per_indication + [f"se_{m}" for m in whole + per_indication]
    rows = []
    for r in results:
        row: dict[str, Any] = {
            "scenario": r["scenario"],
            "design": r["design"],
            "engine": r["engine"],
            "trials": r["trials"],
            "target": r["target"],
            "true_dlt_probs": " ".join(f"{p:g}" for p in r["true_dlt_probs"]),
            "mtd_levels": " ".join(str(v) for v in r["mtd_levels"]),
        }
        for key in per_level:
            for k, v in enumerate(r[key]):
                row[f"{key}_L{k + 1}"] = v
            for k, v in enumerate(r["se"][key]):
                row[f"se_{key}_L{k + 1}"] = v
        for m in _METRICS:
            row[m] = r.get(m)
            row[f"se_{m}"] = r["se"].get(m)
        if "expansion_pct" in r:
            for level, v in enumerate(r["final_selection_pct"], start=1):
                row[f"final_selection_pct_L{level}"] = v
            for m in whole:
                row[m], row[f"se_{m}"] = r[m], r["se"][m]
            for values, errors in zip(
                r["expansion_indications"], r["se"]["expansion_indications"], strict=True
            ):
                for metric, _, _ in INDICATION_METRICS:
                    if metric not in values:
                        continue
                    key = f"{metric}_{values['indication']}"
                    row[key], row[f"se_{key}"] = values[metric], errors[metric]
        rows.append(
            {
                k: ("" if v is None else round(v, csv_digits(k)) if isinstance(v, float) else v)
                for k, v in row.items()
            }
        )
    return header, rows


def write_csv(results: Sequence[Mapping[str, Any]], path: Path | str) -> None:
    """Write the results as CSV (see :func:`csv_rows`)."""
    header, rows = csv_rows(results)
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, restval="")
        writer.writeheader()
        writer.writerows(rows)


# ---- plots -----------------------------------------------------------------------------------------
#: probability axes run a little beyond [0, 1] so that markers at 0 and 1 are drawn whole
_PROB_LIMITS = (-0.04, 1.04)
_PCT_LIMITS = (0.0, 104.0)


def _figure() -> tuple[Figure, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # constrained layout keeps a legend placed outside the axes inside the figure
    fig = Figure(figsize=FIGURE_SIZE_IN, dpi=FIGURE_DPI, layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas: no GUI backend, no pyplot state
    ax = fig.add_subplot()
    return fig, ax


def _legend_outside(fig: Figure, ax: Any, *more: Any) -> None:
    """One legend for the axes given, to the right of the plot: it hides no bar or line."""
    handles: list[Any] = []
    labels: list[str] = []
    for a in (ax, *more):
        h, lab = a.get_legend_handles_labels()
        handles += h
        labels += lab
    fig.legend(handles, labels, loc="outside right upper", fontsize=8)


def _title(kind: str, scenario: str, title: str | None) -> str:
    return f"{title}\nScenario {scenario}: {kind}" if title else f"Scenario {scenario}: {kind}"


def _grouped_bars(
    ax: Any, rows: Sequence[Mapping[str, Any]], key: str, none_key: str | None = None
) -> None:
    """Bars per level (and a last "no dose" group from ``none_key``), +/- 2 s.e."""
    levels = len(rows[0][key])
    width = 0.8 / len(rows)
    groups = levels + (1 if none_key else 0)
    for i, r in enumerate(rows):
        values = list(r[key]) + ([r[none_key]] if none_key else [])
        errors = list(r["se"][key]) + ([r["se"][none_key]] if none_key else [])
        x = [k + 1 - 0.4 + width * (i + 0.5) for k in range(groups)]
        ax.bar(x, values, width=width, label=r["design"])
        ax.errorbar(x, values, yerr=[2 * e for e in errors], fmt="none", ecolor="black", lw=0.8)
    ax.set_xticks(range(1, groups + 1))
    ax.set_xticklabels([str(k + 1) for k in range(levels)] + (["no dose"] if none_key else []))
    ax.set_xlabel("Dose level")


def selection_figure(rows: Sequence[Mapping[str, Any]], *, title: str | None = None) -> Figure:
    """Selection % per level and of no dose for each design (bars, +/- 2 s.e.) over the true DLT
    curve; ``title`` (the simulation's name) heads the plot."""
    fig, ax = _figure()
    _grouped_bars(ax, rows, "selection_pct", none_key="none_pct")
    ax.set_ylabel("Selected as MTD (% of trials)")
    ax.set_ylim(*_PCT_LIMITS)
    truth = ax.twinx()
    levels = range(1, len(rows[0]["true_dlt_probs"]) + 1)
    truth.plot(
        levels,
        rows[0]["true_dlt_probs"],
        color="black",
        marker="o",
        clip_on=False,
        label="true DLT probability",
    )
    truth.axhline(rows[0]["target"], color="grey", ls="--", lw=1, label="target")
    truth.set_ylim(*_PROB_LIMITS)
    truth.set_ylabel("True DLT probability")
    _legend_outside(fig, ax, truth)
    ax.set_title(_title("selection per dose level", rows[0]["scenario"], title), fontsize=10)
    return fig


def patients_figure(rows: Sequence[Mapping[str, Any]], *, title: str | None = None) -> Figure:
    """Mean patients treated per level for each design (+/- 2 s.e.)."""
    fig, ax = _figure()
    _grouped_bars(ax, rows, "patients_mean")
    ax.set_ylabel("Patients treated (mean per trial)")
    ax.set_ylim(bottom=0)
    _legend_outside(fig, ax)
    ax.set_title(_title("patients per dose level", rows[0]["scenario"], title), fontsize=10)
    return fig


def comparison_figure(results: Mapping[str, Any]) -> Figure:
    """Correct selection % per design and scenario (or averaged over random scenarios), with the
    optimal benchmark's beside it; titled with the simulation's name."""
    fig, ax = _figure()
    rows = results.get("summary") or results["results"]
    designs = list(dict.fromkeys(r["design"] for r in rows))
    groups = list(dict.fromkeys(r.get("scenario", "average over random scenarios") for r in rows))
    width = 0.8 / (len(designs) + 1)
    for i, name in enumerate(designs):
        mine = [r for r in rows if r["design"] == name]
        x = [g - 0.4 + width * (i + 0.5) for g in range(len(groups))]
        ax.bar(x, [r["correct_selection_pct"] for r in mine], width=width, label=name)
    bench = [next(r for r in rows if r.get("scenario", groups[0]) == g) for g in groups]
    xb = [g - 0.4 + width * (len(designs) + 0.5) for g in range(len(groups))]
    ax.bar(
        xb,
        [r["benchmark_correct_pct"] for r in bench],
        width=width,
        color="lightgrey",
        edgecolor="black",
        label="optimal benchmark",
    )
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=30 if len(groups) > 6 else 0, fontsize=8)
    ax.set_ylabel("Correct selection (% of trials)")
    ax.set_ylim(*_PCT_LIMITS)
    _legend_outside(fig, ax)
    name = results.get("spec", {}).get("name")
    heading = "Design comparison: correct selection"
    ax.set_title(f"{name}\n{heading}" if name else heading, fontsize=10)
    return fig


def _save(fig: Figure, directory: Path, stem: str) -> bytes:
    """Write PNG and SVG; return the PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIGURE_DPI)
    png = buf.getvalue()
    (directory / f"{stem}.png").write_bytes(png)
    fig.savefig(directory / f"{stem}.svg", format="svg")
    return png


def write_plots(results: Mapping[str, Any], directory: Path | str) -> list[tuple[str, str, bytes]]:
    """Every plot as PNG and SVG files in ``directory``; returns (stem, title, png bytes)."""
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots: list[tuple[str, str, bytes]] = []
    rows = results["results"]
    title = results.get("spec", {}).get("name")
    scenarios = list(dict.fromkeys(r["scenario"] for r in rows))
    if len(scenarios) <= MAX_SCENARIO_PLOTS:
        for k, name in enumerate(scenarios):
            mine = [r for r in rows if r["scenario"] == name]
            plots.append(
                (
                    f"selection-{k + 1}",
                    f"Scenario {name}: selection %",
                    _save(selection_figure(mine, title=title), out_dir, f"selection-{k + 1}"),
                )
            )
            plots.append(
                (
                    f"patients-{k + 1}",
                    f"Scenario {name}: patients per level",
                    _save(patients_figure(mine, title=title), out_dir, f"patients-{k + 1}"),
                )
            )
    plots.append(
        (
            "comparison",
            "Design comparison",
            _save(comparison_figure(results), out_dir, "comparison"),
        )
    )
    return plots


# ---- HTML ------------------------------------------------------------------------------------------
def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _with_se(row: Mapping[str, Any], key: str, digits: int = 1) -> str:
    v, e = row.get(key), row["se"].get(key)
    return "-" if v is None else f"{v:.{digits}f} <small>({e:.{digits}f})</small>"


def _scenario_tables(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per scenario: a table with one column per dose level (and no dose), then the metrics.

    At most :data:`MAX_HTML_ROWS` result rows are shown (all of them are in the CSV)."""
    parts: list[str] = []
    names = list(dict.fromkeys(r["scenario"] for r in rows))
    shown = 0
    for name in names:
        mine = [r for r in rows if r["scenario"] == name]
        if shown + len(mine) > MAX_HTML_ROWS:
            parts.append(f"<p>{len(rows) - shown} more rows in results.csv.</p>")
            break
        shown += len(mine)
        first = mine[0]
        levels = len(first["true_dlt_probs"])
        mtd = (
            f"true MTD level {', '.join(str(v) for v in first['mtd_levels'])}"
            if first["mtd_levels"]
            else "no true MTD: every level too toxic"
        )
        parts.append(
            f"<h3>Scenario {html.escape(name)} (target {first['target']:g}, {html.escape(mtd)})</h3>"
        )
        header = ["", *(f"L{k + 1}" for k in range(levels)), "No dose"]
        table = [["True DLT probability", *(f"{p:.2f}" for p in first["true_dlt_probs"]), ""]]
        for r in mine:
            d = html.escape(r["design"])
            table.append(
                [
                    f"{d}: selected %",
                    *(f"{v:.1f}" for v in r["selection_pct"]),
                    f"{r['none_pct']:.1f}",
                ]
            )
            table.append([f"{d}: patients", *(f"{v:.2f}" for v in r["patients_mean"]), ""])
            table.append([f"{d}: DLTs", *(f"{v:.2f}" for v in r["dlt_mean"]), ""])
        table.append(
            [
                "Benchmark: selected %",
                *(f"{v:.1f}" for v in first["benchmark_selection_pct"]),
                f"{first.get('benchmark_none_pct', 0.0):.1f}",
            ]
        )
        parts.append(_table(header, table))
        parts.append(
            _table(
                ["Design", *(c for _, c, _ in _TABLE_METRICS), "Engine"],
                [
                    [html.escape(r["design"])]
                    + [_with_se(r, k, digits) for k, _, digits in _TABLE_METRICS]
                    + [html.escape(r["engine"])]
                    for r in mine
                ],
            )
        )
        for header, body in whole_trial_tables(mine, with_se=True):
            parts.append(
                _table(
                    [html.escape(h) for h in header],
                    [[html.escape(c) for c in row] for row in body],
                )
            )
    return parts


_CSS = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }
th { background: #eee; }
td:first-child, th:first-child { text-align: left; }
small { color: #666; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
img { display: block; margin: 1em 0; }
"""


def write_report(results: Mapping[str, Any], directory: Path | str) -> Path:
    """Write ``index.html`` (self-contained), the plots, ``results.json`` and ``results.csv``.

    Returns the path of ``index.html``.
    """
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = write_plots(results, out_dir)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    write_csv(results["results"], out_dir / "results.csv")
    spec = results["spec"]
    title = spec.get("name") or "Dose-escalation simulation"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<p>"
        f"Seed <b>{results['seed']}</b> &middot; {results['trials']} trials per scenario &middot; "
        f"engine version <b>{html.escape(results['engine_version'])}</b> &middot; compute time "
        f"{results['elapsed_s']:.2f} s. Percentages are of trials (selection) or of patients; "
        "Monte Carlo standard errors in brackets; the optimal benchmark is O'Quigley, Paoletti "
        "&amp; Maccario (2002). Every metric is defined in the README (Simulations: metrics).</p>",
    ]
    if results.get("summary"):
        parts.append("<h2>Averages over the random scenarios</h2>")
        columns: tuple[tuple[str, str], ...] = (
            ("correct_selection_pct", "Correct %"),
            ("benchmark_correct_pct", "Benchmark %"),
            ("none_pct", "No dose %"),
            ("stop_safety_pct", "Safety stop %"),
            ("stop_n_stop_pct", "n_stop stop %"),
            ("above_mtd_pct", "Above MTD %"),
            ("dlt_rate_pct", "DLT rate %"),
            ("overdose60_pct", "Overdose >60% (% trials)"),
            ("overdose80_pct", "Overdose >80% (% trials)"),
            ("poor_allocation_pct", "Poor allocation %"),
            ("high_toxicity_pct", "High toxicity %"),
            ("n_mean", "Mean n"),
            ("duration_mean_days", "Duration (days)"),
        )
        if any("obd_correct_pct" in r for r in results["summary"]):
            columns += (
                ("obd_correct_pct", "OBD %"),
                ("benchmark_obd_correct_pct", "Utility benchmark OBD %"),
                ("selected_utility_mean", "Utility of selected"),
            )
        parts.append(
            _table(
                ["Design", "Scenarios", *(c for _, c in columns)],
                [
                    [html.escape(r["design"]), str(r["scenarios"])]
                    + [_with_se(r, k) for k, _ in columns]
                    for r in results["summary"]
                ],
            )
        )
    parts.append("<h2>Operating characteristics</h2>")
    parts += _scenario_tables(results["results"])
    parts.append("<h2>Plots</h2>")
    for stem, caption, png in plots:
        data = base64.b64encode(png).decode("ascii")
        parts.append(
            f'<figure><img id="{stem}" alt="{html.escape(caption)}" '
            f'width="{int(FIGURE_SIZE_IN[0] * FIGURE_DPI)}" height="{int(FIGURE_SIZE_IN[1] * FIGURE_DPI)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)} '
            f"({stem}.svg, {stem}.png)</figcaption></figure>"
        )
    parts.append("<h2>Specification</h2>")
    parts.append(f"<pre>{html.escape(json.dumps(spec, indent=2))}</pre>")
    parts.append("</body></html>")
    path = out_dir / "index.html"
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path
