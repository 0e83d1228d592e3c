"""Simulated patients on latent tolerances, and the trial calendar they arrive on.

Patient i of a simulated trial (counted in order of arrival) draws three numbers once:

* a latent tolerance u_i ~ U(0, 1): the patient has a DLT at dose level d iff u_i < p_d, so every
  design in a run, and the optimal benchmark, sees the same patients (common random numbers);
* an onset quantile v_i ~ U(0, 1): if the patient has a DLT at dose d it happens ``Q_d(v_i)``
  windows after the infusion, Q_d the quantile function of the time to DLT given a DLT in the
  window;
* an arrival time: arrivals at ``accrual_per_month`` patients per 30 days, the first patient on
  day 0; ``accrual: poisson`` (the default) draws exponential inter-arrival times, ``uniform``
  draws them from U(0, 2 / rate) (mean 1 / rate, as R bfboin and the BF-BOIN Shiny app);
* a response quantile r_i ~ U(0, 1): the patient responds at dose d iff r_i < q_d, q_d the
  scenario's ``true_response_probs`` (independent of the DLT; with the scenario's
  ``tox_eff_correlation`` rho, r_i is first carried through a Gaussian copula with u_i, see
  :meth:`PatientBlock.response_tolerance`);
* a response onset quantile z_i ~ U(0, 1): with a ``response_time`` distribution, a patient who
  responds at dose d responds ``R_d(z_i)`` efficacy windows after the infusion, R_d the quantile
  function of the time to response given a response in the window (the same forms as the time to
  DLT, with q_d in place of p_d); without one (the default) a response is known at the end of the
  efficacy window. A non-responder is known at the end of the window either way.

The core counts whole days: arrivals fall on day floor(t) and a DLT ``ceil(W Q_d(v))`` days after the
infusion (between day 1 and day W of the window W).

Time to DLT. ``uniform``: Q(v) = v. ``weibull`` with ``late_onset_share`` s: a Weibull time T with
P(T <= W) = p_d and P(T <= W/2) = (1 - s) p_d, i.e. the share s of the DLTs falls in the window's
second half, as the TITE-BOIN papers and TITEgBOIN simulate (s = 0.5 there); shape
k = log(log(1 - p) / log(1 - (1 - s) p)) / log 2, and given a DLT
T / W = (log(1 - v p) / log(1 - p))^(1/k).

Randomness. One ``SeedSequence`` per block of trials, keyed by the root seed, the scenario and the
block (``spawn_key=(1, scenario, block)``), so a block's patients do not depend on which worker
simulates it, how many workers there are, or which design looks at them.

References
----------
O'Quigley J, Paoletti X, Maccario J (2002). Non-parametric optimal design in dose finding studies.
Biostatistics 3:51-56 (latent tolerances).
Yuan Y, Lin R, Li D, Nie L, Warren KE (2018). Clin Cancer Res 24:4921-4930 (Weibull times to DLT
with half of them in the second half of the window).
Zhou Y, Lin R, Lee JJ, Li D, Wang L, Li R, Yuan Y (2022). Stat Med 41:1918-1931 (TITE-BOIN12:
times to DLT and to response drawn inside their windows, uniform or Weibull).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "ACCRUALS",
    "DAYS_PER_MONTH",
    "Conduct",
    "DltTime",
    "PatientBlock",
    "block_seed",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DAYS_PER_MONTH = 30.0
#: the accrual processes: exponential or uniform inter-arrival times
ACCRUALS = ("poisson", "uniform")
#: probabilities this close to 1 are treated as 1 - 1e-12 by the Weibull time model
_P_MAX = 1.0 - 1e-12

#: spawn-key tags of the SeedSequence children (root seed -> tag -> ...)
SCENARIO_TAG = 0
PATIENT_TAG = 1
INFERENCE_TAG = 2


def block_seed(
    seed: int, scenario_index: int, block_index: int, extension: int = 0
) -> np.random.SeedSequence:
    """The SeedSequence of one block's patients (``extension`` > 0: extra arrivals)."""
    key: tuple[int, ...] = (PATIENT_TAG, scenario_index, block_index)
    if extension:
        key = (*key, extension)
    return np.random.SeedSequence(seed, spawn_key=key)


