"""A MariaDB server of a test's own, from the machine's binaries: a data
directory made by mariadb-install-db, mariadbd on a free port, and a SIGKILL
that InnoDB must recover from."""

from __future__ import annotations

import getpass
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pymysql

from tests.helpers.processes import free_port, wait_until
from tests.helpers.services import require_tool


@dataclass
class PrivateMariaDB:
    root: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateMariaDB:
        """Initialise the data directory on first use, then start mariadbd."""
        datadir = self.root / "data"
        # Its own temporary files: a starting mariadbd deletes every #sql* file in
        # its tmpdir, so in the shared /tmp it would take another server's
        # temporary tables (a concurrent install once lost mysql.tmp_user_sys).
        tmpdir = self.root / "tmp"
        tmpdir.mkdir(parents=True, exist_ok=True)
        if not datadir.exists():
            subprocess.run(
                [
                    require_tool("mariadb-install-db"), "--no-defaults",
                    f"--datadir={datadir}", f"--user={getpass.getuser()}",
                    "--auth-root-authentication-method=normal", "--skip-test-db",
                    f"--tmpdir={tmpdir}",
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )  # fmt: skip
        self.port = self.port or free_port()
        with (self.root / "mariadbd.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    require_tool("mariadbd"), "--no-defaults", f"--datadir={datadir}",
                    f"--tmpdir={tmpdir}", f"--user={getpass.getuser()}", "--bind-address=127.0.0.1",
                    f"--port={self.port}", f"--socket={self.root / 'mysqld.sock'}",
                    f"--pid-file={self.root / 'mysqld.pid'}", "--skip-grant-tables",
                    "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=48M",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until(self._answers, timeout=60, interval=0.2)
        return self

    def url(self, database: str) -> str:
        return f"mysql+pymysql://root:@127.0.0.1:{self.port}/{database}?charset=utf8mb4"

    def connect(self) -> pymysql.Connection[pymysql.cursors.Cursor]:
        return pymysql.connect(
            host="127.0.0.1", port=self.port, user="root", autocommit=True, ssl_disabled=True
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush; the next start runs InnoDB's crash recovery."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            log = (self.root / "mariadbd.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"mariadbd exited with {self.proc.returncode}:\n{log}")
        try:
            self.connect().close()
        except pymysql.MySQLError:
            return False
        return True
