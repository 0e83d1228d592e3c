"""The simulation specification: a JSON object (or the same as Python objects), validated whole.

.. code-block:: json

    {
      "designs": [{"name": "BOIN", "method": "boin", "target": 0.3, "max_patients": 30},
                  {"name": "BOIN n_stop 12", "method": "boin", "target": 0.3, "n_stop": 12}],
      "scenarios": [{"name": "S1", "true_dlt_probs": [0.05, 0.1, 0.2, 0.3, 0.5, 0.7]}],
      "accrual_per_month": 2,
      "dlt_time": {"distribution": "weibull", "late_onset_share": 0.5},
      "suspended_arrivals": "wait",
      "dlt_window_days": 30,
      "trials": 10000,
      "seed": 2026
    }

* ``design`` (one design block, named by its method) or ``designs`` (a list, each with a unique
  ``name``): any design block of the trial document (``escalation.parse_design``), plus an optional
  ``engine`` (``"auto"``, the default; ``"generic"`` forces the per-trial engine).
* ``scenarios``: a list of ``{"name", "true_dlt_probs"}`` (probabilities in [0, 1], one per dose
  level; for designs that use responses (backfill's opening rule, BOIN12) also
  ``true_response_probs`` validated likewise, and
  an optional ``tox_eff_correlation`` in (-1, 1), the latent-normal correlation of a patient's
  DLT and response) and an optional ``expansion`` (the scenario's own true probabilities in the
  expansion stage, by indication: ``{"SLE": {"true_dlt_probs": [...], "true_response_probs":
  [...]}}``; see :mod:`simulations.expansion`), or ``{"random": {"generator": "pseudo-uniform" |
  "liu-yuan" | "probit-gap" | "boin12-random", "count", "target", "levels"}}`` (liu-yuan also
  takes ``mu``, ``sigma0``, ``sigma``; probit-gap ``gap``, ``sigma0``, ``sigma``; boin12-random,
  which draws response probabilities too, ``efficacy_target`` (required), ``u11`` (60), ``u00``
  (40) and ``plateau_share`` (0.5); each may take its own ``seed``).
* ``benchmark_ties`` (``"lower"``, the default, or ``"higher"``): which of two levels equally close
  to the target the optimal benchmark selects; ``unacceptable_ratio`` (1.4): no dose is the correct
  selection when every true DLT probability is above this ratio x the target (see
  :mod:`simulations.metrics`).
* ``accrual_per_month`` (2), ``accrual`` (``poisson``, the default, or ``uniform``: inter-arrival
  times U(0, 2 / rate) months, as R bfboin), ``dlt_time`` (uniform), ``suspended_arrivals`` (``wait`` | ``lost``),
  ``decision_timing`` (``auto`` | ``complete`` | ``arrival``; see
  :class:`simulations.patients.Conduct`), ``dlt_window_days`` (30), ``efficacy_window_days`` (90:
  a response is known this many days after the infusion), ``response_time`` (absent: at the end
  of the efficacy window; ``{"distribution": "uniform"}`` or ``{"distribution": "weibull",
  "late_onset_share": s}``: a responder's response falls on a day drawn inside the efficacy
  window, as for ``dlt_time``, a non-responder is known at the window's end; the generic engine
  simulates it), ``trials`` (1000) and ``seed``
  (a fresh one, reported in the results, when absent).
* ``expansion``: an expansion stage per indication after escalation, and the final selection on
  all the data (:mod:`simulations.expansion`).

An invalid specification raises :class:`~simulations.errors.InvalidSpecError` naming every problem's
field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, cast

import numpy as np

from escalation import LIMITS, Design, InvalidDesignError, Problem, parse_design, whole_numbers
from simulations.engines import ENGINES
from simulations.errors import InvalidSpecError
from simulations.expansion import ExpansionStage, parse_expansion_stage
from simulations.metrics import BENCHMARK_TIES, BenchmarkTies
from simulations.patients import ACCRUALS, SCENARIO_TAG, Conduct, DltTime
from simulations.scenarios import GENERATORS, UNACCEPTABLE_RATIO, IndicationTruth, Scenario

__all__ = ["DesignEntry", "SimulationSpec", "parse_spec"]

_KEYS = {
    "name",
    "design",
    "designs",
    "scenarios",
    "accrual_per_month",
    "accrual",
    "dlt_time",
    "suspended_arrivals",
    "decision_timing",
    "dlt_window_days",
    "efficacy_window_days",
    "response_time",
    "dose_amounts",
    "trials",
    "seed",
    "benchmark_ties",
    "unacceptable_ratio",
    "expansion",
}
_SCENARIO_KEYS = (
    "name",
    "true_dlt_probs",
    "true_response_probs",
    "tox_eff_correlation",
    "expansion",
)
_TRUTH_KEYS = ("true_dlt_probs", "true_response_probs")
_RANDOM_KEYS = {
    "generator",
    "count",
    "target",
    "levels",
    "mu",
    "gap",
    "sigma0",
    "sigma",
    "efficacy_target",
    "u11",
    "u00",
    "plateau_share",
    "seed",
}
#: the options of each random generator beyond generator, count, target, levels and seed
_GENERATOR_OPTIONS = {
    "pseudo-uniform": (),
    "liu-yuan": ("mu", "sigma0", "sigma"),
    "probit-gap": ("gap", "sigma0", "sigma"),
    "boin12-random": ("efficacy_target", "u11", "u00", "plateau_share"),
}
#: the range of each generator option: (low, high, what)
_OPTION_RANGES = {
    "mu": (0.0, 10.0, "a number from 0 to 10"),
    "sigma0": (0.0, 10.0, "a number from 0 to 10"),
    "sigma": (0.0, 10.0, "a number from 0 to 10"),
    "gap": (0.0, 1.0, "a number from 0 to 1 (excluded)"),
    "efficacy_target": (0.0, 0.9, "a response probability strictly between 0 and 0.9"),
    "u11": (0.0, 100.0, "a utility from 0 to 100"),
    "u00": (0.0, 100.0, "a utility from 0 to 100"),
    "plateau_share": (0.0, 1.0, "a share from 0 to 1"),
}
#: options a generator cannot do without
_REQUIRED_OPTIONS = {"boin12-random": ("efficacy_target",)}
DEFAULT_TRIALS = 1000
#: largest number of trials per scenario and of random scenarios a spec may ask for
MAX_TRIALS = int(LIMITS["trials"].high)
MAX_RANDOM_SCENARIOS = int(LIMITS["random_scenarios"].high)


@dataclass(frozen=True, slots=True, kw_only=True)
class DesignEntry:
    """One design of the comparison: its name, its design block and the engine asked for."""

    name: str
    block: Mapping[str, Any]
    engine: str = "auto"


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationSpec:
    """A validated specification (see the module docstring).

    ``designs_by_levels[(i, L)]`` is design i built for L dose levels (one per distinct scenario
    length). ``random`` is the random-scenario block when the scenarios were generated.
    """

    name: str | None
    designs: tuple[DesignEntry, ...]
    scenarios: tuple[Scenario, ...]
    random: Mapping[str, Any] | None
    conduct: Conduct
    trials: int
    seed: int
    designs_by_levels: Mapping[tuple[int, int], Design]
    benchmark_ties: BenchmarkTies = "lower"
    unacceptable_ratio: float = UNACCEPTABLE_RATIO
    expansion: ExpansionStage | None = None

    @classmethod
    def from_objects(
        cls,
        *,
        designs: Mapping[str, Design],
        scenarios: Sequence[Scenario],
        trials: int,
        seed: int,
        conduct: Conduct | None = None,
        name: str | None = None,
        benchmark_ties: BenchmarkTies = "lower",
        unacceptable_ratio: float = UNACCEPTABLE_RATIO,
        expansion: ExpansionStage | None = None,
    ) -> SimulationSpec:
        """A specification from Python objects: named designs, scenarios and the conduct.

        Every scenario must have as many levels as every design has doses.

        Examples
        --------
        >>> from escalation import BOIN
        >>> spec = SimulationSpec.from_objects(
        ...     designs={"BOIN": BOIN(n_doses=3, target=0.3)},
        ...     scenarios=[Scenario(name="S1", true_dlt_probs=(0.1, 0.3, 0.5))],
        ...     trials=100, seed=1)
        >>> spec.as_json()["designs"][0]["method"]
        'boin'
        """
        out = _Collector()
        if not designs:
            out.add("designs", "at least one design is needed")
        if not scenarios:
            out.add("scenarios", "at least one scenario is needed")
        if not 1 <= trials <= MAX_TRIALS:
            out.add("trials", f"expected a whole number from 1 to {MAX_TRIALS}, got {trials!r}")
        if seed < 0:
            out.add("seed", f"expected a whole number >= 0, got {seed!r}")
        _check_benchmark_options(benchmark_ties, unacceptable_ratio, out)
        for i, s in enumerate(scenarios):
            if any(not 0.0 <= p <= 1.0 for p in s.true_dlt_probs):
                out.add(f"scenarios[{i}].true_dlt_probs", "probabilities must be in [0, 1]")
            if s.true_response_probs is not None and (
                len(s.true_response_probs) != s.n_levels
                or any(not 0.0 <= p <= 1.0 for p in s.true_response_probs)
            ):
                out.add(
                    f"scenarios[{i}].true_response_probs",
                    "expected probabilities in [0, 1], one per dose level",
                )
            _check_truths(s, i, expansion, out)
            for k, (label, design) in enumerate(designs.items()):
                if design.n_doses != s.n_levels:
                    out.add(
                        f"designs[{k}]",
                        f"design {label!r} has {design.n_doses} doses, scenario {s.name!r} "
                        f"{s.n_levels} levels",
                    )
        if out.problems:
            raise InvalidSpecError(out.problems)
        entries = tuple(
            DesignEntry(name=label, block=design.options()) for label, design in designs.items()
        )
        return cls(
            name=name,
            designs=entries,
            scenarios=tuple(scenarios),
            random=None,
            conduct=conduct if conduct is not None else Conduct(),
            trials=trials,
            seed=seed,
            designs_by_levels={(i, d.n_doses): d for i, d in enumerate(designs.values())},
            benchmark_ties=benchmark_ties,
            unacceptable_ratio=unacceptable_ratio,
            expansion=expansion,
        )

    def design(self, index: int, n_levels: int) -> Design:
        return self.designs_by_levels[(index, n_levels)]

    @property
    def capacity(self) -> int:
        """Patients drawn per trial up front: enough for the largest design (+1 arrival)."""
        return max(d.max_patients for d in self.designs_by_levels.values()) + 1

    def as_json(self) -> dict[str, Any]:
        """The specification with every default filled in (designs with all their options)."""
        levels = self.scenarios[0].n_levels
        out: dict[str, Any] = {}
        if self.name is not None:
            out["name"] = self.name
        out["designs"] = [
            {"name": e.name, **self.design(i, levels).options()}
            | ({"engine": e.engine} if e.engine != "auto" else {})
            for i, e in enumerate(self.designs)
        ]
        if self.random is not None:
            out["scenarios"] = {"random": dict(self.random)}
        else:
            out["scenarios"] = [_scenario_json(s) for s in self.scenarios]
        c = self.conduct
        out |= {
            "accrual_per_month": c.accrual_per_month,
            "accrual": c.accrual,
            "dlt_time": c.dlt_time.as_json(),
            "suspended_arrivals": c.suspended_arrivals,
            "decision_timing": c.decision_timing,
            "dlt_window_days": c.dlt_window_days,
            **(
                {"efficacy_window_days": c.efficacy_window_days}
                if any(s.true_response_probs is not None for s in self.scenarios)
                else {}
            ),
            **({"response_time": c.response_time.as_json()} if c.response_time is not None else {}),
            "trials": self.trials,
            "seed": self.seed,
            "benchmark_ties": self.benchmark_ties,
            "unacceptable_ratio": self.unacceptable_ratio,
        }
        if self.expansion is not None:
            out["expansion"] = self.expansion.as_json()
        return out


def _scenario_json(s: Scenario) -> dict[str, Any]:
    out: dict[str, Any] = {"name": s.name, "true_dlt_probs": list(s.true_dlt_probs)}
    if s.true_response_probs is not None:
        out["true_response_probs"] = list(s.true_response_probs)
        if s.tox_eff_correlation:
            out["tox_eff_correlation"] = s.tox_eff_correlation
    if s.expansion:
        out["expansion"] = {
            name: {
                key: list(value)
                for key in _TRUTH_KEYS
                if (value := getattr(truth, key)) is not None
            }
            for name, truth in s.expansion
        }
    return out


def _check_truths(
    scenario: Scenario, index: int, stage: ExpansionStage | None, out: _Collector
) -> None:
    """A scenario's expansion truths: for indications of the stage, one probability per level."""
    field = f"scenarios[{index}].expansion"
    if scenario.expansion and stage is None:
        out.add(field, "only with an expansion stage (the spec's expansion)")
        return
    names = () if stage is None else stage.names
    for name, truth in scenario.expansion:
        if name not in names:
            out.add(
                f"{field}.{name}",
                f"not an indication of the expansion stage (indications: {', '.join(names)})",
            )
        for key in _TRUTH_KEYS:
            value = getattr(truth, key)
            if value is not None and (
                len(value) != scenario.n_levels or any(not 0.0 <= p <= 1.0 for p in value)
            ):
                out.add(
                    f"{field}.{name}.{key}",
                    f"expected probabilities in [0, 1], one per dose level ({scenario.n_levels})",
                )
    if stage is not None and stage.futility is not None:
        for i in stage.indications:
            if (
                i.true_response_probs is None
                and scenario.expansion_truth(i.name).true_response_probs is None
            ):
                out.add(
                    f"{field}.{i.name}.true_response_probs",
                    "missing: the futility rule needs true response probabilities (here or in "
                    "the stage's indication)",
                )


