"""The whole trial: an expansion stage per indication after escalation, and the final selection.

A specification's optional ``expansion`` block adds, after each simulated escalation, expansion
cohorts per indication (DESIGN.md section 7):

.. code-block:: json

    "expansion": {
      "dose_levels": "selected",
      "max_per_indication": 12,
      "monitoring": {"p0": 0.25, "alpha": 0.1, "prior": [0.5, 1.5]},
      "timing": "arrival",
      "indications": [
        {"name": "SLE", "accrual_per_month": 1.0, "true_dlt_probs": [0.02, 0.05, 0.1, 0.2]},
        {"name": "AAV", "accrual_per_month": 0.5}
      ]
    }

* ``dose_levels``: ``"selected"`` (the default: the level the escalation selected) or a list of
  levels; the expansion runs only in trials whose escalation selected a dose (a trial stopped with
  no tolerable dose has no expansion).
* ``indications``: each with its accrual rate (patients per month, Poisson arrivals starting when
  the escalation ends: the end of its last patient's DLT window, when its selection is final) and
  optionally its own true DLT probabilities per level (default: the scenario's).
  A scenario (a truth) may override an indication's true probabilities: its ``expansion`` block,
  ``{"SLE": {"true_dlt_probs": [...], "true_response_probs": [...]}}``, names indications of the
  stage; what it gives replaces the stage's value for that scenario
  (:meth:`ExpansionStage.for_scenario`). With several
  dose levels, an indication's arrivals are assigned to the levels at random with equal
  probability: each cohort (indication, level) receives independent Poisson arrivals at
  ``accrual_per_month / len(dose_levels)``.
* ``max_per_indication`` and ``monitoring``: as the design option ``expansion``
  (:class:`escalation.ExpansionPlan`): each cohort treats at most ``max_per_indication`` patients
  and is watched by the beta-binomial toxicity monitoring rule (:class:`escalation.ToxicityMonitor`),
  calibrated over ``max_per_indication`` evaluable patients.
* ``futility`` (optional): the BOP2 efficacy futility rule of the design option ``expansion``
  (:func:`escalation.parse_futility`: ``response_null``, ``lambda`` and ``gamma`` or
  ``response_alt`` and ``alpha``, ``looks``, ``prior``), applied to each cohort's responses in the
  order they become known; each indication then needs ``true_response_probs`` (per level). A
  patient responds iff an independent U(0, 1) draw is below the level's response probability, and
  the response is known at the end of the DLT window.
* ``timing``: ``"arrival"`` (the default): a patient is treated on arrival, and the monitoring rule
  is checked on the evaluable patients (a DLT, or a complete window) each day an outcome becomes
  known; ``"complete"``: the next patient of a cohort is treated only once every treated patient's
  outcome is known, so the rule sees the patients one at a time, in order -- the sequence its exact
  operating characteristics (:meth:`escalation.ToxicityMonitor.operating_characteristics`) assume.

A cohort stops for toxicity the first day its evaluable patients reach the boundary, or for
futility the first day a look of the futility rule fails (then no further patient is treated; the
treated ones complete their window; toxicity is checked first); otherwise it ends when
``max_per_indication`` patients are treated and their windows are over (the rule is checked
until then: a boundary reached by the last outcomes also counts as a toxicity stop, and failing
the futility rule's last look, at ``max_per_indication`` patients, as a futility stop: the "no go"
of BOP2's final analysis). The whole
trial ends when its last patient's window ends. The final selection is the design's ``select`` on
every patient -- escalation and expansion, all with complete follow-up -- as
:meth:`escalation.Design.select` (all follow-up complete: the patients enter as their counts per
level, with the escalation's last level as the current level).

Randomness. Each trial draws its expansion patients from its own ``SeedSequence`` child,
``spawn_key=(3, scenario, block, trial)``, so the results depend on the seed only (not on how
blocks are cut into jobs), and every design of a comparison sees the same expansion patients
(common random numbers: an expansion patient of indication i with tolerance u has a DLT at level d
iff u < p_i[d]).

References
----------
Geller NL, Follmann D, Leifer ES, Carter SL (2003). Design of early trials in stem cell
transplantation: a hybrid frequentist-Bayesian approach. In: Advances in Clinical Trial
Biostatistics, Marcel Dekker, 289-314.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from escalation import (
    Design,
    ExpansionPlan,
    FutilityRule,
    Problem,
    ToxicityMonitor,
    TrialData,
    monitoring_problems,
    parse_futility,
)
from simulations._mc import mean_estimate as _mean
from simulations._mc import pct_estimate as _pct
from simulations.engines.base import TrialOutcomes
from simulations.patients import DAYS_PER_MONTH, Conduct
from simulations.scenarios import Scenario

__all__ = [
    "EXPANSION_TAG",
    "ExpansionStage",
    "IndicationStage",
    "WholeTrialOutcomes",
    "WholeTrialSummary",
    "parse_expansion_stage",
    "simulate_expansion",
    "summarize_whole_trial",
    "whole_trial_characteristics",
]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

#: spawn-key tag of the expansion patients' SeedSequence children (after patients.INFERENCE_TAG)
EXPANSION_TAG = 3
_KEYS = ("dose_levels", "max_per_indication", "monitoring", "futility", "timing", "indications")
_INDICATION_KEYS = ("name", "accrual_per_month", "true_dlt_probs", "true_response_probs")
_MONITORING_KEYS = ("p0", "alpha", "prior")


@dataclass(frozen=True, slots=True, kw_only=True)
class IndicationStage:
    """One indication's expansion: its accrual rate and (optionally) its true DLT and response
    probabilities per level."""

    name: str
    accrual_per_month: float
    true_dlt_probs: tuple[float, ...] | None = None
    true_response_probs: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpansionStage:
    """The expansion stage of a simulated trial (see the module docstring)."""

    indications: tuple[IndicationStage, ...]
    max_per_indication: int
    p0: float
    alpha: float
    prior: tuple[float, float]
    dose_levels: tuple[int, ...] | None = None  # None: the escalation's selected level
    timing: Literal["arrival", "complete"] = "arrival"
    futility: FutilityRule | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.indications)

    @property
    def monitor(self) -> ToxicityMonitor:
        """The monitoring rule (its calibration is cached)."""
        return ToxicityMonitor(
            p0=self.p0, alpha=self.alpha, prior=self.prior, max_n=self.max_per_indication
        )

    @property
    def n_slots(self) -> int:
        """Cohorts per indication."""
        return 1 if self.dose_levels is None else len(self.dose_levels)

    def for_scenario(self, scenario: Scenario) -> ExpansionStage:
        """The stage with the scenario's own truth per indication (``scenario.expansion``) in
        place of the stage's values; the stage itself when the scenario gives none."""
        if not scenario.expansion:
            return self
        indications = []
        for i in self.indications:
            truth = scenario.expansion_truth(i.name)
            indications.append(
                replace(
                    i,
                    true_dlt_probs=truth.true_dlt_probs or i.true_dlt_probs,
                    true_response_probs=truth.true_response_probs or i.true_response_probs,
                )
            )
        return replace(self, indications=tuple(indications))

    def plan(self, dose_levels: tuple[int, ...]) -> ExpansionPlan:
        """The design option ``expansion`` for these dose levels (for the final selection)."""
        return ExpansionPlan(
            indications=self.names,
            dose_levels=dose_levels,
            max_per_indication=self.max_per_indication,
            p0=self.p0,
            alpha=self.alpha,
            prior=self.prior,
            futility=self.futility,
        )

    def as_json(self) -> dict[str, Any]:
        futility = (
            {} if self.futility is None else {"futility": self.plan((1,)).as_dict()["futility"]}
        )
        return {
            "dose_levels": "selected" if self.dose_levels is None else list(self.dose_levels),
            "max_per_indication": self.max_per_indication,
            "monitoring": {"p0": self.p0, "alpha": self.alpha, "prior": list(self.prior)},
            **futility,
            "timing": self.timing,
            "indications": [
                {"name": i.name, "accrual_per_month": i.accrual_per_month}
                | (
                    {"true_dlt_probs": list(i.true_dlt_probs)}
                    if i.true_dlt_probs is not None
                    else {}
                )
                | (
                    {"true_response_probs": list(i.true_response_probs)}
                    if i.true_response_probs is not None
                    else {}
                )
                for i in self.indications
            ],
        }


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def parse_expansion_stage(
    block: Any,
    *,
    n_levels: Sequence[int],
    where: str = "expansion",
    responses_in_scenarios: frozenset[str] | None = frozenset(),
) -> tuple[ExpansionStage | None, list[Problem]]:
    """The expansion stage from a specification's block, or ``None`` with every problem.

    ``n_levels`` are the scenarios' numbers of dose levels (levels and probabilities are checked
    against each). ``responses_in_scenarios``: the indications whose true response probabilities
    every scenario gives (a futility rule then needs none in the stage); ``None`` when that is
    unknown (an invalid scenario), and the stage is then not asked for them.
    """
    problems: list[Problem] = []

    def bad(field: str, message: str) -> None:
        problems.append(Problem(field=f"{where}{field}", message=message))

    if not isinstance(block, Mapping):
        bad("", f"expected an object with fields {', '.join(_KEYS)}, got {block!r}")
        return None, problems
    for key in block:
        if key not in _KEYS:
            bad(f".{key}", f"unknown field (fields: {', '.join(_KEYS)})")
    fewest = min(n_levels, default=1)
    levels_value = block.get("dose_levels", "selected")
    dose_levels: tuple[int, ...] | None = None
    if levels_value != "selected":
        if not isinstance(levels_value, list) or not levels_value:
            bad(".dose_levels", f'expected "selected" or a list of levels, got {levels_value!r}')
        else:
            for k, level in enumerate(levels_value):
                if not _is_int(level) or not 1 <= level <= fewest:
                    bad(f".dose_levels[{k}]", f"must be a level from 1 to {fewest}, got {level!r}")
                elif level in levels_value[:k]:
                    bad(f".dose_levels[{k}]", f"{level} appears twice")
            dose_levels = tuple(levels_value)
    max_n: Any = block.get("max_per_indication")
    monitoring: Any = block.get("monitoring")
    if "max_per_indication" not in block:
        bad(".max_per_indication", "missing")
    if not isinstance(monitoring, Mapping):
        bad(".monitoring", f"expected an object with p0, alpha and prior, got {monitoring!r}")
        monitoring = {}
    else:
        for key in monitoring:
            if key not in _MONITORING_KEYS:
                bad(f".monitoring.{key}", f"unknown field (fields: {', '.join(_MONITORING_KEYS)})")
        for key in _MONITORING_KEYS:
            if key not in monitoring:
                bad(f".monitoring.{key}", "missing")
    if "max_per_indication" in block and all(k in monitoring for k in _MONITORING_KEYS):
        for p in monitoring_problems(
            p0=monitoring["p0"],
            alpha=monitoring["alpha"],
            prior=monitoring["prior"],
            max_n=max_n,
            where="",
        ):
            key = "max_per_indication" if p.field == "max_n" else f"monitoring.{p.field}"
            bad(f".{key}", p.message)
    timing: Any = block.get("timing", "arrival")
    if timing not in ("arrival", "complete"):
        bad(".timing", f"expected 'arrival' or 'complete', got {timing!r}")
    indications: list[IndicationStage] = []
    items = block.get("indications")
    if not isinstance(items, list) or not items:
        bad(".indications", f"expected a non-empty list of indications, got {items!r}")
        items = []
    seen: set[str] = set()
    for k, item in enumerate(items):
        field = f".indications[{k}]"
        if not isinstance(item, Mapping):
            bad(field, "expected an object with name and accrual_per_month")
            continue
        for key in item:
            if key not in _INDICATION_KEYS:
                bad(f"{field}.{key}", f"unknown field (fields: {', '.join(_INDICATION_KEYS)})")
        name: Any = item.get("name")
        if not isinstance(name, str) or not name.strip():
            bad(f"{field}.name", f"expected a name, got {name!r}")
            continue
        if name in seen:
            bad(f"{field}.name", f"{name!r} appears twice")
            continue
        seen.add(name)
        rate: Any = item.get("accrual_per_month")
        if not _is_number(rate) or not 0.01 <= rate <= 1000:
            bad(f"{field}.accrual_per_month", f"expected a number from 0.01 to 1000, got {rate!r}")
            continue
        found: dict[str, tuple[float, ...] | None] = {}
        for key in ("true_dlt_probs", "true_response_probs"):
            probs: Any = item.get(key)
            found[key] = None
            if probs is None:
                if (
                    key == "true_response_probs"
                    and "futility" in block
                    and responses_in_scenarios is not None
                    and name not in responses_in_scenarios
                ):
                    bad(
                        f"{field}.{key}",
                        "needed with a futility rule (one per level), here or in every "
                        f"scenario's expansion.{name}",
                    )
                continue
            if not isinstance(probs, list) or not all(_is_number(p) and 0 <= p <= 1 for p in probs):
                bad(f"{field}.{key}", f"expected probabilities in [0, 1], got {probs!r}")
            elif any(len(probs) != n for n in n_levels):
                bad(
                    f"{field}.{key}",
                    f"{len(probs)} probabilities, but the scenarios have "
                    f"{' or '.join(str(n) for n in sorted(set(n_levels)))} levels",
                )
            else:
                found[key] = tuple(float(p) for p in probs)
        indications.append(
            IndicationStage(
                name=name,
                accrual_per_month=float(rate),
                true_dlt_probs=found["true_dlt_probs"],
                true_response_probs=found["true_response_probs"],
            )
        )
    futility: FutilityRule | None = None
    if "futility" in block and _is_int(max_n) and 1 <= max_n <= 1000:
        futility, more = parse_futility(block["futility"], max_n=max_n, where=f"{where}.futility")
        problems += more
    if problems:
        return None, problems
    prior = monitoring["prior"]
    return (
        ExpansionStage(
            indications=tuple(indications),
            max_per_indication=max_n,
            p0=float(monitoring["p0"]),
            alpha=float(monitoring["alpha"]),
            prior=(float(prior[0]), float(prior[1])),
            dose_levels=dose_levels,
            timing=timing,
            futility=futility,
        ),
        [],
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class WholeTrialOutcomes:
    """Per-trial results of the whole trial (arrays by trial; indications in the stage's order).

    ``expanded``: the trial had an expansion stage; ``n_expansion``, ``dlt_expansion``: patients
    and DLTs per indication (all its cohorts); ``stop_toxicity``: a cohort of the indication was
    stopped by the monitoring rule; ``stop_futility``: a cohort of the indication failed the
    futility rule (stopped early, or "no go" at its last look); ``final_index``: the final selection on all the data (-1 none);
    ``n_all_at_dose``: patients per level, escalation and expansion; ``duration_days``: day 0 to
    the end of the whole trial's last DLT window.
    """

    expanded: BoolArray
    n_expansion: IntArray
    dlt_expansion: IntArray
    stop_toxicity: BoolArray
    stop_futility: BoolArray
    final_index: IntArray
    n_all_at_dose: IntArray
    duration_days: IntArray


@dataclass(slots=True)
class _Treated:
    day: int
    dlt: bool
    dlt_day: int
    response: bool


def _futile(rule: FutilityRule, responses: Sequence[bool]) -> bool:
    """``rule.check(responses).futile``, without the words (the simulation's inner loop)."""
    for look, bound in zip(rule.looks, rule.continue_at_least, strict=True):
        if look > len(responses):
            return False
        if sum(responses[:look]) < bound:
            return True
    return False


def _cohort(
    bounds: Sequence[int | None],
    futility: FutilityRule | None,
    *,
    start: int,
    gaps: FloatArray,
    tolerance: FloatArray,
    onset: FloatArray,
    response_draw: FloatArray,
    prob: float,
    response_prob: float,
    conduct: Conduct,
    complete: bool,
) -> tuple[list[_Treated], str | None]:
    """One cohort: its treated patients and why it stopped (``"toxicity"``, ``"futility"``, or
    None). ``bounds[n - 1]`` is the monitoring boundary at n evaluable patients (None: no stop)."""
    window = conduct.dlt_window_days
    arrivals = np.floor(start + np.cumsum(gaps)).astype(np.int64)
    offsets = conduct.dlt_time.offset_days(onset, prob, window)
    treated: list[_Treated] = []
    checked = -1  # outcomes known up to this day have been checked

    def verdict(until: int) -> str | None:
        nonlocal checked
        days = sorted(
            {
                e
                for t in treated
                for e in (t.dlt_day if t.dlt else t.day + window, t.day + window)
                if checked < e <= until
            }
        )
        for day in days:
            known = [t for t in treated if (t.dlt_day if t.dlt else t.day + window) <= day]
            bound = bounds[len(known) - 1] if known else None
            if bound is not None and sum(t.dlt for t in known) >= bound:
                return "toxicity"
            if futility is not None:
                responses = [t.response for t in treated if t.day + window <= day]  # in order
                if _futile(futility, responses):
                    return "futility"
        checked = max(checked, until)
        return None

    for j in range(len(gaps)):
        day = int(arrivals[j])
        if complete and treated:
            day = max(day, max(t.day for t in treated) + window)
        why = verdict(day)
        if why is not None:
            return treated, why
        dlt = bool(tolerance[j] < prob)
        treated.append(
            _Treated(
                day=day,
                dlt=dlt,
                dlt_day=day + int(offsets[j]),
                response=bool(response_draw[j] < response_prob),
            )
        )
    return treated, verdict(max(t.day for t in treated) + window)


def simulate_expansion(
    stage: ExpansionStage,
    design: Design,
    scenario_probs: Sequence[float],
    outcomes: TrialOutcomes,
    conduct: Conduct,
    *,
    seed: int,
    scenario_index: int,
    block_index: int,
    first_trial: int = 0,
) -> WholeTrialOutcomes:
    """The expansion stage and the final selection of every trial of a block (module docstring).

    ``outcomes`` are the block's escalation results (any engine); trial t of them is trial
    ``first_trial + t`` of its block (its expansion patients' SeedSequence child).
    """
    n_trials = outcomes.n_at_dose.shape[0]
    names = stage.names
    n_ind, slots, max_n = len(names), stage.n_slots, stage.max_per_indication
    bounds = stage.monitor.stop_at_least
    window = conduct.dlt_window_days
    probs_of = [
        np.asarray(i.true_dlt_probs or scenario_probs, dtype=np.float64) for i in stage.indications
    ]
    response_of = [
        np.asarray(i.true_response_probs or (0.0,) * len(scenario_probs), dtype=np.float64)
        for i in stage.indications
    ]
    gap_days = [DAYS_PER_MONTH * slots / i.accrual_per_month for i in stage.indications]
    expanded = np.zeros(n_trials, dtype=np.bool_)
    n_exp = np.zeros((n_trials, n_ind), dtype=np.int64)
    y_exp = np.zeros((n_trials, n_ind), dtype=np.int64)
    stop_tox = np.zeros((n_trials, n_ind), dtype=np.bool_)
    stop_fut = np.zeros((n_trials, n_ind), dtype=np.bool_)
    final = outcomes.selected_index.copy()
    n_all = outcomes.n_at_dose.copy()
    y_all = outcomes.dlt_at_dose.copy()
    duration = outcomes.duration_days.copy()
    for t in range(n_trials):
        selected = int(outcomes.selected_index[t])
        if selected < 0:
            continue
        levels = (selected + 1,) if stage.dose_levels is None else stage.dose_levels
        seq = np.random.SeedSequence(
            seed, spawn_key=(EXPANSION_TAG, scenario_index, block_index, first_trial + t)
        )
        rng = np.random.Generator(np.random.PCG64(seq))
        shape = (n_ind, slots, max_n)
        tolerance, onset = rng.random(shape), rng.random(shape)
        gaps = rng.standard_exponential(shape)
        response_draw = rng.random(shape)
        start = int(outcomes.duration_days[t])
        expanded[t] = True
        end = start
        for i in range(n_ind):
            for k, level in enumerate(levels):
                treated, why = _cohort(
                    bounds,
                    stage.futility,
                    start=start,
                    gaps=gaps[i, k] * gap_days[i],
                    tolerance=tolerance[i, k],
                    onset=onset[i, k],
                    response_draw=response_draw[i, k],
                    prob=float(probs_of[i][level - 1]),
                    response_prob=float(response_of[i][level - 1]),
                    conduct=conduct,
                    complete=stage.timing == "complete",
                )
                stop_tox[t, i] |= why == "toxicity"
                stop_fut[t, i] |= why == "futility"
                n_exp[t, i] += len(treated)
                for p in treated:
                    y_exp[t, i] += p.dlt
                    n_all[t, level - 1] += 1
                    y_all[t, level - 1] += p.dlt
                    end = max(end, p.day + window)
        duration[t] = end
        last = None if outcomes.last_index is None else int(outcomes.last_index[t])
        final[t] = _final_index(design, n_all[t], y_all[t], last)
    return WholeTrialOutcomes(
        expanded=expanded,
        n_expansion=n_exp,
        dlt_expansion=y_exp,
        stop_toxicity=stop_tox,
        stop_futility=stop_fut,
        final_index=final,
        n_all_at_dose=n_all,
        duration_days=duration,
    )


def _final_index(design: Design, n_all: IntArray, y_all: IntArray, last: int | None) -> int:
    """The design's final selection on all the data of a trial (dose index, -1 for none).

    Every patient's follow-up is complete, so the data are given as counts per level (escalation
    and expansion patients together, the escalation's last level as the current one): the same
    selection as on the patients one by one (tests/test_counts_and_patients_forms.py,
    tests/test_whole_trial.py's selection on relabelled data), at O(levels) cost.
    """
    data = TrialData.from_counts(
        [int(v) for v in n_all],
        [int(v) for v in y_all],
        current_level=None if last is None or last < 0 else last + 1,
    )
    selection = design.select(data)
    return -1 if selection.dose_level is None else selection.dose_level - 1


@dataclass(slots=True, kw_only=True)
class WholeTrialSummary:
    """Integer sums of the whole trial over a block's trials (add with ``+``)."""

    expanded: int
    n_expansion_sum: IntArray  # per indication
    n_expansion_sq: IntArray
    dlt_expansion_sum: IntArray
    dlt_expansion_sq: IntArray
    stop_toxicity: IntArray  # trials, per indication
    stop_futility: IntArray
    final_selected: IntArray  # (D + 1,): per level, then none
    final_correct: int
    n_exp_total_sum: int
    n_exp_total_sq: int
    n_all_sum: int
    n_all_sq: int
    duration_sum: int
    duration_sq: int

    def __add__(self, other: WholeTrialSummary) -> WholeTrialSummary:
        return WholeTrialSummary(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


def summarize_whole_trial(
    whole: WholeTrialOutcomes, *, mtd_indices: tuple[int, ...]
) -> WholeTrialSummary:
    """The sums of one block's whole trials (``mtd_indices`` as :func:`summarize_block`)."""
    n_doses = whole.n_all_at_dose.shape[1]
    final = whole.final_index
    exp_total = whole.n_expansion.sum(axis=1)
    n_all = whole.n_all_at_dose.sum(axis=1)
    correct = int(np.isin(final, mtd_indices).sum()) if mtd_indices else int((final < 0).sum())
    return WholeTrialSummary(
        expanded=int(whole.expanded.sum()),
        n_expansion_sum=whole.n_expansion.sum(axis=0),
        n_expansion_sq=(whole.n_expansion**2).sum(axis=0),
        dlt_expansion_sum=whole.dlt_expansion.sum(axis=0),
        dlt_expansion_sq=(whole.dlt_expansion**2).sum(axis=0),
        stop_toxicity=whole.stop_toxicity.sum(axis=0).astype(np.int64),
        stop_futility=whole.stop_futility.sum(axis=0).astype(np.int64),
        final_selected=np.bincount(
            np.where(final < 0, n_doses, final), minlength=n_doses + 1
        ).astype(np.int64),
        final_correct=correct,
        n_exp_total_sum=int(exp_total.sum()),
        n_exp_total_sq=int((exp_total**2).sum()),
        n_all_sum=int(n_all.sum()),
        n_all_sq=int((n_all**2).sum()),
        duration_sum=int(whole.duration_days.sum()),
        duration_sq=int((whole.duration_days.astype(np.int64) ** 2).sum()),
    )


def whole_trial_characteristics(
    s: WholeTrialSummary,
    trials: int,
    names: Sequence[str],
    before_expansion: Mapping[str, tuple[float, float]],
    *,
    futility: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The whole trial's operating characteristics and their standard errors (two dicts with the
    same keys; percentages of all trials, 0-100).

    ``expansion_pct``: trials with an expansion stage; per indication (``expansion_indications``,
    a list in the stage's order): ``stop_toxicity_pct`` (a cohort stopped by the monitoring rule),
    with a futility rule (``futility``) ``stop_futility_pct`` (a cohort failed it, early or at its
    last look), ``patients_mean``, ``dlt_mean``; ``patients_by_cohort_mean`` (the escalation stage's
    cohorts, ``before_expansion``: escalation, and backfill for a design with backfill, each a mean
    and its s.e.; then expansion); ``n_total_mean``; ``duration_total_mean_days``;
    ``final_selection_pct`` per level, ``final_none_pct`` and ``final_correct_selection_pct`` (the
    final selection on all the data).
    """
    n_doses = s.final_selected.size - 1
    values: dict[str, Any] = {}
    errors: dict[str, Any] = {}

    def put(key: str, pair: tuple[float, float]) -> None:
        values[key], errors[key] = pair

    put("expansion_pct", _pct(s.expanded, trials))
    rows, row_errors = [], []
    for i, name in enumerate(names):
        stats = {"stop_toxicity_pct": _pct(float(s.stop_toxicity[i]), trials)}
        if futility:
            stats["stop_futility_pct"] = _pct(float(s.stop_futility[i]), trials)
        stats["patients_mean"] = _mean(
            float(s.n_expansion_sum[i]), float(s.n_expansion_sq[i]), trials
        )
        stats["dlt_mean"] = _mean(
            float(s.dlt_expansion_sum[i]), float(s.dlt_expansion_sq[i]), trials
        )
        rows.append({"indication": name} | {k: v for k, (v, _) in stats.items()})
        row_errors.append({"indication": name} | {k: e for k, (_, e) in stats.items()})
    values["expansion_indications"], errors["expansion_indications"] = rows, row_errors
    expansion_n = _mean(s.n_exp_total_sum, s.n_exp_total_sq, trials)
    by_cohort = {**before_expansion, "expansion": expansion_n}
    values["patients_by_cohort_mean"] = {k: v for k, (v, _) in by_cohort.items()}
    errors["patients_by_cohort_mean"] = {k: e for k, (_, e) in by_cohort.items()}
    put("n_total_mean", _mean(s.n_all_sum, s.n_all_sq, trials))
    put("duration_total_mean_days", _mean(s.duration_sum, s.duration_sq, trials))
    selection = [_pct(float(c), trials) for c in s.final_selected[:n_doses]]
    values["final_selection_pct"] = [v for v, _ in selection]
    errors["final_selection_pct"] = [e for _, e in selection]
    put("final_none_pct", _pct(float(s.final_selected[n_doses]), trials))
    put("final_correct_selection_pct", _pct(float(s.final_correct), trials))
    return values, errors
