"""`aftercare config show`: print the effective settings with secrets masked."""

from __future__ import annotations

import json

import typer

from agent.cli.common import settings

app = typer.Typer(help="Inspect settings.", no_args_is_help=True)


@app.command("show")
def show() -> None:
    """Print the effective settings as JSON, with secrets masked."""
    print(json.dumps(settings().masked(), indent=2, default=str))
