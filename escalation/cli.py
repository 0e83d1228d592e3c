"""The ``escalation`` command line.

Commands: ``table`` (the protocol's decision table), ``recommend`` (the next decision for a trial
document), ``select`` (the final recommended dose), ``monitor`` (a toxicity monitoring rule), ``futility`` (the BOP2 futility rule),
``paths`` (the dose-transition pathways of the next cohorts). Every command has ``--help``; ``--json``
prints machine-readable output. Bad input exits with status 2, every problem on stderr, nothing on
stdout.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from escalation import __version__
from escalation._cli_futility import add_futility_command
from escalation._cli_monitor import add_monitor_command
from escalation._cli_text import render_rows as _render_rows
from escalation.decision import BackfillStatus, Decision, Selection
from escalation.documents import TrialDocument, decision_to_json, parse_document, selection_to_json
from escalation.errors import EscalationError, InvalidDesignError, InvalidTrialDataError, Problem
from escalation.expansion import ExpansionPlan
from escalation.limits import LIMITS
from escalation.models.boundaries import boin_lambdas, boundary_rows, tite_boin_rows

__all__ = ["main"]

log = logging.getLogger("escalation")

EXIT_BAD_INPUT = 2


class _UsageError(Exception):
    """Bad command-line input found after argparse (reported like argparse's own errors)."""


# ---- output helpers ------------------------------------------------------------------------------
def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def _fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


# ---- table -----------------------------------------------------------------------------------------
def _table_command(args: argparse.Namespace) -> int:
    from escalation.designs import DESIGNS

    if args.design == "3+3":
        return _three_plus_three_table(args)
    if args.design == "boin12":
        from escalation._cli_boin12 import boin12_table_command

        return boin12_table_command(args)
    if args.cohorts is None:
        args.cohorts = 10
    _check_table_options(args)
    if args.target is None:
        raise _UsageError(f"--target is required with --design {args.design}")
    n_max = args.cohorts * args.cohort_size
    options: dict[str, Any] = {
        "target": args.target,
        "phi1": args.phi1,
        "phi2": args.phi2,
        "cutoff": args.cutoff,
        "cohort_size": args.cohort_size,
    }
    if args.design == "tite-boin":
        options["max_pending"] = args.max_pending
    else:
        options["extra_safe"] = args.extra_safe
        options["offset"] = args.offset
    DESIGNS[args.design](n_doses=1, **options)  # validates the options exactly as a design would
    lambda_e, lambda_d = boin_lambdas(args.target, args.phi1, args.phi2)
    head: dict[str, Any] = {
        "design": args.design,
        "target": args.target,
        "lambda_e": lambda_e,
        "lambda_d": lambda_d,
        "cutoff": args.cutoff,
    }
    records: list[dict[str, Any]]
    if args.design == "tite-boin":
        head["max_pending"] = args.max_pending
        records = [
            {
                "n": r.n,
                "dlt": r.dlt,
                "pending": r.pending,
                "action": r.action,
                "escalate_if_stft_at_least": r.escalate_if_stft_at_least,
                "deescalate_if_stft_at_most": r.deescalate_if_stft_at_most,
            }
            for r in tite_boin_rows(
                n_max,
                target=args.target,
                phi1=args.phi1,
                phi2=args.phi2,
                cutoff=args.cutoff,
                max_pending=args.max_pending,
            )
            if not args.compact or (r.n % args.cohort_size == 0 and r.action != "suspend")
        ]
        if args.compact:
            head["compact"] = (
                f"rows at cohort ends only (every {args.cohort_size} patients), without the "
                "rows where accrual is suspended"
            )
        title = (
            f"TITE-BOIN decision table: target {args.target:g}, lambda_e {lambda_e:.4f}, lambda_d "
            f"{lambda_d:.4f}.\nphat = DLTs / (n - pending + STFT), STFT = the pending patients' "
            "summed follow-up fractions;\naccrual suspended when more than "
            f"{args.max_pending:g} of the patients at the dose are pending."
        )
        footnote = (
            "'depends': escalate when STFT >= the first threshold, de-escalate when STFT <= the\n"
            "second, stay in between ('-': no such region)."
        )
        if args.compact:
            title += (
                f"\nCompact: rows at cohort ends only (every {args.cohort_size} patients at the "
                "dose), without the\nrows where accrual is suspended."
            )
    else:
        head["extra_safe"] = args.extra_safe
        records = []
        for r in boundary_rows(
            n_max,
            target=args.target,
            phi1=args.phi1,
            phi2=args.phi2,
            cutoff=args.cutoff,
            extra_safe=args.extra_safe,
            offset=args.offset,
        ):
            rec: dict[str, Any] = {
                "n": r.n,
                "escalate_at_most": r.escalate_at_most,
                "deescalate_at_least": r.deescalate_at_least,
                "eliminate_at_least": r.eliminate_at_least,
            }
            if args.extra_safe:
                rec["stop_lowest_at_least"] = r.stop_lowest_at_least
            records.append(rec)
        title = (
            f"BOIN decision table: target {args.target:g}, lambda_e {lambda_e:.4f}, lambda_d "
            f"{lambda_d:.4f}, elimination when Pr(DLT rate > {args.target:g}) > {args.cutoff:g}"
        )
        footnote = "'-': no such decision possible at that number of patients."
    if args.format == "json":
        _print_json(head | {"rows": records})
        return 0
    return _write_table(args.format, records, title, footnote)


def _three_plus_three_rows(allow_deescalation: bool) -> list[dict[str, Any]]:
    """The 3+3 rule for 1 to 6 evaluable patients at the current dose, read off the rule itself.

    The current dose is the middle of three, with 3 patients and no DLT below and none above, so
    that the rows show the rule's own verdict (escalate, stay, de-escalate or stop).
    """
    import numpy as np

    from escalation.models.three_plus_three import Step, three_plus_three_step

    rows = []
    for n in range(1, 7):
        ys = np.arange(n + 1)
        step = three_plus_three_step(
            np.array([[3, n, 0]] * ys.size),
            np.stack([np.zeros_like(ys), ys, np.zeros_like(ys)], axis=1),
            np.ones(ys.size, dtype=np.int64),
            allow_deescalation=allow_deescalation,
        ).step
        up = ys[step == Step.ESCALATE]
        down = ys[np.isin(step, (Step.DEESCALATE, Step.STOP_BELOW, Step.STOP_KORN))]
        rows.append(
            {
                "n": n,
                "escalate_at_most": int(up.max()) if up.size else None,
                ("deescalate_at_least" if allow_deescalation else "stop_at_least"): (
                    int(down.min()) if down.size else None
                ),
            }
        )
    return rows


def _three_plus_three_table(args: argparse.Namespace) -> int:
    given = [
        flag
        for flag, value in (
            ("--target", args.target),
            ("--phi1", args.phi1),
            ("--phi2", args.phi2),
            ("--extra-safe", args.extra_safe or None),
            ("--offset", args.offset),
            ("--max-pending", args.max_pending),
            ("--compact", args.compact or None),
        )
        if value is not None
    ]
    if args.cohort_size != 3:
        given.append("--cohort-size")
    if given:
        verb = "does" if len(given) == 1 else "do"
        raise _UsageError(f"{', '.join(given)} {verb} not apply to --design 3+3")
    deesc = args.allow_deescalation
    records = _three_plus_three_rows(deesc)
    if args.format == "json":
        _print_json({"design": "3+3", "allow_deescalation": deesc, "rows": records})
        return 0
    title = (
        "3+3 decision table (Storer 1989"
        + (", with de-escalation as Korn et al. 1994" if deesc else "")
        + "):\nDLTs among the evaluable patients (complete DLT window or a DLT) at the current dose."
    )
    footnote = (
        "Otherwise stay: complete the cohort of 3, or treat 3 more after 1 DLT in 3 (6 in all).\n"
        "Escalation from the highest dose, or into a dose that already has 6 patients or 2 DLTs,\n"
        "stops the trial: the current dose is the MTD. "
        + (
            "De-escalation goes to the dose below while it has\nfewer than 6 patients; once it "
            "has 6 the trial stops: the MTD is the highest dose with\nat least 6 patients and at "
            "most 1 DLT (none if no dose has).\n"
            if deesc
            else "A stop after 2 DLTs names the dose below as the\nMTD (none below dose level 1).\n"
        )
        + "Two DLTs eliminate the dose and every higher one at once, even in an incomplete cohort."
    )
    return _write_table(args.format, records, title, footnote)


def _write_table(fmt: str, records: list[dict[str, Any]], title: str, footnote: str) -> int:
    keys = list(records[0])
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in rec.items()} for rec in records)
        sys.stdout.write(buf.getvalue())
        return 0
    header = [_TABLE_TITLES[k] for k in keys]
    cells = [[_cell(rec[k]) for k in keys] for rec in records]
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        sys.stdout.write("\n".join(lines) + "\n")
        return 0
    sys.stdout.write(f"{title}\n\n{_render_rows(header, cells)}\n\n{footnote}\n")
    return 0


