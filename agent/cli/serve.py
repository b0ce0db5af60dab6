"""`aftercare serve`: run the HTTP API."""

from __future__ import annotations

import typer
import uvicorn

from agent.api.app import create_app
from agent.cli.common import settings


def serve(
    host: str | None = typer.Option(None, "--host", help="Bind address; 127.0.0.1 by default."),
    port: int | None = typer.Option(None, "--port", help="TCP port; 8000 by default."),
) -> None:
    """Serve POST /v1/drafts and GET /v1/drafts/{id}."""
    current = settings()
    app = create_app(current)
    uvicorn.run(
        app,
        host=host or current.api_host,
        port=port or current.api_port,
        log_level=current.log_level.lower(),
    )
