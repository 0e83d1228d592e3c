"""Transcribe R escalation's tests of BOIN, dfcrm CRM/TITE-CRM and the rule wrappers into JSON.

Run once by hand (not by the test suite), with R and dfcrm installed:

    R_LIBS=/path/to/lib python tests/data/build_r_escalation_rule_cases.py \
        > tests/data/reference/r_escalation_rules.json

The cases are those of tests/testthat/test_boin.R, test_select_boin_mtd.R, test_dfcrm.R,
test_stop_at_n.R, test_stop_when_n_at_dose.R, test_stop_when_too_toxic.R, test_dont_skip_doses.R
and test_demand_n_at_dose.R of github.com/brockk/escalation at commit COMMIT, transcribed by hand
(file, test name and line of each): the R design (its chain of wrappers), the outcome string and
what the test expects of ``recommended_dose`` and ``continue``. Each R design is written as the
trial document's design block that states it (see ``design_of``). Where a test compares with
dfcrm's own answer (``fit$parent$dfcrm_fit$mtd``) or with R escalation's ``prob_tox_exceeds``
(``continue(x) == prob_tox_exceeds(x, t)[1] < confidence``), the value is computed here by calling
dfcrm 0.2-2.1 in R (the R script is kept in the output's ``meta.r_script``): R escalation's
``prob_tox_exceeds`` for a dfcrm fit is a normal approximation to the posterior of the model
parameter (``pnorm`` at the posterior mean and variance), whereas this engine integrates the
posterior exactly; the script also integrates it exactly with R's ``integrate`` so that each such
case lists both numbers and their difference.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from typing import Any

COMMIT = "add4557aba9c0a124f1f27b4cef7202078b7540c"
SK5 = [0.05, 0.1, 0.25, 0.4, 0.6]

#: the options that make this engine's CRM the CRM of R escalation's get_dfcrm (dfcrm::crm):
#: the model's dose with no skipping limit, no coherence restriction, no stop of its own, no
#: sample size of its own, and a final selection that is the model's MTD even when untried
DFCRM = {
    "no_skipping": False,
    "coherence": False,
    "select_untried": True,
    "max_patients": 1000,
}


def dfcrm(skeleton: list[float], target: float, **extra: Any) -> dict[str, Any]:
    block = {"method": "crm", "target": target, "skeleton": skeleton, **DFCRM, **extra}
    if "stopping" not in block:
        block["safety_stop_prob"] = None
    return block


def boin(target: float, **extra: Any) -> dict[str, Any]:
    """R escalation's get_boin: no sample size and no n.earlystop of its own."""
    block: dict[str, Any] = {"method": "boin", "target": target, "max_patients": 1000}
    if "stopping" not in extra:
        block["n_stop"] = 1000
    return block | extra


CASES: list[dict[str, Any]] = []


def case(
    file: str,
    test: str,
    line: int,
    r_design: str,
    design: dict[str, Any],
    n_doses: int,
    outcomes: str,
    recommended: int | str | None,
    cont: bool | str,
    **extra: Any,
) -> None:
    """One case; ``recommended="dfcrm_mtd"`` or ``cont="prob_tox_exceeds"`` are computed in R."""
    CASES.append(
        {
            "file": f"tests/testthat/{file}",
            "test": test,
            "line": line,
            "r_design": r_design,
            "design": design,
            "n_doses": n_doses,
            "outcomes": outcomes,
            "recommended_dose": recommended,
            "continue": cont,
            **json.loads(json.dumps(extra)),  # a copy: cases share no dict
        }
    )


# ---- test_boin.R ------------------------------------------------------------------------------------
T = "BOIN recommendations match published example."
G = "get_boin(num_doses = 5, target = 0.3)"
for line, out, rec in [
    (10, "1NNN", 2),
    (19, "1NNN 2NNN", 3),
    (28, "1NNN 2NNN 3NTT", 2),
    (37, "1NNN 2NNN 3NTT 2NTN", 3),
    (46, "1NNN 2NNN 3NTT 2NTN 3NNN", 3),
    (55, "1NNN 2NNN 3NTT 2NTN 3NNN 3NNN", 4),
    (64, "1NNN 2NNN 3NTT 2NTN 3NNN 3NNN 4TTT", 3),
    (73, "1NNN 2NNN 3NTT 2NTN 3NNN 3NNN 4TTT 3NTN", 3),
    (82, "1NNN 2NNN 3NTT 2NTN 3NNN 3NNN 4TTT 3NTN 3NNT", 3),
    (91, "1NNN 2NNN 3NTT 2NTN 3NNN 3NNN 4TTT 3NTN 3NNT 3TNN", 3),
]:
    case("test_boin.R", T, line, G, boin(0.3), 5, out, rec, True)
