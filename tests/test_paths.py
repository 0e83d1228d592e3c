"""Dose-transition pathways: every node's decision is the design's own decision on that data,
computed here one cohort at a time; BOIN's trees are R escalation's (its dose-paths vignette); the
exact probabilities agree with a brute-force sum over every patient's outcome."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest

from escalation import (
    BOIN,
    DESIGNS,
    Action,
    Design,
    InvalidTrialDataError,
    Patient,
    TrialData,
)
from escalation.paths import dose_paths, path_probabilities, paths_to_json
from tests.designs_catalog import make_design
from tests.reference import load

from .test_cli import run

WINDOW = 30
ROOT = Path(__file__).resolve().parent.parent
STARTS = {
    "empty": ([0, 0, 0, 0], [0, 0, 0, 0], None),
    "after 3 at 1": ([3, 0, 0, 0], [0, 0, 0, 0], 1),
    "after 1/3 at 2": ([3, 3, 0, 0], [0, 1, 0, 0], 2),
    "after 2/6 at 2": ([3, 6, 0, 0], [0, 2, 0, 0], 2),
}


def _start_patients(n: list[int], y: list[int]) -> list[Patient]:
    return [
        Patient(
            patient_id=f"S{level}-{k}",
            dose_level=level,
            infused_day=0,
            dlt=k < y[level - 1],
            dlt_day=3 if k < y[level - 1] else None,
        )
        for level in range(1, len(n) + 1)
        for k in range(n[level - 1])
    ]


def _decide_after(
    design: Design, start: list[Patient], n_doses: int, cohorts: list[tuple[int, int, int]]
) -> int | None:
    """The design's next dose after the given cohorts, each (level, patients, DLTs) treated one
    window after the one before; None when it stops."""
    patients = list(start)
    for i, (level, k, t) in enumerate(cohorts, start=1):
        day = i * WINDOW
        patients += [
            Patient(
                patient_id=f"C{i}-{j}",
                dose_level=level,
                infused_day=day,
                dlt=j < t,
                dlt_day=day + 5 if j < t else None,
            )
            for j in range(k)
        ]
    data = TrialData(
        n_doses=n_doses, patients=tuple(patients), as_of_day=(len(cohorts) + 1) * WINDOW
    )
    decision = design.decide(data)
    assert decision.action is not Action.WAIT
    return None if decision.action is Action.STOP else decision.next_level


def _expected_tree(
    design: Design, start: list[Patient], n_doses: int, sizes: tuple[int, ...], first: int | None
) -> dict[tuple[int, ...], int | None]:
    """Next dose after each sequence of DLT counts, computed cohort by cohort."""
    out: dict[tuple[int, ...], int | None] = {(): first}

    def walk(prefix: tuple[int, ...], cohorts: list[tuple[int, int, int]]) -> None:
        level = out[prefix]
        if len(prefix) == len(sizes) or level is None:
            return
        k = sizes[len(prefix)]
        for t in range(k + 1):
            here = [*cohorts, (level, k, t)]
            out[(*prefix, t)] = _decide_after(design, start, n_doses, here)
            walk((*prefix, t), here)

    walk((), [])
    return out


def _counts_of(paths_node_chain: list[str]) -> tuple[int, ...]:
    return tuple(o.count("T") for o in paths_node_chain)


def _tree_of(paths) -> dict[tuple[int, ...], int | None]:  # type: ignore[no-untyped-def]
    by_id = {n.id: n for n in paths.nodes}
    out = {}
    for n in paths.nodes:
        chain, cur = [], n
        while cur.parent is not None:
            chain.append(cur.outcomes)
            cur = by_id[cur.parent]
        out[_counts_of(chain[::-1])] = n.next_level
    return out


@pytest.mark.parametrize("method", ["boin", "crm"])
@pytest.mark.parametrize("start", sorted(STARTS))
def test_each_node_is_the_designs_decision_one_cohort_at_a_time(method: str, start: str) -> None:
    n, y, current = STARTS[start]
    design = make_design(method, 4)
    patients = _start_patients(n, y)
    data = TrialData(n_doses=4, patients=tuple(patients), as_of_day=WINDOW, current_level=current)
    sizes = (3, 3)
    paths = dose_paths(design, data, cohort_sizes=sizes)
    root = design.decide(data)
    first = None if root.action is Action.STOP else root.next_level
    expected = _expected_tree(design, patients, 4, sizes, first)
    assert _tree_of(paths) == expected
    # outcomes written N first, in order of the DLT count
    assert [n.outcomes for n in paths.children(0)] == ["NNN", "NNT", "NTT", "TTT"]


@pytest.mark.parametrize("method", ["boin", "crm"])
def test_a_given_first_dose_is_used(method: str) -> None:
    design = make_design(method, 4)
    patients = _start_patients([3, 0, 0, 0], [0, 0, 0, 0])
    data = TrialData(n_doses=4, patients=tuple(patients), as_of_day=WINDOW)
    paths = dose_paths(design, data, cohort_sizes=(3,), next_level=1)
    assert {n.dose_level for n in paths.children(0)} == {1}
    assert _tree_of(paths) == _expected_tree(design, patients, 4, (3,), 1)


def _brute_force(
    tree: dict[tuple[int, ...], int | None], sizes: tuple[int, ...], first: int, p: list[float]
) -> tuple[dict[int | None, float], float, float]:
    """Sum over every patient's DLT/no-DLT outcome (2^total sequences)."""
    rec: dict[int | None, float] = {}
    e_n = e_t = 0.0
    for seq in itertools.product((0, 1), repeat=sum(sizes)):
        prob, counts, level, n_treated, n_dlt, pos = 1.0, (), first, 0, 0, 0
        for k in sizes:
            cohort = seq[pos : pos + k]
            pos += k
            if level is None:  # stopped: the remaining outcomes are never seen (sum to 1)
                continue
            for o in cohort:
                prob *= p[level - 1] if o else 1 - p[level - 1]
            n_treated += k
            n_dlt += sum(cohort)
            counts = (*counts, sum(cohort))
            level = tree[counts]
        rec[level] = rec.get(level, 0.0) + prob
        e_n += prob * n_treated
        e_t += prob * n_dlt
    return rec, e_n, e_t


