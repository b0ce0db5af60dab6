"""`/healthz`, `/readyz` and `/metrics`: open endpoints for probes and scrapers.

They need no API key, so that a load balancer or Prometheus can call them. /metrics shows
request counts per route and drafts per status, but no ids, keys or customer data.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from sqlalchemy import text

from agent.api.deps import get_runtime
from agent.api.problems import Problem, ProblemDetails
from agent.api.runtime import ApiRuntime
from agent.knowledge.errors import KnowledgeStoreError
from agent.llm.base import LLMError
from agent.llm.factory import ProviderConfigError, build_provider
from agent.llm.local import check_model_file, default_model_path

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Check(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    checks: dict[str, Check]


def check_database(runtime: ApiRuntime) -> Check:
    url = runtime.services.engine.url.render_as_string(hide_password=True)
    try:
        with runtime.services.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        return Check(ok=False, detail=f"database {url} is unreachable: {type(error).__name__}")
    return Check(ok=True, detail=f"database {url} is reachable")


def check_knowledge_base(runtime: ApiRuntime) -> Check:
    brand = runtime.settings.default_brand
    try:
        chunks = runtime.services.knowledge.count(brand)
    except KnowledgeStoreError as error:
        return Check(ok=False, detail=str(error))
    if chunks == 0:
        return Check(
            ok=False,
            detail=f"the knowledge base has no chunks for brand `{brand}`; "
            "run `aftercare kb ingest`",
        )
    return Check(ok=True, detail=f"{chunks} chunks ingested for brand `{brand}`")


def check_model(runtime: ApiRuntime) -> Check:
    """Check that the model can load, without loading it or calling a remote endpoint."""
    settings = runtime.settings
    try:
        if settings.llm_provider == "openai":
            build_provider(settings)
            return Check(ok=True, detail=f"endpoint configured for model `{settings.llm_model}`")
        path = settings.llm_model_path or default_model_path()
        check_model_file(path)
    except (LLMError, ProviderConfigError) as error:
        return Check(ok=False, detail=str(error))
    return Check(ok=True, detail=f"model file {path.name} is present and loadable")


def readiness(runtime: ApiRuntime) -> dict[str, Check]:
    return {
        "database": check_database(runtime),
        "knowledge_base": check_knowledge_base(runtime),
        "model": check_model(runtime),
    }


@router.get("/healthz", response_model=Health, summary="Liveness: the process serves HTTP")
def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: database, knowledge base and model, each named",
    responses={503: {"model": ProblemDetails, "description": "A check failed."}},
)
async def readyz(runtime: Annotated[ApiRuntime, Depends(get_runtime)]) -> Readiness:
    checks = await run_in_threadpool(readiness, runtime)
    failed = [name for name, check in checks.items() if not check.ok]
    if failed:
        log.warning("not ready: %s", ", ".join(failed))
        raise Problem(
            503,
            "; ".join(f"{name}: {checks[name].detail}" for name in failed),
            name="not-ready",
            title="Not ready",
            checks={name: check.model_dump() for name, check in checks.items()},
        )
    return Readiness(checks=checks)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def metrics(runtime: Annotated[ApiRuntime, Depends(get_runtime)]) -> Response:
    body = await run_in_threadpool(runtime.metrics.render)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