@dataclass(frozen=True, slots=True, kw_only=True)
class DltTime:
    """The distribution of the time to DLT inside the window, given a DLT (also that of the time
    to response inside the efficacy window, given a response: :attr:`Conduct.response_time`)."""

    distribution: Literal["uniform", "weibull"] = "uniform"
    late_onset_share: float = 0.5

    def __post_init__(self) -> None:
        if self.distribution not in ("uniform", "weibull"):
            raise ValueError(
                f"dlt_time.distribution: 'uniform' or 'weibull', got {self.distribution!r}"
            )
        if not 0 < self.late_onset_share < 1:
            raise ValueError(
                f"dlt_time.late_onset_share: must be strictly between 0 and 1, got {self.late_onset_share}"
            )

    def fraction(self, onset: npt.ArrayLike, prob: npt.ArrayLike) -> FloatArray:
        """Time to DLT as a fraction of the window, in (0, 1], for onset quantiles v and p_d."""
        v = np.asarray(onset, dtype=np.float64)
        if self.distribution == "uniform":
            return v
        p = np.clip(np.asarray(prob, dtype=np.float64), 1e-300, _P_MAX)
        s = self.late_onset_share
        log_q = np.log1p(-p)
        shape = np.log(log_q / np.log1p(-(1.0 - s) * p)) / math.log(2.0)
        return np.asarray(np.power(np.log1p(-v * p) / log_q, 1.0 / shape), dtype=np.float64)

    def offset_days(self, onset: npt.ArrayLike, prob: npt.ArrayLike, window_days: int) -> IntArray:
        """Day of the DLT after the infusion, from 1 to ``window_days``."""
        days = np.ceil(self.fraction(onset, prob) * window_days)
        return np.clip(days, 1, window_days).astype(np.int64)

    def as_json(self) -> dict[str, object]:
        if self.distribution == "uniform":
            return {"distribution": "uniform"}
        return {"distribution": "weibull", "late_onset_share": self.late_onset_share}


@dataclass(frozen=True, slots=True, kw_only=True)
class Conduct:
    """How simulated trials are run on the calendar.

    Parameters
    ----------
    accrual_per_month
        Arrivals per 30 days.
    accrual
        ``"poisson"`` (exponential inter-arrival times, the default) or ``"uniform"``
        (inter-arrival times U(0, 2 / rate), as R bfboin's ``accrual = "uniform"``).
    dlt_window_days
        Length of the DLT window.
    dlt_time
        Time to DLT inside the window.
    suspended_arrivals
        ``"wait"``: a patient who arrives while the design waits is treated when the wait ends
        (the delay is recorded); ``"lost"``: that patient is lost to the trial (TITEgBOIN).
    efficacy_window_days
        Days after the infusion at which a patient's response is assessed (designs that use
        efficacy, BOIN12): the response is known from that day, or earlier with a
        ``response_time``.
    response_time
        ``None`` (the default): a response is known at the end of the efficacy window. Else the
        distribution of the time to response inside the efficacy window, given a response
        (uniform, or Weibull with ``late_onset_share`` of the responses in the window's second
        half, as TITE-BOIN12's paper simulates): a responder's response is known on that day, a
        non-responder's at the end of the window. Only the generic engine simulates it.
    decision_timing
        ``"complete"``: the design is asked for the next cohort only once every treated patient's
        outcome is known (R's BOIN::get.oc and dfcrm::crmsim); ``"arrival"``: whenever a patient is
        ready to be treated, and again at every event while the design waits (time-to-event
        designs); ``"auto"``: ``complete`` for designs that wait for pending patients, ``arrival``
        for the others.
    """

    accrual_per_month: float = 2.0
    accrual: Literal["poisson", "uniform"] = "poisson"
    dlt_window_days: int = 30
    dlt_time: DltTime = field(default_factory=DltTime)
    suspended_arrivals: Literal["wait", "lost"] = "wait"
    decision_timing: Literal["auto", "complete", "arrival"] = "auto"
    efficacy_window_days: int = 90
    response_time: DltTime | None = None

    def __post_init__(self) -> None:
        if not self.accrual_per_month > 0:
            raise ValueError(f"accrual_per_month: must be > 0, got {self.accrual_per_month}")
        if self.accrual not in ACCRUALS:
            raise ValueError(f"accrual: 'poisson' or 'uniform', got {self.accrual!r}")
        if self.dlt_window_days < 1:
            raise ValueError(f"dlt_window_days: must be >= 1, got {self.dlt_window_days}")
        if self.suspended_arrivals not in ("wait", "lost"):
            raise ValueError(
                f"suspended_arrivals: 'wait' or 'lost', got {self.suspended_arrivals!r}"
            )
        if self.decision_timing not in ("auto", "complete", "arrival"):
            raise ValueError(
                f"decision_timing: 'auto', 'complete' or 'arrival', got {self.decision_timing!r}"
            )

        if self.efficacy_window_days < 1:
            raise ValueError(f"efficacy_window_days: must be >= 1, got {self.efficacy_window_days}")
        if self.response_time is not None and not isinstance(self.response_time, DltTime):
            raise ValueError(
                f"response_time: None or a DltTime (uniform or weibull), got {self.response_time!r}"
            )

    @property
    def mean_gap_days(self) -> float:
        return DAYS_PER_MONTH / self.accrual_per_month