T = "boin_selector supports correct interface."
for line, out in [(111, "1NNN 2NTT"), (218, ""), (329, "1NNN 2NTT")]:
    note = {"note": "outcomes given as a tibble in R"} if line == 329 else {}
    case("test_boin.R", T, line, G, boin(0.3), 5, out, 1, True, **note)
T = "BOIN advises stopping when indicated"
G = "get_boin(num_doses = 5, target = 0.3, use_stopping_rule = TRUE)"
for line, out, rec, cont in [
    (450, "1T", 1, True),
    (460, "1TT", 1, True),
    (470, "1TTT", None, False),
    (480, "1N", 2, True),
    (490, "1N 2TN", 1, True),
    (500, "1N 2TN 1TT", 1, True),
    (510, "1N 2TN 1TTT", None, False),
    (521, "1N 4TTTT", 3, True),
]:
    case("test_boin.R", T, line, G, boin(0.3), 5, out, rec, cont)
T = "BOIN stopping rule can be turned off."
G = "get_boin(num_doses = 5, target = 0.3, use_stopping_rule = FALSE)"
for line, out, rec in [
    (547, "1N", 2),
    (557, "1N 2TN", 1),
    (567, "1N 2TN 1TT", 1),
    (577, "1N 2TN 1TTT", 1),
    (588, "1N 4TTTT", 3),
]:
    extra = (
        {
            "inexpressible": "use_stopping_rule = FALSE switches BOIN's elimination off; this "
            "engine always applies it (3 DLTs in 4 at the lowest dose eliminate it and stop)"
        }
        if out == "1N 2TN 1TTT"
        else {"note": "elimination switched off in R; it does not act on these data"}
    )
    case("test_boin.R", T, line, G, boin(0.3), 5, out, rec, True, **extra)
T = "boin_selector respects eliminated doses"
G = "get_boin(num_doses = 3, target = 0.25, use_stopping_rule = TRUE)"
for line, out in [
    (635, "2TTT"),
    (644, "2TTT 1N"),
    (653, "2TTT 1NN"),
    (662, "2TTT 1NNN"),
    (671, "2TTT 1NNNNNNNNNNN"),
]:
    case("test_boin.R", T, line, G, boin(0.25), 3, out, 1, True)
T = "boin_selector stops when de-escalation is impossible"
G = "get_boin(num_doses = 5, target = 0.25, stop_when_deescalation_impossible = TRUE)"
for line, out, rec, cont in [
    (689, "1NNN", 2, True),
    (699, "1NNT", None, False),
    (708, "1NTT", None, False),
    (717, "1TTT", None, False),
]:
    design = boin(0.25, stop_when_deescalation_impossible=True)
    case("test_boin.R", T, line, G, design, 5, out, rec, cont)

