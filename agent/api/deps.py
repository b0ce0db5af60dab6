"""FastAPI dependencies: the process-wide drafting services."""

from __future__ import annotations

from fastapi import Request

from agent.drafting.pipeline import Drafter
from agent.drafting.services import Services


def get_services(request: Request) -> Services:
    return request.app.state.services


def get_drafter(request: Request) -> Drafter:
    return Drafter(request.app.state.services)
