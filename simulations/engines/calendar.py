"""The calendar the fast engines share: cohorts of every trial of a block at once, numpy only.

A fast engine (BOIN, CRM, 3+3, TITE-BOIN, TITE-CRM) keeps only its dose rule;
:class:`CohortCalendar` runs the harness's calendar for every trial of the block, as the generic
engine (:mod:`simulations.engines.generic`) does for one trial. Under ``decision_timing``
``complete`` (BOIN, CRM, 3+3):

* :meth:`CohortCalendar.treat` infuses each active trial's next cohort at its current dose's
  probability: each patient on the later of the decision day and its arrival day, a DLT when its
  tolerance is below the probability, the outcome known at the DLT's day (its onset quantile under
  ``conduct.dlt_time``) or at the end of the window; the trial ends at ``max_patients``;
* :meth:`CohortCalendar.next_decision` finds the day of the next decision: once every outcome is
  known and a patient is there (``suspended_arrivals: wait``: the patient who arrived first, treated
  late, the delay recorded), or the first patient arriving after every outcome is known (``lost``:
  those arriving before are lost);
* :meth:`CohortCalendar.stop` and :meth:`CohortCalendar.proceed` apply the engine's decision.

The engine's loop::

    cal = CohortCalendar(block, conduct, cohort_size=..., max_patients=...)
    while cal.active.any():
        cohort, n_dlt = cal.treat(probs[cur])
        ...  # count the cohort at its dose
        if not cal.active.any():
            break
        cal.next_decision()
        ...  # the dose rule: cal.stop(stop); cur = ...; cal.proceed()

Under ``decision_timing`` ``arrival`` (time-to-event designs, ``timing="arrival"``) the design is
asked whenever a patient is ready, with the patients still inside their window pending: the
calendar keeps every treated patient (:attr:`CohortCalendar.patients`: dose, infusion day, DLT,
the day the outcome is known) for the engine to see them as of the decision day
(:meth:`CohortCalendar.as_of`), and

* :meth:`CohortCalendar.arrive` sets the decision day: the next patient's arrival (``lost``), or
  the later of it and the day the trial got to (``wait``);
* :meth:`CohortCalendar.suspend` applies a ``wait`` decision (accrual suspension): with ``lost``
  the patient is lost and the next arrival is asked; with ``wait`` the trial moves on to the next
  event (the day the design named, or the next DLT or window closing, whichever comes first);
* :meth:`CohortCalendar.proceed` and :meth:`CohortCalendar.treat` take a mask, the trials that go
  on with a cohort now.

The engine's loop::

    cal = CohortCalendar(block, conduct, cohort_size=..., max_patients=..., timing="arrival")
    cal.treat(probs[cur], dose=cur)  # the first cohort, at the starting dose on day 0
    while cal.active.any():
        cal.arrive()
        ...  # the dose rule on cal.as_of(rows): stop, wait (until), or a dose
        cal.stop(stop); cal.suspend(wait, until)
        go = cal.active & ~wait; cur = ...; cal.proceed(go)
        cal.treat(probs[cur], go=go, dose=cur)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from simulations.engines.base import BoolArray, FloatArray, IntArray, TrialOutcomes
from simulations.patients import Conduct, PatientBlock

__all__ = ["CohortCalendar", "Patients", "PatientsAsOf"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Patients:
    """Every treated patient of some trials, by trial and order of treatment (arrays (trials, k)).

    ``treated`` marks the columns that hold a patient; ``event_day`` is the day the outcome is
    known: the DLT's day, or the end of the window.
    """

    treated: BoolArray
    dose_index: IntArray
    infused_day: IntArray
    dlt: BoolArray
    event_day: IntArray


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientsAsOf:
    """The patients as the trials see them on their decision day (arrays (trials, k)), as
    :class:`escalation.TrialData` would: a DLT is known from its day on, a patient without one is
    complete once the window has closed, pending before."""

    patients: Patients
    day: IntArray
    dlt_known: BoolArray
    pending: BoolArray
    followup_days: IntArray


class CohortCalendar:
    """The calendar of every trial of a block (arrays by trial; see the module docstring).

    Attributes
    ----------
    active : numpy.ndarray
        The trial goes on (neither stopped nor at ``max_patients``).
    early : numpy.ndarray
        The trial was stopped by a rule (:meth:`stop`).
    total : numpy.ndarray
        Patients treated.
    nxt : numpy.ndarray
        The trial's next arrival (its column in the block).
    day : numpy.ndarray
        The decision day: no patient is infused before it.
    known : numpy.ndarray
        Every treated patient's outcome is known from this day.
    last : numpy.ndarray
        The last infusion's day.
    delay, lost : numpy.ndarray
        Days cohorts waited after their first patient was ready, and patients lost while the trial
        was suspended (:class:`~simulations.engines.base.TrialOutcomes`).
    arrival, decision_day : numpy.ndarray
        Set by :meth:`next_decision` (or :meth:`arrive`): the next patient's arrival day and the
        decision's day.
    """

    def __init__(
        self,
        block: PatientBlock,
        conduct: Conduct,
        *,
        cohort_size: int,
        max_patients: int,
        timing: Literal["complete", "arrival"] = "complete",
        efficacy_window_days: int | None = None,
    ) -> None:
        n_trials = block.n_trials
        self.block = block
        self.conduct = conduct
        self.size = cohort_size
        self.n_max = max_patients
        self.window = conduct.dlt_window_days
        #: designs that use efficacy: every outcome is known once the response is assessed too
        self.efficacy_window = efficacy_window_days
        self.follow_up = max(self.window, efficacy_window_days or 0)
        self.lose = conduct.suspended_arrivals == "lost"
        self.trial = np.arange(n_trials)
        self.active: BoolArray = np.ones(n_trials, dtype=np.bool_)
        self.early: BoolArray = np.zeros(n_trials, dtype=np.bool_)
        self.total: IntArray = np.zeros(n_trials, dtype=np.int64)
        self.nxt: IntArray = np.zeros(n_trials, dtype=np.int64)
        self.day: IntArray = np.zeros(n_trials, dtype=np.int64)
        self.known: IntArray = np.zeros(n_trials, dtype=np.int64)
        self.last: IntArray = np.zeros(n_trials, dtype=np.int64)
        self.delay: IntArray = np.zeros(n_trials, dtype=np.int64)
        self.lost: IntArray = np.zeros(n_trials, dtype=np.int64)
        self.arrival: IntArray = np.zeros(n_trials, dtype=np.int64)
        self.decision_day: IntArray = np.zeros(n_trials, dtype=np.int64)
        self._first_active = 0
        # under "complete" every active trial treats a cohort at every step: they go in step
        self.timing = timing
        self._in_step = timing == "complete" and not self.lose
        self._record = timing == "arrival"
        shape = (n_trials, max_patients if self._record else 0)
        self._dose_index = np.zeros(shape, dtype=np.int64)
        self._infused = np.zeros(shape, dtype=np.int64)
        self._dlt = np.zeros(shape, dtype=np.bool_)
        self._event = np.zeros(shape, dtype=np.int64)

    def _column(self, values: npt.NDArray[Any], k: int) -> npt.NDArray[Any]:
        """Each trial's value for its next arrival + k."""
        if self._in_step:  # every active trial is at the same patient
            return np.asarray(values[:, int(self.nxt[self._first_active]) + k])
        return np.asarray(np.take(values, self.trial * values.shape[1] + self.nxt + k))

    def treat(
        self,
        p: FloatArray,
        q: FloatArray | None = None,
        response_tolerance: FloatArray | None = None,
        *,
        go: BoolArray | None = None,
        dose: IntArray | None = None,
    ) -> tuple[IntArray, IntArray]:
        """Infuse the next cohort at DLT probability ``p`` (per trial) in the trials ``go`` (by
        default every active trial); under ``timing="arrival"`` the patients are kept, at ``dose``.

        Returns the cohort's size (0 for a trial without one) and its number of DLTs, per trial.
        With ``q`` (response probability per trial) and the block's ``response_tolerance``, the
        responses are counted too (:attr:`n_eff`, and :attr:`n_both` with a DLT), each known at
        the end of the efficacy window.
        """
        block, window, active = self.block, self.window, self.active
        go = active if go is None else go & active
        self._first_active = int(np.argmax(go))
        cohort = np.where(go, np.minimum(self.size, self.n_max - self.total), 0)
        block.ensure(int(self.nxt.max()) + self.size + 1)
        day, known, last = self.day, self.known, self.last
        n_dlt = np.zeros(block.n_trials, dtype=np.int64)
        self.n_eff = np.zeros(block.n_trials, dtype=np.int64)
        self.n_both = np.zeros(block.n_trials, dtype=np.int64)
        for k in range(self.size):
            has = cohort > k
            infused = np.maximum(day, self._column(block.arrival_day, k))
            dlt = has & (self._column(block.tolerance, k) < p)
            offset = self.conduct.dlt_time.offset_days(self._column(block.onset, k), p, window)
            event = infused + np.where(dlt, offset, window)
            if q is not None and response_tolerance is not None:
                eff = has & (self._column(response_tolerance, k) < q)
                self.n_eff += eff
                self.n_both += eff & dlt
                event = np.maximum(event, infused + (self.efficacy_window or 0))
            known = np.where(has, np.maximum(known, event), known)
            last = np.where(has, infused, last)
            n_dlt += dlt
            if self._record:
                rows = np.flatnonzero(has)
                column = self.total[rows] + k
                assert dose is not None, "timing='arrival' keeps each patient's dose"
                self._dose_index[rows, column] = dose[rows]
                self._infused[rows, column] = infused[rows]
                self._dlt[rows, column] = dlt[rows]
                self._event[rows, column] = event[rows]
        self.known, self.last = known, last
        self.nxt += cohort
        self.total += cohort
        self.day = np.where(go, last, day)
        active &= self.total < self.n_max
        return cohort, n_dlt

    def next_decision(self) -> None:
        """The next decision: once every outcome is known and a patient is there (sets
        :attr:`arrival` and :attr:`decision_day`; counts the arrivals lost while suspended)."""
        block = self.block
        block.ensure(int(self.nxt.max()) + 1)
        if self.lose:
            while True:
                too_soon = self.active & (self._column(block.arrival_day, 0) < self.known)
                if not too_soon.any():
                    break
                self.nxt += too_soon
                self.lost += too_soon
                block.ensure(int(self.nxt.max()) + 1)
            self.arrival = self._column(block.arrival_day, 0)
            self.decision_day = self.arrival
        else:
            self.arrival = self._column(block.arrival_day, 0)
            self.decision_day = np.maximum(self.arrival, self.known)

    def stop(self, stop: BoolArray) -> None:
        """Stop the active trials where ``stop`` holds (a rule's early stop)."""
        stop = stop & self.active
        self.early |= stop
        self.active &= ~stop

    def proceed(self, go: BoolArray | None = None) -> None:
        """The next cohort of the trials ``go`` (default: every active trial) starts on the
        decision day (the delay recorded)."""
        go = self.active if go is None else go & self.active
        self.delay += np.where(go, self.decision_day - self.arrival, 0)
        self.day = np.where(go, self.decision_day, self.day)

    # ---- decision_timing "arrival" -------------------------------------------------------------
    def arrive(self) -> None:
        """The next decision of every active trial: when its next patient is there (sets
        :attr:`arrival` and :attr:`decision_day`)."""
        self.block.ensure(int(self.nxt.max()) + self.size + 1)
        self.arrival = self._column(self.block.arrival_day, 0)
        self.decision_day = self.arrival if self.lose else np.maximum(self.day, self.arrival)

    def patients(self, rows: IntArray) -> Patients:
        """The patients treated so far in the trials ``rows`` (``timing="arrival"``)."""
        width = int(self.total[rows].max(initial=0))
        treated = np.arange(width) < self.total[rows][:, None]
        return Patients(
            treated=treated,
            dose_index=self._dose_index[rows, :width],
            infused_day=self._infused[rows, :width],
            dlt=self._dlt[rows, :width],
            event_day=self._event[rows, :width],
        )

    def as_of(self, rows: IntArray) -> PatientsAsOf:
        """The patients of the trials ``rows`` as of their decision day."""
        patients = self.patients(rows)
        day = self.decision_day[rows]
        followup = day[:, None] - patients.infused_day
        dlt_known = patients.dlt & (patients.event_day <= day[:, None])
        pending = patients.treated & ~dlt_known & (followup < self.window)
        return PatientsAsOf(
            patients=patients, day=day, dlt_known=dlt_known, pending=pending, followup_days=followup
        )

    def suspend(self, wait: BoolArray, until: IntArray) -> None:
        """Accrual is suspended in the active trials ``wait``: with ``suspended_arrivals: lost``
        the patient there is lost; with ``wait`` the trial moves on to the earlier of ``until``
        (per trial) and its next event (a DLT or a window closing after the decision day)."""
        wait = wait & self.active
        if self.lose:
            self.nxt += wait
            self.lost += wait
            return
        rows = np.flatnonzero(wait)
        if not rows.size:
            return
        day = self.decision_day[rows]
        patients = self.patients(rows)
        upcoming = np.where(
            patients.treated & (patients.event_day > day[:, None]),
            patients.event_day,
            np.iinfo(np.int64).max,
        )
        nxt = np.minimum(until[rows], upcoming.min(axis=1, initial=np.iinfo(np.int64).max))
        if np.any(nxt <= day):
            raise RuntimeError("a trial waits with nothing pending")
        self.day[rows] = nxt

    def duration_days(self) -> IntArray:
        """Day 0 to the end of the last patient's DLT window, or efficacy window for a design that
        uses efficacy (0 for a trial with no patient)."""
        return np.asarray(np.where(self.total > 0, self.last + self.follow_up, 0), dtype=np.int64)

    def outcomes(
        self,
        selected: npt.ArrayLike,
        n: IntArray,
        y: IntArray,
        last_index: IntArray,
        eff_at_dose: IntArray | None = None,
    ) -> TrialOutcomes:
        """The block's outcomes: an engine's final selections, its counts per dose and the last
        cohort's dose, with this calendar's early stops, durations, delays and lost arrivals."""
        return TrialOutcomes(
            selected_index=np.asarray(selected, dtype=np.int64),
            n_at_dose=n,
            dlt_at_dose=y,
            stopped_early=self.early,
            duration_days=self.duration_days(),
            delay_days=self.delay,
            lost=self.lost,
            last_index=last_index,
            eff_at_dose=eff_at_dose,
        )