# ---- test_select_boin_mtd.R ------------------------------------------------------------------------
F = "test_select_boin_mtd.R"
T = "select_boin_mtd works like it should."
OUT = "1NNN 2NNN 3NNN 3NNN 3NNN 3NNT 3TTT 4NNN 4NNT 4TTT"
S30 = boin(0.3, stopping={"max_patients": 30})
case(
    F, T, 13, "get_boin(5, 0.3) %>% stop_at_n(n = 30) %>% select_boin_mtd()", S30, 5, OUT, 3, False
)
case(F, T, 25, "get_boin(5, 0.3) %>% stop_at_n(n = 30)", S30, 5, OUT, 3, False)
case(
    F,
    T,
    47,
    "get_boin(5, 0.3) %>% stop_at_n(n = 30) %>% select_boin_mtd(when = 'always')",
    S30,
    5,
    "2NNT 5TTT",
    2,
    True,
    inexpressible="select_boin_mtd(when = 'always') makes the isotonic MTD the next dose while "
    "the trial continues; this engine's BOIN gives the next dose by its interval rule (4 here) "
    "and uses the isotonic selection for the final dose only",
)
for when, first in (("finally", 75), ("always", 744)):
    T = f"select_boin_mtd when={when} supports correct interface."
    G = f"get_boin(5, 0.3) %>% select_boin_mtd(when = '{when}')"
    for line, out in [(first, "1NNN 2NTT"), (first + 107, ""), (first + 218, "1NNN 2NTT")]:
        note = "outcomes given as a tibble in R" if line == first + 218 else ""
        if when == "always":
            note = (note + "; " if note else "") + (
                "when = 'always' recommends the isotonic MTD while continuing; here it agrees "
                "with BOIN's next dose"
            )
        case(F, T, line, G, boin(0.3), 5, out, 1, True, **({"note": note} if note else {}))
T = "select_boin_mtd when=finally with stopper supports correct interface."
G = "get_boin(5, 0.3) %>% stop_at_n(n = 6) %>% select_boin_mtd(when = 'finally')"
S6 = boin(0.3, stopping={"max_patients": 6})
case(F, T, 410, G, S6, 5, "1NNN 2NTT", 1, False)
case(F, T, 517, G, S6, 5, "", 1, True)
case(F, T, 628, G, S6, 5, "1NNN 2NTT", 1, False, note="outcomes given as a tibble in R")

# ---- test_dfcrm.R -----------------------------------------------------------------------------------
F = "test_dfcrm.R"
T = "dfcrm_dose_selector matches dfcrm::crm."
case(
    F,
    T,
    12,
    "get_dfcrm(skeleton = c(0.1, 0.2, 0.4, 0.55), target = 0.2, scale = sqrt(0.75))",
    dfcrm([0.1, 0.2, 0.4, 0.55], 0.2, prior_sd=math.sqrt(0.75)),
    4,
    "2NNT 2NNN 3NTT 2NNT",
    "dfcrm_mtd",
    True,
)
SK7 = [0.1, 0.2, 0.33, 0.45, 0.6, 0.7, 0.8]
case(
    F,
    T,
    39,
    "get_dfcrm(skeleton = c(0.1, 0.2, 0.33, 0.45, 0.6, 0.7, 0.8), target = 0.33, intcpt = 4, "
    "model = 'logistic')",
    dfcrm(SK7, 0.33, model="logistic", intercept=4),
    7,
    "1NNN 2NNN 3NTT 2NNN 3TNN 3TNT 2NNN",
    "dfcrm_mtd",
    True,
)
T = "dfcrm_dose_selector matches dfcrm::titecrm."
TITE_NOTE = (
    "weights: set.seed(2024); pmax(runif(n), tox) as in the R test; a trial document gives "
    "weights through follow-up, so each weight is rounded to whole days of a 365-day window "
    "(weights_days); dfcrm::titecrm is run with both the test's weights and the rounded ones"
)
case(
    F,
    T,
    87,
    "get_dfcrm(skeleton = c(0.1, 0.2, 0.4, 0.55), target = 0.2, tite = TRUE, scale = sqrt(0.75)) "
    "(and get_dfcrm_tite)",
    dfcrm([0.1, 0.2, 0.4, 0.55], 0.2, prior_sd=math.sqrt(0.75)) | {"method": "tite-crm"},
    4,
    "2NNT 2NNN 3NTT 2NNT",
    "dfcrm_mtd",
    True,
    tite=True,
    note=TITE_NOTE,
)
case(
    F,
    T,
    157,
    "get_dfcrm(skeleton = c(0.1, 0.2, 0.33, 0.45, 0.6, 0.7, 0.8), target = 0.33, intcpt = 4, "
    "model = 'logistic', tite = TRUE) (and get_dfcrm_tite)",
    dfcrm(SK7, 0.33, model="logistic", intercept=4) | {"method": "tite-crm"},
    7,
    "1NNN 2NNN 3NTT 2NNN 3TNN 3TNT 2NNN",
    "dfcrm_mtd",
    True,
    tite=True,
    note=TITE_NOTE,
)
T = "dfcrm_selector supports correct interface."
G = "get_dfcrm(skeleton = c(0.05, 0.1, 0.25, 0.4, 0.6), target = 0.25)"
for line, out in [(213, "1NNN 2NTT"), (323, ""), (434, "1NNN 2NTT")]:
    note = {"note": "outcomes given as a tibble in R"} if line == 434 else {}
    case(F, T, line, G, dfcrm(SK5, 0.25), 5, out, 1, True, **note)