def _check_table_options(args: argparse.Namespace) -> None:
    """Refuse sizes no protocol uses (the table would take hours) and options that do not apply
    to the chosen design (they would be ignored without a word)."""
    problems = []
    for option, value, limit in (
        ("--cohorts", args.cohorts, LIMITS["table_patients"]),
        ("--cohort-size", args.cohort_size, LIMITS["cohort_size"]),
    ):
        if (why := limit.check(value)) is not None:
            problems.append(f"{option}: {why}")
    if not problems:
        n_max = args.cohorts * args.cohort_size
        if (why := LIMITS["table_patients"].check(n_max)) is not None:
            problems.append(
                f"--cohorts x --cohort-size: patients at a dose, {why} "
                f"({args.cohorts} x {args.cohort_size})"
            )
    only = {
        "tite-boin": (
            ("--extra-safe", args.extra_safe),
            ("--offset", args.offset is not None),
            ("--allow-deescalation", args.allow_deescalation),
        ),
        "boin": (
            ("--max-pending", args.max_pending is not None),
            ("--compact", args.compact),
            ("--allow-deescalation", args.allow_deescalation),
        ),
    }[args.design]
    for option, given in only:
        if given:
            problems.append(f"{option} does not apply to --design {args.design}")
    if problems:
        raise _UsageError("; ".join(problems))
    if args.design == "tite-boin" and args.max_pending is None:
        args.max_pending = 0.5
    if args.design == "boin" and args.offset is None:
        args.offset = 0.05


