"""The audit trail: a trial's entries (readers), the whole chain (admin)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Admin, DbDep, PageDep, Reader, TrialId
from api.routes._docs import errors
from api.schemas import AuditEntryOut, Page
from api.services.admin import list_audit
from api.storage.models import AuditEntry

router = APIRouter(tags=["audit"])


def _page(
    rows: list[AuditEntry], next_offset: int | None, limit: int, offset: int
) -> Page[AuditEntryOut]:
    return Page[AuditEntryOut](
        items=[AuditEntryOut.model_validate(r, from_attributes=True) for r in rows],
        limit=limit,
        offset=offset,
        next_offset=next_offset,
    )


@router.get(
    "/trials/{trial_id}/audit",
    response_model=Page[AuditEntryOut],
    summary="A trial's audit entries (who, when, what, before and after), oldest first",
    responses=errors(404),
)
def trial_audit(trial_id: TrialId, _key: Reader, db: DbDep, paging: PageDep) -> Page[AuditEntryOut]:
    rows, next_offset = list_audit(db, paging, trial_id=trial_id)
    return _page(list(rows), next_offset, paging.limit, paging.offset)


@router.get(
    "/audit",
    response_model=Page[AuditEntryOut],
    summary="The whole audit chain (keys and simulations included), oldest first",
    responses=errors(),
)
def whole_audit(_key: Admin, db: DbDep, paging: PageDep) -> Page[AuditEntryOut]:
    rows, next_offset = list_audit(db, paging)
    return _page(list(rows), next_offset, paging.limit, paging.offset)
