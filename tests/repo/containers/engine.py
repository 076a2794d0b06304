"""The Docker engine for the container tests: one client, and nothing left behind.

Every container, network, volume and compose project a test starts is named
countq-t<checkout>-<pid>-<random>...; the fixtures in conftest.py remove all
of it by that name when the test ends, passed or failed, and the next session
removes what a killed one left. Containers talk only to networks the test
created, or to 127.0.0.1 through `--network host`.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers.processes import free_port, wait_until
from tests.helpers.services import ROOT, missing, require_tool

# The scripts `make containers-engine` and `make images` use too.
SCRIPTS = ROOT / "scripts" / "containers"
LOGS = ROOT / "build" / "containers"
CHECKOUT = hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]
# One image tag per checkout: reruns replace it instead of piling up images,
# and two checkouts on one engine do not build over each other.
CHECKOUT_TAG = f"test-{CHECKOUT}"
# Names of what a run starts: countq-t<checkout>-<pid>-<random>-...
RUN_PREFIX = f"countq-t{CHECKOUT}-"


class DockerError(AssertionError):
    pass


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        pass
    return True


_MYSQL_CA_LOCK = threading.Lock()


def mysql_ca_for_tests() -> str:
    """The PEM text the image builds carry as their MySQL CA (MYSQL_CA_PEM): a CA
    made here once, since this machine cannot fetch AWS's bundle. Kept, so
    every build (and compose's) reuses the cached layers."""
    pem = LOGS / "test-mysql-ca.pem"
    # The image builds run in parallel threads (conftest.py): without the lock
    # two of them each made a CA, and one image carried the CA the file no
    # longer held (seen in CI).
    with _MYSQL_CA_LOCK:
        if not pem.exists():
            LOGS.mkdir(parents=True, exist_ok=True)
            key, made = LOGS / "test-mysql-ca.key", LOGS / "test-mysql-ca.pem.new"
            subprocess.run(
                [require_tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                 "-days", "3650", "-subj", "/CN=countq-test-mysql-ca",
                 "-keyout", str(key), "-out", str(made)],
                capture_output=True, check=True, timeout=60,
            )  # fmt: skip
            made.replace(pem)  # whole or absent, for a run interrupted here
        return pem.read_text()


def docker_client() -> str:
    """A client that builds with BuildKit (scripts/containers/docker-client.sh)."""
    require_tool("docker")
    found = subprocess.run(
        [str(SCRIPTS / "docker-client.sh")], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        missing(found.stderr.strip())
    return found.stdout.strip()


@dataclass
class Docker:
    """The docker CLI, naming everything it starts after this run."""

    client: str
    run_id: str = field(default_factory=lambda: f"{CHECKOUT}-{os.getpid()}-{uuid.uuid4().hex[:6]}")

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.client, *args], capture_output=True, text=True, check=False, timeout=timeout
        )
        if check and result.returncode != 0:
            raise DockerError(f"docker {' '.join(args)}: exit {result.returncode}\n{result.stderr}")
        return result

    def name(self, role: str) -> str:
        return f"countq-t{self.run_id}-{role}"

    def start(self, role: str, image: str, *args: str, options: Sequence[str] = ()) -> str:
        """`docker run -d`, named after this run; the container id. The host name
        is the container's name on the host network too, so two consumers there
        are two consumers in the group, as in compose."""
        name = self.name(role)
        command = ("run", "-d", "--name", name, "--hostname", name, *options, image, *args)
        return self(*command).stdout.strip()

    def once(
        self, image: str, *args: str, options: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[str]:
        """`docker run --rm`, named after this run, to the end; not checked."""
        name = self.name(f"once-{uuid.uuid4().hex[:6]}")
        return self("run", "--rm", "--name", name, *options, image, *args, check=False)

    def network(self, role: str) -> str:
        name = self.name(role)
        self("network", "create", name)
        return name

    def inspect(self, container: str) -> dict[str, Any]:
        data = json.loads(self("inspect", container).stdout)
        assert isinstance(data, list) and len(data) == 1
        return data[0]  # type: ignore[no-any-return]

    def health(self, container: str) -> str:
        return str(
            self("inspect", "--format", "{{.State.Health.Status}}", container).stdout.strip()
        )

    def wait_health(self, containers: dict[str, str], status: str, timeout: float) -> None:
        """Wait until every container (role -> id) reports health `status`."""
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

    def logs(self, container: str) -> str:
        result = self("logs", "--tail", "60", container, check=False)
        return result.stdout + result.stderr

    def exec(self, container: str, *command: str) -> subprocess.CompletedProcess[str]:
        return self("exec", container, *command, check=False)

    def _remove_where(self, doomed: Callable[[str], bool]) -> None:
        """Containers, then networks and volumes, whose names `doomed` picks."""
        for kind, listing in (
            ("container", ("ps", "-a", "--format", "{{.Names}}")),
            ("network", ("network", "ls", "--format", "{{.Name}}")),
            ("volume", ("volume", "ls", "--format", "{{.Name}}")),
        ):
            names = self(*listing, "--filter", "name=countq-t").stdout.split()
            if picked := [name for name in names if doomed(name)]:
                remove = ("rm", "-f", "-v") if kind == "container" else (kind, "rm")
                self(*remove, *picked, check=False)

    def remove_everything(self) -> None:
        """All this run started, its compose project's too, removed."""
        self._remove_where(lambda name: name.startswith(f"countq-t{self.run_id}"))

    def sweep_killed_runs(self) -> None:
        """What runs of this checkout left when they were killed before their
        fixtures could clean up (the pid in their names is gone), removed."""
        self._remove_where(
            lambda name: (
                name.startswith(RUN_PREFIX)
                and not _alive(name.removeprefix(RUN_PREFIX).split("-")[0])
            )
        )

    def build(self, dockerfile: Path, tag: str, log: Path) -> str:
        """Build from the repository root as compose does; the image id. The
        image the tag named before is removed, so reruns leave none behind."""
        before = self("image", "inspect", "--format", "{{.Id}}", tag, check=False).stdout.strip()
        log.parent.mkdir(parents=True, exist_ok=True)
        iidfile = log.with_suffix(".iid")
        env = {**os.environ, "DOCKER_BUILDKIT": "1"}
        command = [self.client, "build", "--progress=plain", "--iidfile", str(iidfile)]
        command += ["--build-arg", f"MYSQL_CA_PEM={mysql_ca_for_tests()}"]
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
        image = iidfile.read_text().strip()
        if before and before != image:
            self("image", "rm", before, check=False)
        return image

    def image_size(self, image: str) -> int:
        return int(self("image", "inspect", "--format", "{{.Size}}", image).stdout)

    def require_image(self, image: str) -> None:
        """A base image must be there: pulled, or a stand-in built from Debian's packages."""
        if self("image", "inspect", image, check=False).returncode != 0:
            missing(f"base image {image} is absent (make containers-standins pulls or builds it)")


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
        """`down -v`, then by name whatever it did not remove."""
        self("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)
        self.docker.remove_everything()


@dataclass
class Stack:
    """compose.yaml up as one project, on free published ports."""

    compose: Compose
    url: str  # the page and the API, through the frontend's nginx
    events: Path  # the project's container events from before `up`, one JSON a line
    recorder: subprocess.Popen[bytes]

    @classmethod
    def up(cls, docker: Docker) -> Stack:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
        frontend_port = free_port()
        env.update(
            # Compose v1 builds through the docker CLI (BuildKit: RUN --mount)
            # only when asked to, with the `docker` it finds first on the PATH.
            PATH=f"{Path(docker.client).parent}:{env['PATH']}",
            COMPOSE_DOCKER_CLI_BUILD="1",
            DOCKER_BUILDKIT="1",
            MYSQL_PASSWORD=secrets.token_hex(16),
            PRODUCER_PORT=str(free_port()),
            FRONTEND_PORT=str(frontend_port),
            IMAGE_TAG=CHECKOUT_TAG,  # the images the `images` fixture built: cached
            MYSQL_CA_PEM=mysql_ca_for_tests(),  # as they were built: no download offline
        )
        compose = Compose(docker, compose_command(docker), f"countq-t{docker.run_id}", env)
        # Recorded as they happen: the engine keeps only its last 256 events,
        # and every health probe of every container adds some.
        events = LOGS / f"{compose.project}-events.jsonl"
        events.parent.mkdir(parents=True, exist_ok=True)
        since = f"{time.time():.3f}"  # no gap while the recorder connects
        record = [docker.client, "events", "--since", since, "--format", "{{json .}}"]
        label = f"label={PROJECT_LABEL}={compose.project}"
        with events.open("wb") as out:
            recorder = subprocess.Popen(
                [*record, "--filter", "type=container", "--filter", label], stdout=out
            )
        stack = cls(compose, f"http://127.0.0.1:{frontend_port}", events, recorder)
        try:
            compose("up", "--build", "--detach", timeout=900)
        except BaseException:
            stack.down()
            raise
        return stack

    def down(self) -> None:
        self.compose.down()
        self.recorder.terminate()
        self.recorder.wait(timeout=10)

    def wait_healthy(self, service: str, count: int = 1, timeout: float = 120) -> None:
        """Until `count` running containers of `service` are all healthy."""

        def healthy() -> bool:
            running = self.compose.containers(service, state="")
            states = {self.compose.docker.health(c) for c in running}
            return len(running) == count and states == {"healthy"}

        wait_until(healthy, timeout=timeout, interval=0.5)
