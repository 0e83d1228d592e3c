"""`escalation plot`: the posterior picture for every design, PNG and SVG."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from escalation import TrialData, parse_document
from simulations.decision_plot import decision_figure, write_decision_plot
from tests.conftest import REPO
from tests.designs_catalog import DLT_ONLY_METHODS, make_design

EXAMPLES = ["lcar_aio_example", "tite_example", "blrm_example"]
#: the next dose level of each example (BLRM's default prior, centred at level 3, excludes level 3
#: after 1 DLT in its 3 patients: Pr(DLT rate >= 0.33) = 0.32 >= 0.25)
NEXT_LEVEL = {"lcar_aio_example": 3, "tite_example": 3, "blrm_example": 2}


@pytest.mark.parametrize("name", EXAMPLES)
def test_png_decodes_at_the_expected_size(tmp_path: Path, name: str) -> None:
    from matplotlib.image import imread

    doc = parse_document(json.loads((REPO / "examples" / f"{name}.json").read_text()))
    out = tmp_path / "plot.png"
    decision = write_decision_plot(doc, out)
    image = imread(out)
    assert image.shape[:2] == (770, 880)  # 7 x 8 inches at 110 dpi
    assert image.std() > 0.05  # something was drawn
    assert decision.next_level == NEXT_LEVEL[name]


def test_svg_is_xml(tmp_path: Path) -> None:
    doc = parse_document(json.loads((REPO / "examples" / "tite_example.json").read_text()))
    out = tmp_path / "plot.svg"
    write_decision_plot(doc, out)
    assert ET.parse(out).getroot().tag.endswith("svg")


@pytest.mark.parametrize("method", DLT_ONLY_METHODS)  # counts: BOIN12's plot in test_cli_boin12
def test_every_design_has_bands_that_bracket_its_curve(method: str) -> None:
    design = make_design(method, 4)
    data = TrialData.from_counts([3, 6, 3, 0], [0, 1, 2, 0], current_level=3)
    bands = design.posterior_bands(data)
    assert bands is not None
    center = np.array(bands.center)
    lo95, hi95 = np.array(bands.band95).T
    lo50, hi50 = np.array(bands.band50).T
    tried = ~np.isnan(center)
    assert tried[:3].all()
    assert np.all(lo95[tried] <= lo50[tried]) and np.all(lo50[tried] <= center[tried] + 1e-12)
    assert np.all(center[tried] <= hi50[tried] + 1e-12) and np.all(hi50[tried] <= hi95[tried])
    for probs in bands.interval_probs.values():
        p = np.array(probs)[tried]
        assert np.all((p >= 0) & (p <= 1))
    fig = decision_figure(
        parse_document(
            {
                "design": design.options(),
                "doses": [{"level": k, "amount": 1e6 * 2**k} for k in range(1, 5)],
                "counts": [
                    {"level": 1, "n": 3, "dlt": 0},
                    {"level": 2, "n": 6, "dlt": 1},
                    {"level": 3, "n": 3, "dlt": 2},
                ],
                "current_level": 3,
            }
        ),
        design.decide(data),
        bands,
    )
    assert len(fig.axes) == 2


def test_cli_plot(console_script: str, tmp_path: Path) -> None:
    out = tmp_path / "p.png"
    ok = subprocess.run(
        [console_script, "plot", str(REPO / "examples" / "blrm_example.json"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert out.stat().st_size > 10_000
    bad = subprocess.run(
        [
            console_script,
            "plot",
            str(REPO / "examples" / "blrm_example.json"),
            "--out",
            str(tmp_path / "p.gif"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (bad.returncode, bad.stdout) == (2, "") and ".png or .svg" in bad.stderr


def test_title_from_the_trial_name_legends_beside_the_panels_and_markers_inside() -> None:
    doc = parse_document(json.loads((REPO / "examples" / "lcar_aio_example.json").read_text()))
    decision = doc.design.decide(doc.data)
    bands = doc.design.posterior_bands(doc.data)
    assert bands is not None and doc.name
    fig = decision_figure(doc, decision, bands)
    fig.canvas.draw()
    top, bottom = fig.axes
    assert top.get_title().startswith(doc.name)
    for ax in (top, bottom):
        legend = ax.get_legend()
        box = legend.get_window_extent()
        assert not box.overlaps(ax.get_window_extent())  # hides no band, bar or marker
        assert box.x1 <= fig.bbox.x1 + 0.5  # and is inside the picture
    low, high = top.get_ylim()
    assert low < 0 and high > 1  # an observed rate of 0 (level 1 here) is drawn whole
