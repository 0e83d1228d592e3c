"""The generic engine: any design, one trial at a time, through ``design.decide``.

The trial calendar (DESIGN.md section 5), in whole study days:

1. Patients arrive in order (:class:`~simulations.patients.PatientBlock`); the first on day 0.
2. When the next patient is ready, the design is asked for the next cohort's dose on the data as of
   that day (with ``decision_timing: complete``, the harness first waits until every treated
   patient's outcome is known). Patients still inside their window are pending; a DLT is known from
   its day on.
3. ``stop``: the trial ends. ``wait`` (pending patients, accrual suspension): with
   ``suspended_arrivals: wait`` the patient waits and the design is asked again at the next event
   (a DLT, a window closing, or the day the design named), the delay being recorded; with
   ``lost`` the patient is lost and the design is asked again when the next one arrives.
4. Otherwise the cohort (``cohort_size`` patients, fewer at the end) gets the recommended dose: its
   first patient on the decision day, each further one on arrival (no decisions inside a cohort).
5. The trial ends once ``max_patients`` have been treated. Its duration runs to the end of the last
   patient's window; the final selection is ``design.select`` on complete follow-up, and the DLTs
   counted are every DLT in the treated patients' windows.

This engine is the definition of the harness's conduct: a fast engine must reproduce it trial for
trial on the same patients.
"""

from __future__ import annotations

import logging

import numpy as np

from escalation import Action, Design, Patient, TrialData
from simulations.engines.base import FloatArray, TrialOutcomes, resolve_timing
from simulations.patients import Conduct, PatientBlock

__all__ = ["GenericEngine", "simulate_trial"]

log = logging.getLogger(__name__)

#: decisions one trial may take before the harness calls the design broken
_MAX_DECISIONS = 100_000


class GenericEngine:
    """Runs any design (see the module docstring)."""

    name = "generic"

    def supports(self, design: Design, conduct: Conduct) -> bool:
        return True

    def run(
        self, design: Design, probs: FloatArray, block: PatientBlock, conduct: Conduct
    ) -> TrialOutcomes:
        n_trials, n_doses = block.n_trials, design.n_doses
        selected = np.full(n_trials, -1, dtype=np.int64)
        n_at = np.zeros((n_trials, n_doses), dtype=np.int64)
        y_at = np.zeros((n_trials, n_doses), dtype=np.int64)
        early = np.zeros(n_trials, dtype=np.bool_)
        duration = np.zeros(n_trials, dtype=np.int64)
        delay = np.zeros(n_trials, dtype=np.int64)
        lost = np.zeros(n_trials, dtype=np.int64)
        last = np.full(n_trials, -1, dtype=np.int64)
        for t in range(n_trials):
            r = simulate_trial(design, probs, block, t, conduct)
            selected[t] = r.selected_index
            n_at[t], y_at[t] = r.n_at_dose, r.dlt_at_dose
            early[t], duration[t], delay[t], lost[t] = (
                r.stopped_early,
                r.duration_days,
                r.delay_days,
                r.lost,
            )
            last[t] = r.last_index
        return TrialOutcomes(
            selected_index=selected,
            n_at_dose=n_at,
            dlt_at_dose=y_at,
            stopped_early=early,
            duration_days=duration,
            delay_days=delay,
            lost=lost,
            last_index=last,
        )


class _Treated:
    """One treated patient, with the outcome the simulation knows in advance."""

    __slots__ = ("dlt", "dlt_day", "dose_level", "infused_day", "patient_id")

    def __init__(
        self, patient_id: str, dose_level: int, infused_day: int, dlt: bool, dlt_day: int
    ) -> None:
        self.patient_id = patient_id
        self.dose_level = dose_level
        self.infused_day = infused_day
        self.dlt = dlt
        self.dlt_day = dlt_day

    def event_day(self, window: int) -> int:
        """The day the outcome is known: the DLT, or the end of the window."""
        return self.dlt_day if self.dlt else self.infused_day + window

    def as_of(self, day: int) -> Patient:
        """The patient as the trial sees it on ``day``."""
        known = self.dlt and self.dlt_day <= day
        return Patient(
            patient_id=self.patient_id,
            dose_level=self.dose_level,
            infused_day=self.infused_day,
            dlt=known,
            dlt_day=self.dlt_day if known else None,
        )


