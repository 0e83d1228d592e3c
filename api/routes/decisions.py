"""POST /v1/decisions: stateless; a trial document in, the CLI's decision JSON out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from api.deps import Reader
from api.errors import InvalidInput
from api.routes._docs import document_body, errors
from api.schemas import DecisionJson, TrialDocumentIn
from api.services.common import long_text_problems, nul_problems
from escalation import InvalidDesignError, InvalidTrialDataError, decision_to_json, parse_document

router = APIRouter(tags=["decisions"])


@router.post(
    "/decisions",
    response_model=DecisionJson,
    summary="The next decision for a trial document (nothing stored)",
    description="The same JSON as `escalation recommend DOCUMENT --json`. An invalid document "
    "gets 422 with every problem the engine found.",
    responses=errors(),
    openapi_extra=document_body(TrialDocumentIn),
)
def decide(document: Annotated[dict[str, Any], Body()], _key: Reader) -> dict[str, Any]:
    if problems := nul_problems(document, "") + long_text_problems(document, ""):
        raise InvalidInput.from_problems(problems)
    try:
        doc = parse_document(document)
    except (InvalidTrialDataError, InvalidDesignError) as e:
        raise InvalidInput.from_engine(e) from None
    return decision_to_json(doc.design.decide(doc.data), doc)
