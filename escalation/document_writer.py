"""A parsed trial document written back as JSON (the inverse of :func:`parse_document`).

Examples
--------
>>> from escalation.documents import parse_document
>>> doc = parse_document({
...     "design": {"method": "boin", "target": 0.3},
...     "doses": [{"level": 1, "label": "0.5e6/kg"}],
...     "indications": ["SLE"],
...     "as_of": "2026-03-01",
...     "patients": [{"id": "P001", "dose_level": 1, "infused_on": "2026-01-05", "dlt": False,
...                   "indication": "SLE", "response": True, "response_on": "2026-02-20"}]})
>>> document_to_json(doc)["patients"]
[{'id': 'P001', 'dose_level': 1, 'infused_on': '2026-01-05', 'dlt': False, 'response_on': '2026-02-20', 'indication': 'SLE', 'response': True}]
>>> parse_document(document_to_json(doc)).data == doc.data
True
"""

from __future__ import annotations

from typing import Any

from escalation.data import DEFAULT_EFFICACY_WINDOW_DAYS
from escalation.documents import TrialDocument, stage_json

__all__ = ["document_to_json"]


def document_to_json(doc: TrialDocument) -> dict[str, Any]:
    """The trial document of a parsed document: ``parse_document`` of it gives the same data.

    Dates are rebuilt from study days; the design is written with its defaults filled in.
    """
    out: dict[str, Any] = {}
    if doc.name is not None:
        out["name"] = doc.name
    out["design"] = doc.design.options()
    out["doses"] = [
        {"level": d.level, "label": d.label} | ({"amount": d.amount} if d.amount else {})
        for d in doc.doses
    ]
    out["dlt_window_days"] = doc.data.dlt_window_days
    if doc.data.efficacy_window_days != DEFAULT_EFFICACY_WINDOW_DAYS:
        out["efficacy_window_days"] = doc.data.efficacy_window_days
    if doc.data.indications:
        out["indications"] = list(doc.data.indications)
    if doc.as_of is not None:
        out["as_of"] = doc.as_of.isoformat()
    if doc.from_counts:
        s = doc.data.summary
        out["counts"] = [
            {"level": i + 1, "n": int(n), "dlt": int(y)}
            for i, (n, y) in enumerate(zip(s.n_treated, s.n_dlt, strict=True))
            if n
        ]
        out["current_level"] = doc.data.current_level
        return out

    def date(day: int | None) -> str | None:
        return None if day is None else doc.day_to_date(day).isoformat()

    patients = []
    for p in doc.data.patients:
        record: dict[str, Any] = {
            "id": p.patient_id,
            "dose_level": p.dose_level,
            "infused_on": date(p.infused_day),
            "dlt": p.dlt,
        }
        optional = {
            "dlt_on": date(p.dlt_day),
            "withdrawn_on": date(p.withdrawn_day),
            "response_on": date(p.response_day),
        }
        record |= {k: v for k, v in optional.items() if v is not None}
        patients.append(record | stage_json(p))
    out["patients"] = patients
    return out