_TABLE_TITLES = {
    "n": "Patients at dose",
    "stop_at_least": "Stop if DLTs >=",
    "escalate_at_most": "Escalate if DLTs <=",
    "deescalate_at_least": "De-escalate if DLTs >=",
    "eliminate_at_least": "Eliminate if DLTs >=",
    "stop_lowest_at_least": "Stop (lowest dose) if DLTs >=",
    "dlt": "DLTs",
    "pending": "Pending",
    "action": "Decision",
    "escalate_if_stft_at_least": "Escalate if STFT >=",
    "deescalate_if_stft_at_most": "De-escalate if STFT <=",
}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


# ---- skeleton ------------------------------------------------------------------------------------
def _skeleton_command(args: argparse.Namespace) -> int:
    from escalation.models.skeleton import calibrate_skeleton

    if not 1 <= args.prior_mtd <= args.levels:
        raise _UsageError(f"--prior-mtd must be a dose level from 1 to {args.levels}")
    skeleton = calibrate_skeleton(
        args.halfwidth, args.target, args.prior_mtd, args.levels, model=args.model
    )
    values = [float(v) for v in skeleton]
    if args.json:
        _print_json(
            {
                "skeleton": values,
                "halfwidth": args.halfwidth,
                "target": args.target,
                "prior_mtd": args.prior_mtd,
                "levels": args.levels,
                "model": args.model,
            }
        )
        return 0
    sys.stdout.write(
        f"CRM skeleton ({args.model} model) calibrated by indifference intervals (Lee & Cheung "
        f"2009):\ntarget {args.target:g} +/- {args.halfwidth:g}, prior MTD at level "
        f"{args.prior_mtd} of {args.levels}\n\n"
    )
    rows = [[str(i + 1), f"{v:.4f}"] for i, v in enumerate(values)]
    sys.stdout.write(_render_rows(["Level", "Prior DLT probability"], rows) + "\n")
    return 0


