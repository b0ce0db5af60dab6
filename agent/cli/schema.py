"""`aftercare schema ...`: print JSON Schemas of the accepted inputs."""

from __future__ import annotations

import json

import typer

from agent.domain import CustomerContext, DraftRequest

app = typer.Typer(help="Print JSON Schemas of the accepted inputs.", no_args_is_help=True)


@app.command("context")
def context() -> None:
    """Print the JSON Schema of the inline customer context (`--context` and the API)."""
    print(json.dumps(CustomerContext.model_json_schema(), indent=2))


@app.command("request")
def request() -> None:
    """Print the JSON Schema of a draft request (`POST /v1/drafts`)."""
    print(json.dumps(DraftRequest.model_json_schema(), indent=2))
