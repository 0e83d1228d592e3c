"""API keys (admin): create (the key is shown once), list, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from api.deps import MAX_ID, Admin, DbDep, PageDep
from api.routes._docs import errors
from api.schemas import KeyCreate, KeyCreatedOut, KeyOut, Page
from api.services import admin as service

router = APIRouter(tags=["keys"])

KeyId = Annotated[int, Path(ge=1, le=MAX_ID, description="the key's id")]


@router.post(
    "/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=KeyCreatedOut,
    summary="Create an API key (shown once)",
    responses=errors(),
)
def create_key(body: KeyCreate, key: Admin, db: DbDep, response: Response) -> KeyCreatedOut:
    record, secret = service.create_key(db, role=body.role, name=body.name, actor=key.actor)
    response.headers["Location"] = f"/v1/keys/{record.id}"
    return KeyCreatedOut.model_validate(
        {**KeyOut.model_validate(record, from_attributes=True).model_dump(), "key": secret}
    )


@router.get(
    "/keys",
    response_model=Page[KeyOut],
    summary="API keys (never the keys themselves)",
    responses=errors(),
)
def list_keys(_key: Admin, db: DbDep, paging: PageDep) -> Page[KeyOut]:
    rows, next_offset = service.list_keys(db, paging)
    return Page[KeyOut](
        items=[KeyOut.model_validate(r, from_attributes=True) for r in rows],
        limit=paging.limit,
        offset=paging.offset,
        next_offset=next_offset,
    )


@router.delete(
    "/keys/{key_id}",
    response_model=KeyOut,
    summary="Revoke an API key (it stays listed, revoked)",
    responses=errors(404, 409),
)
def revoke_key(key_id: KeyId, key: Admin, db: DbDep) -> KeyOut:
    record = service.revoke_key(db, key_id, actor=key.actor, caller_id=key.id)
    return KeyOut.model_validate(record, from_attributes=True)