@pytest.mark.parametrize("method", ["boin", "crm"])
def test_probabilities_are_exact(method: str) -> None:
    design = make_design(method, 4)
    patients = _start_patients([3, 0, 0, 0], [0, 0, 0, 0])
    data = TrialData(n_doses=4, patients=tuple(patients), as_of_day=WINDOW)
    sizes = (3, 3)
    truth = [0.05, 0.15, 0.3, 0.5]
    paths = dose_paths(design, data, cohort_sizes=sizes)
    probs = path_probabilities(paths, truth)
    assert math.isclose(sum(probs.node_prob[n.id] for n in paths.leaves), 1.0, rel_tol=1e-12)
    assert math.isclose(sum(probs.recommendation.values()), 1.0, rel_tol=1e-12)
    first = paths.nodes[0].next_level
    assert first is not None
    rec, e_n, e_t = _brute_force(_tree_of(paths), sizes, first, truth)
    assert probs.recommendation.keys() == rec.keys()
    for level, pr in rec.items():
        assert probs.recommendation[level] == pytest.approx(pr, rel=1e-12, abs=1e-15)
    assert probs.expected_patients == pytest.approx(e_n, rel=1e-12)
    assert probs.expected_dlts == pytest.approx(e_t, rel=1e-12)


def test_stopping_ends_a_path_and_counts_fewer_patients() -> None:
    # BOIN eliminates dose 1 after 3/3 more DLTs there (n_stop aside): the trial stops
    design = make_design("boin", 3)
    data = TrialData(n_doses=3, patients=tuple(_start_patients([3, 0, 0], [2, 0, 0])), as_of_day=30)
    paths = dose_paths(design, data, cohort_sizes=(3, 3), next_level=1)
    stopped = [n for n in paths.nodes if n.depth == 1 and n.next_level is None]
    assert stopped, "some first-cohort outcome must stop the trial"
    assert all(not paths.children(n.id) for n in stopped)
    probs = path_probabilities(paths, [0.6, 0.7, 0.8])
    assert probs.expected_patients < 6
    assert probs.recommendation.get(None, 0.0) > 0


