"""The published OpenAPI document, adjusted to what the middleware and handlers do.

FastAPI documents each route from its signature. This adds what happens around the
routes. Every path under /v1/ needs the bearer key and may respond 401, 422 or 429, and
400 or 413 when it takes a body. No other path needs a key. Every error body is problem
details (application/problem+json).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from agent.api.deps import PROTECTED_PREFIX, bearer

PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}
# FastAPI's default validation error schemas, replaced by problem details.
UNUSED_SCHEMAS = ("HTTPValidationError", "ValidationError")
PROTECTED_ERRORS = {
    "401": "Missing, invalid or revoked API key",
    "422": "Invalid request",
    "429": "Rate limit reached; wait for Retry-After",
}
BODY_ERRORS = {"400": "Body is not readable JSON", "413": "Request body too large"}


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (path, operation)
        for path, item in document.get("paths", {}).items()
        for operation in item.values()
        if isinstance(operation, dict) and "responses" in operation
    ]


def _add_errors(operation: dict[str, Any], errors: dict[str, str]) -> None:
    for status, description in errors.items():
        operation["responses"].setdefault(status, {"description": description})


def _as_problem_json(operation: dict[str, Any]) -> None:
    for status, response in operation["responses"].items():
        if status.isdigit() and int(status) >= 400:
            response["content"] = {"application/problem+json": {"schema": PROBLEM_REF}}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for path, operation in _operations(document):
        if path.startswith(PROTECTED_PREFIX):
            operation["security"] = [{bearer.scheme_name: []}]
            _add_errors(operation, PROTECTED_ERRORS)
            if "requestBody" in operation:
                _add_errors(operation, BODY_ERRORS)
        else:
            operation.pop("security", None)
        _as_problem_json(operation)
    schemas = document.get("components", {}).get("schemas", {})
    for name in UNUSED_SCHEMAS:
        schemas.pop(name, None)
    app.openapi_schema = document
    return document
