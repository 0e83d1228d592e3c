"""Exact Bayesian CRM and TITE-CRM posteriors, by numerical integration over the model parameter.

The one-parameter working models of dfcrm 0.2-2.1, for dose index d with skeleton value s_d:

* ``"empiric"`` (power): p_d(a) = s_d ** exp(a);
* ``"logistic"``: logit p_d(a) = c + exp(a) x_d, with x_d = logit(s_d) - c and intercept c (3 by
  default), so that p_d(0) = s_d.

The prior is a ~ N(0, prior_sd^2), prior_sd = sqrt(1.34) by default. A patient treated at dose d
adds log p_d(a) to the log-likelihood when a DLT was observed, and log(1 - w p_d(a)) otherwise,
where w in [0, 1] is the TITE-CRM weight of the follow-up (w = 1 for complete follow-up; a patient
with a DLT always weighs 1). Every quantity is computed in log space with ``log1p``/``expm1``, so
that p_d(a) may be 1 - 1e-5 or 1e-300 without loss.

What dfcrm calls ``estimate`` and ``post.var`` are reproduced with its integration ranges: the
numerators int a L(a) phi(a) da and int a^2 L(a) phi(a) da run over (-10, 10) while the
denominator int L(a) phi(a) da runs over the whole line. ``ptox`` is the dose-toxicity curve at
``estimate`` (a plug-in, not the posterior mean of p_d), and ``ptoxL``/``ptoxU`` the curve at
estimate +/- z sqrt(post.var). Beside them :class:`CRMPosterior` carries the exact posterior mean of
each p_d, its equal-tailed credible interval and Pr(p_d > target | data).

Layout
------
:mod:`~escalation.models.crm.results` (the result types and dfcrm's dose choice),
:mod:`~escalation.models.crm.posterior` (the public functions),
:mod:`~escalation.models.crm.weights` (TITE-CRM's follow-up weights), and private modules: the
working model's curves (``_curves``), the quadrature rule (``_quadrature``), the rule applied
to many rows of data at once (``_grid``), one posterior with its quantiles (``_single``) and
input checks (``_checks``). The quadrature is described in ``_quadrature``.

References
----------
O'Quigley J, Pepe M, Fisher L (1990). Continual reassessment method: a practical design for phase 1
clinical trials in cancer. Biometrics 46:33-48.
Cheung YK, Chappell R (2000). Sequential designs for phase I clinical trials with late-onset
toxicities. Biometrics 56:1177-1182 (weighted likelihood, equation 2; adaptive weights, section 3).
Lee SM, Cheung YK (2009). Model calibration in the continual reassessment method. Clin Trials
6:227-238.
Cheung YK (2011). Dose Finding by the Continual Reassessment Method. Chapman & Hall/CRC, chapters
3-4 (the empiric and logistic working models, the N(0, 1.34) prior).
dfcrm 0.2-2.1 (R package), functions ``crm`` and ``titecrm``.

Examples
--------
>>> from escalation.models.crm import crm_posterior
>>> skeleton = [0.05, 0.12, 0.25, 0.40, 0.55]
>>> post = crm_posterior(skeleton, dose_index=[0, 0, 0, 1, 1, 1], dlt=[0, 0, 0, 0, 1, 0], target=0.25)
>>> round(post.posterior_mean, 4), post.mtd_index
(-0.2711, 1)
>>> post.ptox.round(3).tolist()
[0.102, 0.199, 0.347, 0.497, 0.634]
"""

from __future__ import annotations

from escalation.models.crm._curves import DEFAULT_INTERCEPT, DEFAULT_PRIOR_SD, CRMModel
from escalation.models.crm.posterior import (
    crm_overdose_thresholds,
    crm_posterior,
    crm_posterior_batch,
    crm_posterior_counts,
    tite_crm_posterior_batch,
)
from escalation.models.crm.results import CRMPosterior, CRMPosteriorBatch, select_mtd_index
from escalation.models.crm.weights import adaptive_weights, linear_weights

__all__ = [
    "DEFAULT_INTERCEPT",
    "DEFAULT_PRIOR_SD",
    "CRMModel",
    "CRMPosterior",
    "CRMPosteriorBatch",
    "adaptive_weights",
    "crm_overdose_thresholds",
    "crm_posterior",
    "crm_posterior_batch",
    "crm_posterior_counts",
    "linear_weights",
    "select_mtd_index",
    "tite_crm_posterior_batch",
]
