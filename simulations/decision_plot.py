"""The picture behind a recommendation, for the safety review committee.

For a design that uses efficacy (BOIN12) three panels: toxicity as below, the response rate per dose
(posterior mean, 95% band, observed rate, efficacy target), and the utility per dose (posterior mean
utility and the desirability Pr(utility > benchmark), inadmissible doses greyed).

Top panel: the posterior dose-toxicity curve (mean or median per dose level) with its central 50%
and 95% credible bands, the target (and the target interval of a BLRM), the observed DLT rates, and
the recommended dose. Bottom panel: the posterior interval probabilities per dose (for a BLRM,
under-dosing / target / over-dosing; otherwise Pr(DLT rate > target)), with the design's
overdose cutoff where it has one. Drawn on matplotlib's Agg canvas (no GUI, no pyplot state).
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

from escalation import Decision, PosteriorBands, TrialDocument

__all__ = ["decision_figure", "write_decision_plot"]

_COLORS = {"band95": "#c6dbef", "band50": "#6baed6", "center": "#08519c", "target": "#d62728"}
_STACK = ("#74c476", "#fdae6b", "#de2d26")


def decision_figure(doc: TrialDocument, decision: Decision, bands: PosteriorBands) -> Any:
    """A two-panel matplotlib Figure for one decision."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    levels = [d.level for d in doc.doses]
    # constrained layout keeps the legends, placed beside the panels, inside the figure
    efficacy = [d.efficacy for d in decision.doses]
    with_efficacy = all(e is not None for e in efficacy) and bool(efficacy)
    fig = Figure(figsize=(8.0, 10.0 if with_efficacy else 7.0), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    if with_efficacy:
        top, middle, bottom = fig.subplots(
            3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 3, 2]}
        )
        _efficacy_panel(middle, doc, decision, levels)
    else:
        top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})

    def finite(values: tuple[float, ...]) -> list[float]:
        return [v if not math.isnan(v) else float("nan") for v in values]

    lo95, hi95 = zip(*bands.band95, strict=True)
    lo50, hi50 = zip(*bands.band50, strict=True)
    top.fill_between(
        levels, finite(lo95), finite(hi95), color=_COLORS["band95"], label="95% band", step=None
    )
    top.fill_between(levels, finite(lo50), finite(hi50), color=_COLORS["band50"], label="50% band")
    top.plot(levels, finite(bands.center), "o-", color=_COLORS["center"], label=bands.center_label)
    target = doc.design.target
    interval = getattr(doc.design, "target_interval", None)
    if interval is not None:
        top.axhspan(
            interval[0], interval[1], color=_COLORS["target"], alpha=0.08, label="target interval"
        )
    top.axhline(target, color=_COLORS["target"], ls="--", lw=1, label=f"target {target:g}")
    observed = [(d.dose_level, d.dlt / d.n_complete) for d in decision.doses if d.n_complete > 0]
    who = "complete patients"
    if with_efficacy:  # the design decides on the patients with both outcomes known
        observed = [
            (d.dose_level, d.efficacy.dlt / d.efficacy.n_evaluable)
            for d in decision.doses
            if d.efficacy is not None and d.efficacy.n_evaluable > 0
        ]
        who = "evaluable patients"
    if observed:
        xs, ys = zip(*observed, strict=True)
        top.plot(xs, ys, "kx", ms=8, clip_on=False, label=f"observed DLT rate\n({who})")
    if decision.next_level is not None:
        top.axvline(decision.next_level, color="black", lw=0.8, ls=":")
        top.annotate(
            f" next: level {decision.next_level}",
            (decision.next_level, 0.97),
            xycoords=("data", "axes fraction"),
            ha="left",
            va="top",
            fontsize=9,
        )
    top.set_ylim(-0.04, 1.04)  # markers at 0 and 1 drawn whole
    top.set_ylabel("P(DLT)")
    title = doc.name or "Trial"
    top.set_title(f"{title}\n{bands.model}; decision: {decision.action.value}", fontsize=10)
    top.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside: hides nothing

    if with_efficacy:
        _utility_panel(bottom, doc, decision, levels)
        return fig
    names = list(bands.interval_probs)
    bottom_values = [0.0] * len(levels)
    colors = _STACK if len(names) == 3 else ("#de2d26",)
    for name, color in zip(names, colors, strict=False):
        values = [0.0 if math.isnan(v) else v for v in bands.interval_probs[name]]
        bottom.bar(levels, values, bottom=bottom_values, color=color, label=name, width=0.6)
        bottom_values = [b + v for b, v in zip(bottom_values, values, strict=True)]
    cutoff = getattr(doc.design, "overdose_cutoff", None) or getattr(
        doc.design, "overdose_control", None
    )
    if cutoff is not None:
        bottom.axhline(cutoff, color="black", ls="--", lw=1, label=f"overdose cutoff {cutoff:g}")
    bottom.set_ylim(0, 1.04)
    bottom.set_ylabel("Posterior probability")
    bottom.set_xlabel("Dose level")
    bottom.set_xticks(levels)
    bottom.set_xticklabels(
        [
            f"{d.level}\n{textwrap.fill(d.label, 14)}" if d.label else str(d.level)
            for d in doc.doses
        ],
        fontsize=7,
    )  # long dose labels wrapped, so that neighbours do not overlap
    bottom.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def _efficacy_panel(ax: Any, doc: TrialDocument, decision: Decision, levels: list[int]) -> None:
    """Response rate per dose: the Beta(1 + responses, 1 + non-responses) posterior mean with its
    95% band over the evaluable patients, the observed rate, and the efficacy target."""
    from scipy.stats import beta

    mean, lo, hi, seen = [], [], [], []
    for d in decision.doses:
        e = d.efficacy
        assert e is not None
        a, b = 1.0 + e.responses, 1.0 + e.n_evaluable - e.responses
        tried = e.n_evaluable > 0
        mean.append(a / (a + b) if tried else float("nan"))
        lo.append(float(beta.ppf(0.025, a, b)) if tried else float("nan"))
        hi.append(float(beta.ppf(0.975, a, b)) if tried else float("nan"))
        if e.response_rate is not None:
            seen.append((d.dose_level, e.response_rate))
    ax.fill_between(levels, lo, hi, color="#c7e9c0", label="95% band")
    ax.plot(levels, mean, "o-", color="#238b45", label="posterior mean")
    if seen:
        xs, ys = zip(*seen, strict=True)
        ax.plot(xs, ys, "kx", ms=8, clip_on=False, label="observed response rate")
    eff_target = getattr(doc.design, "efficacy_target", None)
    if eff_target is not None:
        ax.axhline(
            eff_target, color="#238b45", ls="--", lw=1, label=f"efficacy target {eff_target:g}"
        )
    ax.set_ylim(-0.04, 1.04)
    ax.set_ylabel("P(response)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _utility_panel(ax: Any, doc: TrialDocument, decision: Decision, levels: list[int]) -> None:
    """Utility per dose: the posterior mean utility (0-100, points) and the desirability
    Pr(utility > benchmark) (bars; 0 for a dose that is not admissible)."""
    values = [d.efficacy for d in decision.doses]
    desirability = [0.0 if e is None else e.desirability for e in values]
    utility = [
        float("nan") if e is None or e.n_evaluable <= 0 else e.utility_mean / 100 for e in values
    ]
    colors = ["#6a51a3" if e is not None and e.admissible else "#bdbdbd" for e in values]
    ax.bar(levels, desirability, color=colors, width=0.6, label="Pr(utility > benchmark)")
    ax.plot(levels, utility, "D", color="black", ms=6, label="posterior mean utility / 100")
    u_b = (decision.model or {}).get("u_b")
    if u_b is not None:
        ax.axhline(u_b / 100, color="black", ls="--", lw=1, label=f"benchmark {u_b:.1f} / 100")
    ax.set_ylim(0, 1.04)
    ax.set_ylabel("Utility")
    ax.set_xlabel("Dose level (grey: not admissible)")
    ax.set_xticks(levels)
    ax.set_xticklabels(
        [
            f"{d.level}\n{textwrap.fill(d.label, 14)}" if d.label else str(d.level)
            for d in doc.doses
        ],
        fontsize=7,
    )
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def write_decision_plot(doc: TrialDocument, path: Path) -> Decision:
    """Decide on the document's data and write the picture to ``path`` (.png or .svg)."""
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"--out must end in .png or .svg, got {path.name!r}")
    decision = doc.design.decide(doc.data)
    bands = doc.design.posterior_bands(doc.data.escalation_data())  # as the decision
    if bands is None:
        raise ValueError(f"design {doc.design.method!r} has no posterior to plot")
    fig = decision_figure(doc, decision, bands)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format=suffix[1:])
    return decision
