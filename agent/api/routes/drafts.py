"""`/v1/drafts`: create a draft for a stored customer or an inline context, and read it."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status

from agent.api.deps import get_drafter, get_services
from agent.context.store import CustomerNotFound
from agent.domain import Draft, DraftRequest
from agent.drafting.kinds import UnsupportedKind
from agent.drafting.pipeline import Drafter, Ineligible
from agent.drafting.services import Services
from agent.knowledge.brand import BrandNotFound
from agent.knowledge.errors import KnowledgeStoreError
from agent.review.store import DraftNotFound

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/drafts", tags=["drafts"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Draft)
def create_draft(request: DraftRequest, drafter: Annotated[Drafter, Depends(get_drafter)]) -> Draft:
    try:
        return drafter.draft(request)
    except CustomerNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    except (BrandNotFound, UnsupportedKind) as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    except Ineligible as error:
        detail = {"check_id": error.finding.check_id, "message": error.finding.message}
        raise HTTPException(status.HTTP_409_CONFLICT, detail) from error
    except KnowledgeStoreError as error:
        log.error("draft request failed because the knowledge base is unusable: %s", error)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from error


@router.get("/{draft_id}", response_model=Draft)
def get_draft(draft_id: str, services: Annotated[Services, Depends(get_services)]) -> Draft:
    try:
        return services.drafts.get(draft_id)
    except DraftNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
