"""The FastAPI application: a thin HTTP layer over the drafting library."""

from __future__ import annotations

from fastapi import FastAPI

from agent.api.routes import drafts
from agent.config import Settings
from agent.drafting.services import Services


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    app = FastAPI(
        title="Aftercare",
        version="0.1.0",
        description="Drafts post-purchase messages for a CRM to send.",
    )
    app.state.services = services or Services(settings)
    app.include_router(drafts.router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
