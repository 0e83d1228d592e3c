"""``escalation futility``: the BOP2 futility rule, its boundaries and exact operating
characteristics (``escalation.models.bop2``), registered by ``escalation.cli``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from escalation._cli_monitor import _probability_list
from escalation._cli_text import render_rows
from escalation.errors import InvalidDesignError, Problem
from escalation.models.bop2 import FutilityRule, calibrate_futility, futility_problems

__all__ = ["add_futility_command"]


def _looks(text: str) -> list[int]:
    """``--looks 10,20,30,40``: increasing numbers of patients (checked by the rule)."""
    try:
        return [int(item) for item in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers of patients such as 10,20,30,40, got {text!r}"
        ) from None


def _rule(args: argparse.Namespace) -> FutilityRule:
    prior = None if args.prior is None else (args.prior[0], args.prior[1])
    given = args.lambda_ is not None, args.gamma is not None
    if all(given) and args.response_alt is None:
        return FutilityRule(
            response_null=args.response_null,
            looks=tuple(args.looks),
            lambda_=args.lambda_,
            gamma=args.gamma,
            prior=prior,
        )
    if not any(given) and args.response_alt is not None:
        return calibrate_futility(
            response_null=args.response_null,
            response_alt=args.response_alt,
            looks=tuple(args.looks),
            alpha=args.alpha,
            prior=prior,
        )
    problems = futility_problems(
        response_null=args.response_null, looks=args.looks, prior=prior, where=""
    )
    problems.append(
        Problem(
            field="--lambda",
            message="give --lambda and --gamma, or --response-alt (and --alpha) to calibrate",
        )
    )
    raise InvalidDesignError(problems)


def _futility_command(args: argparse.Namespace) -> int:
    rule = _rule(args)
    rates = args.oc or [rule.response_null] + ([args.response_alt] if args.response_alt else [])
    ocs = [rule.operating_characteristics(p) for p in rates]
    assert rule.prior is not None
    a, b = rule.prior
    if args.json:
        payload: dict[str, Any] = {
            "response_null": rule.response_null,
            "prior": [a, b],
            "lambda": rule.lambda_,
            "gamma": rule.gamma,
            "rows": [
                {"n": n, "threshold": c, "continue_at_least": bound}
                for n, c, bound in zip(
                    rule.looks, rule.thresholds, rule.continue_at_least, strict=True
                )
            ],
            "oc": [
                {
                    "p": oc.p,
                    "stop_prob_by_look": list(oc.stop_prob_by_look),
                    "early_stop_prob": oc.early_stop_prob,
                    "go_prob": oc.go_prob,
                    "expected_n": oc.expected_n,
                }
                for oc in ocs
            ],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return 0
    how = (
        f"calibrated: the largest power at {args.response_alt:g} with a type I error <= "
        f"{args.alpha:g}"
        if args.response_alt is not None
        else "given"
    )
    rows = [
        [str(n), f"{c:.4f}", str(bound - 1) if bound > 0 else "-", str(bound)]
        for n, c, bound in zip(rule.looks, rule.thresholds, rule.continue_at_least, strict=True)
    ]
    oc_rows = [
        [f"{oc.p:g}", f"{oc.early_stop_prob:.4f}", f"{oc.go_prob:.4f}", f"{oc.expected_n:.2f}"]
        for oc in ocs
    ]
    text = [
        "BOP2 futility rule (Zhou, Lee & Yuan 2017):",
        f"prior Beta({a:g}, {b:g}); stop when Pr(response rate <= {rule.response_null:g} | data) "
        f"> C(n) = 1 - {rule.lambda_:.6g} (n/{rule.max_n})^{rule.gamma:.6g} ({how}).",
        "",
        render_rows(["Patients", "C(n)", "Stop if responses <=", "Continue if >="], rows),
        "",
        "Exact operating characteristics (go: every look passed, the null rejected):",
        "",
        render_rows(["True response rate", "Pr(early stop)", "Pr(go)", "E(patients)"], oc_rows),
    ]
    sys.stdout.write("\n".join(text) + "\n")
    return 0


def add_futility_command(sub: Any) -> None:
    """Add ``futility`` to the ``escalation`` sub-commands."""
    p = sub.add_parser(
        "futility",
        help="BOP2 efficacy futility rule: boundaries and exact operating characteristics",
        description="The BOP2 futility rule (Zhou, Lee & Yuan 2017): at each look, stop when "
        "Pr(response rate <= response_null | data) > 1 - lambda (n/N)^gamma under a Beta prior "
        "(default Beta(response_null, 1 - response_null)). Give --lambda and --gamma, or "
        "--response-alt (and --alpha) to calibrate them as the paper does. Prints the boundary "
        "at each look and exact operating characteristics (dynamic programming).",
    )
    p.add_argument("--response-null", type=float, required=True, help="H0 response rate")
    p.add_argument(
        "--looks", type=_looks, required=True, help="patients at each look, e.g. 10,20,30,40"
    )
    p.add_argument("--lambda", dest="lambda_", type=float, default=None, help="C(n)'s lambda")
    p.add_argument("--gamma", type=float, default=None, help="C(n)'s gamma")
    p.add_argument(
        "--response-alt", type=float, default=None, help="H1 response rate (to calibrate)"
    )
    p.add_argument("--alpha", type=float, default=0.1, help="type I error (to calibrate)")
    p.add_argument(
        "--prior", type=float, nargs=2, default=None, metavar=("A", "B"), help="Beta(a, b) prior"
    )
    p.add_argument(
        "--oc",
        type=_probability_list,
        default=None,
        metavar="P1,P2,...",
        help="true response rates for the operating characteristics (default: null, alt)",
    )
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(handler=_futility_command)
