"""Alembic environment: the URL comes from countq.store.migrate (or the settings)."""

from alembic import context
from sqlalchemy import create_engine, pool

from countq.config import get_settings

url = context.config.attributes.get("url") or get_settings().effective_database_url()
engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
