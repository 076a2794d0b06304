"""A private, TLS-only MariaDB started from the machine's own binaries, and the
certificates it presents, made with openssl: for tests of what the client
accepts (a CA it trusts, the name it dialled), which the shared MariaDB
(plain TCP) cannot show."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql

from tests.helpers.processes import free_port
from tests.helpers.services import require_tool


def require_mariadbd() -> str:
    """mariadbd lives in /usr/sbin on Debian, often not on a user's PATH."""
    return shutil.which("mariadbd", path=f"{os.environ['PATH']}:/usr/sbin") or require_tool(
        "mariadbd"
    )


@dataclass(frozen=True)
class Pem:
    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    subprocess.run([require_tool("openssl"), *args], capture_output=True, check=True, timeout=60)


def make_ca(workdir: Path, name: str) -> Pem:
    """A self-signed CA certificate and its key."""
    ca = Pem(workdir / f"{name}.pem", workdir / f"{name}.key")
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", f"/CN={name}", "-keyout", str(ca.key), "-out", str(ca.cert),
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return ca


def issue(workdir: Path, ca: Pem, name: str, san: str) -> Pem:
    """A server certificate signed by `ca`, valid for `san` (e.g. "IP:127.0.0.1")."""
    leaf = Pem(workdir / f"{name}.pem", workdir / f"{name}.key")
    csr = workdir / f"{name}.csr"
    _openssl(
        "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
        "-keyout", str(leaf.key), "-out", str(csr),
    )  # fmt: skip
    extensions = workdir / f"{name}.ext"
    extensions.write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n")
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
        "-CAcreateserial", "-days", "2", "-extfile", str(extensions), "-out", str(leaf.cert),
    )  # fmt: skip
    return leaf


class TlsMariaDB:
    """mariadbd on a free port of 127.0.0.1 that accepts TCP clients only over
    TLS (require_secure_transport), presenting `server`; root over its socket."""

    def __init__(self, workdir: Path, server: Pem) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.socket = str(workdir / "mysqld.sock")
        data = workdir / "data"
        # Its own temporary files: in the shared /tmp, a concurrent server's
        # cleanup once took the bootstrap's temporary table ("Unknown table
        # 'mysql.tmp_user_sys'", the install aborted).
        tmpdir = workdir / "tmp"
        tmpdir.mkdir(parents=True, exist_ok=True)
        install_log = workdir / "install.log"
        with install_log.open("w") as out:
            installed = subprocess.run(
                [
                    require_tool("mariadb-install-db"),
                    "--no-defaults",
                    f"--datadir={data}",
                    "--user=root",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    f"--tmpdir={tmpdir}",
                ],
                stdout=out,
                stderr=out,
                check=False,
                timeout=120,
            )
        if installed.returncode:
            # Its own message names only the datadir, which a CI clone does not keep.
            raise RuntimeError(
                f"mariadb-install-db exited {installed.returncode}:\n"
                + "\n".join(install_log.read_text().splitlines()[-40:])
            )
        self.proc = subprocess.Popen(
            [
                require_mariadbd(),
                "--no-defaults",
                f"--datadir={data}",
                f"--tmpdir={tmpdir}",
                f"--socket={self.socket}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=16M",
                f"--ssl-cert={server.cert}",
                f"--ssl-key={server.key}",
                "--require-secure-transport=ON",
                f"--pid-file={workdir / 'mysqld.pid'}",
                f"--log-error={workdir / 'error.log'}",
            ]
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.root().close()
                return
            except pymysql.err.OperationalError as exc:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"MariaDB did not start; see {workdir}/error.log") from exc
                time.sleep(0.2)

    def root(self) -> pymysql.Connection[Any]:
        return pymysql.connect(unix_socket=self.socket, user="root", autocommit=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
