"""Readers for the container files, shared by the tests in this folder.

The static checks read the Dockerfiles, compose.yaml, .dockerignore,
nginx.conf and envoy.yaml as data and check them against the application
itself (its settings, its CLI) and against each other; engine.py runs them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "Dockerfile"
FRONTEND_DOCKERFILE = ROOT / "frontend" / "Dockerfile"
DOCKERFILES = (DOCKERFILE, FRONTEND_DOCKERFILE)
COMPOSE = ROOT / "compose.yaml"
ENVOY = ROOT / "deploy" / "envoy" / "envoy.yaml"
NGINX = ROOT / "frontend" / "nginx.conf"
APP_SERVICES = ("migrate", "producer", "consumer")
APP_USER = "10001:10001"


# --- Dockerfiles -------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        """The JSON (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD; [] if shell form."""
        text = self.args
        if self.keyword == "HEALTHCHECK":
            text = text.split(" CMD ", 1)[1] if " CMD " in f" {text}" else ""
            text = text.removeprefix("CMD ").strip()
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return []
        return value if isinstance(value, list) else []

    def flags(self) -> dict[str, str]:
        return dict(re.findall(r"--([a-z-]+)=(\S+)", self.args))


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for inst in self.all("ENV"):
            for token in shlex.split(inst.args):
                key, _, value = token.partition("=")
                result[key] = value
        return result


def parse_dockerfile(path: Path) -> list[Stage]:
    """Stages with their instructions; continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        args = " ".join(args.split())
        if keyword == "FROM":
            parts = [p for p in args.split() if not p.startswith("--")]
            name = parts[2] if len(parts) == 3 and parts[1].lower() == "as" else None
            stages.append(Stage(parts[0], name))
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, args))
    return stages


# --- compose.yaml --------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    """compose.yaml as Compose reads it: anchors and `<<` merge keys resolved."""
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]  # type: ignore[no-any-return]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command", [])
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def interpolate_default(value: str) -> str:
    """A compose value with every ${VAR:-default} replaced by its default."""
    return re.sub(r"\$\{[A-Z0-9_]+:?-([^}]*)\}", r"\1", value)


def container_ports(service: dict[str, Any]) -> list[int]:
    ports = []
    for entry in service.get("ports", []):
        text = interpolate_default(str(entry["target"] if isinstance(entry, dict) else entry))
        ports.append(int(text.split(":")[-1].split("/")[0]))
    return ports


def host_bindings(service: dict[str, Any]) -> list[str]:
    """The published side ("ip:port" or "port") of each port entry."""
    result = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            result.append(str(entry.get("published", "")))
        else:
            parts = interpolate_default(str(entry)).split(":")
            result.append(":".join(parts[:-1]))
    return result


# --- the application -----------------------------------------------------------


def settings_env_names() -> set[str]:
    """Every environment variable name that countq.config.Settings reads."""
    from pydantic import AliasChoices

    from countq.config import Settings

    prefix = str(Settings.model_config.get("env_prefix", "") or "")
    names: set[str] = set()
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias or info.alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names.update(str(c).upper() for c in alias.choices if isinstance(c, str))
        else:
            names.add((prefix + name).upper())
    return names


def cli_commands() -> set[str]:
    from countq import cli

    return set(cli.names())


# --- .dockerignore ----------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's pattern syntax (Go filepath.Match plus `**`) as a regex."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            out, i = out + "[" + pattern[i + 1 : end].replace("^", "\\^", 1) + "]", end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


@dataclass
class DockerIgnore:
    """The build context filter: last matching pattern wins, `!` re-includes.

    Like Docker, a pattern that matches a directory also matches everything
    under it.
    """

    rules: list[tuple[bool, re.Pattern[str], str]]

    @classmethod
    def load(cls, path: Path = ROOT / ".dockerignore") -> DockerIgnore:
        rules = []
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
            rules.append((negate, _pattern_regex(pattern), pattern))
        return cls(rules)

    def excluded(self, rel: str) -> bool:
        parts = rel.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        result = False
        for negate, regex, _ in self.rules:
            if any(regex.match(p) for p in prefixes):
                result = not negate
        return result

    def may_reinclude_under(self, rel_dir: str) -> bool:
        return any(
            neg and (p.startswith(rel_dir + "/") or p == rel_dir) for neg, _, p in self.rules
        )

    def context_files(self, root: Path = ROOT) -> set[str]:
        files: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(root):
            rel_dir = os.path.relpath(dirpath, root)
            rel_dir = "" if rel_dir == "." else rel_dir
            keep = []
            for d in dirnames:
                rel = f"{rel_dir}/{d}".lstrip("/")
                if not self.excluded(rel) or self.may_reinclude_under(rel):
                    keep.append(d)
            dirnames[:] = keep
            for f in filenames:
                rel = f"{rel_dir}/{f}".lstrip("/")
                if not self.excluded(rel):
                    files.add(rel)
        return files
