"""The 3+3 algorithm on per-dose counts, for one trial or many at once.

One function, :func:`three_plus_three_step`, holds the rule; the design
(:class:`escalation.ThreePlusThree`), its stopping rule, its final selection, the CLI's table and
the simulations' fast engine all call it, so the rule lives in one place.

At the current dose d, with n evaluable patients and y DLTs among them (R escalation's
``three_plus_three``, read from its source, commit add4557 of github.com/brockk/escalation):

* y >= 2: d is above the MTD. Without de-escalation, stop: the MTD is d - 1 (none when d is the
  lowest dose). With de-escalation (Korn et al. 1994): de-escalate to d - 1 while it has fewer than
  6 patients; once it has 6, stop with the highest dose that has at least 6 patients and at most
  1 DLT (none if no dose has);
* y <= 1 and n < 3, or y <= 1 and 3 < n < 6: the cohort (or the expansion to 6) is not complete:
  stay;
* n = 3, y = 1: stay (expand the dose to 6 patients);
* n = 3, y = 0, or n >= 6, y <= 1: escalate, unless d is the highest dose or d + 1 already has
  6 patients or 2 DLTs: then stop with d as the MTD.

Two differences from R, both only on data that left the algorithm or on a cohort not yet complete:

* two DLTs at a dose settle the cohort (the third patient cannot bring the count below 2): the rule
  acts at once, where R waits for n = 3 or 6 (R: "1TT" stays at dose 1; here the trial stops, as R
  does for "1TTN" and "1TTT");
* doses at or above the lowest dose with 2 DLTs are never recommended (R's own
  ``dose_admissible``); R's Korn selection searches every dose, so on a path that escalated past a
  dose with 2 DLTs in 6 it can name a dose above it. When the rule's MTD would be such a dose (data
  that left the algorithm, e.g. after an SRC override), the MTD is Korn's, as for a trial that
  ended early: the highest dose with at least 6 patients and at most 1 DLT below it. More than 6 patients at a dose (R: a warning
  and an error) is read as 6.

References
----------
Storer BE (1989). Design and analysis of phase I clinical trials. Biometrics 45:925-937.
Korn EL, Midthune D, Chen TT, Rubinstein LV, Christian MC, Simon RM (1994). A comparison of two
phase I trial designs. Stat Med 13:1799-1806.
Brock K (2019). trialr / escalation (R): ``three_plus_three``, ``get_three_plus_three``.

Examples
--------
>>> import numpy as np
>>> step = three_plus_three_step(np.array([[3, 3, 0]]), np.array([[0, 2, 0]]), np.array([1]),
...                              allow_deescalation=False)
>>> step.stop.tolist(), step.mtd_index.tolist()
([True], [0])
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

__all__ = [
    "Step",
    "ThreePlusThreeStep",
    "first_too_toxic",
    "korn_mtd",
    "three_plus_three_select",
    "three_plus_three_step",
    "whole_trial_mtd",
]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: patients a dose needs before escalation from it when it had one DLT in its first cohort
EXPANDED = 6
#: DLTs at a dose that put it above the MTD
TOO_TOXIC = 2


class Step(IntEnum):
    """Which branch of the 3+3 rule applied (one per trial)."""

    COMPLETE_COHORT = 0  # fewer than 3 (or 4-5) evaluable patients, < 2 DLTs: stay
    EXPAND = 1  # 1 DLT in 3: stay, expand to 6
    ESCALATE = 2  # 0/3 or <= 1/6: escalate
    STOP_TOP = 3  # 0/3 or <= 1/6 at the highest dose: stop, MTD the current dose
    STOP_NEXT_DONE = 4  # 0/3 or <= 1/6 and the next dose has 6 patients or 2 DLTs: stop here
    STOP_BELOW = 5  # >= 2 DLTs, no de-escalation: stop, MTD the dose below (none at the lowest)
    DEESCALATE = 6  # >= 2 DLTs, de-escalation, the dose below has < 6 patients
    STOP_KORN = 7  # >= 2 DLTs, de-escalation, the dose below has 6: Korn's MTD


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreePlusThreeStep:
    """The rule's verdict per trial (dose indices from 0; -1: no dose).

    ``next_index`` is the next cohort's dose when the trial goes on (the current dose when it
    stops); ``mtd_index`` the MTD when it stops (-1: none, or the trial goes on).
    """

    step: IntArray
    next_index: IntArray
    stop: BoolArray
    mtd_index: IntArray


def first_too_toxic(dlt_at_dose: IntArray) -> IntArray:
    """Per trial, the lowest dose index with >= 2 DLTs (the number of doses when none has)."""
    over = dlt_at_dose >= TOO_TOXIC
    n_doses = dlt_at_dose.shape[-1]
    first: IntArray = np.where(over.any(axis=-1), np.argmax(over, axis=-1), n_doses)
    return first.astype(np.int64)


def korn_mtd(n_at_dose: IntArray, dlt_at_dose: IntArray) -> IntArray:
    """Per trial, the highest dose with >= 6 patients and <= 1 DLT below every dose with >= 2
    DLTs (Korn et al. 1994's MTD); -1 when there is none."""
    n_doses = n_at_dose.shape[-1]
    below = np.arange(n_doses) < first_too_toxic(dlt_at_dose)[..., None]
    ok = (n_at_dose >= EXPANDED) & (dlt_at_dose <= 1) & below
    highest = n_doses - 1 - np.argmax(ok[..., ::-1], axis=-1)
    return np.where(ok.any(axis=-1), highest, -1).astype(np.int64)


def whole_trial_mtd(n_at_dose: IntArray, dlt_at_dose: IntArray) -> IntArray:
    """Per trial, the MTD over data beyond the 3+3 algorithm's (backfill, expansion, or more than 6
    patients at a dose): Korn's MTD with its counts read as rates. A dose is too toxic with at
    least 2 DLTs making an observed rate of at least 1/3; the MTD is the highest dose with at least
    6 evaluable patients and an observed rate below 1/3, below every too-toxic dose; -1 when there
    is none.

    On data the algorithm produced (at most 6 patients at a dose) this is :func:`korn_mtd` exactly:
    with n <= 6, 2 DLTs are always a rate of at least 1/3, and with n = 6 a rate below 1/3 is at
    most 1 DLT. With 20 patients at a dose, 4 DLTs (20 %) keep it; 7 (35 %) do not.

    References
    ----------
    Korn EL et al. (1994). Stat Med 13:1799-1806 (the MTD: at most 1 of 6, below 2 of at most 6).
    """
    n = np.asarray(n_at_dose, dtype=np.int64)
    y = np.asarray(dlt_at_dose, dtype=np.int64)
    n_doses = n.shape[-1]
    toxic = (y >= TOO_TOXIC) & (3 * y >= n)
    first = np.where(toxic.any(axis=-1), np.argmax(toxic, axis=-1), n_doses)
    below = np.arange(n_doses) < first[..., None]
    ok = (n >= EXPANDED) & (3 * y < n) & below
    highest = n_doses - 1 - np.argmax(ok[..., ::-1], axis=-1)
    return np.where(ok.any(axis=-1), highest, -1).astype(np.int64)


def three_plus_three_step(
    n_at_dose: IntArray,
    dlt_at_dose: IntArray,
    current_index: IntArray,
    *,
    allow_deescalation: bool,
) -> ThreePlusThreeStep:
    """The 3+3 rule at each trial's current dose (see the module docstring).

    Parameters
    ----------
    n_at_dose, dlt_at_dose
        Shape (trials, doses): evaluable patients (complete follow-up or a DLT) and DLTs.
    current_index
        Shape (trials,): the current dose index (the dose of the latest cohort).
    allow_deescalation
        Korn et al.'s variant: de-escalate after 2 DLTs while the dose below has < 6 patients.
    """
    n = np.asarray(n_at_dose, dtype=np.int64)
    y = np.asarray(dlt_at_dose, dtype=np.int64)
    cur = np.asarray(current_index, dtype=np.int64)
    n_doses = n.shape[-1]
    rows = np.arange(n.shape[0])
    nd, yd = n[rows, cur], y[rows, cur]
    above = np.minimum(cur + 1, n_doses - 1)
    below = np.maximum(cur - 1, 0)

    toxic = yd >= TOO_TOXIC
    may_escalate = ~toxic & (((nd == 3) & (yd == 0)) | (nd >= EXPANDED))
    expand = ~toxic & (nd == 3) & (yd == 1)
    top = cur == n_doses - 1
    next_done = ~top & ((n[rows, above] >= EXPANDED) | (y[rows, above] >= TOO_TOXIC))
    below_full = (cur > 0) & (n[rows, below] >= EXPANDED)

    step = np.full(cur.shape, Step.COMPLETE_COHORT, dtype=np.int64)
    step = np.where(expand, Step.EXPAND, step)
    step = np.where(
        may_escalate,
        np.where(top, Step.STOP_TOP, np.where(next_done, Step.STOP_NEXT_DONE, Step.ESCALATE)),
        step,
    )
    if allow_deescalation:
        toxic_step = np.where(
            cur == 0, Step.STOP_BELOW, np.where(below_full, Step.STOP_KORN, Step.DEESCALATE)
        )
    else:
        toxic_step = np.full(cur.shape, Step.STOP_BELOW, dtype=np.int64)
    step = np.where(toxic, toxic_step, step)

    next_index = np.where(
        step == Step.ESCALATE, cur + 1, np.where(step == Step.DEESCALATE, cur - 1, cur)
    )
    stop = (
        (step == Step.STOP_TOP)
        | (step == Step.STOP_NEXT_DONE)
        | (step == Step.STOP_BELOW)
        | (step == Step.STOP_KORN)
    )
    # the MTD, on the trials that stop only (most trials of a simulation step go on)
    mtd = np.full(cur.shape, -1, dtype=np.int64)
    stopping = np.flatnonzero(stop)
    if stopping.size:
        s, c = step[stopping], cur[stopping]
        m = np.where(s == Step.STOP_BELOW, c - 1, c)  # -1 below the lowest dose
        if allow_deescalation:
            korn = s == Step.STOP_KORN
            if korn.any():
                m[korn] = korn_mtd(n[stopping[korn]], y[stopping[korn]])
        # never a dose at or above one with 2 DLTs: only data that left the algorithm get here,
        # and they get the MTD of a trial that ended early (Korn's), never a dose merely below
        # the toxic one, which may be untried
        off_path = m >= first_too_toxic(y[stopping])
        if off_path.any():
            m[off_path] = korn_mtd(n[stopping[off_path]], y[stopping[off_path]])
        mtd[stopping] = m
    return ThreePlusThreeStep(
        step=step.astype(np.int64),
        next_index=next_index.astype(np.int64),
        stop=stop,
        mtd_index=mtd.astype(np.int64),
    )


def three_plus_three_select(
    n_at_dose: IntArray,
    dlt_at_dose: IntArray,
    current_index: IntArray,
    *,
    allow_deescalation: bool,
) -> IntArray:
    """Per trial, the final MTD index (-1: none): the rule's own when it stops the trial on these
    data; otherwise (the trial ended before the rule stopped it) Korn's MTD, the highest dose with
    at least 6 patients and at most 1 DLT below every dose with 2 DLTs.

    A trial with no evaluable patient has no MTD.
    """
    n = np.asarray(n_at_dose, dtype=np.int64)
    y = np.asarray(dlt_at_dose, dtype=np.int64)
    step = three_plus_three_step(n, y, current_index, allow_deescalation=allow_deescalation)
    mtd = np.where(step.stop, step.mtd_index, korn_mtd(n, y))
    return np.where(n.sum(axis=-1) > 0, mtd, -1).astype(np.int64)