class PatientBlock:
    """The simulated patients of a block of trials: arrays (trials, patients in arrival order).

    ``rows=(first, end)`` keeps only trials first..end - 1 of the block, with the very patients the
    whole block gives them (the block is drawn whole, then cut), so a block may be simulated in
    parts (a progress bar advances per part) with the same results.

    Columns are added on demand (:meth:`ensure`) from further SeedSequence children of the block,
    so a trial that needs more arrivals (lost patients) extends every trial of the block the same
    way, whichever engine asks first.

    Attributes
    ----------
    tolerance : numpy.ndarray
        u_i ~ U(0, 1); DLT at dose d iff u_i < p_d.
    onset : numpy.ndarray
        v_i ~ U(0, 1), the quantile of the time to DLT.
    arrival_time : numpy.ndarray
        Arrival times in days (continuous), the first 0.
    arrival_day : numpy.ndarray
        floor(arrival_time).
    response : numpy.ndarray
        r_i ~ U(0, 1); a response at dose d iff r_i < q_d (:meth:`responds`).
    response_onset : numpy.ndarray
        z_i ~ U(0, 1), the quantile of the time to response (with a ``response_time``).
    """

    def __init__(
        self,
        *,
        seed: int,
        scenario_index: int,
        block_index: int,
        n_trials: int,
        capacity: int,
        conduct: Conduct,
        rows: tuple[int, int] | None = None,
        true_response_probs: npt.ArrayLike | None = None,
        tox_eff_correlation: float = 0.0,
    ) -> None:
        self.seed = seed
        #: the Gaussian copula's correlation of response with DLT (:meth:`response_tolerance`)
        self.tox_eff_correlation = float(tox_eff_correlation)
        #: the scenario's response probability per dose (``None``: responses are not simulated)
        self.true_response_probs = (
            None
            if true_response_probs is None
            else np.asarray(true_response_probs, dtype=np.float64)
        )
        self.scenario_index = scenario_index
        self.block_index = block_index
        self._block_trials = n_trials
        self._rows = slice(*rows) if rows is not None else slice(0, n_trials)
        if not 0 <= self._rows.start < self._rows.stop <= n_trials:
            raise ValueError(f"rows: expected 0 <= first < end <= {n_trials}, got {rows}")
        self.n_trials = self._rows.stop - self._rows.start
        self.conduct = conduct
        self._extensions = 0
        self._chunk = max(capacity, 8)
        self.tolerance = np.empty((self.n_trials, 0))
        self.onset = np.empty((self.n_trials, 0))
        self.arrival_time = np.empty((self.n_trials, 0))
        self.arrival_day = np.empty((self.n_trials, 0), dtype=np.int64)
        self.response = np.empty((self.n_trials, 0))
        self.response_onset = np.empty((self.n_trials, 0))
        self._draw(self._chunk, block_seed(seed, scenario_index, block_index))

    @property
    def first_row(self) -> int:
        """The row in the whole block of this part's first trial."""
        return int(self._rows.start)

    @property
    def capacity(self) -> int:
        return int(self.tolerance.shape[1])

    def _draw(self, columns: int, seq: np.random.SeedSequence) -> None:
        rng = np.random.Generator(np.random.PCG64(seq))
        shape = (self._block_trials, columns)  # the whole block's draws, then this part's rows
        tolerance = rng.random(shape)[self._rows]
        onset = rng.random(shape)[self._rows]
        mean_gap = self.conduct.mean_gap_days
        if self.conduct.accrual == "uniform":
            gaps = rng.uniform(0.0, 2.0 * mean_gap, size=shape)[self._rows]
        else:
            gaps = rng.exponential(mean_gap, size=shape)[self._rows]
        if self.capacity == 0:
            gaps[:, 0] = 0.0  # the first patient arrives on day 0
            start = np.zeros(self.n_trials)
        else:
            start = self.arrival_time[:, -1]
        times = start[:, None] + np.cumsum(gaps, axis=1)
        self.tolerance = np.concatenate([self.tolerance, tolerance], axis=1)
        self.onset = np.concatenate([self.onset, onset], axis=1)
        self.arrival_time = np.concatenate([self.arrival_time, times], axis=1)
        self.arrival_day = np.floor(self.arrival_time).astype(np.int64)
        # drawn after the others, so that adding responses left every earlier draw unchanged
        self.response = np.concatenate([self.response, rng.random(shape)[self._rows]], axis=1)
        # drawn last, so that adding response times left every earlier draw unchanged
        self.response_onset = np.concatenate(
            [self.response_onset, rng.random(shape)[self._rows]], axis=1
        )

    def response_offset_days(self, trial: int, patient: int, prob: float) -> int:
        """Day of a responder's response after the infusion, 1 to the efficacy window (the
        conduct's ``response_time``; without one, the end of the window)."""
        window = self.conduct.efficacy_window_days
        if self.conduct.response_time is None:
            return window
        onset = self.response_onset[trial, patient]
        return int(self.conduct.response_time.offset_days(onset, prob, window))

    def responds(self, trial: int, patient: int, dose_index: int) -> bool | None:
        """Whether patient ``patient`` of trial ``trial`` responds at the dose (``None`` when the
        scenario gives no response probabilities), with the block's ``tox_eff_correlation``."""
        if self.true_response_probs is None:
            return None
        w = self.response[trial, patient]
        if self.tox_eff_correlation != 0.0:
            w = _copula(self.tox_eff_correlation, self.tolerance[trial, patient], w)
        return bool(w < self.true_response_probs[dose_index])

    def response_tolerance(self, correlation: float = 0.0) -> FloatArray:
        """The response quantiles w_i, a response at dose d iff w_i < q_d; shape (trials,
        capacity), recomputed from the current columns.

        ``correlation`` rho = 0: w_i = r_i, the response quantile (independent of the DLT). Else a
        Gaussian copula with the DLT tolerance u_i, as a transformation of the same uniforms:
        w_i = Phi(rho Phi^-1(u_i) + sqrt(1 - rho^2) Phi^-1(r_i)), still U(0, 1), its normal scores
        correlated rho with u_i's (rho > 0: patients who tolerate less respond more often).
        """
        if correlation == 0.0:
            return self.response
        return np.asarray(_copula(correlation, self.tolerance, self.response), dtype=np.float64)

    def ensure(self, columns: int) -> None:
        """Make at least ``columns`` patients available in every trial of the block."""
        while self.capacity < columns:  # fixed-size chunks: the same columns whoever asks
            self._extensions += 1
            self._draw(
                self._chunk,
                block_seed(self.seed, self.scenario_index, self.block_index, self._extensions),
            )


def _copula(rho: float, u: Any, r: Any) -> Any:
    """Phi(rho Phi^-1(u) + sqrt(1 - rho^2) Phi^-1(r)): ``r`` ~ U(0, 1) made to depend on ``u``
    through a Gaussian copula of correlation ``rho`` (still U(0, 1))."""
    from scipy.special import ndtr, ndtri

    latent = rho * ndtri(u) + math.sqrt(1.0 - rho * rho) * ndtri(r)
    return ndtr(latent)