def _check_benchmark_options(ties: Any, ratio: Any, out: _Collector) -> None:
    if ties not in BENCHMARK_TIES:
        out.add("benchmark_ties", f"expected 'lower' or 'higher', got {ties!r}")
    if not _is_number(ratio) or not 1 <= ratio <= 10:
        out.add("unacceptable_ratio", f"expected a number from 1 to 10, got {ratio!r}")


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, field: str, message: str) -> None:
        self.problems.append(Problem(field=field, message=message))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _designs(spec: Mapping[str, Any], out: _Collector) -> list[tuple[str, DesignEntry]]:
    """(field, entry) per design."""
    if ("design" in spec) == ("designs" in spec):
        out.add(
            "designs",
            "give either design (one design block) or designs (a list), not both"
            if "design" in spec
            else "missing: give design or designs",
        )
        return []
    if "design" in spec:
        block = spec["design"]
        if not isinstance(block, Mapping):
            out.add("design", "expected a design block (an object with method, target, ...)")
            return []
        items: list[tuple[str, Any]] = [("design", block)]
    else:
        blocks = spec["designs"]
        if not isinstance(blocks, list) or not blocks:
            out.add("designs", "expected a non-empty list of design blocks")
            return []
        items = [(f"designs[{i}]", b) for i, b in enumerate(blocks)]
    entries: list[tuple[str, DesignEntry]] = []
    names: dict[str, str] = {}
    for field, block in items:
        if not isinstance(block, Mapping):
            out.add(field, "expected a design block (an object with name, method, target, ...)")
            continue
        name = block.get("name", block.get("method") if field == "design" else None)
        if not isinstance(name, str) or not name:
            out.add(f"{field}.name", f"expected a non-empty name, got {name!r}")
            continue
        if name in names:
            out.add(f"{field}.name", f"duplicate design name {name!r} (also {names[name]})")
            continue
        names[name] = field
        engine = block.get("engine", "auto")
        if engine != "auto" and (not isinstance(engine, str) or engine not in ENGINES):
            out.add(
                f"{field}.engine",
                f"unknown engine {engine!r} (engines: auto, {', '.join(sorted(ENGINES))})",
            )
            continue
        design_block = {k: v for k, v in block.items() if k not in ("name", "engine")}
        entries.append((field, DesignEntry(name=name, block=design_block, engine=engine)))
    return entries


