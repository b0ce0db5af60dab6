"""`aftercare apikey ...`: create, list and revoke the API keys the HTTP API accepts."""

from __future__ import annotations

import json

import typer
from rich.markup import escape
from rich.table import Table

from agent.api.keys import ApiKey, ApiKeyNotFound, create_api_key, list_api_keys, revoke_api_key
from agent.cli.common import console, fail, settings
from agent.context.db import init_db, make_engine

app = typer.Typer(help="Manage the API keys of `aftercare serve`.", no_args_is_help=True)


def _engine():  # noqa: ANN202 - sqlalchemy.Engine
    engine = make_engine(settings().resolved_database_url)
    init_db(engine)
    return engine


def _as_dict(key: ApiKey) -> dict[str, object]:
    return {
        "key_id": key.key_id,
        "name": key.name,
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Who or what uses the key, such as `crm-production`."),
    as_json: bool = typer.Option(False, "--json", help="Print the key as JSON."),
) -> None:
    """Create a key and print its token once; only a SHA-256 digest of it is stored."""
    try:
        key, token = create_api_key(_engine(), name)
    except ValueError as error:
        fail(str(error))
    if as_json:
        print(json.dumps(_as_dict(key) | {"token": token}))
        return
    console.print(f"created API key [bold]{key.key_id}[/bold] ({escape(key.name)})")
    console.print("token, shown only now; send it as `Authorization: Bearer <token>`:")
    print(token)


@app.command("list")
def list_keys(
    as_json: bool = typer.Option(False, "--json", help="Print the keys as JSON."),
) -> None:
    """List keys with their ids, names and dates; tokens are never shown again."""
    keys = list_api_keys(_engine())
    if as_json:
        print(json.dumps([_as_dict(key) for key in keys], indent=2))
        return
    table = Table("key id", "name", "created", "revoked")
    for key in keys:
        revoked = f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else ""
        table.add_row(key.key_id, escape(key.name), f"{key.created_at:%Y-%m-%d %H:%M}", revoked)
    console.print(table)


@app.command("revoke")
def revoke(
    key_id: str = typer.Argument(..., help="The key id from `aftercare apikey list`."),
) -> None:
    """Revoke a key; requests that use it receive 401 from then on."""
    try:
        key = revoke_api_key(_engine(), key_id)
    except ApiKeyNotFound as error:
        fail(str(error))
    console.print(f"revoked API key {key.key_id} ({escape(key.name)})")
