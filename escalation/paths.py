"""Dose-transition pathways: every outcome of the next cohorts and the decision each one leads to.

Starting from a trial's data, the next cohort of ``cohort_sizes[0]`` patients is treated at the
recommended dose (or a dose the caller names); each possible number of DLTs among them gives new
data and the design's decision on it, which is where the cohort after goes, and so on for each
cohort in ``cohort_sizes``. A path ends early when the design stops. Outcomes are written as in R's
escalation package: ``N`` a patient without a DLT, ``T`` one with, the ``N`` first (``NNT``: one DLT
in three); the order of the patients within a cohort does not change the decision of any design
here, so one node stands for all the orders with the same count.

The hypothetical patients are infused together when the previous cohort's windows have closed and
are followed up over their whole window, so every node decides on complete data. Patients still
pending in the trial's data are therefore taken to complete their windows without a DLT (the
``assumed_complete`` of the result names them).

With true DLT probabilities the probability of each path is exact: the product over its cohorts of
the binomial probability of the cohort's DLT count at its dose. From it come the probability of
each recommendation after the last cohort and the expected numbers of patients and DLTs.

References
----------
Yap C, Billingham LJ, Cheung YK, Craddock C, O'Quigley J (2017). Dose transition pathways: the
missing link between complex dose-finding designs and simple decision-making. Clin Cancer Res
23:7440-7447. Brock K (2019). trialr / escalation: ``get_dose_paths``, ``calculate_probabilities``.

Examples
--------
>>> from escalation import BOIN, TrialData
>>> from escalation.paths import dose_paths
>>> data = TrialData.from_counts([3, 0, 0], [0, 0, 0], current_level=1)
>>> paths = dose_paths(BOIN(n_doses=3, target=0.3), data, cohort_sizes=(3,))
>>> [(n.outcomes, n.next_level) for n in paths.nodes]
[('', 2), ('NNN', 3), ('NNT', 2), ('NTT', 1), ('TTT', 1)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from math import comb

from escalation.data import Patient, PatientState, TrialData
from escalation.decision import Action, Decision
from escalation.designs.base import Design
from escalation.errors import InvalidTrialDataError, Problem

__all__ = [
    "MAX_COHORTS",
    "MAX_COHORT_SIZE",
    "MAX_PATH_NODES",
    "DosePaths",
    "PathNode",
    "PathProbabilities",
    "dose_paths",
    "path_probabilities",
    "paths_to_json",
]

MAX_COHORTS = 4
MAX_COHORT_SIZE = 12
MAX_PATH_NODES = 5000


@dataclass(frozen=True, slots=True, kw_only=True)
class PathNode:
    """One node of the tree: the outcome of one cohort and the decision that follows.

    The root (``depth`` 0, ``parent`` None, ``outcomes`` "") holds the decision on the trial's own
    data. ``dose_level`` is the dose the node's cohort was treated at (None at the root);
    ``next_level`` the dose of the next cohort (None when the design stops).
    ``cohorts`` lists every hypothetical cohort on the way here as (dose level, patients, DLTs).
    """

    id: int
    parent: int | None
    depth: int
    outcomes: str
    dose_level: int | None
    next_level: int | None
    decision: Decision
    cohorts: tuple[tuple[int, int, int], ...] = ()

    @property
    def n_dlt(self) -> int:
        """DLTs in this node's cohort."""
        return self.outcomes.count("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class DosePaths:
    """The tree of dose-transition pathways, nodes in depth-first order (parents first)."""

    cohort_sizes: tuple[int, ...]
    n_doses: int
    nodes: tuple[PathNode, ...]
    assumed_complete: tuple[str, ...] = ()
    first_level_given: bool = False

    def children(self, node_id: int) -> tuple[PathNode, ...]:
        return tuple(n for n in self.nodes if n.parent == node_id)

    @property
    def leaves(self) -> tuple[PathNode, ...]:
        """The nodes where a path ends (the last cohort, or an earlier stop)."""
        parents = {n.parent for n in self.nodes}
        return tuple(n for n in self.nodes if n.id not in parents)


@dataclass(frozen=True, slots=True, kw_only=True)
class PathProbabilities:
    """Exact probabilities of the pathways under true DLT probabilities.

    ``node_prob[i]`` is the probability of reaching node ``i``; ``recommendation`` maps the next
    dose level after a path ends (None: the design stopped) to its probability; the expected
    numbers count the hypothetical patients only (per dose level in ``expected_n_at_dose``).
    """

    true_dlt_probs: tuple[float, ...]
    node_prob: tuple[float, ...]
    recommendation: dict[int | None, float]
    expected_patients: float
    expected_dlts: float
    expected_n_at_dose: tuple[float, ...]
    expected_dlt_at_dose: tuple[float, ...] = field(default=())


def _check_sizes(cohort_sizes: Sequence[int], n_doses: int, next_level: int | None) -> None:
    problems: list[Problem] = []
    if not 1 <= len(cohort_sizes) <= MAX_COHORTS:
        problems.append(
            Problem(
                field="cohorts",
                message=f"give 1 to {MAX_COHORTS} cohort sizes, got {len(cohort_sizes)}",
            )
        )
    for i, k in enumerate(cohort_sizes):
        if not 1 <= k <= MAX_COHORT_SIZE:
            problems.append(
                Problem(
                    field=f"cohorts[{i}]",
                    message=f"a cohort has 1 to {MAX_COHORT_SIZE} patients, got {k}",
                )
            )
    if not problems:
        n_nodes, width = 1, 1
        for k in cohort_sizes:
            width *= k + 1
            n_nodes += width
        if n_nodes > MAX_PATH_NODES:
            problems.append(
                Problem(
                    field="cohorts",
                    message=f"{n_nodes} pathways is more than {MAX_PATH_NODES}: give fewer or smaller cohorts",
                )
            )
    if next_level is not None and not 1 <= next_level <= n_doses:
        problems.append(
            Problem(
                field="next_dose",
                message=f"unknown dose level {next_level} (levels are 1 to {n_doses})",
            )
        )
    if problems:
        raise InvalidTrialDataError(problems)


def _closed(data: TrialData) -> tuple[TrialData, tuple[str, ...]]:
    """The data on the day every window has closed: pending patients complete without a DLT."""
    if getattr(data, "counts", None) is not None:  # counts: complete patients, listed one by one
        s = data.summary
        data = TrialData(
            n_doses=data.n_doses,
            patients=tuple(
                Patient(
                    patient_id=f"L{i + 1}-{k + 1}",
                    dose_level=i + 1,
                    infused_day=0,
                    dlt=k < int(s.n_dlt[i]),
                    dlt_day=1 if k < int(s.n_dlt[i]) else None,
                )
                for i in range(data.n_doses)
                for k in range(int(s.n_treated[i]))
            ),
            as_of_day=data.dlt_window_days,
            dlt_window_days=data.dlt_window_days,
            current_level=data.current_level,
        )
    if not data.patients:
        return data, ()
    pending = tuple(
        p.patient_id
        for p, s in zip(data.patients, data.summary.state, strict=True)
        if s is PatientState.PENDING
    )
    last = max((p.infused_day for p in data.patients), default=data.as_of_day)
    day = max(data.as_of_day, last + data.dlt_window_days)
    if day == data.as_of_day:
        return data, pending
    return (
        TrialData(
            n_doses=data.n_doses,
            patients=data.patients,
            as_of_day=day,
            dlt_window_days=data.dlt_window_days,
            current_level=data.current_level,
            indications=data.indications,
        ),
        pending,
    )


def dose_paths(
    design: Design,
    data: TrialData,
    *,
    cohort_sizes: Sequence[int],
    next_level: int | None = None,
) -> DosePaths:
    """Every outcome of the next cohorts and the decision after each.

    Parameters
    ----------
    design
        Any design.
    data
        The trial's data (pending patients are taken to complete without a DLT).
    cohort_sizes
        The size of each of the next cohorts, e.g. ``(3, 3)``.
    next_level
        The dose level of the first cohort; by default the design's decision on ``data``.

    Raises
    ------
    InvalidTrialDataError
        For sizes out of range, too many pathways, an unknown ``next_level``, or a design that
        decides on responses too (BOIN12: the pathways would need them).
    """
    if design.uses_efficacy:
        raise InvalidTrialDataError(
            [
                Problem(
                    field="design.method",
                    message=f"pathways enumerate the next cohorts' DLT outcomes only; "
                    f"{design.method} also decides on their responses: not drawn",
                )
            ]
        )
    sizes = tuple(int(k) for k in cohort_sizes)
    _check_sizes(sizes, data.n_doses, next_level)
    start, assumed = _closed(data)
    window = data.dlt_window_days
    root_decision = design.decide(start)
    first = next_level if next_level is not None else _next(root_decision)
    nodes: list[PathNode] = [
        PathNode(
            id=0,
            parent=None,
            depth=0,
            outcomes="",
            dose_level=None,
            next_level=first,
            decision=root_decision,
        )
    ]

    def grow(parent: PathNode, parent_data: TrialData) -> None:
        depth = parent.depth + 1
        if depth > len(sizes) or parent.next_level is None:
            return
        level, k = parent.next_level, sizes[depth - 1]
        day = parent_data.as_of_day
        for n_dlt in range(k + 1):
            new = [
                Patient(
                    patient_id=f"path{depth}-{j + 1}",
                    dose_level=level,
                    infused_day=day,
                    dlt=j >= k - n_dlt,
                    dlt_day=day + 1 if j >= k - n_dlt else None,
                )
                for j in range(k)
            ]
            child_data = parent_data.with_patients(new, as_of_day=day + window)
            decision = design.decide(child_data)
            node = PathNode(
                id=len(nodes),
                parent=parent.id,
                depth=depth,
                outcomes="N" * (k - n_dlt) + "T" * n_dlt,
                dose_level=level,
                next_level=_next(decision),
                decision=decision,
                cohorts=(*parent.cohorts, (level, k, n_dlt)),
            )
            nodes.append(node)
            grow(node, child_data)

    grow(nodes[0], start)
    return DosePaths(
        cohort_sizes=sizes,
        n_doses=data.n_doses,
        nodes=tuple(nodes),
        assumed_complete=assumed,
        first_level_given=next_level is not None,
    )


def _next(decision: Decision) -> int | None:
    # a stop ends the path; a wait cannot happen on complete data, and has no next dose either
    return None if decision.action in (Action.STOP, Action.WAIT) else decision.next_level


def path_probabilities(paths: DosePaths, true_dlt_probs: Sequence[float]) -> PathProbabilities:
    """The exact probability of each pathway under ``true_dlt_probs`` (one per dose level).

    Raises
    ------
    InvalidTrialDataError
        When the probabilities are not one per dose level, each in [0, 1].
    """
    probs = tuple(float(p) for p in true_dlt_probs)
    problems = []
    if len(probs) != paths.n_doses:
        problems.append(
            Problem(
                field="true_dlt_probs",
                message=f"give one probability per dose level ({paths.n_doses}), got {len(probs)}",
            )
        )
    problems += [
        Problem(field=f"true_dlt_probs[{i}]", message=f"{p} is not a probability in [0, 1]")
        for i, p in enumerate(probs)
        if not 0.0 <= p <= 1.0
    ]
    if problems:
        raise InvalidTrialDataError(problems)
    node_prob = [0.0] * len(paths.nodes)
    for node in paths.nodes:
        if node.parent is None:
            node_prob[node.id] = 1.0
            continue
        assert node.dose_level is not None
        k, t, p = len(node.outcomes), node.n_dlt, probs[node.dose_level - 1]
        node_prob[node.id] = node_prob[node.parent] * comb(k, t) * p**t * (1 - p) ** (k - t)
    recommendation: dict[int | None, float] = {}
    n_at = [0.0] * paths.n_doses
    dlt_at = [0.0] * paths.n_doses
    for leaf in paths.leaves:
        w = node_prob[leaf.id]
        recommendation[leaf.next_level] = recommendation.get(leaf.next_level, 0.0) + w
        for level, k, t in leaf.cohorts:
            n_at[level - 1] += w * k
            dlt_at[level - 1] += w * t
    return PathProbabilities(
        true_dlt_probs=probs,
        node_prob=tuple(node_prob),
        recommendation=dict(
            sorted(recommendation.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
        ),
        expected_patients=sum(n_at),
        expected_dlts=sum(dlt_at),
        expected_n_at_dose=tuple(n_at),
        expected_dlt_at_dose=tuple(dlt_at),
    )


def paths_to_json(paths: DosePaths, probs: PathProbabilities | None = None) -> dict[str, object]:
    """The JSON form: ``{"nodes": [{"id", "parent", "depth", "outcomes", "dose_level",
    "next_dose", "action"}], ...}`` (``next_dose`` null: stop), with the probabilities when given."""
    nodes: list[dict[str, object]] = []
    for n in paths.nodes:
        entry: dict[str, object] = {
            "id": n.id,
            "parent": n.parent,
            "depth": n.depth,
            "outcomes": n.outcomes,
            "dose_level": n.dose_level,
            "next_dose": n.next_level,
            "action": n.decision.action.value,
        }
        if probs is not None:
            entry["probability"] = probs.node_prob[n.id]
        nodes.append(entry)
    out: dict[str, object] = {
        "cohort_sizes": list(paths.cohort_sizes),
        "assumed_complete": list(paths.assumed_complete),
        "nodes": nodes,
    }
    if probs is not None:
        out["true_dlt_probs"] = list(probs.true_dlt_probs)
        out["recommendation_probs"] = [
            {"next_dose": level, "probability": p} for level, p in probs.recommendation.items()
        ]
        out["expected_patients"] = probs.expected_patients
        out["expected_dlts"] = probs.expected_dlts
        out["expected_n_at_dose"] = list(probs.expected_n_at_dose)
        out["expected_dlt_at_dose"] = list(probs.expected_dlt_at_dose)
    return out
