"""BLRM: Bayesian logistic regression with escalation with overdose control (EWOC).

The model (:mod:`escalation.models.blrm`): logit p(d) = log(alpha) + beta log(d / d*) in the dose
amount d, with a bivariate normal prior on (log(alpha), log(beta)). Each decision computes, per
dose level, the posterior probabilities that the DLT rate is in the underdosing interval
[0, 0.16), the target interval [0.16, 0.33) and the overdosing interval [0.33, 1]
(``target_interval``). Then:

* overdose control (EWOC): a dose level is eligible when Pr(overdosing) < ``overdose_cutoff``
  (0.25); ineligible levels are excluded from this decision (they may become eligible again with
  more data). Since every dose-toxicity curve of the model increases, the ineligible levels are
  the highest ones; when no level is eligible the trial stops with no tolerable dose;
* the model proposes the eligible level with the highest Pr(target);
* dose-change limits: never more than one level above the highest level tried (no skipping),
  never above ``max_step`` times the highest amount tried, never an excluded level;
* the trial stops at ``max_patients``; while a patient at the current dose is inside the DLT
  window the decision waits, unless ``tite_weights`` weighs pending patients' partial follow-up
  into the likelihood as TITE-CRM does;
* final selection: the eligible level with the highest Pr(target) among levels with at least
  ``min_at_mtd`` patients.

Per-dose output: ``estimate`` is the posterior **median** of p(d); ``prob_tox_mean`` the posterior
mean; ``prob_tox_interval`` the equal-tailed 95% credible interval; ``prob_overdose``
Pr(p(d) >= upper limit of the target interval). ``diagnostics`` holds the three interval
probabilities, the quantiles at 2.5, 25, 50, 75 and 97.5% (what a dose-toxicity plot with 50% and
95% bands needs), the eligible levels, the engine's details and ``final`` (false when MCMC
diagnostics failed).

Defaults (Neuenschwander et al. 2008): the reference dose d* is a provisional MTD in the middle of
the dose range, sqrt(lowest amount x highest amount) (the middle on the log scale the model works
in), and the prior, :meth:`BLRMPrior.centred_at_mtd`, is weakly informative and centred there:
log(alpha) ~ N(logit(target), 1.5^2), log(beta) ~ N(0, 0.5^2), independent, so that the prior
median DLT probability at d* is the target, lower doses are safer a priori and higher ones more
toxic. For five doses from 0.25e6 to 4e6 cells/kg and target 0.25, the prior Pr(overdosing) per
dose is 0.12, 0.23, 0.40, 0.60, 0.75; after 1 DLT in 3 patients at the lowest dose its
Pr(overdosing) is 0.21 (median DLT rate 0.17) and the trial stays there (the former default,
log(alpha) sd 2 and log(beta) sd 1 at the highest dose, stopped the trial).
``diagnostics["prior"]`` holds the prior's interval probabilities per dose. Overdose control acts
from the first known outcome on, as in EWOC's conduct: the first cohort goes to ``start_level``.
``target`` may be left out when a ``prior`` is given (the document must then also give
``target_interval``); it is then the middle of the target interval.

References
----------
Neuenschwander B, Branson M, Gsponer T (2008). Critical aspects of the Bayesian approach to phase I
cancer trials. Statistics in Medicine 27:2420-2439.
Babb J, Rogatko A, Zacks S (1998). Cancer phase I clinical trials: efficient dose escalation with
overdose control. Statistics in Medicine 17:1103-1120.
Neuenschwander B, Matano A, Tang Z, et al. (2015). A Bayesian industry approach to phase I
combination trials in oncology. In: Statistical Methods in Drug Combination Studies. Chapman &
Hall/CRC.
Cheung YK, Chappell R (2000). Biometrics 56:1177-1182 (weighted likelihood for pending patients).

Examples
--------
>>> from escalation import TrialData
>>> from escalation.designs.blrm import BLRM
>>> design = BLRM(n_doses=5, target=0.25, dose_amounts=(0.25e6, 0.5e6, 1e6, 2e6, 4e6))
>>> data = TrialData.from_counts([3, 3, 0, 0, 0], [0, 0, 0, 0, 0], current_level=2)
>>> decision = design.decide(data)
>>> decision.action.value, decision.next_level
('escalate', 3)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from escalation.data import PatientState, TrialData
from escalation.decision import PosteriorBands, RuleKind, RuleOutcome, Selection
from escalation.designs.base import (
    START_REASON,
    Design,
    DesignRules,
    ModelFit,
    action_towards,
    limit_problems,
    provisional_note,
)
from escalation.errors import InvalidDesignError, Problem
from escalation.limits import LIMITS
from escalation.models.blrm import (
    DEFAULT_TARGET_INTERVAL,
    BLRMPosterior,
    BLRMPrior,
    blrm_posterior,
)
from escalation.rules.constraints import ExcludeEliminated, MaxAmountStep, NoSkipping
from escalation.rules.elimination import EliminateToxicDoses, eliminate_from_first
from escalation.rules.stopping import StopWhenTooToxic
from escalation.rules.waiting import WaitForPending

__all__ = ["BLRM", "OverdoseControl"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, kw_only=True)
class OverdoseControl(EliminateToxicDoses):
    """EWOC: exclude dose d and every higher dose when Pr(p_d >= ``overdose_bound``) >= ``cutoff``.

    The pipeline's elimination step, fed with the BLRM's Pr(overdosing) per dose; it applies from
    the first decision (``min_n=0``: the prior alone may exclude doses). Unlike BOIN's elimination
    it is re-evaluated at every decision on all the data.

    References
    ----------
    Babb, Rogatko & Zacks (1998), Stat Med 17:1103; Neuenschwander et al. (2008), section 3.
    """

    min_n: int = 0
    overdose_bound: float = DEFAULT_TARGET_INTERVAL[1]

    @property
    def label(self) -> str:
        extra = ", from_first_outcome=True" if self.from_first_outcome else ""
        return (
            f"OverdoseControl(cutoff={self.cutoff:g}, overdose_bound={self.overdose_bound:g}"
            f"{extra})"
        )

    def apply(
        self,
        n_at_dose: IntArray,
        dlt_at_dose: IntArray,
        prob_overdose: FloatArray,
        target: float,
        *,
        any_outcome: bool = True,
    ) -> tuple[npt.NDArray[np.bool_], RuleOutcome]:
        early = self.not_yet(n_at_dose.size, any_outcome)
        if early is not None:
            return early
        over = (n_at_dose >= self.min_n) & (np.nan_to_num(prob_overdose, nan=0.0) >= self.cutoff)
        eliminated, first, levels = eliminate_from_first(over)
        event = f"Pr(DLT rate >= {self.overdose_bound:g})"
        if first is None:
            return eliminated, RuleOutcome(
                label=self.label,
                kind=RuleKind.ELIMINATION,
                triggered=False,
                detail=f"Every dose level has {event} < {self.cutoff:g} (overdose control).",
            )
        detail = (
            f"Overdose control: dose level {first + 1} has {event} = {prob_overdose[first]:.3f} "
            f">= {self.cutoff:g}; {levels} excluded."
        )
        return eliminated, RuleOutcome(
            label=self.label, kind=RuleKind.ELIMINATION, triggered=True, detail=detail
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Statistics:
    """What the likelihood uses: complete outcomes per dose, and weighted partial follow-up."""

    n_complete: IntArray
    n_dlt: IntArray
    partial_dose: IntArray
    partial_weight: FloatArray
    n_evaluable: IntArray  # patients in the likelihood, per dose


@dataclass(frozen=True, slots=True, kw_only=True)
class BLRM(Design):
    """Bayesian logistic regression model with escalation with overdose control.

    Parameters
    ----------
    n_doses
        Number of dose levels.
    dose_amounts
        The dose amounts by level (cells/kg), increasing: the trial document's ``doses[].amount``
        (not a design option).
    target
        The point target DLT probability: the default prior's median at the reference dose, and
        the target of simulations; it must lie in ``target_interval``. Optional when ``prior`` is
        given (default: the middle of ``target_interval``).
    target_interval
        (lower, upper): underdosing below lower, target from lower up to upper, overdosing from
        upper (default (0.16, 0.33)).
    overdose_cutoff
        EWOC: doses with Pr(overdosing) >= this are excluded (default 0.25).
    max_step
        The next dose is at most ``max_step`` times the highest amount tried (default 2).
    min_at_mtd
        Final selection only among doses with at least this many patients (default 6).
    prior
        ``{"mean": [m1, m2], "sd": [s1, s2], "corr": r}`` for (log(alpha), log(beta)); default
        ``{"mean": [logit(target), 0], "sd": [1.5, 0.5], "corr": 0}`` (weakly informative,
        centred at the reference dose).
    reference_dose
        The reference dose d* (default: sqrt(lowest amount x highest amount), the middle of the
        dose range on the log scale).
    engine
        ``"grid"`` (deterministic, default) or ``"mcmc"`` (PyMC NUTS, 4 chains x 1000 draws).
    seed
        The MCMC seed (the same seed gives the same decision).
    tite_weights
        ``False`` (default): only complete patients enter the model and the decision waits for
        pending patients at the current dose. ``True`` or ``"linear"``: pending and withdrawn
        patients without a DLT enter with weight w = follow-up / window (TITE-CRM), no waiting.
    cohort_size, max_patients, start_level, stagger_days, stopping
        As for every design.
    """

    method: ClassVar[str] = "blrm"
    backfill_kind: ClassVar[str | None] = "model"
    interval_level: ClassVar[float | None] = 0.95
    selection_estimate: ClassVar[str] = "Posterior median DLT"
    #: the document parser passes the doses' amounts to designs that declare this
    uses_dose_amounts: ClassVar[bool] = True
    #: a document may leave ``target`` out when it gives these options
    target_optional_with: ClassVar[tuple[str, ...]] = ("prior", "target_interval")
    _not_options: ClassVar[frozenset[str]] = frozenset({"n_doses", "stopping", "dose_amounts"})

    dose_amounts: tuple[float, ...] = ()
    target: float = math.nan  # optional with a prior: the middle of the target interval
    target_interval: tuple[float, float] = DEFAULT_TARGET_INTERVAL
    overdose_cutoff: float = 0.25
    max_step: float = 2.0
    min_at_mtd: int = 6
    prior: Mapping[str, Any] | None = None
    reference_dose: float | None = None
    engine: Literal["grid", "mcmc"] = "grid"
    seed: int = 0
    tite_weights: bool | Literal["linear"] = False
    _prior: BLRMPrior = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dose_amounts", tuple(float(a) for a in self.dose_amounts))
        object.__setattr__(self, "target_interval", tuple(self.target_interval))
        if math.isnan(self.target):
            if self.prior is None:
                raise InvalidDesignError(
                    "missing (the target DLT probability; it may be left out only when a prior "
                    "and a target_interval are given)",
                    field="design.target",
                )
            try:
                lo, hi = (float(v) for v in self.target_interval)
            except (TypeError, ValueError):
                pass  # _problems names the bad interval
            else:
                object.__setattr__(self, "target", round((lo + hi) / 2, 12))
        Design.__post_init__(self)  # raises with every problem
        prior = self._parse_prior()
        object.__setattr__(self, "_prior", prior)
        object.__setattr__(self, "prior", prior.as_dict())
        if self.reference_dose is None:
            middle = math.sqrt(self.dose_amounts[0] * self.dose_amounts[-1])
            object.__setattr__(self, "reference_dose", middle)

    def __hash__(self) -> int:
        return hash(
            (
                json.dumps(self.options(), sort_keys=True),
                self.n_doses,
                self.dose_amounts,
                self.stopping,
            )
        )

    def _parse_prior(self) -> BLRMPrior:
        """The prior (``_problems`` rejected a bad mapping and a target outside the interval)."""
        if self.prior is None:
            return BLRMPrior.centred_at_mtd(self.target)
        return BLRMPrior.from_mapping(self.prior, field="design.prior")

    def _problems(self) -> list[Problem]:
        problems = Design._problems(self)

        def bad(name: str, message: str) -> None:
            problems.append(Problem(field=f"design.{name}", message=message))

        amounts = self.dose_amounts
        if not amounts:
            problems.append(
                Problem(
                    field="doses",
                    message="the blrm design needs every dose's amount (doses[].amount, e.g. "
                    "cells/kg)",
                )
            )
        elif len(amounts) != self.n_doses:
            bad("dose_amounts", f"{len(amounts)} amounts for {self.n_doses} dose levels")
        elif any(LIMITS["dose_amount"].check(a) is not None for a in amounts):
            problems.append(
                Problem(
                    field="doses",
                    message="dose amounts must be positive finite numbers: "
                    + str(next(w for a in amounts if (w := LIMITS["dose_amount"].check(a)))),
                )
            )
        elif any(b <= a for a, b in pairwise(amounts)):
            problems.append(
                Problem(field="doses", message="dose amounts must increase with the level")
            )
        interval = self.target_interval
        if len(interval) != 2 or not 0.0 < interval[0] < interval[1] < 1.0:
            bad(
                "target_interval",
                f"expected [lower, upper] with 0 < lower < upper < 1, got {list(interval)}",
            )
        elif not interval[0] <= self.target < interval[1]:
            bad(
                "target",
                f"the target {self.target:g} must lie in the target interval "
                f"[{interval[0]:g}, {interval[1]:g})",
            )
        if not 0.0 < self.overdose_cutoff < 1.0:
            bad("overdose_cutoff", f"must be strictly between 0 and 1, got {self.overdose_cutoff}")
        if (why := LIMITS["max_step_factor"].check(self.max_step)) is not None:
            bad("max_step", f"a factor on the highest dose tried: {why}")
        problems += limit_problems(self, ("min_at_mtd",))
        if self.reference_dose is not None and LIMITS["dose_amount"].check(self.reference_dose):
            bad("reference_dose", f"must be a positive dose amount, got {self.reference_dose}")
        if self.engine not in ("grid", "mcmc"):
            bad("engine", f"must be 'grid' or 'mcmc', got {self.engine!r}")
        problems += limit_problems(self, ("seed",))
        if self.tite_weights not in (False, True, "linear"):
            bad("tite_weights", f"must be false, true or 'linear', got {self.tite_weights!r}")
        if self.prior is not None:
            try:
                BLRMPrior.from_mapping(self.prior, field="design.prior")
            except InvalidDesignError as e:
                problems.extend(e.problems)
        return problems

    # ---- the model ---------------------------------------------------------------------------
    @property
    def tite(self) -> bool:
        """Whether pending patients' partial follow-up enters the likelihood."""
        return self.tite_weights is not False

    def _statistics(self, data: TrialData) -> _Statistics:
        s = data.summary
        n_complete = s.n_complete.copy()
        if not self.tite:
            return _Statistics(
                n_complete=n_complete,
                n_dlt=s.n_dlt,
                partial_dose=np.zeros(0, dtype=np.int64),
                partial_weight=np.zeros(0),
                n_evaluable=n_complete,
            )
        partial = [
            j
            for j, state in enumerate(s.state)
            if state in (PatientState.PENDING, PatientState.WITHDRAWN)
        ]
        index = np.array(partial, dtype=np.int64)
        return _Statistics(
            n_complete=n_complete,
            n_dlt=s.n_dlt,
            partial_dose=s.dose_index[index],
            partial_weight=s.followup_fraction[index],
            n_evaluable=s.n_treated,
        )

    def posterior(self, data: TrialData) -> BLRMPosterior:
        """The BLRM posterior per dose on the data (complete, plus weighted partial with TITE)."""
        self.check_data(data)
        st = self._statistics(data)
        assert self.reference_dose is not None
        return blrm_posterior(
            self.dose_amounts,
            reference_dose=self.reference_dose,
            prior=self._prior,
            n_at_dose=st.n_complete,
            dlt_at_dose=st.n_dlt,
            partial_dose=st.partial_dose,
            partial_weight=st.partial_weight,
            target_interval=(self.target_interval[0], self.target_interval[1]),
            engine=self.engine,
            seed=self.seed,
        )

    def prior_summary(self) -> BLRMPosterior:
        """The prior per dose (the posterior on no data, grid engine): its interval probabilities
        are what a protocol shows to justify the prior and the starting dose."""
        assert self.reference_dose is not None
        zeros = np.zeros(self.n_doses, dtype=np.int64)
        return blrm_posterior(
            self.dose_amounts,
            reference_dose=self.reference_dose,
            prior=self._prior,
            n_at_dose=zeros,
            dlt_at_dose=zeros,
            target_interval=(self.target_interval[0], self.target_interval[1]),
            engine="grid",
        )

    def posterior_bands(self, data: TrialData) -> PosteriorBands:
        """Posterior median of each p_d with 50% and 95% bands, and the interval probabilities."""
        post = self.posterior(data)
        lo, hi = self.target_interval

        def pairs(a: float, b: float) -> tuple[tuple[float, float], ...]:
            return tuple(
                (float(x), float(z))
                for x, z in zip(post.quantile(a), post.quantile(b), strict=True)
            )

        def values(v: npt.NDArray[np.float64]) -> tuple[float, ...]:
            return tuple(float(x) for x in v)

        return PosteriorBands(
            model=f"BLRM ({post.engine} engine)",
            center=values(post.quantile(0.5)),
            center_label="posterior median",
            band50=pairs(0.25, 0.75),
            band95=pairs(0.025, 0.975),
            interval_probs={
                f"Pr(DLT rate < {lo:g})": values(post.prob_underdose),
                f"Pr({lo:g} <= DLT rate < {hi:g})": values(post.prob_target),
                f"Pr(DLT rate >= {hi:g})": values(post.prob_overdose),
            },
        )

    def prob_overdose_definition(self) -> str:
        patients = (
            "the complete patients and the pending ones weighted by their follow-up"
            if self.tite
            else "the complete patients"
        )
        return (
            f"Pr(DLT rate >= {self.target_interval[1]:g} | data) under the BLRM posterior "
            f"({self.engine} engine) on {patients}: the posterior of overdose control (EWOC, "
            f"cutoff {self.overdose_cutoff:g})"
        )

    def _intervals(self) -> tuple[str, str]:
        lo, hi = self.target_interval
        return f"Pr({lo:g} <= DLT rate < {hi:g})", f"Pr(DLT rate >= {hi:g})"

    def fit(self, data: TrialData) -> ModelFit:
        post = self.posterior(data)
        st = self._statistics(data)
        target_event, over_event = self._intervals()
        eligible = post.prob_overdose < self.overdose_cutoff
        current = data.current_dose_level
        cur = None if current is None else current - 1
        if cur is None:
            index, reason = self.start_level - 1, START_REASON
        elif eligible.any():
            candidates = np.flatnonzero(eligible)
            index = int(candidates[np.argmax(post.prob_target[candidates])])
            levels = candidates + 1
            span = f"{levels[0]}" if levels.size == 1 else f"{levels[0]} to {levels[-1]}"
            reason = (
                f"Overdose control: dose level{'s' if levels.size > 1 else ''} {span} "
                f"{'have' if levels.size > 1 else 'has'} {over_event} < {self.overdose_cutoff:g}; "
                f"among them dose level {index + 1} has the highest {target_event} = "
                f"{post.prob_target[index]:.3f}."
            )
        else:
            index = 0
            reason = (
                f"Overdose control: no dose level has {over_event} < {self.overdose_cutoff:g} "
                f"(dose level 1: {post.prob_overdose[0]:.3f})."
            )
        if not post.converged:
            reason += (
                " The MCMC diagnostics failed ("
                + "; ".join(str(f) for f in post.diagnostics.get("failures", ()))
                + "): this decision is not final."
            )
        direction = action_towards(cur, index)
        interval = post.prob_tox_interval
        cov = post.param_cov
        sd = np.sqrt(np.diag(cov))
        return ModelFit(
            proposed_index=index,
            direction=direction,
            reason=reason,
            estimate=np.array(post.prob_tox_median),
            prob_overdose=np.array(post.prob_overdose),
            n_for_safety=st.n_evaluable,
            dlt_for_safety=st.n_dlt,
            prob_tox_mean=np.array(post.prob_tox_mean),
            prob_tox_interval=np.array(interval),
            prob_underdose=np.array(post.prob_underdose),
            prob_target=np.array(post.prob_target),
            model={
                "log_alpha_mean": float(post.param_mean[0]),
                "log_beta_mean": float(post.param_mean[1]),
                "log_alpha_sd": float(sd[0]),
                "log_beta_sd": float(sd[1]),
                "log_alpha_log_beta_corr": float(cov[0, 1] / (sd[0] * sd[1])),
                "reference_dose": float(post.reference_dose),
            },
            diagnostics=self._diagnostics(post, eligible),
        )

    def _diagnostics(self, post: BLRMPosterior, eligible: npt.NDArray[np.bool_]) -> dict[str, Any]:
        return {
            "final": post.converged,
            "engine": post.engine,
            "dose_amounts": list(post.dose_amounts),
            "reference_dose": post.reference_dose,
            "target_interval": list(post.target_interval),
            "overdose_cutoff": self.overdose_cutoff,
            "prob_underdose": [float(v) for v in post.prob_underdose],
            "prob_target": [float(v) for v in post.prob_target],
            "prob_overdose": [float(v) for v in post.prob_overdose],
            "prob_tox_mean": [float(v) for v in post.prob_tox_mean],
            "quantile_levels": list(post.quantile_levels),
            "quantiles": [[float(v) for v in row] for row in post.quantiles],
            "eligible": [int(i) + 1 for i in np.flatnonzero(eligible)],
            "posterior": dict(post.diagnostics),
            "prior": self._prior_diagnostics(),
        }

    def _prior_diagnostics(self) -> dict[str, Any]:
        prior = self.prior_summary()
        return {
            "prob_underdose": [float(v) for v in prior.prob_underdose],
            "prob_target": [float(v) for v in prior.prob_target],
            "prob_overdose": [float(v) for v in prior.prob_overdose],
            "prob_tox_median": [float(v) for v in prior.prob_tox_median],
        }

    def supports_too_toxic(self, rule: StopWhenTooToxic) -> bool:
        """No: BLRM's overdose control (its elimination rule) is its too-toxic rule."""
        return False

    def model_rules(self) -> DesignRules:
        return DesignRules(
            elimination=OverdoseControl(
                cutoff=self.overdose_cutoff,
                overdose_bound=self.target_interval[1],
                from_first_outcome=True,
            ),
            stopping=None,
            waiting=() if self.tite else (WaitForPending(),),
            constraints=(
                NoSkipping(),
                MaxAmountStep(amounts=self.dose_amounts, factor=self.max_step),
                ExcludeEliminated(),
            ),
        )

    # ---- final selection -----------------------------------------------------------------------
    def choose(self, data: TrialData, fit: ModelFit) -> Selection:
        """The eligible dose with the highest Pr(target) among those with ``min_at_mtd`` patients.

        The posterior is the one behind ``fit`` (memoized on the data, so not recomputed).
        """
        post = self.posterior(data)
        st = self._statistics(data)
        target_event, over_event = self._intervals()
        eligible = post.prob_overdose < self.overdose_cutoff
        candidates = np.flatnonzero(eligible & (st.n_evaluable >= self.min_at_mtd))
        if candidates.size:
            index: int | None = int(candidates[np.argmax(post.prob_target[candidates])])
            assert index is not None
            reason = (
                f"Recommended dose: level {index + 1}, with the highest {target_event} = "
                f"{post.prob_target[index]:.3f} among the dose levels with {over_event} < "
                f"{self.overdose_cutoff:g} and at least {self.min_at_mtd} patients."
            )
        elif not data.summary.n_treated.any():
            index = None
            reason = "No dose is recommended: no patient has been treated."
        elif not eligible.any():
            index = None
            reason = (
                f"No dose is recommended: no dose level has {over_event} < "
                f"{self.overdose_cutoff:g} (no tolerable dose)."
            )
        else:
            index = None
            reason = (
                f"No dose is recommended: no dose level with {over_event} < "
                f"{self.overdose_cutoff:g} has at least {self.min_at_mtd} patients."
            )
        n_pending = int(data.summary.n_pending.sum())
        reason += provisional_note(n_pending)
        if not post.converged:
            reason += " The MCMC diagnostics failed: the selection is not final."
        return Selection(
            dose_level=None if index is None else index + 1,
            reason=reason,
            estimates=tuple(float(v) for v in post.prob_tox_median),
            prob_overdose=tuple(float(v) for v in post.prob_overdose),
            prob_underdose=tuple(float(v) for v in post.prob_underdose),
            prob_target=tuple(float(v) for v in post.prob_target),
            eliminated=tuple(int(i) + 1 for i in np.flatnonzero(~eligible)),
            provisional=n_pending > 0 or not post.converged,
            prob_overdose_definition=self.prob_overdose_definition(),
            rules=(
                RuleOutcome(
                    label=f"BLRMSelection(min_at_mtd={self.min_at_mtd})",
                    kind=RuleKind.SELECTION,
                    triggered=True,
                    detail=reason,
                ),
            ),
        )
