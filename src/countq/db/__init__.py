"""The database: SQLAlchemy 2 Core on MySQL (PyMySQL) in production, SQLite as the
embedded default.

- `engine`: connections (TLS, logins from a secret, what a refusal means);
- `tables`: the tables as the migrations create them;
- `repo`: the two queries the services make (store a batch, read the summary);
- `migrate`: Alembic upgrades, creating the database when it is missing;
- `migrations/`: the Alembic revisions, the source of truth for the schema.
"""
