"""Alembic migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from agent.context.db import import_table_modules, make_engine
from tests.conftest import REPO_ROOT


def alembic_config() -> Config:
    return Config(str(REPO_ROOT / "alembic.ini"))


def test_upgrade_head_matches_models(database_url: str) -> None:
    engine = make_engine(database_url)
    metadata = import_table_modules()
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert set(metadata.tables) <= tables
    assert "alembic_version" in tables
    assert differences == [], (
        "the models differ from migrations/versions; run migrations/regenerate.sh"
    )


def test_downgrade_base_drops_every_table(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            command.downgrade(config, "base")
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
