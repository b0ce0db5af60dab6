"""Problem details (RFC 9457): the body of every error response, and the handlers that send it.

Each body is `application/problem+json` with `type`, `title`, `status`, `detail` and
`instance` (the request path). Validation errors add `errors`, one entry per invalid field.
Problem types are URNs (`urn:aftercare:problem:<name>`); plain HTTP errors use `about:blank`.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:aftercare:problem:"


class FieldError(BaseModel):
    field: str = Field(description="The invalid field, such as `requests[2].as_of` or `since`.")
    location: str = Field(description="Where the field was sent: body, query, path or header.")
    message: str
    type: str = Field(description="The validation error type, such as `timezone_aware`.")


class ProblemDetails(BaseModel):
    """An error response body (RFC 9457). Some problems add members, such as `check_id`."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldError] | None = None


class Problem(Exception):
    """An error the API returns as problem details; `extra` members join the body."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        name: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = f"{TYPE_PREFIX}{name}" if name else "about:blank"
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers or {}
        self.extra = {member: value for member, value in extra.items() if value is not None}

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Problem:
        """Rebuild a problem from a body that `body` returned, such as a stored one."""
        members = dict(body)
        status = int(members.pop("status", 500))
        detail = str(members.pop("detail", HTTPStatus(status).phrase))
        problem = cls(status, detail, title=members.pop("title", None))
        problem.type = str(members.pop("type", "about:blank"))
        members.pop("instance", None)
        problem.extra = members
        return problem

    def body(self, instance: str) -> dict[str, Any]:
        return {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
            **self.extra,
        }


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.body(request.url.path),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_JSON,
    )


def field_name(location: tuple[Any, ...]) -> str:
    """Render a pydantic error location without its source: ("body", "a", 0, "b") -> a[0].b."""
    name = ""
    for part in location[1:]:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or "(body)"


def _field_error(error: dict[str, Any]) -> FieldError:
    location = tuple(error.get("loc", ()))
    field = field_name(location)
    message = error.get("msg", "invalid value")
    if error.get("type") == "timezone_aware":
        message = f"`{field}` has no time zone; add a UTC offset such as +00:00 or Z"
    return FieldError(
        field=field,
        location=str(location[0]) if location else "body",
        message=message,
        type=error.get("type", "value_error"),
    )


def validation_problem(error: RequestValidationError) -> Problem:
    fields = [_field_error(e) for e in error.errors()]
    listed = "; ".join(f"`{f.field}`: {f.message}" for f in fields)
    return Problem(
        422,
        f"{len(fields)} invalid field(s): {listed}",
        name="validation-error",
        title="Invalid request",
        errors=[f.model_dump() for f in fields],
    )


async def _on_problem(request: Request, problem: Problem) -> JSONResponse:
    return problem_response(request, problem)


async def _on_validation(request: Request, error: RequestValidationError) -> JSONResponse:
    return problem_response(request, validation_problem(error))


def allowed_methods(request: Request) -> list[str]:
    """Return every method the OpenAPI document lists for the path the request matched."""
    template = getattr(request.scope.get("route"), "path", None)
    operations = request.app.openapi().get("paths", {}).get(template, {})
    return sorted(method.upper() for method in operations)


async def _on_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    detail = error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).phrase
    headers = dict(error.headers or {})
    if error.status_code == 405:
        # Starlette lists the methods of one route on the path, not of every route on it.
        headers["Allow"] = ", ".join(allowed_methods(request))
    problem = Problem(error.status_code, detail, headers=headers)
    return problem_response(request, problem)


async def _on_unexpected(request: Request, error: Exception) -> JSONResponse:
    log.error(
        "unhandled %s on %s %s",
        type(error).__name__,
        request.method,
        request.url.path,
        exc_info=error,
    )
    problem = Problem(
        500,
        "the server failed to handle the request; the error is logged, so retry later",
        name="internal-error",
    )
    return problem_response(request, problem)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Document error statuses for an operation; `app.openapi` moves them to problem+json."""
    return {
        status: {"model": ProblemDetails, "description": HTTPStatus(status).phrase}
        for status in statuses
    }
