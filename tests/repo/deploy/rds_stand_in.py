"""The RDS stand-in of the deploy replay: a private MariaDB server, started
for one replay and gone after it.

Private rather than the shared MariaDB because what RDS and the importer
create have fixed names: moto's managed master secret is always
{"username": "admin", "password": "P@55w0rd!"}, the application user is
countq_app and the database countq, so two replays (test and prod, or
another worktree's) on one server would overwrite each other's accounts.
It requires TLS, as the stack's parameter group does (require_secure_transport),
so the importer runs with MYSQL_TLS=true and MYSQL_TLS_CA exactly as configured.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Any

import pymysql

from tests.helpers.tls_mariadb import TlsMariaDB, issue, make_ca

# What RDS for MySQL 8 grants its master user (no SUPER): migrate must work with these.
RDS_MASTER_PRIVILEGES = (
    "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER, "
    "SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE, "
    "REPLICATION CLIENT, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, CREATE USER, "
    "EVENT, TRIGGER"
)


def root_connection(socket: str | None = None) -> pymysql.Connection[Any]:
    """root over the server's Unix socket (TLS is required over TCP only)."""
    return pymysql.connect(
        unix_socket=socket or os.environ["REPLAY_MYSQL_SOCKET"], user="root", autocommit=True
    )


class MariaDB(TlsMariaDB):
    """The stand-in, presenting a certificate for 127.0.0.1 (where the replay's
    importer dials it) from a CA of its own: `ca` is what the replay packages
    into the importer zip (MYSQL_CA_FILE), as deploy.sh packages AWS's bundle."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.ca = make_ca(workdir, "rds-stand-in-ca")
        super().__init__(workdir, issue(workdir, self.ca, "rds-stand-in", "IP:127.0.0.1"))

    def connect(self, user: str, password: str, database: str) -> pymysql.Connection[Any]:
        """A client over TCP with verified TLS, as the services connect to RDS."""
        return pymysql.connect(
            host="127.0.0.1",
            port=self.port,
            user=user,
            password=password,
            database=database,
            ssl=ssl.create_default_context(cafile=str(self.ca.cert)),
            autocommit=True,
        )
