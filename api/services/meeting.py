"""What the committee's meeting page shows, and the dose-transition pathways of the service.

Gathered from the other services and the engine (no statistics here): the stored recommendation as
of a date (made and stored when there is none yet, as ``GET /recommendation`` does), the engine's
decision objects on its snapshot for the pictures, the pathways of the next cohorts, the decision
table of the protocol, the committee's decisions and the trial's audit entries.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from api.errors import InvalidInput
from api.services import recommendations as recs
from api.services.admin import list_audit
from api.services.common import PageRequest
from api.storage.db import Database
from api.storage.models import AuditEntry, Recommendation
from escalation import (
    BoundaryRow,
    Decision,
    DosePaths,
    InvalidDesignError,
    InvalidTrialDataError,
    PosteriorBands,
    TrialDocument,
    boundary_rows,
    dose_paths,
    parse_document,
    path_probabilities,
    paths_to_json,
)

__all__ = ["Meeting", "last_recommendations", "meeting", "paths_json"]

_ALL = PageRequest(limit=500)

OVERDOSE_MEANING = {
    "boin": "Pr(DLT rate > target | complete patients at the dose), Beta(1, 1) prior: the "
    "quantity of BOIN's elimination rule (eliminated above the cutoff)",
    "tite-boin": "Pr(DLT rate > target | patients at the dose, pending ones counted), Beta(1, 1) "
    "prior: the quantity of the elimination rule (eliminated above the cutoff)",
    "crm": "posterior Pr(DLT rate > target) under the CRM working model",
    "tite-crm": "posterior Pr(DLT rate > target) under the weighted-likelihood CRM",
    "blrm": "posterior Pr(DLT rate above the target interval) under the BLRM: doses at or above "
    "the overdose cutoff are not eligible (EWOC)",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Meeting:
    """Everything the meeting page shows for one trial as of one date."""

    trial_id: int
    name: str | None
    as_of: dt.date
    recommendation: dict[str, Any]  # as GET /recommendation sends it
    doc: TrialDocument
    decision: Decision
    bands: PosteriorBands | None
    paths: DosePaths | None
    paths_problem: str | None
    table: tuple[BoundaryRow, ...]
    overdose_meaning: str
    decisions: list[dict[str, Any]]
    audit: Sequence[AuditEntry]


def _parse(snapshot: dict[str, Any]) -> TrialDocument:
    try:
        return parse_document(snapshot)
    except (InvalidTrialDataError, InvalidDesignError) as e:
        raise InvalidInput.from_engine(e) from None


def meeting(
    db: Database, trial_id: int, as_of: dt.date, *, actor: str, n_cohorts: int = 2
) -> Meeting:
    """The meeting page's content (404 for an unknown trial)."""
    found = recs.lookup(db, trial_id, as_of)
    served = found.stored or recs.create(db, trial_id, as_of, found, actor=actor)
    recommendation = json.loads(served.body)
    doc = _parse(found.snapshot)
    decision = doc.design.decide(doc.data)
    cohort = int(getattr(doc.design, "cohort_size", 3))
    paths: DosePaths | None = None
    problem: str | None = None
    options = doc.design.options()
    if options.get("engine") == "mcmc":
        # one MCMC fit per node (21 for two cohorts of three) would hold the page for minutes
        problem = (
            "Not drawn for the MCMC engine (one fit per outcome would take minutes): run "
            "`escalation paths` on the trial document, or GET /v1/trials/{id}/paths."
        )
    else:
        try:
            paths = dose_paths(doc.design, doc.data, cohort_sizes=(cohort,) * n_cohorts)
        except InvalidTrialDataError as e:
            problem = "; ".join(p.message for p in e.problems)
    table: tuple[BoundaryRow, ...] = ()
    if doc.design.method in ("boin", "tite-boin"):
        table = boundary_rows(
            min(int(options.get("max_patients", 30)), 4 * cohort),
            target=doc.design.target,
            phi1=options.get("phi1"),
            phi2=options.get("phi2"),
            cutoff=float(options.get("cutoff", 0.95)),
            extra_safe=bool(options.get("extra_safe", False)),
            offset=float(options.get("offset", 0.05)),
        )
    decisions, _ = recs.list_decisions(db, trial_id, _ALL)
    entries, _ = list_audit(db, _ALL, trial_id=trial_id)
    return Meeting(
        trial_id=trial_id,
        name=doc.name,
        as_of=as_of,
        recommendation=recommendation,
        doc=doc,
        decision=decision,
        bands=doc.design.posterior_bands(doc.data),
        paths=paths,
        paths_problem=problem,
        table=table,
        overdose_meaning=OVERDOSE_MEANING.get(doc.design.method, "posterior Pr(overdose)"),
        decisions=decisions,
        audit=entries,
    )


def paths_json(
    db: Database,
    trial_id: int,
    as_of: dt.date,
    *,
    cohorts: Sequence[int],
    next_dose: int | None,
    true_dlt_probs: Sequence[float] | None,
) -> dict[str, Any]:
    """``escalation paths --json`` on the stored data as of ``as_of`` (nothing stored)."""
    found = recs.lookup(db, trial_id, as_of)
    doc = _parse(found.snapshot)
    try:
        paths = dose_paths(doc.design, doc.data, cohort_sizes=cohorts, next_level=next_dose)
        probs = None if true_dlt_probs is None else path_probabilities(paths, true_dlt_probs)
    except InvalidTrialDataError as e:
        raise InvalidInput.from_engine(e) from None
    return paths_to_json(paths, probs) | {"trial_id": trial_id, "as_of": as_of.isoformat()}


def last_recommendations(db: Database, trial_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The most recent stored recommendation of each trial: as of, action, next dose."""
    if not trial_ids:
        return {}
    latest = (
        select(func.max(Recommendation.id))
        .where(Recommendation.trial_id.in_(list(trial_ids)))
        .group_by(Recommendation.trial_id)
    )
    with db.read() as s:
        rows = s.execute(
            select(Recommendation.trial_id, Recommendation.as_of, Recommendation.result).where(
                Recommendation.id.in_(latest)
            )
        ).all()
    return {
        trial_id: {
            "as_of": as_of,
            "action": result.get("action"),
            "next_dose": result.get("next_dose"),
        }
        for trial_id, as_of, result in rows
    }