# ---- test_stop_at_n.R -------------------------------------------------------------------------------
F = "test_stop_at_n.R"
G0 = "get_dfcrm(skeleton = c(0.05, 0.1, 0.25, 0.4, 0.6), target = 0.25)"
T = "stop_at_n_selector does what it should."
D = dfcrm(SK5, 0.25, stopping={"max_patients": 15})
case(F, T, 12, G0 + " %>% stop_at_n(n = 15)", D, 5, "1NNN 2NTN 2TNN 2NNN", "dfcrm_mtd", True)
case(F, T, 22, G0 + " %>% stop_at_n(n = 15)", D, 5, "1NNN 2NTN 2TNN 2NNN 2NTT", "dfcrm_mtd", False)
T = "stop_at_n_selector supports correct interface."
for line, out, rec in [(42, "1NNN 2NNN", 5), (153, "", 1), (265, "1NNN 2NNT", 2)]:
    note = {"note": "outcomes given as a tibble in R"} if line == 265 else {}
    case(F, T, line, G0 + " %>% stop_at_n(n = 15)", D, 5, out, rec, True, **note)
T = "stop_at_n_selector interacts appropriately with other selectors."
M3 = G0 + " %>% stop_at_n(n = 12) %>% demand_n_at_dose(dose = 'recommended', n = 9)"
M4 = G0 + " %>% demand_n_at_dose(dose = 'recommended', n = 9) %>% stop_at_n(n = 12)"
D3 = dfcrm(SK5, 0.25, stopping={"any": [{"max_patients": 12}, {"demand_n_at_dose": 9}]})
D4 = dfcrm(SK5, 0.25, stopping={"demand_n_at_dose": 9}) | {"max_patients": 12}
M4_NOTE = {
    "note": "R: stop_at_n after demand_n_at_dose overrides the demand; here the design's "
    "max_patients, which no demand holds off"
}
case(F, T, 436, M3, D3, 5, "1NNN 2NNN 2NNN 3NNN", 5, True)
case(F, T, 444, M4, D4, 5, "1NNN 2NNN 2NNN 3NNN", 5, False, **M4_NOTE)
case(F, T, 453, M3, D3, 5, "1NNN 2NNN 2NNN 5NNN 5NNN 5NNN", 5, False)
case(F, T, 461, M4, D4, 5, "1NNN 2NNN 2NNN 5NNN 5NNN 5NNN", 5, False, **M4_NOTE)

# ---- test_stop_when_n_at_dose.R ---------------------------------------------------------------------
F = "test_stop_when_n_at_dose.R"
T = "stop_when_n_at_dose_selector does what it should."
for r, rule, l1, l2, rec2 in [
    ("stop_when_n_at_dose(n = 12, dose = 'any')", {"n_at_dose": 12, "dose": "any"}, 12, 22, None),
    ("stop_when_n_at_dose(n = 9, dose = 'recommended')", {"n_at_dose": 9}, 36, 46, 2),
    ("stop_when_n_at_dose(n = 9, dose = 2)", {"n_at_dose": 9, "dose": 2}, 63, 73, None),
]:
    D = dfcrm(SK5, 0.25, stopping=rule)
    first = "1NNN 2NTN 2TNN 2NNN" if l1 == 12 else "1NNN 2NTN 2TNN"
    second = first + (" 2NTT" if l1 == 12 else " 2NNN")
    case(F, T, l1, f"{G0} %>% {r}", D, 5, first, "dfcrm_mtd", True)
    case(F, T, l2, f"{G0} %>% {r}", D, 5, second, rec2 or "dfcrm_mtd", False)