def test_pending_patients_are_taken_as_complete_and_named() -> None:
    doc = json.loads((ROOT / "examples" / "lcar_aio_example.json").read_text())
    from escalation import parse_document

    parsed = parse_document(doc)
    paths = dose_paths(parsed.design, parsed.data, cohort_sizes=(3,))
    pending = [
        p.patient_id
        for p, s in zip(parsed.data.patients, parsed.data.summary.state, strict=True)
        if s.value == "pending"
    ]
    assert list(paths.assumed_complete) == pending
    assert paths.nodes[0].decision.action is not Action.WAIT


def test_pathways_of_a_whole_trial_keep_its_indications() -> None:
    """Patients with indications (whole-trial data, expansion cohorts pending) get pathways: the
    data on the day every window has closed keep the trial's indications, and each node is the
    design's decision on the escalation and backfill patients plus the cohort."""
    from escalation import parse_document

    doc = json.loads((ROOT / "examples" / "whole_trial_example.json").read_text())
    doc["design"]["max_patients"] = 30  # not yet stopped: the next cohort has outcomes
    parsed = parse_document(doc)
    paths = dose_paths(parsed.design, parsed.data, cohort_sizes=(3,))
    assert paths.assumed_complete  # expansion patients were pending
    root = paths.nodes[0]
    level = root.next_level
    assert level is not None
    day = parsed.data.as_of_day + 2 * WINDOW  # every window has closed
    children = paths.children(root.id)
    assert len(children) == 4
    for node in children:
        k = node.outcomes.count("T")
        cohort = [
            Patient(
                patient_id=f"H{i}",
                dose_level=level,
                infused_day=day,
                dlt=i < k,
                dlt_day=day + 5 if i < k else None,
            )
            for i in range(3)
        ]
        data = TrialData(
            n_doses=4,
            patients=(*parsed.data.patients, *cohort),
            as_of_day=day + WINDOW,
            dlt_window_days=WINDOW,
            indications=parsed.data.indications,
        )
        decision = parsed.design.decide(data)
        expected = None if decision.action is Action.STOP else decision.next_level
        assert node.next_level == expected


@pytest.mark.parametrize(
    ("sizes", "field"),
    [
        ((3, 3, 3, 3, 3), "cohorts"),
        ((0,), "cohorts[0]"),
        ((13,), "cohorts[0]"),
        ((12, 12, 12, 12), "cohorts"),
    ],
)
def test_sizes_out_of_range_are_refused(sizes: tuple[int, ...], field: str) -> None:
    data = TrialData.from_counts([3, 0], [0, 0], current_level=1)
    with pytest.raises(InvalidTrialDataError) as err:
        dose_paths(make_design("boin", 2), data, cohort_sizes=sizes)
    assert field in {p.field for p in err.value.problems}


def test_true_probabilities_are_checked() -> None:
    data = TrialData.from_counts([3, 0], [0, 0], current_level=1)
    paths = dose_paths(make_design("boin", 2), data, cohort_sizes=(3,))
    with pytest.raises(InvalidTrialDataError):
        path_probabilities(paths, [0.1])
    with pytest.raises(InvalidTrialDataError):
        path_probabilities(paths, [0.1, 1.5])


