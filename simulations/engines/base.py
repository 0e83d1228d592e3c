"""What every engine returns, and how an engine is chosen for a design.

An engine simulates a block of trials of one design on one scenario's patients
(:class:`~simulations.patients.PatientBlock`) and returns one :class:`TrialOutcomes`. The generic
engine (:mod:`simulations.engines.generic`) runs any :class:`escalation.Design` trial by trial through
``design.decide``; a fast engine vectorizes one design over trials with numpy and must give the same
trials (tests/simulations/test_engines.py checks it on common random numbers). Adding a design to
the harness needs nothing (the generic engine runs it); making it fast is one more engine in
:data:`simulations.engines.FAST_ENGINES`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from escalation import Design, WaitForOutcomes, WaitForPending
from simulations.patients import Conduct, PatientBlock

__all__ = ["Efficacy", "Engine", "TrialOutcomes", "resolve_timing"]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
#: a design's elimination, stopping, waiting and constraint rules, as rule objects (frozen
#: dataclasses: compared with ``==``, field by field)
RuleSet = tuple[object, ...]


class DosesTried:
    """Per trial of a block, as an escalation engine advances it: the current dose index, the
    patients and DLTs per dose (every treated patient, pending ones included), and the highest
    dose index tried (-1 before the first patient). The arrays are updated in place, so an
    engine may hold them under short names."""

    def __init__(self, n_trials: int, n_doses: int, start_index: int) -> None:
        self.cur: IntArray = np.full(n_trials, start_index, dtype=np.int64)
        self.n: IntArray = np.zeros((n_trials, n_doses), dtype=np.int64)
        self.y: IntArray = np.zeros((n_trials, n_doses), dtype=np.int64)
        self.highest: IntArray = np.full(n_trials, -1, dtype=np.int64)
        self._trial = np.arange(n_trials)

    def treated(self, cohort: IntArray, n_dlt: IntArray) -> None:
        """Record, per trial, a cohort of ``cohort`` patients with ``n_dlt`` DLTs at the
        current dose (0 patients where a trial treated none)."""
        self.n[self._trial, self.cur] += cohort
        self.y[self._trial, self.cur] += n_dlt
        np.maximum(self.highest, self.cur, out=self.highest, where=np.asarray(cohort) > 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialOutcomes:
    """Per-trial results of a block (arrays by trial; dose indices from 0).

    Attributes
    ----------
    selected_index : numpy.ndarray
        The final recommended dose index, -1 for none.
    n_at_dose, dlt_at_dose : numpy.ndarray
        Shape (trials, doses): patients treated and DLTs (with complete follow-up) per dose.
    stopped_early : numpy.ndarray
        The trial was stopped by a rule before reaching its maximum sample size.
    duration_days : numpy.ndarray
        Day 0 (first infusion) to the end of the last patient's DLT window.
    delay_days : numpy.ndarray
        Days by which cohorts started after their first patient was ready (designs that wait).
    lost : numpy.ndarray
        Patients who arrived during a suspension and were lost (``suspended_arrivals: lost``).
    last_index : numpy.ndarray or None
        The dose index of the last cohort treated (-1: none), the current dose when the trial
        ended (the whole trial's final selection needs it for 3+3).
    n_backfill : numpy.ndarray or None
        Backfill patients treated (included in ``n_at_dose``); ``None`` for designs without
        backfill.
    backfill_unevaluated : numpy.ndarray or None
        Backfill patients still inside their DLT window when the trial ended (treated, but not
        in the final analysis: R bfboin leaves them out of its sample size).
    eff_at_dose : numpy.ndarray or None
        Shape (trials, doses): responses per dose (designs that use efficacy; else None).
    """

    selected_index: IntArray
    n_at_dose: IntArray
    dlt_at_dose: IntArray
    stopped_early: BoolArray
    duration_days: IntArray
    delay_days: IntArray
    lost: IntArray
    last_index: IntArray | None = None
    n_backfill: IntArray | None = None
    backfill_unevaluated: IntArray | None = None
    eff_at_dose: IntArray | None = None

    @property
    def n_trials(self) -> int:
        return int(self.selected_index.shape[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class Efficacy:
    """What a scenario says of efficacy, for the designs that use it: the true response
    probability per dose and the latent correlation of a patient's DLT and response
    (:meth:`simulations.patients.PatientBlock.response_tolerance`)."""

    response_probs: FloatArray
    correlation: float = 0.0


class Engine(Protocol):
    """Simulates blocks of trials of the designs it supports."""

    name: str

    def supports(self, design: Design, conduct: Conduct) -> bool:
        """Whether this engine reproduces ``design`` exactly under ``conduct``."""
        ...

    def run(
        self,
        design: Design,
        probs: FloatArray,
        block: PatientBlock,
        conduct: Conduct,
        efficacy: Efficacy | None = None,
    ) -> TrialOutcomes:
        """Simulate every trial of the block (``efficacy``: for a design that uses it)."""
        ...


def resolve_timing(design: Design, conduct: Conduct) -> Literal["complete", "arrival"]:
    """When the design is asked for the next cohort (see :class:`Conduct`).

    ``auto`` is ``complete`` for a design that waits for pending patients (a ``WaitForPending``
    rule), ``arrival`` for the others (time-to-event designs).
    """
    if conduct.decision_timing != "auto":
        return conduct.decision_timing
    waits = any(
        isinstance(rule, WaitForPending | WaitForOutcomes) for rule in design.rules().waiting
    )
    return "complete" if waits else "arrival"


def rule_set(design: Design) -> RuleSet:
    """The design's rules, which a fast engine compares with those it implements."""
    rules = design.rules()
    return (rules.elimination, rules.stopping, rules.waiting, rules.constraints)


def runs_on_fast_engine(
    design: Design,
    conduct: Conduct,
    cls: type[Design],
    expected: RuleSet,
    timing: Literal["complete", "arrival"] = "complete",
    *,
    unsupported: tuple[str, ...] = (),
) -> bool:
    """Whether a fast engine for designs of class ``cls`` can run ``design`` under ``conduct``.

    It can when the design is of that very class, is asked at the engine's ``timing`` (on complete
    data; at every arrival for the time-to-event engines), has no backfill option, its rules
    equal (as objects) the ``expected`` ones the engine implements, and none of the
    ``unsupported`` options (options that change no rule object, such as a final-selection option)
    is set; otherwise the generic engine runs it, and a warning says why.
    """
    if type(design) is not cls or resolve_timing(design, conduct) != timing:
        return False
    if design.backfill is not None:
        log.warning(
            "%s with backfill: the fast engine does not simulate backfill: generic engine used",
            design.method,
        )
        return False
    if unsupported:
        log.warning(
            "%s's options %s are not implemented by the fast engine: generic engine used",
            design.method,
            ", ".join(unsupported),
        )
        return False
    rules = rule_set(design)
    if rules != expected:
        log.warning(
            "%s's rules are not those the fast engine implements (%s): generic engine used",
            design.method,
            rules,
        )
        return False
    return True