T = "stop_when_n_at_dose_selector supports correct interface."
D = dfcrm(SK5, 0.25, stopping={"n_at_dose": 9, "dose": "recommended"})
for line, out, rec in [(95, "1NNN 2NNN", 5), (206, "", 1), (318, "1NNN 2NNT", 2)]:
    note = {"note": "outcomes given as a tibble in R"} if line == 318 else {}
    G = G0 + " %>% stop_when_n_at_dose(dose = 'recommended', n = 9)"
    case(F, T, line, G, D, 5, out, rec, True, **note)

# ---- test_stop_when_too_toxic.R ---------------------------------------------------------------------
F = "test_stop_when_too_toxic.R"
T = "stop_when_too_toxic_selector does what it should."


def too_toxic(threshold: float, confidence: float) -> dict[str, Any]:
    return {"too_toxic": {"level": 1, "threshold": threshold, "confidence": confidence}}


G = G0 + " %>% stop_when_too_toxic(dose = 1, tox_threshold = 0.35, confidence = 0.8)"
D = dfcrm(SK5, 0.25, stopping=too_toxic(0.35, 0.8))
PROB = {"prob_tox_exceeds": {"level": 1, "threshold": 0.35}}
case(F, T, 13, G, D, 5, "2NTN 1TT", "dfcrm_mtd", "prob_tox_exceeds", **PROB)
case(F, T, 26, G, D, 5, "2NTN 1TTT", None, "prob_tox_exceeds", **PROB)
T = "stop_when_too_toxic_selector supports correct interface."
G = G0 + " %>% stop_when_too_toxic(dose = 1, tox_threshold = 0.35, confidence = 0.7)"
D = dfcrm(SK5, 0.25, stopping=too_toxic(0.35, 0.7))
for line, out, rec in [(48, "1NNN 2NNN", 5), (159, "", 1), (271, "1NNN 2NNT", 2)]:
    note = {"note": "outcomes given as a tibble in R"} if line == 271 else {}
    case(F, T, line, G, D, 5, out, rec, True, **note)
T = "stop_when_too_toxic_selector plays nicely with other selectors"
G = (
    G0
    + " %>% stop_at_n(n = 12) %>% stop_when_too_toxic(dose = 1, tox_threshold = 0.35, confidence = 0.7)"
)
D = dfcrm(SK5, 0.25, stopping={"any": [{"max_patients": 12}, too_toxic(0.35, 0.7)]})
PROB = {"prob_tox_exceeds": {"level": 1, "threshold": 0.35}}
case(F, T, 390, G, D, 5, "1NNN", 4, "prob_tox_exceeds", **PROB)
case(F, T, 405, G, D, 5, "1NNT", 1, "prob_tox_exceeds", **PROB)
case(F, T, 420, G, D, 5, "1NTT", None, "prob_tox_exceeds", **PROB)
case(F, T, 435, G, D, 5, "1NNN 2NNN 3NNN 4NTT", 3, False)

