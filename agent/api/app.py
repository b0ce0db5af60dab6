"""The FastAPI application: a thin HTTP layer over the drafting library.

Every path under /v1/ needs an API key (`Authorization: Bearer <key>`) and counts against
the key's rate limit. /healthz, /readyz, /metrics and the OpenAPI document stay open for
probes, scrapers and client generators.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from agent.api.body_limit import BodyLimitMiddleware
from agent.api.deps import authorize, reject_unknown_query
from agent.api.draft_requests import IdempotencyMismatch
from agent.api.metrics import ObserveMiddleware
from agent.api.openapi import build_openapi
from agent.api.problems import Problem, install_problem_handlers, problem_response
from agent.api.routes import drafts, events, health, jobs
from agent.api.routes import signals as signals_routes
from agent.api.runtime import ApiRuntime
from agent.config import Settings
from agent.drafting.services import Services

API_DESCRIPTION = """Drafts post-purchase messages for a CRM to send.

Every path under `/v1/` needs an API key from `aftercare apikey create`, sent as
`Authorization: Bearer <key>`, and counts against the key's rate limit (429 with
Retry-After). `/healthz`, `/readyz`, `/metrics` and this document need no key.

Errors are problem details (RFC 9457, `application/problem+json`); validation errors list
each invalid field in `errors`. Timestamps need a time zone. A POST with an
`Idempotency-Key` header returns its first response when repeated with the same body.
When the draft queue is full, the API responds 503 with Retry-After.
"""


async def _on_idempotency_mismatch(request: Request, error: IdempotencyMismatch) -> JSONResponse:
    problem = Problem(
        422, str(error), name="idempotency-key-reused", title="Idempotency-Key reused"
    )
    return problem_response(request, problem)


def _add_middleware(app: FastAPI, settings: Settings, runtime: ApiRuntime) -> None:
    # The last one added runs first: observe, then CORS, then the body limit.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.api_max_body_bytes)
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            expose_headers=["Location", "Retry-After", "Idempotent-Replayed"],
        )
    app.add_middleware(ObserveMiddleware, metrics=lambda: runtime.metrics)


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """Build the app; its lifespan starts the draft workers and resumes stored requests."""
    runtime = ApiRuntime(settings, services or Services(settings))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(runtime.start)
        try:
            yield
        finally:
            await run_in_threadpool(runtime.stop)

    app = FastAPI(
        title="Aftercare",
        version="0.1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(authorize), Depends(reject_unknown_query)],
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    app.add_exception_handler(IdempotencyMismatch, _on_idempotency_mismatch)
    _add_middleware(app, settings, runtime)
    app.include_router(health.router)
    app.include_router(drafts.router)
    app.include_router(jobs.router)
    app.include_router(events.router)
    app.include_router(signals_routes.router)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    return app
