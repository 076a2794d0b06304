"""The RDS stand-in of the deploy replay: a private MariaDB server, started
for one replay and gone after it.

Private rather than the shared MariaDB because what RDS and the importer
create have fixed names: moto's managed master secret is always
{"username": "admin", "password": "P@55w0rd!"}, the application user is
countq_app and the database countq, so two replays (test and prod, or
another worktree's) on one server would overwrite each other's accounts.
It requires TLS, as the stack's parameter group does (require_secure_transport),
so the importer runs with MYSQL_TLS=true exactly as configured.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import pymysql

from tests.repo.infra.harness import free_port

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


class MariaDB:
    def __init__(self, install_db: str, server: str, openssl: str, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.socket = str(workdir / "mysqld.sock")
        data = workdir / "data"
        workdir.mkdir(parents=True, exist_ok=True)
        log = workdir / "install.log"
        with log.open("w") as out:
            subprocess.run(
                [
                    install_db,
                    "--no-defaults",
                    f"--datadir={data}",
                    "--user=root",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                ],
                stdout=out,
                stderr=out,
                check=True,
                timeout=120,
            )
        key, cert = workdir / "key.pem", workdir / "cert.pem"
        subprocess.run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=rds-stand-in",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            capture_output=True,
            check=True,
            timeout=60,
        )
        self.proc = subprocess.Popen(
            [
                server,
                "--no-defaults",
                f"--datadir={data}",
                f"--socket={self.socket}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=16M",
                f"--ssl-cert={cert}",
                f"--ssl-key={key}",
                "--require-secure-transport=ON",
                f"--pid-file={workdir / 'mysqld.pid'}",
                f"--log-error={workdir / 'error.log'}",
            ],
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                root_connection(self.socket).close()
                return
            except pymysql.err.OperationalError as exc:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    log = workdir / "error.log"
                    raise RuntimeError(f"MariaDB did not start; see {log}") from exc
                time.sleep(0.2)

    def connect(self, user: str, password: str, database: str) -> pymysql.Connection[Any]:
        """A client over TCP with TLS (certificate not verified), as the services connect to RDS."""
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return pymysql.connect(
            host="127.0.0.1",
            port=self.port,
            user=user,
            password=password,
            database=database,
            ssl=context,
            autocommit=True,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