def _probabilities(
    value: Any, field: str, out: _Collector, *, what: str = "DLT"
) -> tuple[float, ...] | None:
    if not isinstance(value, list) or not value:
        out.add(field, f"expected a non-empty list of {what} probabilities, one per dose level")
        return None
    ok = True
    for k, p in enumerate(value):
        if not _is_number(p) or not 0.0 <= p <= 1.0:
            out.add(f"{field}[{k}]", f"a probability must be in [0, 1], got {p!r}")
            ok = False
    return tuple(float(p) for p in value) if ok else None


def _scenarios(
    value: Any, seed: int, out: _Collector
) -> tuple[list[Scenario], Mapping[str, Any] | None]:
    if isinstance(value, Mapping):
        if set(value) != {"random"}:
            out.add("scenarios", 'expected a list of scenarios or {"random": {...}}')
            return [], None
        return _random_scenarios(value["random"], seed, out)
    if not isinstance(value, list) or not value:
        out.add("scenarios", "expected a non-empty list of scenarios (name, true_dlt_probs)")
        return [], None
    scenarios = []
    seen: dict[str, int] = {}
    for i, s in enumerate(value):
        field = f"scenarios[{i}]"
        if not isinstance(s, Mapping):
            out.add(field, "expected an object with name and true_dlt_probs")
            continue
        for key in s:
            if key not in _SCENARIO_KEYS:
                out.add(f"{field}.{key}", f"unknown field (fields: {', '.join(_SCENARIO_KEYS)})")
        name = s.get("name", f"S{i + 1}")
        if not isinstance(name, str) or not name:
            out.add(f"{field}.name", f"expected a non-empty string, got {name!r}")
            continue
        if name in seen:
            out.add(
                f"{field}.name", f"duplicate scenario name {name!r} (also scenarios[{seen[name]}])"
            )
            continue
        seen[name] = i
        probs = _probabilities(s.get("true_dlt_probs"), f"{field}.true_dlt_probs", out)
        response: tuple[float, ...] | None = None
        if s.get("true_response_probs") is not None:
            response = _probabilities(
                s["true_response_probs"], f"{field}.true_response_probs", out, what="response"
            )
            if response is not None and probs is not None and len(response) != len(probs):
                out.add(
                    f"{field}.true_response_probs",
                    f"{len(response)} probabilities for {len(probs)} dose levels",
                )
                response = None
        corr = s.get("tox_eff_correlation", 0.0)
        if not _is_number(corr) or not -1.0 < corr < 1.0:
            out.add(
                f"{field}.tox_eff_correlation",
                f"expected a correlation strictly between -1 and 1, got {corr!r}",
            )
            corr = 0.0
        elif corr and response is None:
            out.add(f"{field}.tox_eff_correlation", "only with true_response_probs")
        truths = _truths(s.get("expansion"), f"{field}.expansion", probs, out)
        if probs is not None:
            scenarios.append(
                Scenario(
                    name=name,
                    true_dlt_probs=probs,
                    true_response_probs=response,
                    tox_eff_correlation=float(corr) if response is not None else 0.0,
                    expansion=truths,
                )
            )
    return scenarios, None