# ---- test_dont_skip_doses.R -------------------------------------------------------------------------
F = "test_dont_skip_doses.R"
T = "dont_skip_selector does what it should."
TT = too_toxic(0.25, 0.9)
case(
    F, T, 16, G0 + " %>% dont_skip_doses()", dfcrm(SK5, 0.25, no_skipping=True), 5, "1NNN", 2, True
)
case(
    F,
    T,
    30,
    G0 + " %>% dont_skip_doses(when_escalating = FALSE, when_deescalating = FALSE)",
    dfcrm(SK5, 0.25),
    5,
    "1NNN",
    "dfcrm_mtd",
    True,
    note="R: the same as get_dfcrm alone (model0)",
)
case(
    F,
    T,
    43,
    G0 + " %>% stop_when_too_toxic(dose = 1, tox_threshold = target, confidence = 0.9) %>% "
    "dont_skip_doses(when_escalating = TRUE, when_deescalating = TRUE)",
    dfcrm(SK5, 0.25, stopping=TT, no_skipping=True, no_skipping_down=True),
    5,
    "1TTT",
    None,
    False,
    prob_tox_exceeds={"level": 1, "threshold": 0.25},
)
case(
    F,
    T,
    56,
    G0 + " %>% dont_skip_doses(when_escalating = TRUE, when_deescalating = TRUE) %>% "
    "stop_when_n_at_dose(n = 3, dose = 'any')",
    dfcrm(
        SK5, 0.25, stopping={"n_at_dose": 3, "dose": "any"}, no_skipping=True, no_skipping_down=True
    ),
    5,
    "1NNN 2NNT",
    2,
    False,
)
case(
    F,
    T,
    74,
    G0 + " %>% dont_skip_doses(when_deescalating = TRUE)",
    dfcrm(SK5, 0.25, no_skipping=True, no_skipping_down=True),
    5,
    "1NNN 2N 3TTT",
    2,
    True,
)
case(
    F,
    T,
    87,
    G0 + " %>% dont_skip_doses(when_escalating = FALSE, when_deescalating = FALSE)",
    dfcrm(SK5, 0.25),
    5,
    "1NNN 2N 3TTT",
    "dfcrm_mtd",
    True,
    note="R: the same as get_dfcrm alone (fit5a)",
)
case(
    F,
    T,
    100,
    G0 + " %>% stop_when_too_toxic(dose = 1, tox_threshold = target, confidence = 0.9) %>% "
    "dont_skip_doses(when_deescalating = TRUE)",
    dfcrm(SK5, 0.25, stopping=TT, no_skipping=True, no_skipping_down=True),
    5,
    "1TTT 2N 3TTT",
    None,
    False,
    prob_tox_exceeds={"level": 1, "threshold": 0.25},
)
case(
    F,
    T,
    113,
    G0 + " %>% dont_skip_doses(when_deescalating = TRUE) %>% stop_when_n_at_dose(n = 3, "
    "dose = 'any')",
    dfcrm(
        SK5, 0.25, stopping={"n_at_dose": 3, "dose": "any"}, no_skipping=True, no_skipping_down=True
    ),
    5,
    "1TTT 2N 3TTT",
    2,
    False,
)
T = "dont_skip_selector supports correct interface."
G = G0 + " %>% dont_skip_doses(when_escalating = TRUE, when_deescalating = FALSE)"
for line, out, rec in [(134, "1NNN 2NNN", 3), (245, "", 1), (357, "1NNN 2NNT", 2)]:
    note = {"note": "outcomes given as a tibble in R"} if line == 357 else {}
    case(F, T, line, G, dfcrm(SK5, 0.25, no_skipping=True), 5, out, rec, True, **note)

# ---- test_demand_n_at_dose.R ------------------------------------------------------------------------
F = "test_demand_n_at_dose.R"
T = "demand_n_at_dose_selector does what it should."
for r, demand, l1, l2, rec2 in [
    (
        "demand_n_at_dose(n = 12, dose = 'any')",
        {"demand_n_at_dose": 12, "dose": "any"},
        16,
        26,
        None,
    ),
    ("demand_n_at_dose(n = 9, dose = 'recommended')", {"demand_n_at_dose": 9}, 41, 51, 2),
    ("demand_n_at_dose(n = 9, dose = 2)", {"demand_n_at_dose": 9, "dose": 2}, 69, 79, None),
]:
    D = dfcrm(SK5, 0.25, stopping={"any": [{"max_patients": 12}, demand]})
    first = "1NNN 2NTN 2TNN 2NNN" if l1 == 16 else "1TNN 1NNN 2NTN 2TNN"
    second = first + (" 2NTT" if l1 == 16 else " 2NNN")
    G = f"{G0} %>% stop_at_n(n = 12) %>% {r}"
    case(F, T, l1, G, D, 5, first, "dfcrm_mtd", True)
    case(F, T, l2, G, D, 5, second, rec2 or "dfcrm_mtd", False)
T = "demand_n_at_dose_selector supports correct interface."
G = G0 + " %>% demand_n_at_dose(dose = 'recommended', n = 9)"
D = dfcrm(SK5, 0.25, stopping={"demand_n_at_dose": 9, "dose": "recommended"})
for line, out, rec in [(101, "1NNN 2NNN", 5), (211, "", 1), (322, "1NNN 2NNT", 2)]:
    note = {"note": "outcomes given as a tibble in R"} if line == 322 else {}
    case(F, T, line, G, D, 5, out, rec, True, **note)
