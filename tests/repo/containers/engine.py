"""The Docker engine for the container tests: one client, and nothing left behind.

Every container and network a test starts carries the label
`io.countq.test=<run id>`, and every compose project gets a unique name; the
fixtures in conftest.py remove all of it when the test ends, passed or failed.
Containers talk only to networks the test created, or to 127.0.0.1 through
`--network host`.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers.services import ROOT, missing, require_tool

HERE = Path(__file__).resolve().parent
TEST_LABEL = "io.countq.test"
STANDIN_LABEL = "io.countq.standin"
LOGS = ROOT / "build" / "containers"
# One tag per checkout: reruns replace it instead of piling up images, and
# two checkouts on one engine do not build over each other.
CHECKOUT_TAG = "test-" + hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]


class DockerError(AssertionError):
    pass


def docker_client() -> str:
    """A client that builds with BuildKit (tests/repo/containers/docker-client.sh)."""
    require_tool("docker")
    found = subprocess.run(
        [str(HERE / "docker-client.sh")], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        missing(found.stderr.strip())
    return found.stdout.strip()


@dataclass
class Docker:
    """The docker CLI, with this run's label on everything it starts."""

    client: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    def __call__(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 120,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.client, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            env=env,
        )
        if check and result.returncode != 0:
            raise DockerError(f"docker {' '.join(args)}: exit {result.returncode}\n{result.stderr}")
        return result

    @property
    def label(self) -> str:
        return f"{TEST_LABEL}={self.run_id}"

    def name(self, role: str) -> str:
        return f"countq-t{self.run_id}-{role}"

    def start(self, role: str, image: str, *args: str, options: Sequence[str] = ()) -> str:
        """`docker run -d` with this run's label and a unique name; the container id."""
        return self(
            "run", "-d", "--name", self.name(role), "--label", self.label, *options, image, *args
        ).stdout.strip()

    def network(self, role: str) -> str:
        name = self.name(role)
        self("network", "create", "--label", self.label, name)
        return name

    def inspect(self, container: str) -> dict[str, Any]:
        data = json.loads(self("inspect", container).stdout)
        assert isinstance(data, list) and len(data) == 1
        return data[0]  # type: ignore[no-any-return]

    def health(self, container: str) -> str:
        return str(
            self("inspect", "--format", "{{.State.Health.Status}}", container).stdout.strip()
        )

    def wait_health(self, containers: dict[str, str], status: str, timeout: float) -> float:
        """Wait until every container reports `status`; the seconds it took."""
        started = time.monotonic()
        pending = dict(containers)
        while pending:
            for role, container in list(pending.items()):
                state = self.inspect(container)["State"]
                if state["Health"]["Status"] == status:
                    del pending[role]
                elif not state["Running"]:
                    raise DockerError(f"{role} exited {state['ExitCode']}:\n{self.logs(container)}")
            if pending and time.monotonic() - started > timeout:
                detail = {r: self.inspect(c)["State"]["Health"] for r, c in pending.items()}
                raise DockerError(f"not {status} within {timeout}s: {json.dumps(detail)[:3000]}")
            time.sleep(0.2)
        return time.monotonic() - started

    def logs(self, container: str) -> str:
        result = self("logs", "--tail", "60", container, check=False)
        return result.stdout + result.stderr

    def exec(self, container: str, *command: str) -> subprocess.CompletedProcess[str]:
        return self("exec", container, *command, check=False)

    def remove_everything(self) -> None:
        """Every container and network carrying this run's label, gone."""
        for kind, list_cmd in (
            ("container", ("ps", "-aq")),
            ("network", ("network", "ls", "-q")),
            ("volume", ("volume", "ls", "-q")),
        ):
            ids = self(*list_cmd, "--filter", f"label={self.label}").stdout.split()
            if ids:
                remove = ("rm", "-f", "-v") if kind == "container" else (kind, "rm")
                self(*remove, *ids, check=False)

    def build(self, dockerfile: Path, tag: str, log: Path) -> str:
        """Build from the repository root as compose does; the image id."""
        log.parent.mkdir(parents=True, exist_ok=True)
        iidfile = log.with_suffix(".iid")
        env = {**os.environ, "DOCKER_BUILDKIT": "1"}
        command = [self.client, "build", "--progress=plain", "--iidfile", str(iidfile)]
        with log.open("w") as out:
            result = subprocess.run(
                [*command, "-f", str(dockerfile), "-t", tag, str(ROOT)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                check=False,
                timeout=900,
            )
        if result.returncode != 0:
            raise DockerError(f"building {tag} failed:\n{log.read_text()[-4000:]}")
        return iidfile.read_text().strip()

    def image_size(self, image: str) -> int:
        return int(self("image", "inspect", "--format", "{{.Size}}", image).stdout)

    def standin_for(self, image: str) -> str | None:
        """The upstream name a stand-in image stands in for; None if it is not one."""
        result = self(
            "image",
            "inspect",
            "--format",
            f'{{{{index .Config.Labels "{STANDIN_LABEL}"}}}}',
            image,
            check=False,
        )
        if result.returncode != 0:
            missing(f"base image {image} is absent (make containers-standins builds it)")
        value = result.stdout.strip()
        return None if value in ("", "<no value>") else value


# --- compose ---------------------------------------------------------------------

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


def compose_command(docker: Docker) -> list[str]:
    """Compose v2 (`docker compose`) where the client has it, else Compose v1."""
    if docker("compose", "version", check=False).returncode == 0:
        return [docker.client, "compose"]
    return [require_tool("docker-compose")]


@dataclass
class Compose:
    """compose.yaml as a user runs it, as one uniquely named project."""

    docker: Docker
    command: list[str]
    project: str
    env: dict[str, str]

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        project = ["--project-name", self.project, "--file", str(ROOT / "compose.yaml")]
        result = subprocess.run(
            [*self.command, *project, *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=self.env,
            check=False,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise DockerError(
                f"compose {' '.join(args)}: exit {result.returncode}\n{result.stderr}"
            )
        return result

    def containers(self, service: str | None = None, state: str = "-a") -> list[str]:
        filters = ["--filter", f"label={PROJECT_LABEL}={self.project}"]
        if service:
            filters += ["--filter", f"label={SERVICE_LABEL}={service}"]
        return self.docker("ps", "-q", *([state] if state else []), *filters).stdout.split()

    def leftovers(self) -> dict[str, list[str]]:
        """What of this project still exists: containers, networks, volumes."""
        label = f"label={PROJECT_LABEL}={self.project}"
        return {
            "containers": self.containers(),
            "networks": self.docker("network", "ls", "-q", "--filter", label).stdout.split(),
            "volumes": self.docker("volume", "ls", "-q", "--filter", label).stdout.split(),
        }

    def down(self) -> None:
        """`down -v`, then by label whatever it did not remove."""
        self("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)
        left = self.leftovers()
        if left["containers"]:
            self.docker("rm", "-f", "-v", *left["containers"], check=False)
        for kind in ("network", "volume"):
            if left[f"{kind}s"]:
                self.docker(kind, "rm", *left[f"{kind}s"], check=False)
