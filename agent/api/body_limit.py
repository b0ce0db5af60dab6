"""Reject request bodies over a size limit with 413, before they are read into memory."""

from __future__ import annotations

import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.api.problems import PROBLEM_JSON, Problem


def _too_large(limit: int) -> str:
    return f"the request body exceeds the limit of {limit} bytes; send a smaller body"


class BodyLimitMiddleware:
    """Middleware that responds 413 when a body, declared or streamed, exceeds `max_bytes`.

    A streamed body that passes the limit raises fastapi's HTTPException(413) from
    `receive`, which the app turns into problem details like any other HTTP error.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, _too_large(self.max_bytes))
            return message

        await self.app(scope, limited_receive, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        problem = Problem(413, _too_large(self.max_bytes), name="body-too-large")
        body = json.dumps(problem.body(scope["path"])).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
