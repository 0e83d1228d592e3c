"""Safety elimination: doses judged too toxic are never recommended again.

An eliminated dose is never recommended; elimination of a dose eliminates every higher dose, and
elimination of the lowest dose stops the trial with no recommended dose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from escalation.decision import RuleKind, RuleOutcome

__all__ = ["EliminateToxicDoses", "EliminateWhenDLTs", "eliminate_from_first"]


def eliminate_from_first(
    over: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.bool_], int | None, str]:
    """The doses eliminated when a dose flagged in ``over`` takes every higher dose with it.

    Returns the eliminated doses, the index of the first flagged dose (``None`` when none is) and
    the eliminated levels as text ("dose level 5", "dose levels 3 to 5"; "" when none is).
    """
    eliminated = np.asarray(np.cumsum(over) > 0)
    if not over.any():
        return eliminated, None, ""
    levels = np.flatnonzero(eliminated) + 1
    span = f"{levels[0]}" if levels.size == 1 else f"{levels[0]} to {levels[-1]}"
    return eliminated, int(np.argmax(over)), f"dose level{'s' if levels.size > 1 else ''} {span}"


@dataclass(frozen=True, slots=True, kw_only=True)
class EliminateToxicDoses:
    """Eliminate dose d and all higher doses when Pr(p_d > target | data) > ``cutoff``, n_d >= ``min_n``.

    The posterior probability is the design's own (BOIN: Beta(1, 1) prior on each dose).

    With ``from_first_outcome`` (model-based overdose control, as EWOC conducts a trial), the rule
    acts only once some patient has a known outcome (a DLT or a complete window): before that the
    probabilities are the prior's alone, and the first cohort goes to the protocol's starting dose.
    A calibrated CRM skeleton puts the prior Pr(p_1 > target) near 0.3, above the usual cutoff
    0.25, so applying the rule to the prior would stop every trial before its first patient.

    References
    ----------
    Liu S, Yuan Y (2015). JRSS-C 64:507-523, section 2.3 (dose elimination).
    """

    cutoff: float = 0.95
    min_n: int = 3
    from_first_outcome: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.cutoff < 1:
            raise ValueError(f"cutoff must be in (0, 1), got {self.cutoff}")

    @property
    def label(self) -> str:
        extra = ", from_first_outcome=True" if self.from_first_outcome else ""
        return f"EliminateToxicDoses(cutoff={self.cutoff:g}, min_n={self.min_n}{extra})"

    def not_yet(
        self, n_doses: int, any_outcome: bool
    ) -> tuple[npt.NDArray[np.bool_], RuleOutcome] | None:
        """The rule's verdict before the first outcome (``None`` once it applies)."""
        if not self.from_first_outcome or any_outcome:
            return None
        return np.zeros(n_doses, dtype=np.bool_), RuleOutcome(
            label=self.label,
            kind=RuleKind.ELIMINATION,
            triggered=False,
            detail="No patient has a known outcome yet: overdose control applies from the first "
            "outcome on; the first cohort goes to the protocol's starting dose.",
        )

    def apply(
        self,
        n_at_dose: npt.NDArray[np.int64],
        dlt_at_dose: npt.NDArray[np.int64],
        prob_overdose: npt.NDArray[np.float64],
        target: float,
        *,
        any_outcome: bool = True,
    ) -> tuple[npt.NDArray[np.bool_], RuleOutcome]:
        early = self.not_yet(n_at_dose.size, any_outcome)
        if early is not None:
            return early
        over = (n_at_dose >= self.min_n) & (np.nan_to_num(prob_overdose, nan=0.0) > self.cutoff)
        eliminated, first, levels = eliminate_from_first(over)
        if first is None:
            detail = f"No dose has Pr(DLT rate > {target:g}) > {self.cutoff:g}."
            return eliminated, RuleOutcome(
                label=self.label, kind=RuleKind.ELIMINATION, triggered=False, detail=detail
            )
        detail = (
            f"Dose level {first + 1}: {dlt_at_dose[first]} DLTs in {n_at_dose[first]} patients, "
            f"Pr(DLT rate > {target:g}) = {prob_overdose[first]:.3f} > {self.cutoff:g}; "
            f"{levels} eliminated."
        )
        return eliminated, RuleOutcome(
            label=self.label, kind=RuleKind.ELIMINATION, triggered=True, detail=detail
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EliminateWhenDLTs:
    """Eliminate dose d and all higher doses once d has ``n_dlt`` DLTs (3+3: two DLTs at a dose
    put it above the MTD, whatever the number of patients there).

    References
    ----------
    Storer BE (1989). Biometrics 45:925-937. R escalation's ``dose_admissible`` for its 3+3
    selector: doses with at least 2 DLTs, and every higher dose, are not admissible.
    """

    n_dlt: int = 2

    def __post_init__(self) -> None:
        if self.n_dlt < 1:
            raise ValueError(f"n_dlt must be >= 1, got {self.n_dlt}")

    @property
    def label(self) -> str:
        return f"EliminateWhenDLTs(n_dlt={self.n_dlt})"

    def apply(
        self,
        n_at_dose: npt.NDArray[np.int64],
        dlt_at_dose: npt.NDArray[np.int64],
        prob_overdose: npt.NDArray[np.float64],
        target: float,
    ) -> tuple[npt.NDArray[np.bool_], RuleOutcome]:
        eliminated, first, levels = eliminate_from_first(dlt_at_dose >= self.n_dlt)
        if first is None:
            detail = f"No dose has {self.n_dlt} DLTs."
            return eliminated, RuleOutcome(
                label=self.label, kind=RuleKind.ELIMINATION, triggered=False, detail=detail
            )
        detail = (
            f"Dose level {first + 1}: {dlt_at_dose[first]} DLTs in {n_at_dose[first]} patients "
            f"(>= {self.n_dlt}); {levels} eliminated."
        )
        return eliminated, RuleOutcome(
            label=self.label, kind=RuleKind.ELIMINATION, triggered=True, detail=detail
        )
