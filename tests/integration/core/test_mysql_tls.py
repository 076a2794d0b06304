"""MYSQL_TLS_CA: the server's certificate must chain to that CA and carry the
name the client dialled. Against a private MariaDB that speaks TLS only, with
a CA and a server certificate made here (see tests/helpers/tls_mariadb.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from countq.config import Settings
from countq.db.engine import create_engine
from countq.db.migrate import migrate
from countq.errors import ConfigError
from tests.helpers.tls_mariadb import Pem, TlsMariaDB, issue, make_ca

USER = "countq_tls"


class Server:
    def __init__(self, db: TlsMariaDB, ca: Pem, other_ca: Pem, password: str) -> None:
        self.db, self.ca, self.other_ca, self.password = db, ca, other_ca, password

    def settings(self, ca: Pem, host: str = "127.0.0.1") -> Settings:
        return Settings(
            mysql_host=host,
            mysql_port=self.db.port,
            mysql_user=USER,
            mysql_password=self.password,
            mysql_database="countq",
            mysql_tls=True,
            mysql_tls_ca=str(ca.cert),
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A TLS-only MariaDB whose certificate is valid for 127.0.0.1 only."""
    workdir = tmp_path_factory.mktemp("tls-mariadb")
    ca, other_ca = make_ca(workdir, "countq-test-ca"), make_ca(workdir, "another-ca")
    db = TlsMariaDB(workdir, issue(workdir, ca, "mysql-server", "IP:127.0.0.1"))
    password = secrets.token_hex(12)
    try:
        with db.root() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE USER '{USER}'@'%%' IDENTIFIED BY %s", (password,))
            cur.execute(f"GRANT ALL ON *.* TO '{USER}'@'%'")
        yield Server(db, ca, other_ca, password)
    finally:
        db.stop()


def test_a_certificate_from_the_configured_ca_is_accepted(server: Server) -> None:
    settings = server.settings(server.ca)
    migrate(settings)  # creates the database, then the schema, over verified TLS
    engine = create_engine(settings, pool_size=1)
    try:
        with engine.connect() as conn:
            cipher = conn.execute(sa.text("SHOW SESSION STATUS LIKE 'Ssl_cipher'")).one()[1]
            tables = set(conn.execute(sa.text("SHOW TABLES")).scalars())
    finally:
        engine.dispose()
    assert cipher, "the session is encrypted"
    assert "messages" in tables


def test_a_certificate_from_another_ca_is_refused_with_a_clear_error(server: Server) -> None:
    with pytest.raises(ConfigError) as refused:
        migrate(server.settings(server.other_ca))
    message = str(refused.value)
    assert f"MySQL at 127.0.0.1:{server.db.port} presented a certificate" in message
    assert f"MYSQL_TLS_CA ({server.other_ca.cert}) does not trust" in message
    assert "certificate verify failed" in message or "issuer" in message


def test_a_name_mismatch_is_refused(server: Server) -> None:
    # localhost reaches the same server, but its certificate names 127.0.0.1 only.
    with pytest.raises(ConfigError, match=r"presented a certificate for another name.*localhost"):
        migrate(server.settings(server.ca, host="localhost"))


def test_an_unreadable_ca_bundle_is_a_configuration_error(tmp_path: Path) -> None:
    settings = Settings(
        mysql_host="127.0.0.1", mysql_tls=True, mysql_tls_ca=str(tmp_path / "absent.pem")
    )
    with pytest.raises(ConfigError, match=r"MYSQL_TLS_CA='.*absent\.pem' is not a readable"):
        create_engine(settings)
