"""BOIN: the Bayesian optimal interval design, as R's BOIN 2.7.2 conducts it.

At the current dose, with n complete patients and y DLTs: escalate if y / n <= lambda_e,
de-escalate if y / n > lambda_d, otherwise stay (the table of :func:`boundary_row`). A dose with
n >= 3 and Pr(p > target | y, n) > ``cutoff`` under a Beta(1, 1) prior is eliminated with every
higher dose; eliminating the lowest dose stops the trial with no recommended dose; escalation into
an eliminated dose becomes stay; with ``extra_safe`` the trial also stops when
Pr(p_1 > target) > cutoff - offset. The trial stops at ``max_patients`` and when the decision is to
stay at a dose that already has ``n_stop`` patients (R's ``n.earlystop``). Pending patients at the
current dose make the decision wait. The final dose is chosen by isotonic regression
(:func:`escalation.models.isotonic.select_isotonic`, R's ``select.mtd``).

References
----------
Liu S, Yuan Y (2015). Bayesian optimal interval designs for phase I clinical trials. JRSS-C
64:507-523.
Yuan Y, Hess KR, Hilsenbeck SG, Gilbert MR (2016). Bayesian optimal interval design: a simple and
well-performing design for phase I oncology trials. Clin Cancer Res 22:4291-4301.

Examples
--------
>>> from escalation import BOIN, TrialData
>>> design = BOIN(n_doses=5, target=0.3)
>>> data = TrialData.from_counts([3, 3, 0, 0, 0], [0, 1, 0, 0, 0], current_level=2)
>>> decision = design.decide(data)
>>> decision.action.value, decision.next_level
('stay', 2)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from escalation.backfill import interval_backfill_status, resolve_conflict
from escalation.data import TrialData
from escalation.decision import Action, BackfillStatus, PosteriorBands, Selection
from escalation.designs.base import (
    START_REASON,
    Design,
    DesignRules,
    ModelFit,
    WaitingRule,
    _maybe,
    limit_problems,
    move,
    provisional_note,
)
from escalation.errors import Problem
from escalation.models.boundaries import beta_overdose_prob, boin_lambdas, boundary_row
from escalation.models.isotonic import IsotonicSelection, NoDoseReason, select_isotonic
from escalation.rules.constraints import ExcludeEliminated, NoSkipping
from escalation.rules.elimination import EliminateToxicDoses
from escalation.rules.stopping import (
    StoppingRule,
    StopWhenDeescalationImpossible,
    StopWhenNAtDose,
    StopWhenTooToxic,
)
from escalation.rules.waiting import WaitForPending

__all__ = ["BOIN", "beta_posterior_bands", "isotonic_selection"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BOIN(Design):
    """Bayesian optimal interval design (see the module docstring).

    Parameters
    ----------
    n_doses
        Number of dose levels.
    target
        Target DLT probability.
    phi1, phi2
        Highest DLT probability deemed sub-therapeutic and lowest deemed overly toxic; default
        0.6 and 1.4 times the target.
    cutoff
        Posterior probability above which a dose is eliminated (default 0.95).
    extra_safe, offset
        Stop when Pr(p_1 > target) > cutoff - offset at the lowest dose (n >= 3).
    bound_mtd
        Final selection only among doses whose isotonic estimate is <= lambda_d.
    cohort_size, max_patients, n_stop, start_level
        Cohort size; maximum sample size; stop when staying at a dose with ``n_stop`` patients;
        first dose level.
    backfill
        Backfill lower cleared doses while the escalation cohort is pending (BF-BOIN,
        :mod:`escalation.backfill`): opening rule, conflict rule, and ``max_patients`` then counts
        the escalation patients only.
    stop_when_deescalation_impossible
        Stop, recommending no dose, when the rule asks to de-escalate from the lowest dose (R
        escalation's ``get_boin`` option of that name; default false, as the BOIN papers).
    stopping
        A stopping expression (:mod:`escalation.rules.grammar`) in place of the rules
        ``n_stop``, the extra-safe stop and ``stop_when_deescalation_impossible`` stand for.
    """

    method: ClassVar[str] = "boin"
    backfill_kind: ClassVar[str | None] = "interval"
    stopping_options: ClassVar[tuple[str, ...]] = ("n_stop", "stop_when_deescalation_impossible")

    phi1: float | None = None
    phi2: float | None = None
    cutoff: float = 0.95
    extra_safe: bool = False
    offset: float = 0.05
    bound_mtd: bool = False
    n_stop: int = 100
    stop_when_deescalation_impossible: bool = False

    def __post_init__(self) -> None:
        if self.phi1 is None:
            object.__setattr__(self, "phi1", round(0.6 * self.target, 12))
        if self.phi2 is None:
            object.__setattr__(self, "phi2", round(1.4 * self.target, 12))
        Design.__post_init__(self)

    def _problems(self) -> list[Problem]:
        problems = Design._problems(self)
        if problems:
            return problems

        def bad(name: str, message: str) -> None:
            problems.append(Problem(field=f"design.{name}", message=message))

        assert self.phi1 is not None and self.phi2 is not None
        if not 0 < self.phi1 < self.target:
            bad("phi1", f"must be between 0 and the target {self.target}, got {self.phi1}")
        elif self.target - self.phi1 < 0.1 * self.target:
            bad("phi1", "too close to the target (needs target - phi1 >= 0.1 target)")
        if not self.target < self.phi2 < 1:
            bad("phi2", f"must be between the target {self.target} and 1, got {self.phi2}")
        elif self.phi2 - self.target < 0.1 * self.target:
            bad("phi2", "too close to the target (needs phi2 - target >= 0.1 target)")
        if not 0 < self.cutoff < 1:
            bad("cutoff", f"must be strictly between 0 and 1, got {self.cutoff}")
        if not 0 <= self.offset < 0.5:
            bad("offset", f"must be in [0, 0.5), got {self.offset}")
        problems += limit_problems(self, ("n_stop",))
        return problems

    @property
    def lambdas(self) -> tuple[float, float]:
        """(lambda_e, lambda_d)."""
        return boin_lambdas(self.target, self.phi1, self.phi2)

    def option_stopping(self) -> StoppingRule:
        stopping: StoppingRule = StopWhenNAtDose(self.n_stop, when_staying=True)
        if self.extra_safe:
            stopping = stopping | StopWhenTooToxic(level=1, prob=self.cutoff - self.offset)
        if self.stop_when_deescalation_impossible:
            stopping = stopping | StopWhenDeescalationImpossible()
        return stopping

    def model_rules(self) -> DesignRules:
        return DesignRules(
            elimination=EliminateToxicDoses(cutoff=self.cutoff),
            stopping=None,
            waiting=self._waiting(),
            constraints=(NoSkipping(), ExcludeEliminated()),
        )

    def _waiting(self) -> tuple[WaitingRule, ...]:
        """BOIN waits for the patients pending at the current dose."""
        return (WaitForPending(),)

    def prob_overdose_definition(self) -> str:
        return (
            f"Pr(DLT rate > {self.target:g} | the complete patients at the dose), independent "
            "Beta(1, 1) prior per dose: the posterior of the elimination rule"
        )

    def selection_overdose_definition(self) -> str:
        """What ``prob_overdose`` is in this design's final selection (R's ``select.mtd``)."""
        a = self._selection_prior()
        return (
            f"Pr(DLT rate > {self.target:g} | the complete patients at the dose), independent "
            f"Beta({a:g}, {a:g}) prior per dose, made monotone by isotonic regression over the "
            "treated doses (R's BOIN::select.mtd); not the Beta(1, 1) posterior of the decisions"
        )

    def _selection_prior(self) -> float:
        """a in the final selection's (y + a) / (n + 2a) estimate: 0.05, as R's select.mtd."""
        return 0.05

    def fit(self, data: TrialData) -> ModelFit:
        s = data.summary
        n, y = s.n_complete, s.n_dlt
        with np.errstate(invalid="ignore", divide="ignore"):
            estimate = np.where(n > 0, y / np.maximum(n, 1), np.nan)
        prob_overdose = np.where(n > 0, beta_overdose_prob(self.target, n, y), np.nan)
        current = data.current_dose_level
        index, direction, reason = self._propose(None if current is None else current - 1, n, y)
        lambda_e, lambda_d = self.lambdas
        return ModelFit(
            proposed_index=index,
            direction=direction,
            reason=reason,
            estimate=estimate,
            prob_overdose=prob_overdose,
            n_for_safety=n,
            dlt_for_safety=y,
            model={"lambda_e": lambda_e, "lambda_d": lambda_d},
        )

    def _propose(
        self, cur: int | None, n: npt.NDArray[np.int64], y: npt.NDArray[np.int64]
    ) -> tuple[int, Action, str]:
        """BOIN's interval rule at the current dose, on its complete patients."""
        if cur is None:
            return self.start_level - 1, Action.STAY, START_REASON
        nd, yd = int(n[cur]), int(y[cur])
        if nd == 0:
            return (
                cur,
                Action.STAY,
                f"No patient at dose level {cur + 1} has completed the DLT window yet.",
            )
        row = boundary_row(
            nd, target=self.target, phi1=self.phi1, phi2=self.phi2, cutoff=self.cutoff
        )
        lambda_e, lambda_d = self.lambdas
        observed = f"{yd} of {nd} patients at dose level {cur + 1} had a DLT (rate {yd / nd:.2f})"
        if yd <= row.escalate_at_most:
            out = move(
                cur, Action.ESCALATE, self.n_doses, f"{observed}, <= lambda_e = {lambda_e:.3f}"
            )
        elif yd >= row.deescalate_at_least:
            out = move(
                cur, Action.DEESCALATE, self.n_doses, f"{observed}, > lambda_d = {lambda_d:.3f}"
            )
        else:
            out = (
                cur,
                Action.STAY,
                f"{observed}, between lambda_e = {lambda_e:.3f} and lambda_d = {lambda_d:.3f}.",
            )
        eliminate = row.eliminate_at_least is not None and yd >= row.eliminate_at_least
        return self._with_backfill(cur, out, eliminate, n, y)

    def _with_backfill(
        self,
        cur: int,
        proposal: tuple[int, Action, str],
        eliminate: bool,
        n: npt.NDArray[np.int64],
        y: npt.NDArray[np.int64],
    ) -> tuple[int, Action, str]:
        """The proposal after BF-BOIN's conflict rule (:func:`escalation.backfill.resolve_conflict`)
        on the complete data ``n``, ``y`` (escalation and backfill pooled), when the design has
        the backfill option."""
        if self.backfill is None:
            return proposal
        _index, direction, reason = proposal
        call = {
            Action.ESCALATE: "escalate",
            Action.DEESCALATE: "de-escalate",
            Action.STAY: "stay",
        }[direction]
        if eliminate:
            call = "eliminate"
        resolved = resolve_conflict(
            n, y, cur, call, target=self.target, phi1=self.phi1, phi2=self.phi2, cutoff=self.cutoff
        )
        if resolved is None:
            return proposal
        verb, k, why = resolved
        if verb == "escalate":
            return move(cur, Action.ESCALATE, self.n_doses, f"{reason} {why[:-1]}")
        if verb == "stay":
            return cur, Action.STAY, f"{reason} {why}"
        return k, Action.DEESCALATE, f"{reason} {why}"

    def backfill_status(
        self, data: TrialData, fit: ModelFit, eliminated: npt.NDArray[np.bool_], index: int
    ) -> BackfillStatus | None:
        """BF-BOIN's opening rule (:func:`escalation.backfill.interval_backfill_status`)."""
        if self.backfill is None:
            return None
        current = data.current_dose_level
        return interval_backfill_status(
            self.backfill,
            data,
            current_index=None if current is None else current - 1,
            eliminated=eliminated.tolist(),
            target=self.target,
            phi1=self.phi1,
            phi2=self.phi2,
            cutoff=self.cutoff,
        )

    def _beta_counts(
        self, data: TrialData
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Patients and DLTs behind each dose's Beta posterior (complete patients for BOIN)."""
        s = data.summary
        return s.n_complete.astype(np.float64), s.n_dlt.astype(np.float64)

    def posterior_bands(self, data: TrialData) -> PosteriorBands:
        """Each tried dose's Beta(1 + DLTs, 1 + non-DLTs) posterior: the one dose elimination uses.

        BOIN makes no dose-toxicity model: doses are independent, untried ones are blank. The
        interval probability Pr(DLT rate > target) is the decision's ``prob_overdose`` (the same
        numbers as the recommendation's table).
        """
        self.check_data(data)
        n, y = self._beta_counts(data)
        # the overdose bars are the decision table's own numbers (the elimination rule's posterior)
        over = np.asarray(self.fit(data).prob_overdose, dtype=np.float64)
        return beta_posterior_bands(n, y, self.target, model=self._bands_model(), over=over)

    def _bands_model(self) -> str:
        return "independent Beta(1, 1) posteriors per dose"

    def choose(self, data: TrialData, fit: ModelFit) -> Selection:
        s = data.summary
        sel = select_isotonic(
            s.n_complete,
            s.n_dlt,
            target=self.target,
            cutoff=self.cutoff,
            extra_safe=self.extra_safe,
            offset=self.offset,
            bound_mtd=self.bound_mtd,
            phi2=self.phi2,
            prior=self._selection_prior(),
        )
        return isotonic_selection(
            sel,
            self.target,
            int(s.n_pending.sum()),
            prob_overdose_definition=self.selection_overdose_definition(),
        )


def beta_posterior_bands(
    n: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    target: float,
    model: str = "independent Beta(1, 1) posteriors per dose",
    over: npt.NDArray[np.float64] | None = None,
) -> PosteriorBands:
    """Each tried dose's Beta(1 + y, 1 + n - y) posterior, its 50% and 95% bands and
    Pr(DLT rate > target); untried doses are blank (NaN). ``over``: the Pr(DLT rate > target)
    bars when they come from other counts (TITE-BOIN's table counts pending patients as without
    DLT, its bands by their follow-up)."""
    from scipy.stats import beta as beta_dist  # scipy.stats is slow to import: only here

    a, b = y + 1.0, n - y + 1.0
    tried = n > 0

    def q(level: float) -> npt.NDArray[np.float64]:
        return np.where(tried, beta_dist.ppf(level, a, b), np.nan)

    def pairs(lo: float, hi: float) -> tuple[tuple[float, float], ...]:
        return tuple((float(x), float(z)) for x, z in zip(q(lo), q(hi), strict=True))

    if over is None:
        over = np.where(tried, beta_overdose_prob(target, n, y), np.nan)
    return PosteriorBands(
        model=model,
        center=tuple(float(v) for v in np.where(tried, a / (a + b), np.nan)),
        center_label="posterior mean",
        band50=pairs(0.25, 0.75),
        band95=pairs(0.025, 0.975),
        interval_probs={f"Pr(DLT rate > {target:g})": tuple(float(v) for v in over)},
    )


def isotonic_selection(
    sel: IsotonicSelection, target: float, n_pending: int, *, prob_overdose_definition: str = ""
) -> Selection:
    """The decision-layer form of an isotonic selection, with a sentence saying why."""
    estimates = tuple(_maybe(v) for v in sel.estimates)
    reasons = {
        NoDoseReason.NO_PATIENTS: "No dose is recommended: no patient has completed the DLT window.",
        NoDoseReason.LOWEST_ELIMINATED: "No dose is recommended: the lowest dose level is too toxic.",
        NoDoseReason.NONE_ADMISSIBLE: "No dose is recommended: no treated dose level is admissible.",
        NoDoseReason.ALL_ABOVE_BOUND: (
            "No dose is recommended: every isotonic estimate is above the de-escalation boundary."
        ),
    }
    if sel.dose_index is None:
        assert sel.no_dose_reason is not None
        reason = reasons[sel.no_dose_reason]
    else:
        est = sel.estimates[sel.dose_index]
        reason = (
            f"Recommended dose: level {sel.dose_index + 1}, whose isotonic DLT estimate "
            f"{est:.3f} is the closest to the target {target:g}."
        )
    reason += provisional_note(n_pending)
    return Selection(
        dose_level=None if sel.dose_index is None else sel.dose_index + 1,
        reason=reason,
        estimates=estimates,
        prob_overdose=tuple(_maybe(v) for v in sel.prob_overdose),
        eliminated=tuple(int(i) + 1 for i in np.flatnonzero(sel.eliminated)),
        provisional=n_pending > 0,
        prob_overdose_definition=prob_overdose_definition,
    )