def _truths(
    value: Any, field: str, probs: tuple[float, ...] | None, out: _Collector
) -> tuple[tuple[str, IndicationTruth], ...]:
    """A scenario's ``expansion``: its true probabilities by indication (names are checked
    against the stage later)."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        out.add(
            field,
            'expected {"<indication>": {"true_dlt_probs": [...], "true_response_probs": [...]}}',
        )
        return ()
    truths = []
    for name, block in value.items():
        where = f"{field}.{name}"
        if not isinstance(block, Mapping):
            out.add(where, "expected an object with true_dlt_probs and/or true_response_probs")
            continue
        for key in block:
            if key not in _TRUTH_KEYS:
                out.add(f"{where}.{key}", f"unknown field (fields: {', '.join(_TRUTH_KEYS)})")
        found: dict[str, tuple[float, ...] | None] = {}
        for key, what in zip(_TRUTH_KEYS, ("DLT", "response"), strict=True):
            found[key] = None
            if block.get(key) is None:
                continue
            got = _probabilities(block[key], f"{where}.{key}", out, what=what)
            if got is not None and probs is not None and len(got) != len(probs):
                out.add(f"{where}.{key}", f"{len(got)} probabilities for {len(probs)} dose levels")
                got = None
            found[key] = got
        truths.append(
            (
                str(name),
                IndicationTruth(
                    true_dlt_probs=found["true_dlt_probs"],
                    true_response_probs=found["true_response_probs"],
                ),
            )
        )
    return tuple(truths)


def _random_scenarios(
    block: Any, seed: int, out: _Collector
) -> tuple[list[Scenario], Mapping[str, Any] | None]:
    field = "scenarios.random"
    if not isinstance(block, Mapping):
        out.add(field, "expected an object with generator, count, target, levels")
        return [], None
    n_before = len(out.problems)
    for key in block:
        if key not in _RANDOM_KEYS:
            out.add(f"{field}.{key}", f"unknown field (fields: {', '.join(sorted(_RANDOM_KEYS))})")
    generator: Any = block.get("generator")
    if not isinstance(generator, str) or generator not in GENERATORS:
        out.add(
            f"{field}.generator",
            f"unknown generator {generator!r} (generators: {', '.join(sorted(GENERATORS))})",
        )
    count: Any = block.get("count")
    levels: Any = block.get("levels")
    target: Any = block.get("target")
    if not _is_int(count) or not 1 <= count <= MAX_RANDOM_SCENARIOS:
        out.add(
            f"{field}.count",
            f"expected a whole number from 1 to {MAX_RANDOM_SCENARIOS}, got {count!r}",
        )
    if (why := LIMITS["n_doses"].check(levels)) is not None:
        out.add(f"{field}.levels", f"number of dose levels: {why}")
    if not _is_number(target) or not 0 < target < 1:
        out.add(
            f"{field}.target", f"expected a probability strictly between 0 and 1, got {target!r}"
        )
    options: dict[str, float] = {}
    known = isinstance(generator, str) and generator in GENERATORS
    for key, (low, high, what) in _OPTION_RANGES.items():
        if key in block:
            v = block[key]
            strict = key in ("gap", "efficacy_target")  # the upper end (and 0 for a rate) excluded
            if known and key not in _GENERATOR_OPTIONS[generator]:
                users = [g for g, keys in _GENERATOR_OPTIONS.items() if key in keys]
                out.add(f"{field}.{key}", f"only for the {' and '.join(users)} generator")
            elif (
                not _is_number(v)
                or v < low
                or v > high
                or (strict and v >= high)
                or (key == "efficacy_target" and v <= low)
            ):
                out.add(f"{field}.{key}", f"expected {what}, got {v!r}")
            else:
                options[key] = float(v)
    if generator == "boin12-random":
        if _is_number(target) and 0.9 <= target < 1:
            out.add(
                f"{field}.target",
                f"expected a DLT probability strictly between 0 and 0.9 for the boin12-random "
                f"generator (its DLT curves reach target + 0.1), got {target!r}",
            )
        if "u11" in options and options["u11"] <= 0:
            out.add(
                f"{field}.u11",
                "expected a utility above 0 for the boin12-random generator (with u11 = 0 its "
                "utility u00 (1 - p) peaks at level 1, so an OBD above it is never accepted)",
            )
    for key in _REQUIRED_OPTIONS.get(generator, ()) if known else ():
        if key not in block:
            out.add(f"{field}.{key}", f"missing: the {generator} generator needs it")
    own_seed = block.get("seed")
    if own_seed is not None and (not _is_int(own_seed) or own_seed < 0):
        out.add(f"{field}.seed", f"expected a whole number >= 0, got {own_seed!r}")
    if len(out.problems) > n_before:
        return [], None
    seq = (
        np.random.SeedSequence(own_seed)
        if own_seed is not None
        else np.random.SeedSequence(seed, spawn_key=(SCENARIO_TAG,))
    )
    rng = np.random.Generator(np.random.PCG64(seq))
    try:
        scenarios = GENERATORS[generator](
            rng, count=count, target=float(target), levels=levels, **options
        )
    except RuntimeError as e:
        out.add(field, str(e))
        return [], None
    return scenarios, dict(block)


def _conduct(spec: Mapping[str, Any], out: _Collector) -> Conduct:
    accrual = spec.get("accrual_per_month", 2.0)
    if (why := LIMITS["accrual_per_month"].check(accrual)) is not None:
        out.add("accrual_per_month", f"patients per month: {why}")
        accrual = 2.0
    window = spec.get("dlt_window_days", 30)
    if (why := LIMITS["dlt_window_days"].check(window)) is not None:
        out.add("dlt_window_days", f"days of follow-up: {why}")
        window = 30
    accrual_kind = spec.get("accrual", "poisson")
    if accrual_kind not in ACCRUALS:
        out.add("accrual", f"expected 'poisson' or 'uniform', got {accrual_kind!r}")
        accrual_kind = "poisson"
    efficacy_window = spec.get("efficacy_window_days", 90)
    if (why := LIMITS["efficacy_window_days"].check(efficacy_window)) is not None:
        out.add("efficacy_window_days", f"days until the response is known: {why}")
        efficacy_window = 90
    suspended = spec.get("suspended_arrivals", "wait")
    if suspended not in ("wait", "lost"):
        out.add("suspended_arrivals", f"expected 'wait' or 'lost', got {suspended!r}")
        suspended = "wait"
    timing = spec.get("decision_timing", "auto")
    if timing not in ("auto", "complete", "arrival"):
        out.add("decision_timing", f"expected 'auto', 'complete' or 'arrival', got {timing!r}")
        timing = "auto"
    dlt_time = _event_time(spec, "dlt_time", out) or DltTime()
    response_time = (
        _event_time(spec, "response_time", out) if spec.get("response_time") is not None else None
    )
    return Conduct(
        accrual_per_month=float(accrual),
        accrual=accrual_kind,
        dlt_window_days=window,
        dlt_time=dlt_time,
        suspended_arrivals=suspended,
        decision_timing=timing,
        efficacy_window_days=efficacy_window,
        response_time=response_time,
    )


def _event_time(spec: Mapping[str, Any], key: str, out: _Collector) -> DltTime | None:
    """``dlt_time`` or ``response_time``: the time to the event inside its window (``None``
    after a problem, which is recorded)."""
    block = spec.get(key, {"distribution": "uniform"})
    if not isinstance(block, Mapping):
        out.add(key, 'expected {"distribution": "uniform"} or {"distribution": "weibull", ...}')
        return None
    for field in block:
        if field not in ("distribution", "late_onset_share"):
            out.add(f"{key}.{field}", "unknown field (fields: distribution, late_onset_share)")
    dist = block.get("distribution", "uniform")
    if dist == "uniform":
        if "late_onset_share" in block:
            out.add(f"{key}.late_onset_share", "only for the weibull distribution")
        return DltTime()
    if dist == "weibull":
        share = block.get("late_onset_share", 0.5)
        if not _is_number(share) or not 0 < share < 1:
            out.add(
                f"{key}.late_onset_share",
                f"expected a share strictly between 0 and 1, got {share!r}",
            )
            return None
        return DltTime(distribution="weibull", late_onset_share=float(share))
    out.add(f"{key}.distribution", f"expected 'uniform' or 'weibull', got {dist!r}")
    return None


def parse_spec(spec: Any) -> SimulationSpec:
    """A validated :class:`SimulationSpec` from a JSON-like mapping.

    Raises
    ------
    InvalidSpecError
        With every problem, each naming its field.

    Examples
    --------
    >>> spec = parse_spec({"design": {"method": "boin", "target": 0.3},
    ...                    "scenarios": [{"name": "S1", "true_dlt_probs": [0.1, 0.3, 0.5]}],
    ...                    "trials": 100, "seed": 1})
    >>> spec.designs[0].name, spec.trials, spec.conduct.accrual_per_month
    ('boin', 100, 2.0)
    >>> try:
    ...     parse_spec({"design": {"method": "boin", "target": 0.3}, "trials": 0,
    ...                 "scenarios": [{"true_dlt_probs": [0.1, 1.3]}]})
    ... except InvalidSpecError as e:
    ...     print(*(p.field for p in e.problems))
    trials scenarios[0].true_dlt_probs[1]
    """
    out = _Collector()
    if not isinstance(spec, Mapping):
        raise InvalidSpecError([Problem(field="spec", message="expected a JSON object")])
    spec = whole_numbers(dict(spec))
    for key in spec:
        if key not in _KEYS:
            out.add(str(key), f"unknown field (fields: {', '.join(sorted(_KEYS))})")
    name = spec.get("name")
    if name is not None and not isinstance(name, str):
        out.add("name", f"expected a string, got {name!r}")
        name = None
    seed = spec.get("seed")
    if seed is None:
        seed = int(cast(int, np.random.SeedSequence().entropy) % (2**63))
    elif (why := LIMITS["seed"].check(seed)) is not None:
        out.add("seed", why)
        seed = 0
    trials = spec.get("trials", DEFAULT_TRIALS)
    if not _is_int(trials) or not 1 <= trials <= MAX_TRIALS:
        out.add("trials", f"expected a whole number from 1 to {MAX_TRIALS}, got {trials!r}")
    ties = spec.get("benchmark_ties", "lower")
    ratio = spec.get("unacceptable_ratio", UNACCEPTABLE_RATIO)
    _check_benchmark_options(ties, ratio, out)
    entries = _designs(spec, out)
    scenarios: list[Scenario] = []
    random: Mapping[str, Any] | None = None
    if "scenarios" not in spec:
        out.add("scenarios", "missing: give a list of scenarios or random scenarios")
    else:
        scenarios, random = _scenarios(spec["scenarios"], cast(int, seed), out)
    conduct = _conduct(spec, out)
    expansion: ExpansionStage | None = None
    if "expansion" in spec:
        expansion, problems = parse_expansion_stage(
            spec["expansion"],
            n_levels=sorted({s.n_levels for s in scenarios}),
            responses_in_scenarios=_responses_in_every_scenario(spec.get("scenarios"), scenarios),
        )
        out.problems += problems
    if expansion is not None or "expansion" not in spec:
        for k, scenario in enumerate(scenarios):
            _check_truths(scenario, k, expansion, out)
    amounts = _dose_amounts(spec.get("dose_amounts"), scenarios, out)
    built: dict[tuple[int, int], Design] = {}
    for i, (field, entry) in enumerate(entries):
        for n_levels in sorted({s.n_levels for s in scenarios}):
            try:
                design = parse_design(
                    entry.block, n_doses=n_levels, dose_amounts=amounts, field=field
                )
            except InvalidDesignError as e:
                out.problems += [p for p in e.problems if p not in out.problems]
                break
            if entry.engine != "auto" and not ENGINES[entry.engine].supports(design, conduct):
                out.add(
                    f"{field}.engine",
                    f"engine {entry.engine!r} cannot run this design under this conduct",
                )
                break
            built[(i, n_levels)] = design
            if design.uses_efficacy:
                for k, sc in enumerate(scenarios):
                    if sc.true_response_probs is None and sc.n_levels == n_levels:
                        out.add(
                            f"scenarios[{k}].true_response_probs",
                            f"missing: design {entry.name!r} ({design.method}) decides on "
                            "responses too",
                        )
        plan = next((d.backfill for (j, _), d in built.items() if j == i), None)
        if plan is not None and plan.min_responses:
            for k, scenario in enumerate(scenarios):
                if scenario.true_response_probs is None:
                    out.add(
                        f"scenarios[{k}].true_response_probs",
                        f"missing: design {entry.name!r} backfills only after "
                        f"{plan.min_responses} response(s) at a level",
                    )
    if (
        conduct.response_time is not None
        and built
        and not any(d.uses_efficacy for d in built.values())
    ):
        out.add(
            "response_time",
            "only designs that decide on responses (boin12, tite-boin12) simulate a response's "
            "day inside the efficacy window; none of these designs does (backfill opens on a "
            "response known at the end of the DLT window, as R bfboin)",
        )
    if out.problems:
        raise InvalidSpecError(out.problems)
    return SimulationSpec(
        name=name,
        designs=tuple(e for _, e in entries),
        scenarios=tuple(scenarios),
        random=random,
        conduct=conduct,
        trials=cast(int, trials),
        seed=cast(int, seed),
        designs_by_levels=built,
        benchmark_ties=ties,
        unacceptable_ratio=float(ratio),
        expansion=expansion,
    )


def _responses_in_every_scenario(raw: Any, scenarios: Sequence[Scenario]) -> frozenset[str] | None:
    """The indications whose true response probabilities every listed scenario gives; ``None``
    when a listed scenario is invalid (its problems are named already: whether it gives them is
    unknown, so the expansion stage does not ask for them as well)."""
    if isinstance(raw, list) and raw and len(scenarios) != len(raw):
        return None
    if not isinstance(raw, list) or not scenarios:
        return frozenset()
    names = [{n for n, t in s.expansion if t.true_response_probs is not None} for s in scenarios]
    return frozenset(set.intersection(*names))


def _dose_amounts(
    value: Any, scenarios: Sequence[Scenario], out: _Collector
) -> list[float | None] | None:
    """``dose_amounts``: the amount (e.g. cells/kg) of each level, for designs that model it (BLRM)."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or not all(_is_number(a) and a > 0 for a in value)
        or any(b <= a for a, b in pairwise(value))
    ):
        out.add(
            "dose_amounts", f"expected increasing positive numbers, one per level, got {value!r}"
        )
        return None
    for s in scenarios:
        if s.n_levels != len(value):
            out.add(
                "dose_amounts",
                f"{len(value)} amounts, but scenario {s.name!r} has {s.n_levels} levels",
            )
            return None
    return [float(a) for a in value]
