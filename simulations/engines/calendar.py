"""The calendar the fast engines share: cohorts of every trial of a block at once, numpy only.

A fast engine (BOIN, CRM, 3+3) keeps only its dose rule; :class:`CohortCalendar` runs the harness's
calendar under ``decision_timing`` ``complete`` for every trial of the block, as the generic
engine (:mod:`simulations.engines.generic`) does for one trial:

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
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from simulations.engines.base import BoolArray, FloatArray, IntArray
from simulations.patients import Conduct, PatientBlock

__all__ = ["CohortCalendar"]


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
        Set by :meth:`next_decision`: the next patient's arrival day and the decision's day.
    """

    def __init__(
        self, block: PatientBlock, conduct: Conduct, *, cohort_size: int, max_patients: int
    ) -> None:
        n_trials = block.n_trials
        self.block = block
        self.conduct = conduct
        self.size = cohort_size
        self.n_max = max_patients
        self.window = conduct.dlt_window_days
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

    def _column(self, values: npt.NDArray[Any], k: int) -> npt.NDArray[Any]:
        """Each trial's value for its next arrival + k."""
        if not self.lose:  # trials go in step: every active trial is at the same patient
            return np.asarray(values[:, int(self.nxt[self._first_active]) + k])
        return np.asarray(np.take(values, self.trial * values.shape[1] + self.nxt + k))

    def treat(self, p: FloatArray) -> tuple[IntArray, IntArray]:
        """Infuse each active trial's next cohort at DLT probability ``p`` (per trial).

        Returns the cohort's size (0 for an inactive trial) and its number of DLTs, per trial.
        """
        block, window, active = self.block, self.window, self.active
        self._first_active = int(np.argmax(active))
        cohort = np.where(active, np.minimum(self.size, self.n_max - self.total), 0)
        block.ensure(int(self.nxt.max()) + self.size + 1)
        day, known, last = self.day, self.known, self.last
        n_dlt = np.zeros(block.n_trials, dtype=np.int64)
        for k in range(self.size):
            has = cohort > k
            infused = np.maximum(day, self._column(block.arrival_day, k))
            dlt = has & (self._column(block.tolerance, k) < p)
            offset = self.conduct.dlt_time.offset_days(self._column(block.onset, k), p, window)
            event = infused + np.where(dlt, offset, window)
            known = np.where(has, np.maximum(known, event), known)
            last = np.where(has, infused, last)
            n_dlt += dlt
        self.known, self.last = known, last
        self.nxt += cohort
        self.total += cohort
        self.day = np.where(active, last, day)
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

    def proceed(self) -> None:
        """The active trials' next cohort starts on the decision day (the delay recorded)."""
        active = self.active
        self.delay += np.where(active, self.decision_day - self.arrival, 0)
        self.day = np.where(active, self.decision_day, self.day)

    def duration_days(self) -> IntArray:
        """Day 0 to the end of the last patient's DLT window (0 for a trial with no patient)."""
        return np.asarray(np.where(self.total > 0, self.last + self.window, 0), dtype=np.int64)
