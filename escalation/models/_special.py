"""scipy.special's functions (and scipy.stats' binomial pmf), imported on first use.

``import scipy.special`` takes about 0.2 s (it pulls numpy.f2py in), a third of what
``escalation --version`` would cost; commands that compute no posterior or boundary never need it.
The models call ``special.expit(...)`` and so on through this module: the first access to a name
imports scipy.special and keeps the function here, so later calls cost one module attribute
lookup, as a module-level import would.

Examples
--------
>>> from escalation.models import _special as special
>>> float(special.expit(0.0))
0.5
"""

from __future__ import annotations

from typing import Any

#: the names the models use (a private module: no __all__)
_NAMES = (
    "bernoulli",
    "betainc",
    "betaincc",
    "binom_pmf",
    "expit",
    "logit",
    "ndtri",
    "roots_laguerre",
    "roots_legendre",
)


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name == "binom_pmf":  # scipy.stats: slower still to import
        from scipy.stats import binom

        value = binom.pmf
    else:
        import scipy.special

        value = getattr(scipy.special, name)
    globals()[name] = value  # later lookups find it directly
    return value
