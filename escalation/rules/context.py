"""What every rule may look at when a decision is made."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from escalation.data import DoseSummary, TrialData
from escalation.decision import Action

__all__ = ["DecisionContext"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionContext:
    """The data, the model's per-dose view and the pipeline's state so far (arrays by dose index).

    ``n_for_safety`` and ``dlt_for_safety`` are the counts the design's safety rules use (BOIN:
    complete patients; TITE-BOIN: every treated patient with the observed DLTs);
    ``prob_overdose`` is the design's Pr(p_d > target | data) (NaN where undefined).
    ``model_direction`` is what the model asks for before the ends of the dose ladder.
    ``next_index`` is the dose the model proposes after the dose-change limits, known to the
    stopping rules (some stop only when the decision is to stay). ``max_patients`` is the
    design's sample size (no demand holds a trial past it); ``prob_exceeds`` maps a DLT rate t
    other than the target to the design's Pr(p_d > t | data), for the too-toxic rules that ask.
    ``model_stop`` is the model's own
    reason to end the trial, if it has one (BOIN12: no admissible dose to go to).
    """

    data: TrialData
    target: float
    current_index: int | None
    start_index: int
    n_for_safety: npt.NDArray[np.int64]
    dlt_for_safety: npt.NDArray[np.int64]
    prob_overdose: npt.NDArray[np.float64]
    eliminated: npt.NDArray[np.bool_]
    model_direction: Action = Action.STAY
    next_index: int | None = None
    max_patients: int | None = None
    prob_exceeds: Mapping[float, npt.NDArray[np.float64]] = field(default_factory=dict)
    model_stop: str | None = None

    @property
    def summary(self) -> DoseSummary:
        return self.data.summary
