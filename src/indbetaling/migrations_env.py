"""The body of every part's Alembic `env.py`: online migrations on the connection `db.migrate`
hands over, in the part's own version table, batch mode so that SQLite can alter tables."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, MetaData, create_engine


def run(metadata: MetaData) -> None:
    config = context.config
    version_table = config.get_main_option("version_table") or "alembic_version"
    connection = config.attributes.get("connection")
    if connection is None:  # `alembic` on the command line: use sqlalchemy.url
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("set sqlalchemy.url or call indbetaling.db.migrate")
        with create_engine(url).begin() as conn:
            _migrate(conn, metadata, version_table)
        return
    _migrate(connection, metadata, version_table)


def _migrate(connection: Connection, metadata: MetaData, version_table: str) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=version_table,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