# ---- recommend / select ------------------------------------------------------------------------------
def _load(path: str, *, for_selection: bool = False) -> TrialDocument:
    text: str
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise _UsageError(f"cannot read {path}: {e.strerror}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise _UsageError(
            f"{path} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"
        ) from None
    return parse_document(raw, for_selection=for_selection)


def _dose_table(decision: Decision, doc: TrialDocument) -> str:
    """Per-dose data and estimates; the posterior columns only for designs that have them."""
    has_interval = any(d.prob_tox_interval is not None for d in decision.doses)
    has_intervals = any(d.prob_target is not None for d in decision.doses)
    header = ["Level", "Dose", "Treated", "Complete", "DLTs", "Pending", "Est. DLT"]
    level = decision.interval_level or doc.design.interval_level or 0.95
    header += [f"{level:.0%} interval"] if has_interval else []
    has_overdose = any(d.prob_overdose is not None for d in decision.doses)
    header += ["P(under)", "P(target)"] if has_intervals else []
    header += ["P(overdose)"] if has_overdose else []
    header += [""]
    rows = []
    for d in decision.doses:
        mark = (
            "eliminated"
            if d.eliminated
            else ("<- next" if d.dose_level == decision.next_level else "")
        )
        row = [
            str(d.dose_level),
            doc.doses[d.dose_level - 1].label,
            str(d.n),
            str(d.n_complete),
            str(d.dlt),
            str(d.pending),
            _fmt(d.estimate),
        ]
        if has_interval:
            iv = d.prob_tox_interval
            row.append("-" if iv is None else f"{iv[0]:.2f}-{iv[1]:.2f}")
        if has_intervals:
            row += [_fmt(d.prob_underdose, 3), _fmt(d.prob_target, 3)]
        rows.append([*row, *([_fmt(d.prob_overdose, 3)] if has_overdose else []), mark])
    return _render_rows(header, rows)


def _expansion_table(decision: Decision, plan: ExpansionPlan) -> str:
    """The expansion cohorts' monitoring status (escalation decisions leave them out)."""
    monitor = plan.monitor
    a, b = monitor.prior
    head = (
        f"Expansion cohorts (not in the escalation decision): toxicity monitoring, stop when "
        f"Pr(DLT rate > {monitor.p0:g}) > {monitor.threshold:.4f} (Beta({a:g}, {b:g}) prior, "
        f"alpha {monitor.alpha:g} over {monitor.max_n} patients)"
    )
    rows = [
        [
            s.indication,
            str(s.dose_level),
            str(s.n),
            str(s.dlt),
            str(s.pending),
            _cell(s.stop_at_least),
            f"{s.posterior_prob:.3f}",
            s.action.upper(),
        ]
        for s in decision.expansion
    ]
    header = ["Indication", "Level", "Evaluable", "DLTs", "Pending", "Stop if DLTs >="]
    header += [f"Pr(rate > {monitor.p0:g})", "Action"]
    rule = plan.futility
    if rule is not None:
        head += (
            f"; BOP2 futility, stop when Pr(response rate <= {rule.response_null:g}) > "
            f"1 - {rule.lambda_:.4g} (n/{rule.max_n})^{rule.gamma:.4g} at looks "
            f"{', '.join(map(str, rule.looks))}"
        )
        header[-1:-1] = ["Responses", "Look", "Continue if resp. >="]
        for row, st in zip(rows, decision.expansion, strict=True):
            f = st.futility
            assert f is not None
            row[-1:-1] = [
                f"{f.responses}/{f.n}",
                _cell(f.look),
                _cell(f.continue_at_least),
            ]
    reasons = [f"  {s.indication} (level {s.dose_level}): {s.reason}" for s in decision.expansion]
    return "\n".join([head, "", _render_rows(header, rows), "", *reasons])


