"""Alembic environment: the models of every table module, and the configured database.

The target is `Base.metadata` after importing every module in
`agent.context.db.TABLE_MODULES`. The database is, in order: a connection passed in
`config.attributes["connection"]` (tests do this), `sqlalchemy.url` set on the Alembic
config, or the application settings (AFTERCARE_DATABASE_URL, or SQLite under
AFTERCARE_DATA_DIR).
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import Connection, TypeDecorator

from agent.context.db import import_table_modules, make_engine

config = context.config
target_metadata = import_table_modules()


def database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from agent.config import get_settings

    return get_settings().resolved_database_url


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render a column type that wraps a standard one (UTCDateTime) as the standard type.

    Migrations then import nothing from the application, so later model changes cannot
    break old revisions.
    """
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def configure(**options: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_item=render_item,
        # SQLite alters tables by copying them, which batch mode does.
        render_as_batch=True,
        compare_type=True,
        **options,
    )


def run_offline() -> None:
    configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: Connection) -> None:
    configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    engine = make_engine(database_url())
    try:
        with engine.connect() as connection:
            run_on(connection)
    finally:
        engine.dispose()


if config.config_file_name is not None and "connection" not in config.attributes:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    run_offline()
else:
    run_online()
