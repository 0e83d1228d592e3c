"""Safety elimination: doses judged too toxic are never recommended again.

An eliminated dose is never recommended; elimination of a dose eliminates every higher dose, and
elimination of the lowest dose stops the trial with no recommended dose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from escalation.decision import RuleKind, RuleOutcome

__all__ = [
    "EliminateInadmissible",
    "EliminateToxicDoses",
    "EliminateWhenDLTs",
    "eliminate_from_first",
]


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


@dataclass(frozen=True, slots=True, kw_only=True)
class EliminateInadmissible:
    """BOIN12's admissibility: a dose with at least ``min_n`` evaluable patients and
    Pr(p_T > target | data) > ``c_t`` is eliminated with every higher dose; one with
    Pr(p_E < efficacy_target | data) > ``c_e`` is eliminated alone (a futile dose says nothing of
    the doses above it). Beta(1, 1) priors on both rates. As MD Anderson's software (its
    elimination boundary is searched from 3 DLTs up), a dose is eliminated for toxicity only with at
    least ``min_dlt`` DLTs: with a low target, 2 DLTs in 3 patients do not eliminate the lowest dose
    (the application continues there; R escalation's BOIN12 tests record it).

    References
    ----------
    Lin R, Zhou Y, Yan F, Li D, Yuan Y (2020). JCO Precision Oncology 4:1393-1402, section 2
    (admissible set).
    """

    target: float
    efficacy_target: float
    c_t: float = 0.95
    c_e: float = 0.9
    min_n: int = 3
    min_dlt: int = 3

    @property
    def label(self) -> str:
        return (
            f"EliminateInadmissible(c_t={self.c_t:g}, c_e={self.c_e:g}, min_n={self.min_n}, "
            f"min_dlt={self.min_dlt})"
        )

    def flags(
        self,
        n_at_dose: npt.NDArray[np.int64] | npt.NDArray[np.float64],
        dlt_at_dose: npt.NDArray[np.int64] | npt.NDArray[np.float64],
        eff_at_dose: npt.NDArray[np.int64] | npt.NDArray[np.float64],
    ) -> tuple[
        npt.NDArray[np.bool_],
        npt.NDArray[np.bool_],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
    ]:
        """(too toxic, futile, Pr(p_T > target), Pr(p_E < efficacy_target)) per dose."""
        from escalation.models.utility import prob_futile, prob_too_toxic

        enough = np.asarray(n_at_dose) >= self.min_n
        p_tox = prob_too_toxic(self.target, n_at_dose, dlt_at_dose)
        p_fut = prob_futile(self.efficacy_target, n_at_dose, eff_at_dose)
        toxic = enough & (np.asarray(dlt_at_dose) >= self.min_dlt) & (p_tox > self.c_t)
        return toxic, enough & (p_fut > self.c_e), p_tox, p_fut

    def flag_tables(self, n_max: int) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """(too toxic, futile) for every n = 0..``n_max`` patients and y = 0..n events, as
        tables indexed [n, y] (:meth:`flags` on the grid; y > n: False), for fast engines."""
        n = np.repeat(np.arange(n_max + 1), n_max + 1).reshape(n_max + 1, n_max + 1)
        y = np.tile(np.arange(n_max + 1), n_max + 1).reshape(n_max + 1, n_max + 1)
        possible = y <= n
        yy = np.minimum(y, n)
        toxic, _, _, _ = self.flags(n, yy, np.zeros_like(yy))
        _, futile, _, _ = self.flags(n, np.zeros_like(yy), yy)
        return toxic & possible, futile & possible

    def apply_both(
        self,
        n_at_dose: npt.NDArray[np.int64] | npt.NDArray[np.float64],
        dlt_at_dose: npt.NDArray[np.int64] | npt.NDArray[np.float64],
        eff_at_dose: npt.NDArray[np.int64] | npt.NDArray[np.float64],
    ) -> tuple[npt.NDArray[np.bool_], RuleOutcome]:
        """The eliminated doses and the rule's outcome."""
        toxic, futile, p_tox, p_fut = self.flags(n_at_dose, dlt_at_dose, eff_at_dose)
        by_tox, first, levels = eliminate_from_first(toxic)
        eliminated = by_tox | futile
        parts = []
        if first is not None:
            parts.append(
                f"Dose level {first + 1}: {dlt_at_dose[first]:g} DLTs in {n_at_dose[first]:g} "
                f"patients, Pr(DLT rate > {self.target:g}) = {p_tox[first]:.3f} > {self.c_t:g}; "
                f"{levels} eliminated."
            )
        for i in np.flatnonzero(futile & ~by_tox):
            parts.append(
                f"Dose level {i + 1}: {eff_at_dose[i]:g} responses in {n_at_dose[i]:g} patients, "
                f"Pr(response rate < {self.efficacy_target:g}) = {p_fut[i]:.3f} > {self.c_e:g}; "
                "eliminated as futile."
            )
        if not parts:
            detail = (
                f"Every dose is admissible: none has Pr(DLT rate > {self.target:g}) > "
                f"{self.c_t:g} or Pr(response rate < {self.efficacy_target:g}) > {self.c_e:g}."
            )
            return eliminated, RuleOutcome(
                label=self.label, kind=RuleKind.ELIMINATION, triggered=False, detail=detail
            )
        return eliminated, RuleOutcome(
            label=self.label, kind=RuleKind.ELIMINATION, triggered=True, detail=" ".join(parts)
        )
