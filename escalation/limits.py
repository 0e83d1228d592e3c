"""The ranges every numeric option, count and date must lie in: one table, read by the trial
document parser, the designs, the simulation spec, the CLI and the service (whose OpenAPI schema
states the same bounds).

The ranges are wide enough for every protocol a phase I trial writes (and for the simulation
studies that compare designs), narrow enough that a typo (``dlt_window_days: 1000000000``, an
infusion in year 0202) is refused with its field named instead of being computed on.

Examples
--------
>>> from escalation.limits import LIMITS
>>> LIMITS["dlt_window_days"].check(1000000000)
'expected a whole number from 1 to 365, got 1000000000'
>>> LIMITS["dlt_window_days"].check(30) is None
True
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EARLIEST_DATE",
    "LATEST_DATE",
    "LIMITS",
    "MAX_DOCUMENT_PATIENTS",
    "MAX_TEXT_LENGTH",
    "MAX_TRIAL_YEARS",
    "Limit",
    "date_problem",
    "text_problem",
    "whole_numbers",
]


@dataclass(frozen=True, slots=True)
class Limit:
    """A closed range ``[low, high]`` of whole numbers (``integer``) or finite numbers."""

    low: float
    high: float
    integer: bool = True

    def check(self, value: Any) -> str | None:
        """Why ``value`` is out of range (None when it is in range)."""
        ok_type = (
            isinstance(value, int)
            if self.integer
            else isinstance(value, int | float) and math.isfinite(value)
        )
        if isinstance(value, bool) or not ok_type or not self.low <= value <= self.high:
            what = "a whole number" if self.integer else "a number"
            return f"expected {what} from {self.low:g} to {self.high:g}, got {value!r}"
        return None


#: every bounded option, count and size, by the name it has in documents and specs
LIMITS: dict[str, Limit] = {
    # the protocol
    "dlt_window_days": Limit(1, 365),
    "efficacy_window_days": Limit(1, 730),
    "n_doses": Limit(1, 50),
    "cohort_size": Limit(1, 30),
    "max_patients": Limit(1, 1000),
    "n_stop": Limit(1, 1000),
    "stagger_days": Limit(1, 365),
    "min_at_mtd": Limit(1, 1000),
    "escalation_min_complete": Limit(0, 1000),
    "seed": Limit(0, 2**63 - 1),
    # counts form: patients and DLTs at one dose level
    "count": Limit(0, 1000),
    # model parameters that must be finite and not absurd
    "prior_sd": Limit(1e-6, 100, integer=False),
    "intercept": Limit(-100, 100, integer=False),
    "max_step_factor": Limit(1, 1000, integer=False),
    "selection_prior": Limit(1e-9, 1, integer=False),
    "dose_amount": Limit(1e-12, 1e15, integer=False),
    # decision tables (``escalation table``): patients at one dose, the table's last row
    "table_patients": Limit(1, 100),
    # simulations
    "trials": Limit(1, 10_000_000),
    "random_scenarios": Limit(1, 100_000),
    "accrual_per_month": Limit(0.01, 1000, integer=False),
}

#: patients in one trial document (the counts form: patients at one level, ``LIMITS["count"]``)
MAX_DOCUMENT_PATIENTS = 1000
#: characters in a name, a dose label or a patient id
MAX_TEXT_LENGTH = 200

#: no date in a trial document is earlier (a typo'd year such as 0202 is refused)
EARLIEST_DATE = dt.date(2000, 1, 1)
#: nor later (9999-12-31 is a placeholder, not a date)
LATEST_DATE = dt.date(2099, 12, 31)
#: no patient's date is more than this many years before the document's as_of
MAX_TRIAL_YEARS = 10


def date_problem(day: dt.date, *, as_of: dt.date | None = None) -> str | None:
    """Why ``day`` is implausible in a trial document (None when it is plausible)."""
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        return (
            f"{day.isoformat()} is outside {EARLIEST_DATE} to {LATEST_DATE} (a typo in the year?)"
        )
    if as_of is not None and (as_of - day).days > 366 * MAX_TRIAL_YEARS:
        return (
            f"{day.isoformat()} is more than {MAX_TRIAL_YEARS} years before as_of "
            f"{as_of.isoformat()} (a typo in the year?)"
        )
    return None


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be a name, a label or an id (None when it can)."""
    if len(value) > MAX_TEXT_LENGTH:
        return f"longer than {MAX_TEXT_LENGTH} characters ({len(value)})"
    if "\x00" in value:
        return "NUL characters are not allowed"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid Unicode text (a lone surrogate such as \\ud800)"
    return None


def whole_numbers(value: Any) -> Any:
    """``value`` (a JSON document) with every whole number written as a float (``3.0``, as JSON
    allows and JSON Schema's ``integer`` includes) made an ``int``; everything else unchanged.

    Options that are numbers accept ints as they accept floats, so nothing else changes.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    return value
