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

Backfill (designs with the ``backfill`` option, as R bfboin simulates BF-BOIN): while the escalation
cohort is pending, each arriving patient goes to a level the decision's ``backfill`` block lists as
open (chosen by the plan's ``assign`` rule; ``random`` draws from the trial's own SeedSequence
child), on arrival; one who finds no level open is lost (``lost``) or waits for the next cohort
(``wait``). Decisions wait for the escalation patients only. ``max_patients`` counts the escalation
patients; backfill goes on while the last escalation cohort is pending. The trial then ends on the
day the last escalation outcome is known (a DLT, or a window closing; R bfboin's ``max.t``): the
final selection is on the data known that day,
and backfill patients still inside their window are counted as treated and as
``backfill_unevaluated``. A patient responds at the scenario's ``true_response_probs``, the response
being known at the end of the window; for a design that uses efficacy (BOIN12) it is known
``efficacy_window_days`` after the infusion (or, with the conduct's ``response_time``, a
responder's on the day of the response drawn inside that window), the design waits for it, and
the trial runs to the end of the last patient's longer window. Either way the response is the block's one draw per
patient (:meth:`simulations.patients.PatientBlock.response_tolerance`, with the scenario's
``tox_eff_correlation``).

This engine is the definition of the harness's conduct: a fast engine must reproduce it trial for
trial on the same patients.
"""

from __future__ import annotations

import logging

import numpy as np

from escalation import Action, Design, Patient, TrialData
from simulations.engines.base import Efficacy, FloatArray, TrialOutcomes, resolve_timing
from simulations.patients import INFERENCE_TAG, Conduct, PatientBlock

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
        self,
        design: Design,
        probs: FloatArray,
        block: PatientBlock,
        conduct: Conduct,
        efficacy: Efficacy | None = None,
    ) -> TrialOutcomes:
        n_trials, n_doses = block.n_trials, design.n_doses
        eff: _Responses | None = None
        if efficacy is not None and design.uses_efficacy:
            eff = _Responses(efficacy, block)
        elif design.uses_efficacy:
            raise ValueError(f"{design.method} needs the scenario's response probabilities")
        r_at = np.zeros((n_trials, n_doses), dtype=np.int64)
        selected = np.full(n_trials, -1, dtype=np.int64)
        n_at = np.zeros((n_trials, n_doses), dtype=np.int64)
        y_at = np.zeros((n_trials, n_doses), dtype=np.int64)
        early = np.zeros(n_trials, dtype=np.bool_)
        duration = np.zeros(n_trials, dtype=np.int64)
        delay = np.zeros(n_trials, dtype=np.int64)
        lost = np.zeros(n_trials, dtype=np.int64)
        last = np.full(n_trials, -1, dtype=np.int64)
        n_backfill = np.zeros(n_trials, dtype=np.int64)
        unevaluated = np.zeros(n_trials, dtype=np.int64)
        for t in range(n_trials):
            r = simulate_trial(design, probs, block, t, conduct, eff)
            r_at[t] = r.eff_at_dose
            selected[t] = r.selected_index
            n_at[t], y_at[t] = r.n_at_dose, r.dlt_at_dose
            early[t], duration[t], delay[t], lost[t] = (
                r.stopped_early,
                r.duration_days,
                r.delay_days,
                r.lost,
            )
            last[t] = r.last_index
            n_backfill[t], unevaluated[t] = r.n_backfill, r.backfill_unevaluated
        return TrialOutcomes(
            selected_index=selected,
            n_at_dose=n_at,
            dlt_at_dose=y_at,
            stopped_early=early,
            duration_days=duration,
            delay_days=delay,
            lost=lost,
            last_index=last,
            n_backfill=n_backfill if design.backfill is not None else None,
            backfill_unevaluated=unevaluated if design.backfill is not None else None,
            eff_at_dose=r_at if eff is not None else None,
        )


class _Responses:
    """Each patient's response at a dose: w_i < q_d, w the block's response tolerances (recomputed
    when the block has drawn more arrivals)."""

    def __init__(self, efficacy: Efficacy, block: PatientBlock) -> None:
        self.probs = np.asarray(efficacy.response_probs, dtype=np.float64)
        self.correlation = efficacy.correlation
        self.block = block
        self.tolerance = block.response_tolerance(self.correlation)

    def responds(self, trial: int, j: int, dose: int) -> bool:
        if j >= self.tolerance.shape[1]:
            self.tolerance = self.block.response_tolerance(self.correlation)
        return bool(self.tolerance[trial, j] < self.probs[dose])


class _Treated:
    """One treated patient, with the outcomes the simulation knows in advance.

    ``response`` is ``None`` when the scenario gives no response probabilities. ``response_day``
    is the day the response is assessed for a design that uses efficacy (its efficacy window);
    ``None``: at the end of the DLT window (backfill's opening rule, as R bfboin), not awaited.
    """

    __slots__ = (
        "cohort",
        "dlt",
        "dlt_day",
        "dose_level",
        "infused_day",
        "patient_id",
        "response",
        "response_day",
    )

    def __init__(
        self,
        patient_id: str,
        dose_level: int,
        infused_day: int,
        dlt: bool,
        dlt_day: int,
        cohort: str = "escalation",
        response: bool | None = None,
        response_day: int | None = None,
    ) -> None:
        self.patient_id = patient_id
        self.dose_level = dose_level
        self.infused_day = infused_day
        self.dlt = dlt
        self.dlt_day = dlt_day
        self.cohort = cohort
        self.response = response
        self.response_day = response_day

    def event_day(self, window: int) -> int:
        """The day every outcome is known: the DLT, or the end of the window; and the response."""
        day = self.dlt_day if self.dlt else self.infused_day + window
        return day if self.response_day is None else max(day, self.response_day)

    def as_of(self, day: int, window: int) -> Patient:
        """The patient as the trial sees it on ``day``; a response is known at the end of the
        window (as R bfboin simulates it)."""
        known = self.dlt and self.dlt_day <= day
        response_day = self.infused_day + window if self.response_day is None else self.response_day
        responded = self.response if self.response is not None and response_day <= day else None
        return Patient(
            patient_id=self.patient_id,
            dose_level=self.dose_level,
            infused_day=self.infused_day,
            dlt=known,
            dlt_day=self.dlt_day if known else None,
            cohort=self.cohort,
            response=responded,
            response_day=response_day if responded is not None else None,
        )


class _TrialResult:
    __slots__ = (
        "backfill_unevaluated",
        "delay_days",
        "dlt_at_dose",
        "duration_days",
        "eff_at_dose",
        "last_index",
        "lost",
        "n_at_dose",
        "n_backfill",
        "selected_index",
        "stopped_early",
    )

    def __init__(self, n_doses: int) -> None:
        self.selected_index = -1
        self.n_at_dose = np.zeros(n_doses, dtype=np.int64)
        self.dlt_at_dose = np.zeros(n_doses, dtype=np.int64)
        self.eff_at_dose = np.zeros(n_doses, dtype=np.int64)
        self.stopped_early = False
        self.duration_days = 0
        self.delay_days = 0
        self.lost = 0
        self.last_index = -1
        self.n_backfill = 0
        self.backfill_unevaluated = 0


def _data(
    design: Design,
    treated: list[_Treated],
    day: int,
    window: int,
    level: int | None,
    efficacy_window: int = 90,
) -> TrialData:
    return TrialData(
        n_doses=design.n_doses,
        patients=tuple(p.as_of(day, window) for p in treated),
        as_of_day=day,
        dlt_window_days=window,
        current_level=level,
        efficacy_window_days=efficacy_window,
    )


def simulate_trial(
    design: Design,
    probs: FloatArray,
    block: PatientBlock,
    trial: int,
    conduct: Conduct,
    efficacy: _Responses | None = None,
) -> _TrialResult:
    """One trial of the block (row ``trial``), by the calendar of the module docstring.

    ``efficacy``: the patients' responses, for a design that uses efficacy: each patient's
    response is assessed ``conduct.efficacy_window_days`` after the infusion.
    """
    window = conduct.dlt_window_days
    eff_window = conduct.efficacy_window_days
    timing = resolve_timing(design, conduct)
    lose = conduct.suspended_arrivals == "lost"
    result = _TrialResult(design.n_doses)
    treated: list[_Treated] = []
    backfill = design.backfill
    rng = _backfill_rng(block, trial) if backfill is not None else None
    level: int | None = None
    j = 0  # the next arrival
    day = 0

    def n_escalation() -> int:
        if backfill is None:
            return len(treated)
        return sum(p.cohort == "escalation" for p in treated)

    def treat(index: int, dose_level: int, infused: int, cohort: str) -> None:
        dose = dose_level - 1
        dlt = bool(block.tolerance[trial, index] < probs[dose])
        offset = int(conduct.dlt_time.offset_days(block.onset[trial, index], probs[dose], window))
        response, response_day = block.responds(trial, index, dose), None
        if efficacy is not None:
            response = efficacy.responds(trial, index, dose)
            response_day = infused + eff_window
            if response:  # known on the day of the response (the window's end by default)
                response_day = infused + block.response_offset_days(
                    trial, index, float(efficacy.probs[dose])
                )
            result.eff_at_dose[dose] += response
        treated.append(
            _Treated(
                f"P{len(treated) + 1:04d}",
                dose_level,
                infused,
                dlt,
                infused + offset,
                cohort,
                response,
                response_day,
            )
        )
        result.n_at_dose[dose] += 1
        result.dlt_at_dose[dose] += dlt
        if cohort == "backfill":
            result.n_backfill += 1

    def backfill_until(known: int) -> None:
        """Backfill the arrivals before ``known`` (the escalation cohort's last outcome) to an
        open lower level; one who finds none is lost (``lost``) or waits for the next cohort."""
        nonlocal j
        open_levels: tuple[int, ...] = ()
        asked: tuple[int, int] | None = None  # (day, patients) of the last decision asked
        while True:
            block.ensure(j + design.cohort_size + 1)
            # a patient who arrived while earlier ones waited is ready when they were treated
            arrival = max(int(block.arrival_day[trial, j]), treated[-1].infused_day)
            if arrival >= known:
                return
            # the open levels change only with the patients or an outcome (a DLT, a window
            # closing, a response) becoming known: ask the design again only then
            if asked is None or asked[1] != len(treated) or _news(treated, window, *asked, arrival):
                status = design.decide(
                    _data(design, treated, arrival, window, level, eff_window)
                ).backfill
                open_levels = () if status is None else status.open_levels
                asked = (arrival, len(treated))
            target = backfill_level(open_levels)
            if target is None:
                if not lose:
                    return
                result.lost += 1
            else:
                treat(j, target, arrival, "backfill")
            j += 1

    def backfill_level(open_levels: tuple[int, ...]) -> int | None:
        assert backfill is not None
        return backfill.pick(open_levels, rng)

    for _ in range(_MAX_DECISIONS):
        if n_escalation() >= design.max_patients:
            break
        block.ensure(j + design.cohort_size + 1)
        arrival = int(block.arrival_day[trial, j])
        if timing == "complete" and treated:
            known = _escalation_known(treated, window)
            if backfill is not None:
                backfill_until(known)
                arrival = int(block.arrival_day[trial, j])
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
        decision = design.decide(_data(design, treated, day, window, level, eff_window))
        if decision.action is Action.STOP:
            result.stopped_early = True
            break
        if decision.action is Action.WAIT:
            target = (
                None
                if decision.backfill is None or arrival > day
                else backfill_level(decision.backfill.open_levels)
            )
            if target is not None:
                treat(j, target, day, "backfill")
                j += 1
                continue
            if lose:
                j += 1
                result.lost += 1
                continue
            assert decision.wait_until_day is not None
            # the next DLT, window closing, or response (one known before its window closes
            # may end the wait sooner than the design's own bound, which counts windows)
            upcoming = [e for p in treated if (e := p.event_day(window)) > day] + [
                r for p in treated if (r := p.response_day) is not None and r > day
            ]
            nxt = min([decision.wait_until_day, *upcoming])
            if nxt <= day:
                raise RuntimeError(
                    f"{design.method}: waits on day {day} with nothing pending until {nxt}"
                )
            day = nxt
            continue
        assert decision.next_level is not None
        level = decision.next_level
        result.delay_days += day - arrival
        size = min(design.cohort_size, design.max_patients - n_escalation())
        for _k in range(size):
            treat(j, level, max(day, int(block.arrival_day[trial, j])), "escalation")
            j += 1
        day = treated[-1].infused_day
    else:
        raise RuntimeError(f"{design.method}: no end after {_MAX_DECISIONS} decisions")
    if backfill is not None and treated and not result.stopped_early:
        # the last escalation cohort is pending: arrivals meanwhile are backfilled (bfboin)
        backfill_until(_escalation_known(treated, window))
    if treated:
        if backfill is None:
            follow = max(window, eff_window) if efficacy is not None else window
            end = max(p.infused_day for p in treated) + follow
        else:
            # the trial ends once every escalation outcome is known (bfboin's max.t)
            end = _escalation_known(treated, window)
        result.duration_days = end
        final = _data(design, treated, end, window, level, eff_window)
        result.backfill_unevaluated = sum(
            p.cohort == "backfill" and p.event_day(window) > end for p in treated
        )
    else:
        final = TrialData(n_doses=design.n_doses, dlt_window_days=window)
    selection = design.select(final)
    result.last_index = -1 if level is None else level - 1
    result.selected_index = -1 if selection.dose_level is None else selection.dose_level - 1
    return result


def _news(treated: list[_Treated], window: int, since: int, _n: int, day: int) -> bool:
    """Whether an outcome becomes known after day ``since`` and by ``day``: a DLT, a window
    closing, or a response."""
    return any(
        since < p.event_day(window) <= day
        or since < p.infused_day + window <= day
        or (p.response_day is not None and since < p.response_day <= day)
        for p in treated
    )


def _escalation_known(treated: list[_Treated], window: int) -> int:
    """The day every escalation patient's outcome is known (backfill patients are not awaited)."""
    return max(p.event_day(window) for p in treated if p.cohort == "escalation")


def _backfill_rng(block: PatientBlock, trial: int) -> np.random.Generator:
    """The generator of ``assign: random`` for one trial: its own SeedSequence child, keyed by
    the block and the trial's row in it, so the draws do not depend on the workers."""
    first = block.first_row
    seq = np.random.SeedSequence(
        block.seed,
        spawn_key=(INFERENCE_TAG, block.scenario_index, block.block_index, first + trial),
    )
    return np.random.Generator(np.random.PCG64(seq))
