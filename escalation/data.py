"""Trial data: doses, patients and what is known of them on a given study day.

The core counts days, never dates: the trial document parser (``escalation.documents``) turns the
document's dates into study days. A patient is infused on ``infused_day`` (the protocol's Day 1) and
is watched for dose-limiting toxicity (DLT) for ``dlt_window_days`` days. On ``as_of_day`` each
patient is in exactly one state:

* ``dlt``: a DLT was observed (on ``dlt_day``, inside the window) -- complete;
* ``complete``: the whole window passed without a DLT (``infused_day + window <= as_of_day``);
* ``withdrawn``: the patient left before completing the window without a DLT (``withdrawn_day``);
  not evaluable for non-TITE designs, partial follow-up for time-to-event (TITE) designs;
* ``pending``: still inside the window, follow-up fraction ``(as_of_day - infused_day) / window``.

Pending patients are derived from the dates, never a flag set by the caller.

Examples
--------
>>> from escalation.data import Patient, TrialData
>>> data = TrialData(n_doses=3, as_of_day=40, patients=(
...     Patient(patient_id="P001", dose_level=1, infused_day=0),
...     Patient(patient_id="P002", dose_level=1, infused_day=5, dlt=True, dlt_day=12),
...     Patient(patient_id="P003", dose_level=1, infused_day=25),
... ))
>>> data.summary.n_complete.tolist(), data.summary.n_dlt.tolist(), data.summary.n_pending.tolist()
([2, 0, 0], [1, 0, 0], [1, 0, 0])
>>> data.current_dose_level
1
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from escalation.errors import InvalidTrialDataError, Problem
from escalation.limits import LIMITS

__all__ = [
    "COHORTS",
    "DECISION_COHORTS",
    "DoseSummary",
    "EfficacySummary",
    "Patient",
    "PatientState",
    "TrialData",
    "validate_patients",
]

DEFAULT_DLT_WINDOW_DAYS = 30
#: the time by which a response is known (days after the infusion), unless the document says
DEFAULT_EFFICACY_WINDOW_DAYS = 90

#: the cohort types a patient may belong to (DESIGN.md section 7)
COHORTS = ("escalation", "backfill", "expansion")
#: the cohorts whose patients drive the escalation decisions (expansion patients do not)
DECISION_COHORTS = ("escalation", "backfill")

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class PatientState(StrEnum):
    """What is known of one patient on the as-of day."""

    DLT = "dlt"
    COMPLETE = "complete"
    PENDING = "pending"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True, kw_only=True)
class Patient:
    """One treated patient, in study days.

    Parameters
    ----------
    patient_id
        The trial's identifier of the patient (unique within a trial).
    dose_level
        The dose level received, counted from 1 as in the protocol.
    infused_day
        Study day of the infusion (the protocol's Day 1).
    dlt
        Whether a dose-limiting toxicity was observed.
    dlt_day
        Study day of the DLT; required when ``dlt`` is true, absent otherwise.
    withdrawn_day
        Study day the patient left the study before completing the window without a DLT.
    cohort
        ``"escalation"`` (the default), ``"backfill"`` (treated at a lower dose already cleared
        while an escalation cohort is pending) or ``"expansion"`` (an expansion cohort of one
        indication).
    indication
        The patient's indication, one of the trial's indications (required for expansion patients).
    response
        Whether the patient responded; ``None`` while unknown.
    response_day
        Study day the response was assessed (optional; not before the infusion nor after as-of).
    """

    patient_id: str
    dose_level: int
    infused_day: int
    dlt: bool = False
    dlt_day: int | None = None
    withdrawn_day: int | None = None
    cohort: str = "escalation"
    indication: str | None = None
    response: bool | None = None
    response_day: int | None = None


def validate_patients(
    patients: Sequence[Patient],
    *,
    n_doses: int,
    dlt_window_days: int,
    as_of_day: int,
    positions: Sequence[int] | None = None,
    indications: Sequence[str] = (),
) -> list[Problem]:
    """Every problem with the patients, each naming the field and the patient.

    ``positions`` gives each patient's index in the original document (for the field names) when
    some entries were left out because they could not be parsed at all. ``indications`` are the
    trial's indications: a patient's indication must be one of them, and an expansion patient
    must have one.
    """
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, p in enumerate(patients):
        pos = positions[i] if positions is not None else i
        where = f"patients[{pos}]"

        def add(name: str, message: str, where: str = where, pid: str = p.patient_id) -> None:
            problems.append(Problem(field=f"{where}.{name}", message=message, patient_id=pid))

        if not p.patient_id:
            add("id", "the patient id is empty")
        elif p.patient_id in seen:
            add(
                "id", f"duplicate patient id {p.patient_id!r} (also patients[{seen[p.patient_id]}])"
            )
        else:
            seen[p.patient_id] = pos
        if not 1 <= p.dose_level <= n_doses:
            add("dose_level", f"unknown dose level {p.dose_level} (levels are 1 to {n_doses})")
        if p.infused_day > as_of_day:
            add("infused_on", "infusion after the as-of date")
        window_end = p.infused_day + dlt_window_days
        if p.dlt:
            if p.dlt_day is None:
                add("dlt_on", "dlt is true but no DLT date is given")
            else:
                if p.dlt_day < p.infused_day:
                    add("dlt_on", "DLT before the infusion")
                elif p.dlt_day > window_end:
                    add("dlt_on", f"DLT after the {dlt_window_days}-day DLT window")
                if p.dlt_day > as_of_day:
                    add("dlt_on", "DLT after the as-of date")
            if p.withdrawn_day is not None:
                add("withdrawn_on", "a patient with a DLT cannot also be withdrawn")
        elif p.dlt_day is not None:
            add("dlt_on", "a DLT date is given but dlt is false")
        if p.withdrawn_day is not None and not p.dlt:
            if p.withdrawn_day < p.infused_day:
                add("withdrawn_on", "withdrawal before the infusion")
            elif p.withdrawn_day >= window_end:
                add(
                    "withdrawn_on",
                    "withdrawal on or after the end of the DLT window: the patient completed it",
                )
            if p.withdrawn_day > as_of_day:
                add("withdrawn_on", "withdrawal after the as-of date")
        problems.extend(_stage_problems(p, where, as_of_day=as_of_day, indications=indications))
    return problems


def _stage_problems(
    p: Patient, where: str, *, as_of_day: int, indications: Sequence[str]
) -> list[Problem]:
    """Problems with a patient's cohort, indication and response."""
    problems: list[Problem] = []

    def add(name: str, message: str) -> None:
        problems.append(Problem(field=f"{where}.{name}", message=message, patient_id=p.patient_id))

    if p.cohort not in COHORTS:
        add("cohort", f"unknown cohort {p.cohort!r} (cohorts: {', '.join(COHORTS)})")
    if p.indication is not None:
        if not indications:
            add("indication", f"{p.indication!r} given but the trial declares no indications")
        elif p.indication not in indications:
            add(
                "indication",
                f"unknown indication {p.indication!r} (indications: {', '.join(indications)})",
            )
    elif p.cohort == "expansion":
        add("indication", "an expansion patient needs an indication")
    if p.response_day is not None:
        if p.response is None:
            add("response_on", "a response date is given but the response is unknown")
        if p.response_day < p.infused_day:
            add("response_on", "response assessed before the infusion")
        if p.response_day > as_of_day:
            add("response_on", "response assessed after the as-of date")
    return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class DoseSummary:
    """Per-dose counts and per-patient follow-up derived from the data (arrays by dose index).

    ``n_complete`` counts patients with a DLT or a complete window; ``n_dlt`` the observed DLTs;
    ``n_pending`` the patients still inside their window; ``n_withdrawn`` those who left early;
    ``n_treated`` all of them. ``pending_followup`` is the sum over pending patients of their
    follow-up fraction (TITE-BOIN's standardized total follow-up time, STFT), and
    ``withdrawn_followup`` the same over withdrawn patients.
    """

    n_treated: IntArray
    n_complete: IntArray
    n_dlt: IntArray
    n_pending: IntArray
    n_withdrawn: IntArray
    pending_followup: FloatArray
    withdrawn_followup: FloatArray
    # per patient, in the order of TrialData.patients
    dose_index: IntArray
    dlt: BoolArray
    followup_days: IntArray
    followup_fraction: FloatArray
    state: tuple[PatientState, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialData:
    """The data of one trial on ``as_of_day``: a valid object once built.

    Parameters
    ----------
    n_doses
        Number of dose levels (levels are 1..n_doses).
    patients
        Treated patients, in any order (the order changes nothing).
    as_of_day
        The study day the data describe.
    dlt_window_days
        Length of the DLT assessment window in days (default 30).
    current_level
        The dose level of the current cohort. When absent it is the level of the most recently
        infused escalation patient (the lowest such level if several were infused that day; of any
        patient if there is no escalation patient); ``None`` before the first patient.
    counts
        Complete data given as counts: per dose, ``(n, dlt)`` patients treated and DLTs observed,
        all with complete follow-up (``from_counts``). Held as counts, so that the data cost
        O(doses) however many patients they count: ``patients`` is then empty, the per-dose
        arrays of ``summary`` hold the counts and its per-patient arrays are empty. Counted
        patients are escalation patients.
    indications
        The trial's indications (e.g. ``("SLE", "AAV")``); patients' indications are among them.
    efficacy_window_days
        The time after the infusion by which a patient's response is known (default 90): a
        patient whose response is unknown is pending for efficacy until then
        (:meth:`efficacy_summary`).

    Raises
    ------
    InvalidTrialDataError
        With every problem found, each naming the field and the patient.
    """

    n_doses: int
    patients: tuple[Patient, ...] = ()
    as_of_day: int = 0
    dlt_window_days: int = DEFAULT_DLT_WINDOW_DAYS
    current_level: int | None = None
    counts: tuple[tuple[int, int], ...] | None = None
    indications: tuple[str, ...] = ()
    last_cohort: tuple[int, int] | None = None
    efficacy_window_days: int = DEFAULT_EFFICACY_WINDOW_DAYS
    summary: DoseSummary = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "patients", tuple(self.patients))
        object.__setattr__(self, "indications", tuple(self.indications))
        problems: list[Problem] = []
        if self.n_doses < 1:
            problems.append(Problem(field="doses", message="at least one dose level is needed"))
        if (why := LIMITS["dlt_window_days"].check(self.dlt_window_days)) is not None:
            problems.append(Problem(field="dlt_window_days", message=f"days of follow-up: {why}"))
        if (why := LIMITS["efficacy_window_days"].check(self.efficacy_window_days)) is not None:
            problems.append(
                Problem(field="efficacy_window_days", message=f"days of follow-up: {why}")
            )
        if self.current_level is not None and not 1 <= self.current_level <= self.n_doses:
            problems.append(
                Problem(
                    field="current_level",
                    message=f"unknown dose level {self.current_level} (levels are 1 to {self.n_doses})",
                )
            )
        if self.counts is not None:
            problems += self._count_problems()
        if not problems:
            problems = validate_patients(
                self.patients,
                n_doses=self.n_doses,
                dlt_window_days=self.dlt_window_days,
                as_of_day=self.as_of_day,
                indications=self.indications,
            )
        if problems:
            raise InvalidTrialDataError(problems)
        object.__setattr__(self, "summary", self._summarize())

    @classmethod
    def from_counts(
        cls,
        n_at_dose: Sequence[int],
        dlt_at_dose: Sequence[int],
        *,
        current_level: int | None,
        dlt_window_days: int = DEFAULT_DLT_WINDOW_DAYS,
        last_cohort: tuple[int, int] | None = None,
    ) -> TrialData:
        """Complete data given as counts per dose (no pending patients can be expressed).

        Counts carry no order: CRM's coherence rule then takes the DLTs at the current level as
        the most recent (the cautious reading). ``last_cohort`` = (n, dlt) says what the n most
        recent patients at ``current_level`` had, so that the rule reads them as the patients
        form would.

        The data are held as counts (``counts``), so they cost O(doses) whatever the counts: the
        counted patients are infused on day 0 and complete on the as-of day, and decisions are
        those on the same patients given one by one.
        """
        problems: list[Problem] = []
        if len(n_at_dose) != len(dlt_at_dose):
            problems.append(Problem(field="counts", message="n and dlt lists differ in length"))
            raise InvalidTrialDataError(problems)
        counts = tuple((int(n), int(y)) for n, y in zip(n_at_dose, dlt_at_dose, strict=True))
        if current_level is None and any(n > 0 for n, _ in counts):
            # every counted patient is infused on day 0: the lowest level treated is the
            # current one, as for patients infused on the same day
            current_level = next(i + 1 for i, (n, _) in enumerate(counts) if n > 0)
        return cls(
            n_doses=len(counts),
            as_of_day=dlt_window_days,
            dlt_window_days=dlt_window_days,
            current_level=current_level,
            counts=counts,
            last_cohort=last_cohort,
        )

    def _last_cohort_problems(
        self, counts: tuple[tuple[int, int], ...], last: tuple[int, int]
    ) -> list[Problem]:
        cur = self.current_level
        if cur is None or not 1 <= cur <= len(counts):
            return [Problem(field="last_cohort", message="needs the current_level it belongs to")]
        (n_cur, y_cur), (n, y) = counts[cur - 1], last
        if not 1 <= n <= n_cur:
            return [
                Problem(
                    field="last_cohort.n",
                    message=f"expected 1 to {n_cur} (the patients at dose level {cur}), got {n}",
                )
            ]
        if not 0 <= y <= n or y > y_cur or n - y > n_cur - y_cur:
            return [
                Problem(
                    field="last_cohort.dlt",
                    message=f"{y} DLTs among {n} patients do not fit the {y_cur} DLTs among "
                    f"{n_cur} patients at dose level {cur}",
                )
            ]
        return []

    def _count_problems(self) -> list[Problem]:
        assert self.counts is not None
        problems: list[Problem] = []
        if self.patients:
            problems.append(Problem(field="counts", message="give counts or patients, not both"))
        if len(self.counts) != self.n_doses:
            problems.append(
                Problem(
                    field="counts",
                    message=f"{len(self.counts)} counts for {self.n_doses} dose levels",
                )
            )
        if self.last_cohort is not None:
            problems += self._last_cohort_problems(self.counts, self.last_cohort)
        for i, (n, y) in enumerate(self.counts):
            if (why := LIMITS["count"].check(n)) is not None:
                problems.append(Problem(field=f"counts[{i}].n", message=why))
            if not 0 <= y <= max(n, 0):
                problems.append(
                    Problem(field=f"counts[{i}].dlt", message=f"{y} DLTs among {n} patients")
                )
        return problems

    def with_patients(
        self, patients: Iterable[Patient], *, as_of_day: int | None = None
    ) -> TrialData:
        """A copy with more patients (and optionally a later as-of day); current level re-derived."""
        return TrialData(
            n_doses=self.n_doses,
            patients=(*self.patients, *patients),
            as_of_day=self.as_of_day if as_of_day is None else as_of_day,
            dlt_window_days=self.dlt_window_days,
            counts=self.counts,
            indications=self.indications,
            efficacy_window_days=self.efficacy_window_days,
        )

    def of_cohorts(self, cohorts: Sequence[str]) -> TrialData:
        """The same trial restricted to the patients of the given cohorts (``self`` if all are)."""
        if all(p.cohort in cohorts for p in self.patients):
            return self
        return TrialData(
            n_doses=self.n_doses,
            patients=tuple(p for p in self.patients if p.cohort in cohorts),
            as_of_day=self.as_of_day,
            dlt_window_days=self.dlt_window_days,
            current_level=self.current_level,
            indications=self.indications,
            efficacy_window_days=self.efficacy_window_days,
        )

    def escalation_data(self) -> TrialData:
        """The patients that drive escalation decisions: escalation and backfill (no expansion)."""
        return self.of_cohorts(DECISION_COHORTS)

    def n_by_cohort(self) -> dict[str, int]:
        """The number of patients of each cohort type, every type listed."""
        out = {c: sum(p.cohort == c for p in self.patients) for c in COHORTS}
        if self.counts is not None:
            out["escalation"] += sum(n for n, _ in self.counts)
        return out

    @property
    def current_dose_level(self) -> int | None:
        """The current dose level: explicit, else that of the most recent escalation infusion."""
        if self.current_level is not None:
            return self.current_level
        pool = [p for p in self.patients if p.cohort == "escalation"] or self.patients
        if not pool:
            return None
        last_day = max(p.infused_day for p in pool)
        return min(p.dose_level for p in pool if p.infused_day == last_day)

    @property
    def n_patients(self) -> int:
        """Number of treated patients (pending and withdrawn included)."""
        if self.counts is not None:
            return sum(n for n, _ in self.counts)
        return len(self.patients)

    def _summarize_counts(self) -> DoseSummary:
        assert self.counts is not None
        n = np.array([c[0] for c in self.counts], dtype=np.int64)
        y = np.array([c[1] for c in self.counts], dtype=np.int64)
        zeros = np.zeros(self.n_doses, dtype=np.int64)
        return DoseSummary(
            n_treated=n,
            n_complete=n.copy(),
            n_dlt=y,
            n_pending=zeros,
            n_withdrawn=zeros.copy(),
            pending_followup=np.zeros(self.n_doses),
            withdrawn_followup=np.zeros(self.n_doses),
            dose_index=np.zeros(0, dtype=np.int64),
            dlt=np.zeros(0, dtype=np.bool_),
            followup_days=np.zeros(0, dtype=np.int64),
            followup_fraction=np.zeros(0),
            state=(),
        )

    def efficacy_summary(self) -> EfficacySummary:
        """What is known of toxicity and efficacy together, per dose (see :class:`EfficacySummary`)."""
        return _efficacy_summary(self)

    def efficacy_closes_day(self, patient: Patient) -> int:
        """The study day by which the patient's response is known (the efficacy window closes)."""
        return patient.infused_day + self.efficacy_window_days

    def window_closes_day(self, patient: Patient) -> int:
        """The study day on which the patient's DLT window closes."""
        return patient.infused_day + self.dlt_window_days

    def _summarize(self) -> DoseSummary:
        if self.counts is not None:
            return self._summarize_counts()
        n_doses, window, as_of = self.n_doses, self.dlt_window_days, self.as_of_day
        k = len(self.patients)
        dose_index = np.empty(k, dtype=np.int64)
        dlt = np.zeros(k, dtype=np.bool_)
        followup_days = np.empty(k, dtype=np.int64)
        states: list[PatientState] = []
        for j, p in enumerate(self.patients):
            dose_index[j] = p.dose_level - 1
            if p.dlt:
                assert p.dlt_day is not None
                state, days = PatientState.DLT, p.dlt_day - p.infused_day
                dlt[j] = True
            elif p.withdrawn_day is not None:
                state, days = PatientState.WITHDRAWN, p.withdrawn_day - p.infused_day
            elif as_of - p.infused_day >= window:
                state, days = PatientState.COMPLETE, window
            else:
                state, days = PatientState.PENDING, as_of - p.infused_day
            followup_days[j] = days
            states.append(state)
        fraction = np.minimum(followup_days / window, 1.0)
        state_codes = np.array([s.value for s in states], dtype=object)

        def count(mask: BoolArray) -> IntArray:
            return np.bincount(dose_index[mask], minlength=n_doses).astype(np.int64)

        def total(mask: BoolArray) -> FloatArray:
            return np.bincount(dose_index[mask], weights=fraction[mask], minlength=n_doses).astype(
                np.float64
            )

        is_complete = (state_codes == PatientState.DLT.value) | (
            state_codes == PatientState.COMPLETE.value
        )
        is_pending = state_codes == PatientState.PENDING.value
        is_withdrawn = state_codes == PatientState.WITHDRAWN.value
        return DoseSummary(
            n_treated=np.bincount(dose_index, minlength=n_doses).astype(np.int64),
            n_complete=count(is_complete),
            n_dlt=count(dlt),
            n_pending=count(is_pending),
            n_withdrawn=count(is_withdrawn),
            pending_followup=total(is_pending),
            withdrawn_followup=total(is_withdrawn),
            dose_index=dose_index,
            dlt=dlt,
            followup_days=followup_days,
            followup_fraction=fraction,
            state=tuple(states),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EfficacySummary:
    """Toxicity and efficacy together, per dose (arrays by dose index), for designs that use both.

    A patient is *evaluable* when both outcomes are known: the DLT outcome (a DLT, or a complete
    window) and the response (``response`` true or false). ``n_eval`` counts them, with
    ``n_tox`` DLTs, ``n_eff`` responses and ``n_both`` patients with both. A patient who is not
    evaluable and not withdrawn is *waiting* (``n_waiting``): inside the DLT window, or with the
    response unknown (inside the efficacy window, or past it with the response not yet recorded:
    ``n_overdue``). Withdrawn patients are not evaluable and not waited for.

    For time-to-event designs, per patient: ``tox_known``, ``eff_known``, the outcomes (``tox``,
    ``eff``; False while unknown) and the follow-up fractions of each window (``tox_fraction``,
    ``eff_fraction``, in [0, 1]).
    """

    n_eval: IntArray
    n_tox: IntArray
    n_eff: IntArray
    n_both: IntArray
    n_waiting: IntArray
    n_overdue: IntArray
    n_response_known: IntArray
    n_responses: IntArray
    # per patient, in the order of TrialData.patients
    dose_index: IntArray
    tox_known: BoolArray
    eff_known: BoolArray
    tox: BoolArray
    eff: BoolArray
    withdrawn: BoolArray
    tox_fraction: FloatArray
    eff_fraction: FloatArray


def _efficacy_summary(data: TrialData) -> EfficacySummary:
    n_doses = data.n_doses
    s = data.summary
    k = len(data.patients)
    if data.counts is not None:
        zeros = np.zeros(n_doses, dtype=np.int64)
        empty_b = np.zeros(0, dtype=np.bool_)
        return EfficacySummary(
            n_eval=zeros,
            n_tox=zeros.copy(),
            n_eff=zeros.copy(),
            n_both=zeros.copy(),
            n_waiting=s.n_treated.copy(),
            n_overdue=s.n_treated.copy(),
            n_response_known=zeros.copy(),
            n_responses=zeros.copy(),
            dose_index=np.zeros(0, dtype=np.int64),
            tox_known=empty_b,
            eff_known=empty_b,
            tox=empty_b,
            eff=empty_b,
            withdrawn=empty_b,
            tox_fraction=np.zeros(0),
            eff_fraction=np.zeros(0),
        )
    states = s.state
    tox_known = np.array(
        [st in (PatientState.DLT, PatientState.COMPLETE) for st in states], dtype=np.bool_
    ).reshape(k)
    withdrawn = np.array([st is PatientState.WITHDRAWN for st in states], dtype=np.bool_).reshape(k)
    eff_known = np.array([p.response is not None for p in data.patients], dtype=np.bool_).reshape(k)
    eff = np.array([bool(p.response) for p in data.patients], dtype=np.bool_).reshape(k)
    overdue = np.array(
        [
            p.response is None and data.as_of_day >= data.efficacy_closes_day(p)
            for p in data.patients
        ],
        dtype=np.bool_,
    ).reshape(k)
    followed = np.array([data.as_of_day - p.infused_day for p in data.patients], dtype=np.float64)
    eff_fraction = np.where(
        eff_known, 1.0, np.clip(followed.reshape(k) / data.efficacy_window_days, 0.0, 1.0)
    )
    tox = s.dlt
    evaluable = tox_known & eff_known
    waiting = ~evaluable & ~withdrawn
    idx = s.dose_index

    def count(mask: BoolArray) -> IntArray:
        return np.bincount(idx[mask], minlength=n_doses).astype(np.int64)

    return EfficacySummary(
        n_eval=count(evaluable),
        n_tox=count(evaluable & tox),
        n_eff=count(evaluable & eff),
        n_both=count(evaluable & tox & eff),
        n_waiting=count(waiting),
        n_overdue=count(waiting & overdue),
        n_response_known=count(eff_known),
        n_responses=count(eff_known & eff),
        dose_index=idx,
        tox_known=tox_known,
        eff_known=eff_known,
        tox=tox.copy(),
        eff=eff,
        withdrawn=withdrawn,
        tox_fraction=np.where(tox_known, 1.0, s.followup_fraction),
        eff_fraction=eff_fraction,
    )