def _prior_table(decision: Decision, doc: TrialDocument) -> str | None:
    """BLRM: the prior's interval probabilities per dose (``diagnostics["prior"]``)."""
    prior = decision.diagnostics.get("prior")
    if not isinstance(prior, dict):
        return None
    rows = [
        [str(i + 1), doc.doses[i].label]
        + [_fmt(prior[key][i], 3) for key in ("prob_tox_median", "prob_underdose", "prob_target")]
        + [_fmt(prior["prob_overdose"][i], 3)]
        for i in range(len(doc.doses))
    ]
    header = ["Level", "Dose", "Prior median DLT", "P(under)", "P(target)", "P(overdose)"]
    return "Prior, before any data:\n" + _render_rows(header, rows)


def _backfill_lines(status: BackfillStatus) -> list[str]:
    """The backfill block: the open levels (and which the next backfill patient gets), and why
    each other level below the current dose is closed."""
    levels = ", ".join(map(str, status.open_levels)) or "none"
    pick = (
        f" (assign {status.assign}: the next backfill patient goes to dose level "
        f"{status.assign_level})"
        if status.assign_level is not None
        else f" (assign {status.assign})"
        if status.open_levels
        else ""
    )
    out = [f"Backfill: open dose levels: {levels}{pick}"]
    out += [f"  dose level {level} closed: {why}" for level, why in sorted(status.closed.items())]
    return out


