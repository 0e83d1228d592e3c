"""BOIN12: utility-based phase I/II dose finding with the BOIN boundaries (Lin et al. 2020).

Each patient has a toxicity outcome (DLT) and an efficacy outcome (response). At the current dose d,
with n evaluable patients (both outcomes known) of whom y_T had a DLT, and the BOIN boundaries of
the toxicity ``target`` (escalate if y_T <= the escalation boundary, de-escalate if y_T >= the
de-escalation boundary, R's ``get.boundary``):

1. **De-escalation.** y_T >= the de-escalation boundary: go to the highest admissible dose below
   d (stay at d if there is none and d is admissible).
2. **Otherwise, utility.** Among the admissible doses in {the highest below d, d, the lowest above
   d}, go to the one with the highest desirability Pr(utility > u_b | data) (the rank-based
   desirability score); the dose above is a candidate only while y_T <= the escalation boundary or
   d has fewer than ``n_star`` patients (once d has ``n_star`` patients and a DLT rate above the
   escalation boundary, the design does not explore higher). Ties go to the higher dose, as MD
   Anderson's BOIN12 application resolves them.
3. **Exploring an untried dose** (``explore_untried``, on by default as in the paper's software):
   when d has at least ``n_explore`` (9) patients, y_T is below the de-escalation boundary and the
   next admissible dose above d is untried, go to it.

Admissibility: a dose with at least 3 evaluable patients and Pr(p_T > target) > ``c_t`` is
eliminated with every higher dose; one with Pr(p_E < ``efficacy_target``) > ``c_e`` is eliminated
alone (Beta(1, 1) priors). Every dose eliminated for toxicity at the lowest dose: stop with no
dose. If the chosen dose is itself inadmissible (no admissible dose within reach), the trial stops
with no dose. The trial stops at ``max_patients`` and when the current dose has ``n_stop``
patients.

The optimal biological dose (OBD) at the end, as MD Anderson's software selects it
(:func:`escalation.models.utility.obd_select_batch`): the MTD is the dose whose isotonic DLT
estimate ((y + 0.05) / (n + 0.1), pooled adjacent violators weighted by n + 0.1) is closest to the
target; the response rates are unimodal fits averaged over the mode by their likelihoods (the
software's ``peestimate``, R's ``Iso::ufit``); the OBD is the admissible treated dose at or below
the MTD with the highest estimated utility (independent outcomes), the lowest among ties. When the
trial stops because the model has no admissible dose to go to, no dose is selected.

Decisions use the evaluable patients; a patient whose DLT or response is still unknown makes the
decision wait (the trial document's ``efficacy_window_days`` says when a response is due).

References
----------
Lin R, Zhou Y, Yan F, Li D, Yuan Y (2020). BOIN12: Bayesian optimal interval phase I/II trial
design for utility-based dose finding in immunotherapy and targeted therapies. JCO Precision
Oncology 4:1393-1402.
Liu S, Yuan Y (2015). Bayesian optimal interval designs for phase I clinical trials. JRSS-C
64:507-523 (the boundaries).

Examples
--------
The paper's example on p. 1396: after 1NNN 2ENT 3ETT 2EEN (E response, T DLT, N neither) the next
cohort stays at dose level 2.

>>> from escalation import BOIN12, TrialData
>>> from escalation.data import Patient
>>> codes = [(1, "NNN"), (2, "ENT"), (3, "ETT"), (2, "EEN")]
>>> patients = tuple(
...     Patient(patient_id=f"P{c}{j}", dose_level=level, infused_day=40 * c,
...             dlt=o == "T", dlt_day=40 * c + 5 if o == "T" else None, response=o == "E")
...     for c, (level, outcomes) in enumerate(codes) for j, o in enumerate(outcomes))
>>> data = TrialData(n_doses=5, patients=patients, as_of_day=400)
>>> design = BOIN12(n_doses=5, target=0.35, efficacy_target=0.25, utility=(100, 40, 60, 0))
>>> design.decide(data).next_level
2
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from escalation.data import EfficacySummary, TrialData
from escalation.decision import Action, EfficacyEstimate, PosteriorBands, RuleOutcome, Selection
from escalation.designs.base import (
    START_REASON,
    Design,
    DesignRules,
    ModelFit,
    WaitingRule,
    _maybe,
    limit_problems,
    provisional_note,
)
from escalation.errors import Problem
from escalation.models.boundaries import boin_lambdas, boundary_row
from escalation.models.utility import (
    desirability_from_x,
    obd_select_batch,
    pseudo_successes,
    utility_benchmark,
)
from escalation.rules.constraints import ExcludeEliminated, NoSkipping
from escalation.rules.context import DecisionContext
from escalation.rules.elimination import EliminateInadmissible
from escalation.rules.stopping import (
    StoppingRule,
    StopWhenModelStops,
    StopWhenNAtDose,
)
from escalation.rules.waiting import WaitForOutcomes

__all__ = ["BOIN12", "obd_selection"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, kw_only=True)
class BOIN12(Design):
    """BOIN12 (see the module docstring).

    Parameters
    ----------
    target
        The highest acceptable DLT probability (the paper's phi_T).
    efficacy_target
        The lowest acceptable response probability (phi_E).
    utility
        Utilities (0-100) of: response without DLT, neither, both, DLT without response.
    n_star
        Patients at a dose from which, with a DLT rate above the escalation boundary, the design
        no longer explores the dose above (default 6).
    c_t, c_e
        Admissibility cutoffs for Pr(DLT rate > target) and Pr(response rate < efficacy_target).
    phi1, phi2
        BOIN's sub-therapeutic and overly toxic DLT rates (default 0.6 and 1.4 times the target).
    n_stop
        Stop once the current dose has this many patients (default 12). A ``stopping``
        expression (:mod:`escalation.rules.grammar`) replaces this rule.
    explore_untried, n_explore
        Go to an untried admissible dose above once the current dose has ``n_explore`` patients
        and a DLT rate below the de-escalation boundary (default on, 9).
    """

    method: ClassVar[str] = "boin12"
    stopping_options: ClassVar[tuple[str, ...]] = ("n_stop",)
    uses_efficacy: ClassVar[bool] = True
    selection_estimate: ClassVar[str] = "Isotonic DLT estimate"

    efficacy_target: float = 0.25
    utility: tuple[float, float, float, float] = (100.0, 40.0, 60.0, 0.0)
    n_star: int = 6
    c_t: float = 0.95
    c_e: float = 0.9
    phi1: float | None = None
    phi2: float | None = None
    n_stop: int = 12
    explore_untried: bool = True
    n_explore: int = 9

    def __post_init__(self) -> None:
        if self.phi1 is None:
            object.__setattr__(self, "phi1", round(0.6 * self.target, 12))
        if self.phi2 is None:
            object.__setattr__(self, "phi2", round(1.4 * self.target, 12))
        object.__setattr__(self, "utility", tuple(float(u) for u in self.utility))
        Design.__post_init__(self)

    def _problems(self) -> list[Problem]:
        problems = Design._problems(self)
        if problems:
            return problems

        def bad(name: str, message: str) -> None:
            problems.append(Problem(field=f"design.{name}", message=message))

        assert self.phi1 is not None and self.phi2 is not None
        if not 0 < self.efficacy_target < 1:
            bad("efficacy_target", f"must be strictly between 0 and 1, got {self.efficacy_target}")
        values: tuple[float, ...] = tuple(self.utility)  # a document may give any number
        if len(values) != 4:
            bad("utility", f"needs 4 utilities (u1 to u4), got {len(values)}")
        else:
            u1, u2, u3, u4 = values
            if not all(0 <= u <= 100 for u in self.utility):
                bad("utility", f"utilities are on a 0-100 scale, got {list(self.utility)}")
            elif not (u1 == 100 and u4 == 0 and u4 <= u2 <= u1 and u4 <= u3 <= u1):
                bad(
                    "utility",
                    "u1 (response without DLT) must be 100, u4 (DLT without response) 0, and "
                    f"u2, u3 between them; got {list(self.utility)}",
                )
        if not 0 < self.phi1 < self.target:
            bad("phi1", f"must be between 0 and the target {self.target}, got {self.phi1}")
        if not self.target < self.phi2 < 1:
            bad("phi2", f"must be between the target {self.target} and 1, got {self.phi2}")
        for name in ("c_t", "c_e"):
            value = getattr(self, name)
            if not 0 < value < 1:
                bad(name, f"must be strictly between 0 and 1, got {value}")
        problems += limit_problems(self, ("n_stop",))
        problems += limit_problems(self, ("n_star", "n_explore"), key="n_stop")
        return problems

    # ---- what the rules and the model use ------------------------------------------------------
    @property
    def lambdas(self) -> tuple[float, float]:
        """(lambda_e, lambda_d) of the toxicity target."""
        return boin_lambdas(self.target, self.phi1, self.phi2)

    @property
    def benchmark(self) -> tuple[float, float]:
        """(u_bar, u_b): the highest unacceptable utility and the utility benchmark."""
        return utility_benchmark(self.target, self.efficacy_target, self.utility)

    def admissibility(self) -> EliminateInadmissible:
        """The admissibility (elimination) rule."""
        return EliminateInadmissible(
            target=self.target, efficacy_target=self.efficacy_target, c_t=self.c_t, c_e=self.c_e
        )

    def option_stopping(self) -> StoppingRule:
        return StopWhenNAtDose(self.n_stop, when_staying=False, dose="current")

    def model_rules(self) -> DesignRules:
        return DesignRules(
            elimination=None,  # admissibility needs the responses: see safety_context
            # the design's own algorithm: no admissible dose to go to ends the trial
            stopping=StopWhenModelStops(),
            waiting=self._waiting(),
            constraints=(NoSkipping(), ExcludeEliminated()),
        )

    def _waiting(self) -> tuple[WaitingRule, ...]:
        """BOIN12 waits for the patients at the current dose whose outcomes are unknown."""
        return (WaitForOutcomes(),)

    def data_problems(self, data: TrialData) -> list[Problem]:
        problems = Design.data_problems(self, data)
        if data.counts is not None:
            problems.append(
                Problem(
                    field="counts",
                    message=f"method {self.method!r} needs each patient's response: give patients",
                )
            )
        return problems

    def posterior_bands(self, data: TrialData) -> PosteriorBands:
        """Each tried dose's Beta(1 + DLTs, 1 + non-DLTs) posterior over its evaluable patients
        (the admissibility rule's posterior); the decision's dose table carries the efficacy and
        utility estimates a picture shows beside it."""
        from escalation.designs.boin import beta_posterior_bands

        self.check_data(data)
        n, t, _, _, _ = self._counts(data)
        over = np.asarray(self.fit(data).prob_overdose, dtype=np.float64)
        return beta_posterior_bands(
            n, t, self.target, model="BOIN12: Beta(1, 1) per dose (evaluable patients)", over=over
        )

    def prob_overdose_definition(self) -> str:
        return (
            f"Pr(DLT rate > {self.target:g} | the evaluable patients at the dose), independent "
            "Beta(1, 1) prior per dose: the posterior of the admissibility rule"
        )

    # ---- the counts the model decides with (TITE-BOIN12 overrides) -----------------------------
    def _counts(
        self, data: TrialData
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, EfficacySummary]:
        """(n, DLTs, responses, pseudo-successes x) per dose, and the summary behind them."""
        e = data.efficacy_summary()
        n = e.n_eval.astype(np.float64)
        t = e.n_tox.astype(np.float64)
        r = e.n_eff.astype(np.float64)
        b = e.n_both.astype(np.float64)
        x = pseudo_successes(r - b, n - t - r + b, b, t - b, self.utility)
        return n, t, r, x, e

    def safety_context(
        self, data: TrialData, fit: ModelFit, rules: DesignRules
    ) -> tuple[DecisionContext, list[RuleOutcome]]:
        ctx, outcomes = Design.safety_context(self, data, fit, rules)
        n, t, r, _, _ = self._counts(data)
        eliminated, outcome = self.admissibility().apply_both(n, t, r)
        return replace(ctx, eliminated=eliminated), [*outcomes, outcome]

    def fit(self, data: TrialData) -> ModelFit:
        n, t, r, x, e = self._counts(data)
        _, u_b = self.benchmark
        eliminated = self.admissibility().apply_both(n, t, r)[0]
        score = np.where(eliminated, 0.0, desirability_from_x(n, x, u_b))
        _, _, p_tox, p_fut = self.admissibility().flags(n, t, r)
        with np.errstate(invalid="ignore", divide="ignore"):
            estimate = np.where(n > 0, t / np.maximum(n, 1e-300), np.nan)
            rate = np.where(n > 0, r / np.maximum(n, 1e-300), np.nan)
        efficacy = tuple(
            EfficacyEstimate(
                n_evaluable=float(n[i]),
                dlt=float(t[i]),
                responses=float(r[i]),
                both=float(e.n_both[i]) if i < e.n_both.size else 0.0,
                waiting=int(e.n_waiting[i]),
                response_rate=_maybe(rate[i]),
                prob_futile=float(p_fut[i]),
                utility_mean=float(100.0 * (1.0 + x[i]) / (2.0 + n[i])),
                desirability=float(score[i]),
                admissible=not bool(eliminated[i]),
            )
            for i in range(self.n_doses)
        )
        current = data.current_dose_level
        cur = None if current is None else current - 1
        index, direction, reason, stop = self._propose(cur, n, t, score, eliminated, data)
        lambda_e, lambda_d = self.lambdas
        u_bar, _ = self.benchmark
        return ModelFit(
            proposed_index=index,
            direction=direction,
            reason=reason,
            estimate=estimate,
            prob_overdose=np.where(n > 0, p_tox, np.nan),
            n_for_safety=n.astype(np.int64),
            dlt_for_safety=t.astype(np.int64),
            model={"lambda_e": lambda_e, "lambda_d": lambda_d, "u_bar": u_bar, "u_b": u_b},
            efficacy=efficacy,
            stop_reason=stop,
        )

    def _propose(
        self,
        cur: int | None,
        n: FloatArray,
        t: FloatArray,
        score: FloatArray,
        eliminated: npt.NDArray[np.bool_],
        data: TrialData,
    ) -> tuple[int, Action, str, str | None]:
        """BOIN12's movement rules at the current dose (module docstring, steps 1 to 3)."""
        if cur is None:
            return self.start_level - 1, Action.STAY, START_REASON, None
        nd, yd = float(n[cur]), float(t[cur])
        if nd <= 0:
            return (
                cur,
                Action.STAY,
                f"No patient at dose level {cur + 1} has both outcomes known yet.",
                None,
            )
        escalate_ok, deescalate = self._toxicity_zone(nd, yd)
        observed = f"{yd:g} of {nd:g} patients at dose level {cur + 1} had a DLT"
        allowed = np.flatnonzero(~eliminated)
        below = allowed[allowed < cur]
        above = allowed[allowed > cur]
        lower = int(below[-1]) if below.size else None
        upper = int(above[0]) if above.size else None
        lambda_e, lambda_d = self.lambdas
        stop: str | None = None
        if deescalate:
            why = f"{observed} (rate {yd / nd:.2f} >= lambda_d = {lambda_d:.3f}): de-escalate"
            if lower is not None:
                index, text = (
                    lower,
                    f"{why} to the highest admissible dose below, level {lower + 1}.",
                )
            elif not eliminated[cur]:
                index, text = cur, f"{why}, but no admissible dose is below: stay."
            else:
                index, text = cur, f"{why}, but no dose below is admissible."
                stop = f"No admissible dose to de-escalate to from dose level {cur + 1}."
        else:
            candidates = [c for c in (lower, cur) if c is not None]
            explore = escalate_ok or nd < self.n_star
            if upper is not None and explore:
                candidates.append(upper)
            best = max(candidates, key=lambda c: (score[c], c))
            listing = ", ".join(f"level {c + 1}: {100 * score[c]:.1f}" for c in sorted(candidates))
            zone = (
                f"rate {yd / nd:.2f} <= lambda_e = {lambda_e:.3f}"
                if escalate_ok
                else f"rate {yd / nd:.2f} between lambda_e = {lambda_e:.3f} and lambda_d = "
                f"{lambda_d:.3f}"
            )
            if upper is not None and not explore:
                zone += f" with {nd:g} >= n* = {self.n_star} patients: no exploring above"
            text = (
                f"{observed} ({zone}); desirability 100 x Pr(utility > {self.benchmark[1]:.1f}) "
                f"among the candidates: {listing}; the highest is dose level {best + 1}."
            )
            index = best
            if eliminated[best]:
                stop = f"No admissible dose within reach of dose level {cur + 1}."
        if (
            stop is None
            and self.explore_untried
            and upper is not None
            and nd >= self.n_explore
            and not deescalate
            and data.summary.n_treated[upper] == 0
        ):
            index = upper
            text += (
                f" Untried-dose exploration: {nd:g} >= {self.n_explore} patients at dose level "
                f"{cur + 1} with a DLT rate below lambda_d and the next admissible dose, level "
                f"{upper + 1}, untried: go to it."
            )
        if stop is not None:
            text += " " + stop
        direction = (
            Action.STAY if index == cur else Action.ESCALATE if index > cur else Action.DEESCALATE
        )
        return index, direction, text, stop

    def _toxicity_zone(self, nd: float, yd: float) -> tuple[bool, bool]:
        """(DLTs at or below the escalation boundary, at or above the de-escalation boundary) for
        ``yd`` DLTs among ``nd`` evaluable patients: R's get.boundary table at n (the
        de-escalation boundary capped at the elimination boundary of ``c_t``)."""
        row = boundary_row(
            round(nd), target=self.target, phi1=self.phi1, phi2=self.phi2, cutoff=self.c_t
        )
        return yd <= row.escalate_at_most, yd >= row.deescalate_at_least

    # ---- final selection -------------------------------------------------------------------------
    def choose(self, data: TrialData, fit: ModelFit) -> Selection:
        n, t, r, _, e = self._counts(data)
        eliminated = self.admissibility().apply_both(n, t, r)[0]
        current = data.current_dose_level
        early = fit.stop_reason is not None and (
            current is None or data.summary.n_treated[current - 1] < self.n_stop
        )
        return obd_selection(
            n,
            t,
            r,
            eliminated,
            target=self.target,
            utility=self.utility,
            n_waiting=int(e.n_waiting.sum()),
            early_stop=fit.stop_reason if early else None,
        )


def obd_selection(
    n: FloatArray,
    t: FloatArray,
    r: FloatArray,
    eliminated: npt.NDArray[np.bool_],
    *,
    target: float,
    utility: tuple[float, float, float, float],
    n_waiting: int = 0,
    early_stop: str | None = None,
) -> Selection:
    """BOIN12's optimal biological dose from evaluable counts (module docstring)."""
    obd, mtd_row, tox_row, util_row = obd_select_batch(
        n[None, :], t[None, :], r[None, :], eliminated[None, :], target=target, utility=utility
    )
    tox, util = tox_row[0], util_row[0]
    best, mtd = int(obd[0]), int(mtd_row[0])
    estimates = tuple(_maybe(v) for v in tox)
    elim_levels = tuple(int(i) + 1 for i in np.flatnonzero(eliminated))
    dose: int | None
    if early_stop is not None:
        dose, reason = None, f"No dose is recommended: the trial stopped early ({early_stop})"
    elif mtd < 0:
        dose, reason = None, "No dose is recommended: no patient has both outcomes known."
    elif best < 0:
        dose, reason = (
            None,
            (
                "No dose is recommended: no admissible treated dose at or below the MTD, dose level "
                f"{mtd + 1}."
            ),
        )
    else:
        dose = best + 1
        reason = (
            f"Optimal biological dose: level {dose}, the highest estimated utility "
            f"({util[best]:.1f}) among the admissible doses at or below the MTD, dose level "
            f"{mtd + 1} (isotonic DLT estimate {tox[mtd]:.3f}, the closest to {target:g})."
        )
    reason += provisional_note(n_waiting).replace("DLT window", "DLT or efficacy window")
    return Selection(
        dose_level=dose,
        reason=reason,
        estimates=estimates,
        prob_overdose=tuple(None for _ in range(n.size)),
        eliminated=elim_levels,
        provisional=n_waiting > 0,
        prob_overdose_definition="",
    )
