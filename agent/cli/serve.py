"""`aftercare serve`: run the HTTP API."""

from __future__ import annotations

import ipaddress
import json
import logging

import typer
import uvicorn

from agent.api.app import create_app
from agent.cli.common import settings

log = logging.getLogger(__name__)


class JsonLineFormatter(logging.Formatter):
    """One JSON object per log record: time, level, logger and message."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line)


def _use_json_lines() -> None:
    for handler in logging.getLogger().handlers:
        handler.setFormatter(JsonLineFormatter())


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: str | None = typer.Option(
        None, "--host", help="Bind address; AFTERCARE_API_HOST, 127.0.0.1 by default."
    ),
    port: int | None = typer.Option(
        None, "--port", help="TCP port; AFTERCARE_API_PORT, 8000 by default."
    ),
) -> None:
    """Serve the HTTP API: drafts, jobs, events, health and metrics (see /docs)."""
    current = settings()
    if current.log_format == "json":
        _use_json_lines()
    bind = host or current.api_host
    if not _is_loopback(bind):
        log.warning("binding to %s makes the API reachable from other machines", bind)
    uvicorn.run(
        create_app(current),
        host=bind,
        port=port or current.api_port,
        log_level=current.log_level.lower(),
        # ObserveMiddleware logs each request without the client address or query string.
        access_log=False,
        log_config=None,
    )