def _recommend_command(args: argparse.Namespace) -> int:
    doc = _load(args.document)
    decision = doc.design.decide(doc.data)
    payload = decision_to_json(decision, doc)
    if args.json:
        _print_json(payload)
        return 0
    title = doc.name or Path(args.document).name
    out = [
        f"Trial: {title}    as of {payload['as_of'] or '-'}    design: {doc.design.method}"
        + (f" (target {doc.design.target:g})" if doc.design.uses_target else ""),
        "",
    ]
    action = decision.action.value.upper()
    if decision.next_level is not None:
        label = doc.doses[decision.next_level - 1].label
        out.append(f"Recommendation: {action} -> dose level {decision.next_level} ({label})")
    elif payload["wait_until"]:
        out.append(f"Recommendation: WAIT until {payload['wait_until']}")
    else:
        sel = decision.selection
        final = f"dose level {sel.dose_level}" if sel and sel.dose_level else "no dose"
        out.append(f"Recommendation: STOP the trial; final recommended dose: {final}")
    out += [f"Reason: {payload['reason']}", "", _dose_table(decision, doc)]
    if payload["prob_overdose_definition"]:
        out.append(f"P(overdose): {payload['prob_overdose_definition']}.")
    prior = _prior_table(decision, doc)
    if prior is not None:
        out += ["", prior]
    if any(d.efficacy is not None for d in decision.doses):
        from escalation._cli_boin12 import efficacy_table

        out += ["", efficacy_table(decision, doc)]
    out += ["", "Rules applied (x = acted):"]
    for r in decision.rules:
        out.append(f"  [{'x' if r.triggered else ' '}] {r.label}: {r.detail}")
    if decision.backfill is not None:
        out += ["", *_backfill_lines(decision.backfill)]
    if decision.expansion and doc.design.expansion is not None:
        out += ["", _expansion_table(decision, doc.design.expansion)]
    out.append(f"\nengine {__version__}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def _select_command(args: argparse.Namespace) -> int:
    doc = _load(args.document, for_selection=True)
    selection = doc.design.select(doc.data)
    payload = selection_to_json(selection, doc)
    if args.json:
        _print_json(payload)
        return 0
    dose = (
        f"dose level {selection.dose_level} ({doc.doses[selection.dose_level - 1].label})"
        if selection.dose_level
        else "no dose"
    )
    has_overdose = any(p is not None for p in selection.prob_overdose)
    has_intervals = bool(selection.prob_target)
    header = ["Level", "Dose", doc.design.selection_estimate]
    header += ["P(under)", "P(target)"] if has_intervals else []
    header += ["P(overdose)"] if has_overdose else []
    rows = []
    for i, (e, p) in enumerate(zip(selection.estimates, selection.prob_overdose, strict=True)):
        row = [str(i + 1), doc.doses[i].label, _fmt(e, 3)]
        if has_intervals:
            row += [_fmt(selection.prob_underdose[i], 3), _fmt(selection.prob_target[i], 3)]
        rows.append([*row, *([_fmt(p, 3)] if has_overdose else [])])
    text = [
        f"Final recommended dose: {dose}",
        f"Reason: {selection.reason}",
        "",
        _render_rows(header, rows),
    ]
    if payload["prob_overdose_definition"]:
        text.append(f"P(overdose): {payload['prob_overdose_definition']}.")
    used = selection.data_used
    if doc.data.indications or any(used.get(c) for c in ("backfill", "expansion")):
        text += ["", _whole_trial_tables(selection, doc)]
    text.append(f"\nengine {__version__}")
    sys.stdout.write("\n".join(text) + "\n")
    return 0


def _whole_trial_tables(selection: Selection, doc: TrialDocument) -> str:
    """The data the selection used: patients by cohort, per dose and per indication."""
    used = ", ".join(f"{n} {cohort}" for cohort, n in selection.data_used.items())
    rows = [
        [str(d.dose_level), str(d.n), str(d.n_complete), str(d.dlt), str(d.pending)]
        for d in selection.doses
    ]
    out = [
        f"Data used: {used} patients",
        "",
        _render_rows(["Level", "Treated", "Complete", "DLTs", "Pending"], rows),
    ]
    if selection.indications:
        ind_rows = [
            [
                e.indication,
                str(e.n),
                str(e.n_complete),
                str(e.dlt),
                _fmt(e.rate, 3),
                f"{e.responses}/{e.n_response_known}",
            ]
            for e in selection.indications
        ]
        header = ["Indication", "Treated", "Complete", "DLTs", "DLT rate", "Responses/known"]
        out += ["", _render_rows(header, ind_rows)]
    return "\n".join(out)


# ---- paths ---------------------------------------------------------------------------------------------
def _int_list(text: str, name: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise _UsageError(
            f"--{name}: give whole numbers separated by commas, got {text!r}"
        ) from None


def _float_list(text: str, name: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise _UsageError(f"--{name}: give numbers separated by commas, got {text!r}") from None


def _paths_command(args: argparse.Namespace) -> int:
    from escalation.paths import dose_paths, path_probabilities, paths_to_json

    doc = _load(args.document)
    sizes = _int_list(args.cohorts, "cohorts")
    true_probs = (
        None if args.true_dlt_probs is None else _float_list(args.true_dlt_probs, "true-dlt-probs")
    )
    paths = dose_paths(doc.design, doc.data, cohort_sizes=sizes, next_level=args.next_dose)
    probs = None if true_probs is None else path_probabilities(paths, true_probs)
    if args.json:
        _print_json(paths_to_json(paths, probs))
        return 0
    out = [
        f"Dose-transition pathways: {doc.design.method}, cohorts of {', '.join(map(str, sizes))}"
    ]
    if paths.assumed_complete:
        out.append(
            "Pending patients taken to complete their window without a DLT: "
            + ", ".join(paths.assumed_complete)
        )
    out.append("")
    for node in paths.nodes:
        dest = "stop" if node.next_level is None else str(node.next_level)
        where = "start" if node.depth == 0 else node.outcomes
        line = f"{'    ' * node.depth}{where} -> {dest}"
        if probs is not None and node.depth > 0:
            line += f"    (p = {probs.node_prob[node.id]:.4f})"
        out.append(line)
    if probs is not None:
        out += [
            "",
            "After the last cohort, with true DLT probabilities "
            + ", ".join(f"{p:g}" for p in probs.true_dlt_probs)
            + ":",
        ]
        for level, p in probs.recommendation.items():
            what = "stop" if level is None else f"dose level {level}"
            out.append(f"  P({what}) = {p:.4f}")
        out.append(
            f"  expected patients {probs.expected_patients:.3f}, expected DLTs {probs.expected_dlts:.3f}"
        )
    sys.stdout.write("\n".join(out) + "\n")
    return 0


# ---- parser ------------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="escalation",
        description="Bayesian dose-escalation decision engine (BOIN and model-based designs).",
    )
    parser.add_argument("--version", action="version", version=f"escalation {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    table = sub.add_parser(
        "table",
        help="print the protocol's decision table",
        description="BOIN decision table (as R's BOIN::get.boundary): for each number of "
        "patients at a dose, the DLT counts that escalate, de-escalate and eliminate. With "
        "--design tite-boin: TITE-BOIN's table (as TITEgBOIN) for every number of patients, DLTs "
        "and pending patients. With --design 3+3: the 3+3 rule (optionally with de-escalation).",
    )
    table.add_argument(
        "--design",
        choices=("boin", "tite-boin", "3+3", "boin12"),
        default="boin",
        help="boin (default), tite-boin (with pending patients), 3+3, or boin12 (the "
        "desirability table of toxicity and efficacy, Lin et al. 2020 Table 3)",
    )
    table.add_argument(
        "--target", type=float, default=None, help="target DLT probability (boin, tite-boin)"
    )
    table.add_argument(
        "--cohort-size", type=int, default=3, help="patients per cohort (default 3; at most 30)"
    )
    table.add_argument(
        "--cohorts",
        type=int,
        default=None,
        help="number of cohorts (default 10, boin12 3; at most 100 patients at a dose in all)",
    )
    table.add_argument(
        "--efficacy-target",
        type=float,
        default=0.25,
        help="boin12: lowest acceptable response rate (default 0.25)",
    )
    table.add_argument(
        "--utility",
        default="100,40,60,0",
        help="boin12: utilities of response without DLT, neither, both, DLT without response "
        "(default 100,40,60,0)",
    )
    table.add_argument(
        "--c-t",
        type=float,
        default=None,
        help="boin12: admissibility cutoff for Pr(DLT rate > target) (default 0.95)",
    )
    table.add_argument(
        "--c-e",
        type=float,
        default=0.9,
        help="boin12: admissibility cutoff for Pr(response rate < efficacy target) (0.9)",
    )
    table.add_argument(
        "--phi1", type=float, default=None, help="sub-therapeutic rate (default 0.6 target)"
    )
    table.add_argument(
        "--phi2", type=float, default=None, help="overly toxic rate (default 1.4 target)"
    )
    table.add_argument(
        "--cutoff", type=float, default=0.95, help="elimination cutoff (default 0.95)"
    )
    table.add_argument(
        "--extra-safe", action="store_true", help="boin: add the lowest-dose stopping boundary"
    )
    table.add_argument(
        "--offset", type=float, default=None, help="boin: extra-safe offset (default 0.05)"
    )
    table.add_argument(
        "--max-pending",
        type=float,
        default=None,
        help="tite-boin: largest share of pending patients before accrual is suspended (0.5)",
    )
    table.add_argument(
        "--compact",
        action="store_true",
        help="tite-boin: rows at cohort ends only (every --cohort-size patients at the dose), "
        "without the rows where accrual is suspended",
    )
    table.add_argument(
        "--allow-deescalation",
        action="store_true",
        help="3+3: de-escalate after 2 DLTs (Korn et al. 1994), as R escalation's allow_deescalate",
    )
    fmt = table.add_mutually_exclusive_group()
    fmt.add_argument(
        "--json", dest="format", action="store_const", const="json", help="JSON output"
    )
    fmt.add_argument("--csv", dest="format", action="store_const", const="csv", help="CSV output")
    fmt.add_argument(
        "--markdown", dest="format", action="store_const", const="markdown", help="Markdown output"
    )
    table.set_defaults(format="text", handler=_table_command)

    skel = sub.add_parser(
        "skeleton",
        help="calibrate a CRM skeleton",
        description="CRM skeleton by indifference intervals (Lee & Cheung 2009; dfcrm::getprior).",
    )
    skel.add_argument(
        "--halfwidth", type=float, required=True, help="half-width of the indifference interval"
    )
    skel.add_argument("--target", type=float, required=True, help="target DLT probability")
    skel.add_argument(
        "--prior-mtd", type=int, required=True, help="prior guess of the MTD (a dose level)"
    )
    skel.add_argument("--levels", type=int, required=True, help="number of dose levels")
    skel.add_argument(
        "--model", choices=("empiric", "logistic"), default="empiric", help="working model"
    )
    skel.add_argument("--json", action="store_true", help="JSON output")
    skel.set_defaults(handler=_skeleton_command)

    for name, handler, helptext in (
        ("recommend", _recommend_command, "the next decision for a trial document"),
        ("select", _select_command, "the final recommended dose for a trial document"),
    ):
        p = sub.add_parser(
            name, help=helptext, description=helptext[0].upper() + helptext[1:] + "."
        )
        p.add_argument("document", help="trial document (JSON file; '-' reads standard input)")
        p.add_argument("--json", action="store_true", help="JSON output")
        p.set_defaults(handler=handler)
    paths = sub.add_parser(
        "paths",
        help="dose-transition pathways of the next cohorts",
        description="Every outcome of the next cohorts and the decision after each (Yap et al. "
        "2017; R escalation's get_dose_paths). N: a patient without a DLT, T: with one.",
    )
    paths.add_argument("document", help="trial document (JSON file; '-' reads standard input)")
    paths.add_argument(
        "--cohorts", required=True, help="sizes of the next cohorts, comma-separated (e.g. 3,3)"
    )
    paths.add_argument(
        "--next-dose",
        type=int,
        default=None,
        help="dose level of the first cohort (default: the recommendation)",
    )
    paths.add_argument(
        "--true-dlt-probs",
        default=None,
        help="true DLT probability per dose level, comma-separated: exact path probabilities",
    )
    paths.add_argument("--json", action="store_true", help="JSON output")
    paths.set_defaults(handler=_paths_command)
    add_monitor_command(sub)
    add_futility_command(sub)
    _add_plugin_commands(sub)
    return parser


def _add_plugin_commands(sub: Any) -> None:
    """Commands of the outer layers (service, simulations), registered as entry points.

    The core never imports ``api`` or ``simulations``; they declare their commands in
    pyproject.toml under ``[project.entry-points."escalation.commands"]``, each a function
    ``register(subparsers)`` that adds its sub-parsers with a ``handler`` default.
    """
    for entry in sorted(entry_points(group="escalation.commands"), key=lambda e: e.name):
        try:
            register = entry.load()
        except Exception as e:  # a broken outer layer must not take the core commands down
            log.warning("commands %r unavailable: %s", entry.name, e)
            continue
        register(sub)


def _fail(problems: Sequence[Problem] | Sequence[str]) -> int:
    for p in problems:
        sys.stderr.write(f"error: {p}\n")
    return EXIT_BAD_INPUT


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``escalation`` console script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = _parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (InvalidTrialDataError, InvalidDesignError) as e:
        return _fail(e.problems)
    except _UsageError as e:
        return _fail([str(e)])
    except EscalationError as e:
        return _fail([str(e)])
    except BrokenPipeError:  # pragma: no cover - e.g. piped into head
        return 0


def console() -> None:  # pragma: no cover - thin wrapper
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    console()
