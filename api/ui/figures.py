"""Inline SVG pictures of the meeting page: the patients' timeline and the posterior curve.

Plain SVG text, drawn from the engine's own objects (no statistics here); every label escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

from escalation import Decision, Patient, PatientState, PosteriorBands, TrialDocument

__all__ = ["posterior_svg", "timeline_svg"]

_COLOURS = {
    PatientState.COMPLETE: "#2e7d32",
    PatientState.PENDING: "#1565c0",
    PatientState.DLT: "#c62828",
    PatientState.WITHDRAWN: "#757575",
}


def _patient_label(p: Patient) -> str:
    """A patient's label in the timeline: its id, then its indication (cut to 10 characters; the
    patient list gives it whole) and its cohort when not escalation."""
    parts = [p.patient_id]
    if p.indication is not None:
        parts.append(p.indication if len(p.indication) <= 10 else p.indication[:9] + "…")
    if p.cohort != "escalation":
        parts.append(p.cohort)
    return " · ".join(parts)


def timeline_svg(doc: TrialDocument) -> Markup:
    """Every patient by dose level: infusion day, the DLT window as a bar (followed part filled),
    DLTs marked on their day, pending windows with the date they close, the data cut as a line."""
    data = doc.data
    patients = sorted(
        zip(data.patients, data.summary.state, strict=True),
        key=lambda ps: (-ps[0].dose_level, ps[0].infused_day, ps[0].patient_id),
    )
    if not patients:
        return Markup('<p class="empty">No patient yet.</p>')
    window = data.dlt_window_days
    first = min(p.infused_day for p, _ in patients)
    last = max(data.as_of_day, max(p.infused_day + window for p, _ in patients))
    left, right, top, row_h = 150, 160, 30, 18
    width = 980
    plot_w = width - left - right
    levels = sorted({p.dose_level for p, _ in patients}, reverse=True)
    n_rows = len(patients) + len(levels)
    height = top + n_rows * row_h + 40

    def x(day: float) -> float:
        return left + (day - first) / max(last - first, 1) * plot_w

    parts = [
        f'<svg class="timeline" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="Timeline of DLT windows">',
        "<title>Patients by dose level: infusion, DLT window, DLTs, pending windows</title>",
    ]
    # month ticks
    step = 30 if last - first <= 400 else 90
    for day in range(first, last + 1, step):
        date = doc.day_to_date(day).isoformat()
        parts.append(
            f'<line x1="{x(day):.1f}" y1="{top - 6}" x2="{x(day):.1f}" y2="{height - 30}" '
            f'class="grid"/><text x="{x(day):.1f}" y="{height - 14}" class="tick" '
            f'text-anchor="middle">{escape(date)}</text>'
        )
    y = top
    for level in levels:
        label = doc.doses[level - 1].label
        parts.append(
            f'<text x="4" y="{y + 13}" class="level">Level {level}: {escape(label)}</text>'
        )
        y += row_h
        for p, state in ((p, s) for p, s in patients if p.dose_level == level):
            end = p.infused_day + window
            stop = {
                PatientState.DLT: p.dlt_day,
                PatientState.WITHDRAWN: p.withdrawn_day,
                PatientState.COMPLETE: end,
                PatientState.PENDING: data.as_of_day,
            }[state]
            assert stop is not None
            colour = _COLOURS[state]
            parts.append(
                f'<g class="patient {state.value}" data-patient="{escape(p.patient_id)}">'
                f'<text x="{left - 8}" y="{y + 12}" text-anchor="end" class="pid">'
                f"{escape(_patient_label(p))}</text>"
                f'<rect x="{x(p.infused_day):.1f}" y="{y + 3}" width="{x(end) - x(p.infused_day):.1f}" '
                f'height="10" class="window"/>'
                f'<rect x="{x(p.infused_day):.1f}" y="{y + 3}" '
                f'width="{max(x(stop) - x(p.infused_day), 1):.1f}" height="10" fill="{colour}"/>'
                f'<circle cx="{x(p.infused_day):.1f}" cy="{y + 8}" r="3" fill="#000"/>'
            )
            if state is PatientState.DLT:
                cx = x(stop)
                parts.append(
                    f'<path d="M{cx - 6:.1f},{y + 8} L{cx:.1f},{y + 1} L{cx + 6:.1f},{y + 8} '
                    f'L{cx:.1f},{y + 15} Z" fill="#c62828" stroke="#000"/>'
                    f'<text x="{x(end) + 4:.1f}" y="{y + 12}" class="note">DLT '
                    f"{escape(doc.day_to_date(stop).isoformat())}</text>"
                )
            elif state is PatientState.PENDING:
                parts.append(
                    f'<text x="{x(end) + 4:.1f}" y="{y + 12}" class="note pending">pending to '
                    f"{escape(doc.day_to_date(end).isoformat())}</text>"
                )
            elif state is PatientState.WITHDRAWN:
                parts.append(
                    f'<text x="{x(end) + 4:.1f}" y="{y + 12}" class="note">withdrawn</text>'
                )
            parts.append("</g>")
            y += row_h
    ax = x(data.as_of_day)
    as_of = doc.as_of.isoformat() if doc.as_of else f"day {data.as_of_day}"
    parts.append(
        f'<line x1="{ax:.1f}" y1="{top - 10}" x2="{ax:.1f}" y2="{height - 30}" class="asof"/>'
        f'<text x="{ax:.1f}" y="{top - 14}" text-anchor="middle" class="asof-label">data cut '
        f"{escape(as_of)}</text></svg>"
    )
    return Markup("".join(parts))


def posterior_svg(
    bands: PosteriorBands | None, decision: Decision, target: float, labels: Sequence[str]
) -> Markup:
    """The estimated DLT probability per dose level with its 50% and 95% credible bands and the
    target; the observed rates alone for a design without a posterior."""
    n = len(decision.doses)
    width, height, left, bottom, top = 560, 260, 50, 34, 20
    plot_w, plot_h = width - left - 20, height - top - bottom

    def xs(i: int) -> float:
        return left + (i + 0.5) * plot_w / n

    def ys(p: float) -> float:
        return top + (1 - p) * plot_h

    title = (
        f"Posterior DLT probability ({bands.model}): {bands.center_label}, 50% and 95% bands"
        if bands
        else "Observed DLT rate among complete patients"
    )
    parts = [
        f'<svg class="posterior" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for p in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<line x1="{left}" x2="{width - 20}" y1="{ys(p):.1f}" y2="{ys(p):.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{ys(p) + 4:.1f}" text-anchor="end" class="tick">{p:.2f}</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{width - 20}" y1="{ys(target):.1f}" y2="{ys(target):.1f}" '
        f'class="target"/><text x="{width - 22}" y="{ys(target) - 4:.1f}" text-anchor="end" '
        f'class="note">target {target:g}</text>'
    )
    for i, d in enumerate(decision.doses):
        cx = xs(i)
        parts.append(
            f'<text x="{cx:.1f}" y="{height - bottom + 18}" text-anchor="middle" class="tick">'
            f"Level {d.dose_level}<title>{escape(labels[i])}</title></text>"
        )
        if bands is not None:
            lo95, hi95 = bands.band95[i]
            lo50, hi50 = bands.band50[i]
            centre = bands.center[i]
            if not any(math.isnan(v) for v in (lo95, hi95)):
                parts.append(
                    f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{ys(lo95):.1f}" y2="{ys(hi95):.1f}" '
                    'class="band95"/>'
                )
            if not any(math.isnan(v) for v in (lo50, hi50)):
                parts.append(
                    f'<rect x="{cx - 6:.1f}" width="12" y="{ys(hi50):.1f}" '
                    f'height="{max(ys(lo50) - ys(hi50), 1):.1f}" class="band50"/>'
                )
            if not math.isnan(centre):
                parts.append(f'<circle cx="{cx:.1f}" cy="{ys(centre):.1f}" r="5" class="centre"/>')
        elif d.estimate is not None:
            parts.append(f'<circle cx="{cx:.1f}" cy="{ys(d.estimate):.1f}" r="5" class="centre"/>')
        if d.eliminated:
            parts.append(
                f'<text x="{cx:.1f}" y="{top + 12}" text-anchor="middle" class="note danger">'
                "eliminated</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
