"""Fixtures for the API tests: a database per backend, and a served app with a key.

`database_url` runs a test once on SQLite and once on PostgreSQL. The PostgreSQL run uses
a fresh schema per test on the server named by AFTERCARE_TEST_POSTGRES_URL (by default
the trust-auth server on 127.0.0.1:5432), and is skipped when that server is unreachable.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import make_url

from agent.api.app import create_app
from agent.api.keys import create_api_key
from agent.config import Settings
from agent.drafting.services import Services
from tests.api.support import Api, LoopingProvider, ServerThread, order_event

POSTGRES_URL = os.environ.get(
    "AFTERCARE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_unreachable_reason() -> str | None:
    import psycopg

    url = make_url(POSTGRES_URL)
    try:
        with psycopg.connect(
            host=url.host, port=url.port, user=url.username, dbname=url.database, connect_timeout=3
        ):
            return None
    except psycopg.Error as error:
        return (
            f"PostgreSQL at {url.render_as_string(hide_password=True)} is unreachable "
            f"({type(error).__name__}); set AFTERCARE_TEST_POSTGRES_URL to a reachable server"
        )


def postgres_schema_url() -> Iterator[str]:
    """Create a uniquely named schema, yield a URL that uses it, then drop it."""
    import psycopg

    reason = postgres_unreachable_reason()
    if reason is not None:
        pytest.skip(reason)
    url = make_url(POSTGRES_URL)
    schema = f"aftercare_test_{secrets.token_hex(6)}"
    params = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}
    with psycopg.connect(**params, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    options = quote(f"-csearch_path={schema}")
    try:
        yield f"{url.render_as_string(hide_password=False)}?options={options}"
    finally:
        with psycopg.connect(**params, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'api.db'}"
        return
    yield from postgres_schema_url()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'api.db'}"


def api_settings(prepared_data_dir, database_url: str, **overrides) -> Settings:
    values = {
        "data_dir": prepared_data_dir,
        "database_url": database_url,
        "api_rate_limit_per_minute": 0,
    }
    return Settings(**(values | overrides))


@contextmanager
def served_api(settings: Settings, provider: LoopingProvider | None = None) -> Iterator[Api]:
    """Serve an app on loopback with a fresh key and a seeded customer, then stop it."""
    provider = provider or LoopingProvider()
    services = Services(settings, provider=provider)
    app = create_app(settings, services)
    server = ServerThread(app).start()
    _, token = create_api_key(services.engine, "tests")
    headers = {"Authorization": f"Bearer {token}"}
    client = httpx.Client(base_url=server.base_url, headers=headers, timeout=60)
    anonymous = httpx.Client(base_url=server.base_url, timeout=60)
    try:
        response = client.post("/v1/events", json=order_event())
        assert response.status_code in (200, 201), response.text
        yield Api(client, anonymous, services, app.state.runtime, provider, token, server)
    finally:
        client.close()
        anonymous.close()
        server.stop()
        services.engine.dispose()


@pytest.fixture
def api(prepared_data_dir, database_url) -> Iterator[Api]:
    """The app on SQLite and on PostgreSQL, with customer C100 and order A1001 stored."""
    with served_api(api_settings(prepared_data_dir, database_url)) as api:
        yield api


@pytest.fixture
def sqlite_api(prepared_data_dir, sqlite_url) -> Iterator[Api]:
    """The app on SQLite only, for behaviour that does not depend on the database."""
    with served_api(api_settings(prepared_data_dir, sqlite_url)) as api:
        yield api