T = "demand_n_at_dose_selector propagates stopping by parent."
G = (
    G0 + " %>% stop_when_too_toxic(dose = 1, tox_threshold = 0.35, confidence = 0.8) %>% "
    "demand_n_at_dose(n = 9, dose = 'recommended')"
)
D = dfcrm(SK5, 0.25, stopping={"all": [too_toxic(0.35, 0.8), {"demand_n_at_dose": 9}]})
case(
    F,
    T,
    444,
    G,
    D,
    5,
    "1NTT",
    "dfcrm_mtd",
    True,
    prob_tox_exceeds={"level": 1, "threshold": 0.35},
    note="R only asks that a dose is recommended; the dose is dfcrm's MTD",
)
case(F, T, 453, G, D, 5, "1NTT 1TTN", None, False, prob_tox_exceeds={"level": 1, "threshold": 0.35})


# ---- R ----------------------------------------------------------------------------------------------
def parse_outcomes(outcomes: str) -> list[tuple[int, int]]:
    out = []
    for token in outcomes.split():
        digits = "".join(ch for ch in token if ch.isdigit())
        out += [(int(digits), int(ch == "T")) for ch in token[len(digits) :]]
    return out


def r_vector(values: list[Any]) -> str:
    return (
        "c("
        + ", ".join(repr(v) if not isinstance(v, bool) else str(v).upper() for v in values)
        + ")"
    )


R_HEAD = r"""
library(dfcrm)
# exact Pr(p_level > t | data): the posterior of a integrated with integrate() (rel.tol 1e-10)
exact_exceeds <- function(skeleton, tox, level, w, model, intcpt, scale, lev, t) {
  if (model == "empiric") {
    p <- function(a, d) skeleton[d]^exp(a)
    a_star <- log(log(t) / log(skeleton[lev]))
  } else {
    x <- (log(skeleton / (1 - skeleton)) - intcpt)
    p <- function(a, d) 1 / (1 + exp(-(intcpt + exp(a) * x[d])))
    a_star <- log((log(t / (1 - t)) - intcpt) / x[lev])
  }
  f <- function(a) sapply(a, function(ai) {
    pr <- p(ai, level)
    prod(ifelse(tox == 1, pr, 1 - w * pr)) * dnorm(ai, 0, scale)
  })
  num <- integrate(f, -Inf, a_star, rel.tol = 1e-10)$value
  den <- integrate(f, -Inf, Inf, rel.tol = 1e-10)$value
  num / den
}
normal_exceeds <- function(fit, skeleton, lev, t) {
  if (fit$model == "empiric") {
    pnorm(log(log(t) / log(skeleton[lev])), fit$estimate, sqrt(fit$post.var))
  } else {
    pnorm(log((log(t / (1 - t)) - fit$intcpt) / fit$dosescaled[lev]), fit$estimate,
          sqrt(fit$post.var))
  }
}
"""


def r_script() -> str:
    lines = [R_HEAD]
    for i, c in enumerate(CASES):
        if c.get("inexpressible"):
            continue
        wants = c["recommended_dose"] == "dfcrm_mtd" or "prob_tox_exceeds" in c
        if not wants or not c["outcomes"]:
            continue
        d = c["design"]
        pts = parse_outcomes(c["outcomes"])
        tox, level = [t for _, t in pts], [lv for lv, _ in pts]
        scale = d.get("prior_sd", math.sqrt(1.34))
        model, intcpt = d.get("model", "empiric"), d.get("intercept", 3)
        args = (
            f"prior = {r_vector(d['skeleton'])}, target = {d['target']}, tox = {r_vector(tox)}, "
            f"level = {r_vector(level)}, model = '{model}', intcpt = {intcpt}, "
            f"scale = {scale!r}"
        )
        lines.append(f"tox <- {r_vector(tox)}; level <- {r_vector(level)}")
        if c.get("tite"):
            lines += [
                "set.seed(2024)",
                "w <- pmax(runif(n = length(tox), min = 0, max = 1), tox)",
                "w_days <- ifelse(tox == 1, 365, pmin(round(w * 365), 365))",
                f"fit <- titecrm({args}, weights = w)",
                f"fit_days <- titecrm({args}, weights = ifelse(tox == 1, 1, w_days / 365))",
                f'cat("CASE {i}", fit$mtd, fit_days$mtd, paste(w_days, collapse = ","), "\\n")',
            ]
            continue
        lines.append(f"fit <- crm({args})")
        lines.append("w <- rep(1, length(tox))")
        extra = ""
        if "prob_tox_exceeds" in c:
            lev, t = c["prob_tox_exceeds"]["level"], c["prob_tox_exceeds"]["threshold"]
            lines.append(f"na <- normal_exceeds(fit, {r_vector(d['skeleton'])}, {lev}, {t})")
            lines.append(
                f"ex <- exact_exceeds({r_vector(d['skeleton'])}, tox, level, w, '{model}', "
                f"{intcpt}, {scale!r}, {lev}, {t})"
            )
            extra = ', sprintf("%.17g", na), sprintf("%.17g", ex)'
        lines.append(f'cat("CASE {i}", fit$mtd{extra}, "\\n")')
    return "\n".join(lines) + "\n"