def test_cli_text_json_and_errors(console_script: str) -> None:
    doc = str(ROOT / "examples" / "counts_example.json")
    text = run(console_script, "paths", doc, "--cohorts", "3,3")
    assert text.returncode == 0, text.stderr
    assert "NNT -> " in text.stdout
    out = run(
        console_script,
        "paths",
        doc,
        "--cohorts",
        "3,3",
        "--json",
        "--true-dlt-probs",
        "0.1,0.3,0.5",
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    nodes = payload["nodes"]
    assert nodes[0]["parent"] is None and nodes[0]["depth"] == 0
    assert {"id", "parent", "depth", "outcomes", "next_dose"} <= nodes[1].keys()
    assert sum(r["probability"] for r in payload["recommendation_probs"]) == pytest.approx(1.0)
    bad = run(console_script, "paths", doc, "--cohorts", "3,x")
    assert bad.returncode == 2 and bad.stdout == "" and "--cohorts" in bad.stderr
    big = run(console_script, "paths", doc, "--cohorts", "100")
    assert big.returncode == 2 and "cohorts[0]" in big.stderr


def test_json_form_round_trips_the_tree() -> None:
    data = TrialData.from_counts([3, 0, 0], [0, 0, 0], current_level=1)
    paths = dose_paths(make_design("boin", 3), data, cohort_sizes=(2,))
    payload = paths_to_json(paths)
    assert [(n["outcomes"], n["next_dose"]) for n in payload["nodes"]] == [  # type: ignore[index,union-attr]
        (n.outcomes, n.next_level) for n in paths.nodes
    ]


# ---- against R's escalation package (get_dose_paths, vignette "Working with dose-paths") ----------
def _previous(outcomes: str | None, n_doses: int) -> TrialData:
    """R's ``previous_outcomes`` ('1NNN 2TNT': cohorts at a dose level, one window apart)."""
    patients: list[Patient] = []
    for k, token in enumerate((outcomes or "").split()):
        level, day = int(token[0]), k * WINDOW
        patients += [
            Patient(
                patient_id=f"R{k}-{j}",
                dose_level=level,
                infused_day=day,
                dlt=o == "T",
                dlt_day=day + 2 if o == "T" else None,
            )
            for j, o in enumerate(token[1:])
        ]
    as_of = len((outcomes or "").split()) * WINDOW
    return TrialData(n_doses=n_doses, patients=tuple(patients), as_of_day=as_of)


def _r_label(node: Any) -> int | None:
    """The dose R's ``graph_paths`` shows for a node: ``recommended_dose(fit)``, which for a trial
    that stops is its final dose ("Stop" only when that is NA); ours keeps the two apart."""
    if node.next_level is not None:
        return int(node.next_level)
    selection = node.decision.selection
    return None if selection is None else selection.dose_level


def _tree_by_path(paths, label=lambda n: n.next_level) -> dict[tuple[str, ...], int | None]:  # type: ignore[no-untyped-def]
    by_id = {n.id: n for n in paths.nodes}
    out = {}
    for n in paths.nodes:
        chain, cur = [], n
        while cur.parent is not None:
            chain.append(cur.outcomes)
            cur = by_id[cur.parent]
        out[tuple(chain[::-1])] = label(n)
    return out


R_PATHS = load("r_escalation_dose_paths.json")["cases"]


@pytest.mark.parametrize(
    "case", [c for c in R_PATHS if c["design"] == "boin"], ids=lambda c: c["id"]
)
def test_boin_paths_match_r_escalation(case: dict[str, Any]) -> None:
    args = case["arguments"]
    design = BOIN(n_doses=args["num_doses"], target=args["target"])
    data = _previous(case["previous_outcomes"], args["num_doses"])
    paths = dose_paths(
        design, data, cohort_sizes=case["cohort_sizes"], next_level=case["next_dose"]
    )
    expected = {tuple(n["path"]): n["next_dose"] for n in case["nodes"]}
    assert _tree_by_path(paths) == expected


def _three_plus_three_case(case_id: str) -> Any:
    case = next(c for c in R_PATHS if c["id"] == case_id)
    design = DESIGNS["3+3"](n_doses=case["arguments"]["num_doses"], allow_deescalation=True)
    paths = dose_paths(
        design,
        TrialData(n_doses=case["arguments"]["num_doses"]),
        cohort_sizes=case["cohort_sizes"],
        next_level=case["next_dose"],
    )
    expected = {tuple(n["path"]): n["next_dose"] for n in case["nodes"]}
    assert _tree_by_path(paths, _r_label) == expected
    return paths


def test_three_plus_three_paths_match_r_escalation() -> None:
    """The vignette's first tree: get_three_plus_three(5, allow_deescalate = TRUE), two cohorts."""
    _three_plus_three_case("3+3_3_3")


def test_three_plus_three_paths_from_level_3_match_r_escalation() -> None:
    """The vignette's second tree: the same design from dose level 3 (next_dose = 3).

    After 2 DLTs at level 3 and 0/3 at level 2, R's ``three_plus_three`` stops with level 2 as the
    MTD (its ``n_d == 3, tox_d == 0`` branch: the next dose has 2 DLTs) and the graph shows "2",
    the recommended dose; this engine's node stops (``next_level`` None) with selection level 2.
    """
    paths = _three_plus_three_case("3+3_3_3_from_3")
    by_id = {n.id: n for n in paths.nodes}
    stopped = [n for n in paths.nodes if n.next_level is None and n.decision.selection is not None]
    labels = {
        (by_id[n.parent].outcomes, n.outcomes): n.decision.selection.dose_level for n in stopped
    }
    assert labels[("NTT", "NNN")] == 2 and labels[("TTT", "NNN")] == 2
