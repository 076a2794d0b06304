"""Alembic environment: countq.db.migrate.upgrade passes a connection; a bare
Alembic command (`make migration`, a test) passes a URL, or the settings name one."""

from alembic import context
from sqlalchemy import Connection, create_engine, pool


def run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    from countq.config import get_settings

    url = context.config.attributes.get("url") or get_settings().effective_database_url()
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
