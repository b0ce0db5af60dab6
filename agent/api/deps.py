"""FastAPI dependencies: the process runtime, its services, and API key authorization."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.api.keys import ApiKey, verify_api_key
from agent.api.problems import Problem
from agent.api.ratelimit import retry_after_header
from agent.api.runtime import ApiRuntime
from agent.drafting.services import Services

log = logging.getLogger(__name__)

# Paths under this prefix need an API key; /healthz, /readyz and /metrics stay open.
PROTECTED_PREFIX = "/v1/"

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key from `aftercare apikey create`, sent as `Authorization: Bearer <key>`.",
)


def get_runtime(request: Request) -> ApiRuntime:
    return request.app.state.runtime


def get_services(request: Request) -> Services:
    return request.app.state.runtime.services


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        detail,
        name="unauthorized",
        headers={"WWW-Authenticate": 'Bearer realm="aftercare"'},
    )


async def authorize(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> ApiKey | None:
    """Check the bearer API key and its rate limit on every path under /v1/.

    Raises Problem 401 for a missing, malformed, unknown or revoked key, and 429 with
    Retry-After when the key has used up its rate limit.
    """
    if not request.url.path.startswith(PROTECTED_PREFIX):
        return None
    if credentials is None:
        raise _unauthorized(
            "this endpoint needs an API key in `Authorization: Bearer <key>`; "
            "create one with `aftercare apikey create NAME`"
        )
    runtime: ApiRuntime = request.app.state.runtime
    key = await run_in_threadpool(verify_api_key, runtime.services.engine, credentials.credentials)
    if key is None:
        raise _unauthorized(
            "the API key is invalid or revoked; list keys with `aftercare apikey list`"
        )
    request.state.api_key_id = key.key_id
    wait_s = runtime.limiter.acquire(key.key_id)
    if wait_s > 0:
        log.info("rate limit reached for API key %s", key.key_id)
        raise Problem(
            429,
            f"API key `{key.key_id}` sent more than {runtime.settings.api_rate_limit_per_minute:g} "
            "requests a minute; wait for the Retry-After seconds",
            name="rate-limited",
            headers={"Retry-After": retry_after_header(wait_s)},
        )
    return key


ApiKeyDep = Annotated[ApiKey | None, Depends(authorize)]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="A client-chosen key (printable ASCII, no spaces). Repeating a request "
        "with the same key and body returns the first response; a different body with the "
        "same key answers 422.",
    ),
]


def _declared_query(dependant: Any) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _declared_query(dependency)
    return names


def reject_unknown_query(request: Request) -> None:
    """Reject query parameters the route does not declare, such as a misspelt filter, with 422.

    Ignoring them would return unfiltered results for `?stauts=ready`.
    """
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return
    unknown = sorted(set(request.query_params) - _declared_query(dependant))
    if unknown:
        listed = ", ".join(f"`{name}`" for name in unknown)
        raise Problem(
            422,
            f"unknown query parameter(s) {listed}; see /openapi.json for the accepted ones",
            name="validation-error",
            title="Invalid request",
            errors=[
                {
                    "field": name,
                    "location": "query",
                    "message": "unknown query parameter",
                    "type": "extra_forbidden",
                }
                for name in unknown
            ],
        )