class _TrialResult:
    __slots__ = (
        "delay_days",
        "dlt_at_dose",
        "duration_days",
        "last_index",
        "lost",
        "n_at_dose",
        "selected_index",
        "stopped_early",
    )

    def __init__(self, n_doses: int) -> None:
        self.selected_index = -1
        self.n_at_dose = np.zeros(n_doses, dtype=np.int64)
        self.dlt_at_dose = np.zeros(n_doses, dtype=np.int64)
        self.stopped_early = False
        self.duration_days = 0
        self.delay_days = 0
        self.lost = 0
        self.last_index = -1


def _data(
    design: Design, treated: list[_Treated], day: int, window: int, level: int | None
) -> TrialData:
    return TrialData(
        n_doses=design.n_doses,
        patients=tuple(p.as_of(day) for p in treated),
        as_of_day=day,
        dlt_window_days=window,
        current_level=level,
    )


def simulate_trial(
    design: Design, probs: FloatArray, block: PatientBlock, trial: int, conduct: Conduct
) -> _TrialResult:
    """One trial of the block (row ``trial``), by the calendar of the module docstring."""
    window = conduct.dlt_window_days
    timing = resolve_timing(design, conduct)
    lose = conduct.suspended_arrivals == "lost"
    result = _TrialResult(design.n_doses)
    treated: list[_Treated] = []
    level: int | None = None
    j = 0  # the next arrival
    day = 0
    for _ in range(_MAX_DECISIONS):
        if len(treated) >= design.max_patients:
            break
        block.ensure(j + design.cohort_size + 1)
        arrival = int(block.arrival_day[trial, j])
        if timing == "complete" and treated:
            known = max(p.event_day(window) for p in treated)
            if lose:
                while int(block.arrival_day[trial, j]) < known:
                    j += 1
                    result.lost += 1
                    block.ensure(j + design.cohort_size + 1)
                arrival = int(block.arrival_day[trial, j])
                day = arrival
            else:
                day = max(day, arrival, known)
        else:
            day = arrival if lose else max(day, arrival)
        decision = design.decide(_data(design, treated, day, window, level))
        if decision.action is Action.STOP:
            result.stopped_early = True
            break
        if decision.action is Action.WAIT:
            if lose:
                j += 1
                result.lost += 1
                continue
            assert decision.wait_until_day is not None
            upcoming = [
                e for p in treated if (e := p.event_day(window)) > day
            ]  # the next DLT or window closing
            nxt = min([decision.wait_until_day, *upcoming])
            if nxt <= day:
                raise RuntimeError(
                    f"{design.method}: waits on day {day} with nothing pending until {nxt}"
                )
            day = nxt
            continue
        assert decision.next_level is not None
        level = decision.next_level
        dose = level - 1
        result.delay_days += day - arrival
        size = min(design.cohort_size, design.max_patients - len(treated))
        for _k in range(size):
            infused = max(day, int(block.arrival_day[trial, j]))
            dlt = bool(block.tolerance[trial, j] < probs[dose])
            offset = int(conduct.dlt_time.offset_days(block.onset[trial, j], probs[dose], window))
            treated.append(
                _Treated(f"P{len(treated) + 1:04d}", level, infused, dlt, infused + offset)
            )
            result.n_at_dose[dose] += 1
            result.dlt_at_dose[dose] += dlt
            j += 1
        day = treated[-1].infused_day
    else:
        raise RuntimeError(f"{design.method}: no end after {_MAX_DECISIONS} decisions")
    if treated:
        last = max(p.infused_day for p in treated)
        result.duration_days = last + window
        final = _data(design, treated, last + window, window, level)
    else:
        final = TrialData(n_doses=design.n_doses, dlt_window_days=window)
    selection = design.select(final)
    result.last_index = -1 if level is None else level - 1
    result.selected_index = -1 if selection.dose_level is None else selection.dose_level - 1
    return result
