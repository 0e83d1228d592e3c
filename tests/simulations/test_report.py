"""Outputs: CSV, plots, the self-contained HTML report, and the ``escalation simulate`` command."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from simulations import run_simulation, write_csv, write_report
from simulations.report import FIGURE_DPI, FIGURE_SIZE_IN

SPEC: dict[str, Any] = {
    "name": "Report test",
    "designs": [
        {"name": "BOIN", "method": "boin", "target": 0.3},
        {"name": "BOIN-12", "method": "boin", "target": 0.3, "n_stop": 12},
    ],
    "scenarios": [
        {"name": "S1", "true_dlt_probs": [0.05, 0.1, 0.2, 0.3, 0.5, 0.7]},
        {"name": "S2", "true_dlt_probs": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8]},
    ],
    "trials": 400,
    "seed": 17,
}


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return run_simulation(SPEC)


def test_html_report_is_self_contained_with_every_plot_an_image_of_the_expected_size(
    results: dict[str, Any], tmp_path: Path
) -> None:
    index = write_report(results, tmp_path)
    text = index.read_text()
    assert not re.search(r"(?:https?:)?//[\w.-]+\.\w", text.replace("&#x27;", "'")), "external URL"
    assert "<script" not in text and "<link" not in text
    images = re.findall(r'<img [^>]*src="([^"]+)"', text)
    # selection and patients per scenario, and the comparison
    assert len(images) == 2 * 2 + 1
    size = (round(FIGURE_SIZE_IN[0] * FIGURE_DPI), round(FIGURE_SIZE_IN[1] * FIGURE_DPI))
    for src in images:
        assert src.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        image.load()
        assert image.format == "PNG" and image.size == size
    # the spec, the seed and the engine version are in it
    assert "Seed <b>17</b>" in text and results["engine_version"] in text
    assert json.dumps(results["spec"], indent=2).replace('"', "&quot;")[:200] in text
    for stem in ("selection-1", "patients-2", "comparison"):
        assert (tmp_path / f"{stem}.png").exists()
        assert (tmp_path / f"{stem}.svg").read_text().lstrip().startswith("<?xml")
    assert json.loads((tmp_path / "results.json").read_text())["seed"] == 17


def test_csv_has_a_row_per_scenario_and_design_with_standard_errors(
    results: dict[str, Any], tmp_path: Path
) -> None:
    write_csv(results["results"], tmp_path / "r.csv")
    with (tmp_path / "r.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["scenario"], r["design"]) for r in rows] == [
        ("S1", "BOIN"),
        ("S1", "BOIN-12"),
        ("S2", "BOIN"),
        ("S2", "BOIN-12"),
    ]
    first = results["results"][0]
    assert float(rows[0]["selection_pct_L4"]) == round(first["selection_pct"][3], 2)
    assert float(rows[0]["se_patients_mean_L2"]) == round(first["se"]["patients_mean"][1], 4)


def test_csv_numbers_are_rounded_and_per_level_values_have_their_own_columns(
    results: dict[str, Any], tmp_path: Path
) -> None:
    write_csv(results["results"], tmp_path / "r.csv")
    with (tmp_path / "r.csv").open() as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    for key in ("selection_pct", "patients_mean", "dlt_mean", "benchmark_selection_pct"):
        assert [h for h in header if h.startswith(f"{key}_L")] == [
            f"{key}_L{k}" for k in range(1, 7)
        ]
    for h in (
        "stop_safety_pct",
        "stop_n_stop_pct",
        "overdose60_pct",
        "overdose80_pct",
        "poor_allocation_pct",
        "high_toxicity_pct",
        "benchmark_none_pct",
    ):
        assert h in header and f"se_{h}" in header
    decimals = {"_pct": 2, "_days": 1, "_mean": 3}
    for row in rows:
        for key, value in row.items():
            if key.startswith("se_") or "." not in value or key == "true_dlt_probs":
                continue
            base = key.split("_L")[0]
            allowed = next((d for end, d in decimals.items() if base.endswith(end)), 3)
            assert len(value.split(".")[1]) <= allowed, (key, value)
        assert len(row["se_n_mean"].split(".")[-1]) <= 4
    assert rows[0]["duration_mean_days"] == str(
        round(results["results"][0]["duration_mean_days"], 1)
    )


def test_html_tables_have_a_column_per_level_and_no_dose(
    results: dict[str, Any], tmp_path: Path
) -> None:
    text = write_report(results, tmp_path).read_text()
    header = "<th></th>" + "".join(f"<th>L{k}</th>" for k in range(1, 7)) + "<th>No dose</th>"
    assert text.count(header) == 2  # one table per scenario
    assert "<td>BOIN: selected %</td>" in text and "<td>Benchmark: selected %</td>" in text
    for column in (
        "Safety stop %",
        "n_stop stop %",
        "Overdose &gt;60% (% trials)",
        "Poor allocation %",
    ):
        assert f"<th>{column}</th>" in text


def test_selection_plot_has_a_no_dose_bar_a_title_and_a_legend_that_hides_nothing(
    results: dict[str, Any],
) -> None:
    from simulations.report import selection_figure

    rows = [r for r in results["results"] if r["scenario"] == "S1"]
    fig = selection_figure(rows, title="Report test")
    ax, truth = fig.axes
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["1", "2", "3", "4", "5", "6", "no dose"]
    # one bar per design and group (6 levels + no dose), the last group the none_pct
    bars = [p for p in ax.patches]
    assert len(bars) == 2 * 7
    assert bars[6].get_height() == rows[0]["none_pct"]
    assert ax.get_title().startswith("Report test\nScenario S1")
    fig.canvas.draw()
    (legend,) = fig.legends
    box = legend.get_window_extent()
    assert not box.overlaps(ax.get_window_extent())  # outside the plot: it hides nothing
    assert {t.get_text() for t in legend.get_texts()} == {
        "BOIN",
        "BOIN-12",
        "true DLT probability",
        "target",
    }
    low, high = truth.get_ylim()
    assert low < 0 and high > 1  # markers at 0 and 1 are drawn whole
    assert box.x1 <= fig.bbox.x1  # and the legend is inside the figure


def run_cli(console_script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [console_script, "simulate", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_json_csv_and_report(
    console_script: str, tmp_path: Path, results: dict[str, Any]
) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC | {"trials": 50, "seed": 1}))
    done = run_cli(
        console_script,
        str(spec),
        "--trials",
        "400",
        "--seed",
        "17",
        "--workers",
        "1",
        "--json",
        "--csv",
        str(tmp_path / "out.csv"),
        "--report",
        str(tmp_path / "report"),
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["results"] == results["results"]  # --trials and --seed override the spec
    assert out["elapsed_s"] > 0 and out["seed"] == 17
    assert (tmp_path / "out.csv").exists() and (tmp_path / "report" / "index.html").exists()
    assert done.stderr == ""  # no progress bar when not on a terminal


def test_cli_text_output(console_script: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC | {"trials": 100}))
    done = run_cli(console_script, str(spec), "--workers", "1")
    assert done.returncode == 0, done.stderr
    assert "Scenario S1 (target 0.3, true MTD level 4)" in done.stdout
    assert "BOIN-12: selected %" in done.stdout and "benchmark: selected %" in done.stdout


def test_cli_names_every_bad_field(console_script: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            SPEC | {"trials": 0, "scenarios": [{"name": "S1", "true_dlt_probs": [0.2, 1.5]}]}
        )
    )
    done = run_cli(console_script, str(spec))
    assert done.returncode == 2
    assert "error: trials:" in done.stderr
    assert "error: scenarios[0].true_dlt_probs[1]:" in done.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    done = run_cli(console_script, str(bad))
    assert done.returncode == 2 and "is not valid JSON" in done.stderr


def test_text_and_html_say_when_no_dose_is_acceptable(tmp_path: Path) -> None:
    from simulations.cli import render_text

    out = run_simulation(
        SPEC | {"scenarios": [{"name": "toxic", "true_dlt_probs": [0.45, 0.5, 0.6, 0.7, 0.8, 0.9]}]}
    )
    assert "Scenario toxic (target 0.3, no true MTD: every level too toxic)" in render_text(out)
    assert "no true MTD: every level too toxic" in write_report(out, tmp_path).read_text()
