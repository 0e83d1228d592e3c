"""The one exception tree of the engine.

Every error raised on bad input names the field, the patient (where there is one) and the bad value,
so that the CLI and the HTTP service can show it to the user as it is.

Examples
--------
>>> from escalation.errors import InvalidTrialDataError, Problem
>>> err = InvalidTrialDataError([Problem(field="patients[0].dose_level", message="unknown dose level 7",
...                                        patient_id="P001")])
>>> str(err)
'patients[0].dose_level (patient P001): unknown dose level 7'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ConvergenceWarning",
    "EscalationError",
    "InvalidDesignError",
    "InvalidTrialDataError",
    "PosteriorComputationError",
    "Problem",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong with an input: where it is, whose it is, and what is wrong."""

    field: str
    message: str
    patient_id: str | None = None

    def __str__(self) -> str:
        who = f" (patient {self.patient_id})" if self.patient_id is not None else ""
        return f"{self.field}{who}: {self.message}"

    def as_dict(self) -> dict[str, str | None]:
        """The JSON form used by the CLI and the HTTP service."""
        return {"field": self.field, "patient_id": self.patient_id, "message": self.message}


class EscalationError(Exception):
    """Base class of every error the engine raises on purpose."""


class _ProblemsError(EscalationError, ValueError):
    """An error that carries every problem found, not only the first."""

    def __init__(self, problems: Iterable[Problem] | str, *, field: str = "document") -> None:
        if isinstance(problems, str):
            problems = [Problem(field=field, message=problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("an input error needs at least one problem")
        super().__init__("; ".join(str(p) for p in self.problems))


class InvalidTrialDataError(_ProblemsError):
    """The trial data (patients, counts, dates) are not valid; nothing was decided."""


class InvalidDesignError(_ProblemsError):
    """The design (method, options, skeleton, priors) is not valid."""


class PosteriorComputationError(EscalationError):
    """A posterior could not be computed to the required accuracy."""


class ConvergenceWarning(UserWarning):
    """MCMC diagnostics (R-hat, effective sample size, divergences) failed their thresholds."""