def main() -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as f:
        f.write(r_script())
    done = subprocess.run(["Rscript", f.name], capture_output=True, text=True, check=True).stdout
    version = subprocess.run(
        ["Rscript", "-e", 'cat(R.version.string, "; dfcrm", format(packageVersion("dfcrm")))'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    for row in done.splitlines():
        if not row.startswith("CASE "):
            continue
        _, i, *values = row.split()
        c = CASES[int(i)]
        if c.get("tite"):
            mtd, mtd_days, days = int(values[0]), int(values[1]), values[2]
            c["weights_days"] = [int(v) for v in days.split(",")]
            c["dfcrm_mtd_rounded_weights"] = mtd_days
            values = [str(mtd)]
        if c["recommended_dose"] == "dfcrm_mtd":
            c["recommended_dose"] = int(values[0])
            c["recommended_from"] = "dfcrm fit's mtd (the R test compares with it)"
        if "prob_tox_exceeds" in c:
            normal, exact = float(values[1]), float(values[2])
            conf = c["design"]["stopping"]
            c["prob_tox_exceeds"] |= {
                "r_normal_approximation": normal,
                "exact_r_integrate": exact,
                "difference": exact - normal,
            }
            if c["continue"] == "prob_tox_exceeds":
                confidence = _confidence(conf)
                c["continue"] = normal < confidence
                c["continue_from"] = (
                    f"prob_tox_exceeds (R's normal approximation) < {confidence}, as the R test"
                )
    for i, c in enumerate(CASES):
        c["id"] = f"{c['file'].split('/')[-1][:-2]}:{c['line']}:{c['outcomes'] or 'no patients'}"
        assert c["recommended_dose"] != "dfcrm_mtd" and c["continue"] != "prob_tox_exceeds", i
    print(
        json.dumps(
            {
                "meta": {
                    "repository": "brockk/escalation",
                    "commit": COMMIT,
                    "files": sorted({c["file"] for c in CASES}),
                    "made_by": "tests/data/build_r_escalation_rule_cases.py (cases transcribed by "
                    "hand from the R tests; dfcrm values computed by the R script below)",
                    "r_version": version,
                    "notes": "outcomes in R escalation's phase-1 notation ('1NNT 2N': a cohort at "
                    "dose 1 with a DLT in the third patient, then one patient at dose 2 without). "
                    "recommended_dose null = R's NA. 'design' is the trial document's design block "
                    "stating the R design. 'inexpressible': R behaviour this engine does not "
                    "have, with the reason (the test expects the difference).",
                    "r_script": r_script(),
                },
                "cases": CASES,
            },
            indent=1,
        )
    )


def _confidence(stopping: dict[str, Any]) -> float:
    if "too_toxic" in stopping:
        return float(stopping["too_toxic"]["confidence"])
    for part in stopping.get("any", []) + stopping.get("all", []):
        if "too_toxic" in part:
            return float(part["too_toxic"]["confidence"])
    raise ValueError(stopping)


if __name__ == "__main__":
    sys.exit(main())
