"""compose.yaml: the Compose schema, and agreement with the app and the images."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from tests.repo.containers.lib import (
    APP_SERVICES,
    APP_USER,
    COMPOSE,
    DOCKERFILE,
    ROOT,
    cli_commands,
    command,
    compose,
    container_ports,
    environment,
    host_bindings,
    parse_dockerfile,
    services,
    settings_env_names,
)

SCHEMA = ROOT / "tests" / "repo" / "containers" / "compose-spec" / "compose-spec.json"
REQUIRED = re.compile(r"^\$\{(?P<name>[A-Z0-9_]+):\?[^}]+\}$")


def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    # The schema names draft 2019-09 by a URI jsonschema does not recognise
    # (http, trailing #); say so explicitly rather than fall back to a guess.
    assert "2019-09" in schema["$schema"]
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


def long_running() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services().items() if s.get("restart", "no") != "no"}


def test_compose_file_matches_the_compose_specification() -> None:
    errors = sorted(validator().iter_errors(compose()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_schema_refuses_a_misspelt_key() -> None:
    broken = copy.deepcopy(compose())
    broken["services"]["producer"]["helthcheck"] = broken["services"]["producer"]["healthcheck"]
    assert not validator().is_valid(broken)


def test_shared_settings_come_from_one_anchor() -> None:
    raw = COMPOSE.read_text()
    assert re.search(r"^x-app: &app$", raw, re.M)
    assert len(re.findall(r"^\s+<<: \*app$", raw, re.M)) == len(APP_SERVICES)
    app = [services()[n] for n in APP_SERVICES]
    for key in ("image", "build", "user", "read_only", "tmpfs", "environment"):
        assert all(s[key] == app[0][key] for s in app), key


def test_every_long_running_service_has_a_health_check() -> None:
    assert set(long_running()) == set(services()) - {"migrate"}
    for name, service in long_running().items():
        check = service.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), name
        assert {"interval", "timeout", "retries"} <= check.keys(), name


def test_app_health_check_is_the_images() -> None:
    image = parse_dockerfile(DOCKERFILE)[-1].all("HEALTHCHECK")[0].exec_form()
    for name in ("producer", "consumer"):
        assert services()[name]["healthcheck"]["test"] == ["CMD", *image]


def test_no_service_runs_as_root() -> None:
    image_user = parse_dockerfile(DOCKERFILE)[-1].all("USER")[-1].args
    assert image_user == APP_USER
    for name, service in services().items():
        user = str(service.get("user", ""))
        assert user and user.split(":")[0] not in {"root", "0"}, name
        if name in APP_SERVICES:
            assert user == image_user, name


def test_app_services_run_read_only_with_a_tmp_tmpfs() -> None:
    for name in APP_SERVICES:
        service = services()[name]
        assert service["read_only"] is True and "/tmp" in service["tmpfs"], name
        assert environment(service)["DATA_DIR"].startswith("/tmp/"), name
        assert service["cap_drop"] == ["ALL"], name


def test_commands_are_the_clis_own() -> None:
    commands = cli_commands()
    assert {"producer", "consumer", "migrate", "check"} <= commands
    expected = {"migrate": "migrate", "producer": "producer", "consumer": "consumer"}
    for name, sub in expected.items():
        assert command(services()[name]) == ["countq", sub], name
    default = parse_dockerfile(DOCKERFILE)[-1].all("CMD")[-1].exec_form()
    assert default == ["countq", "producer"] and default[1] in commands


def test_environment_names_are_the_settings() -> None:
    names = settings_env_names()
    for name in APP_SERVICES:
        env = environment(services()[name])
        assert set(env) <= names, f"{name}: unknown to countq.config: {set(env) - names}"


def test_app_reaches_the_services_compose_runs() -> None:
    env = environment(services()["producer"])
    mysql, redis = services()["mysql"], services()["redis"]
    assert env["MYSQL_HOST"] == "mysql" and env["REDIS_HOST"] == "redis"
    assert env["REDIS_PORT"] == "6379" and env["MYSQL_PORT"] == "3306"
    mysql_env = environment(mysql)
    for key in ("MYSQL_USER", "MYSQL_PASSWORD", "MYSQL_DATABASE"):
        assert env[key] == mysql_env[key], key
    assert re.fullmatch(r"mysql:8\.\d+", mysql["image"])
    assert re.fullmatch(r"redis:7\.\d+-alpine", redis["image"])
    for name, path in (("mysql", "/var/lib/mysql"), ("redis", "/data")):
        (volume,) = services()[name]["volumes"]
        source, _, target = volume.partition(":")
        assert target == path and source in compose()["volumes"], name


def test_ports_are_the_settings_http_port() -> None:
    from countq.config import Settings

    default = Settings.model_fields["http_port"].default
    for name in APP_SERVICES:
        assert environment(services()[name])["HTTP_PORT"] == str(default), name
    assert container_ports(services()["producer"]) == [default]
    for name, service in services().items():
        for binding in host_bindings(service):
            assert binding.startswith("127.0.0.1:"), f"{name} publishes beyond this machine"


def test_consumer_can_be_scaled() -> None:
    consumer = services()["consumer"]
    assert not {"container_name", "hostname", "ports"} & consumer.keys()
    for name, service in services().items():
        assert "container_name" not in service, f"{name}: a fixed name blocks parallel stacks"


def test_start_order_waits_for_health_and_for_the_migration() -> None:
    def conditions(name: str) -> dict[str, str]:
        return {k: v["condition"] for k, v in services()[name].get("depends_on", {}).items()}

    assert conditions("migrate") == {"mysql": "service_healthy"}
    for name in ("producer", "consumer"):
        assert conditions(name) == {
            "migrate": "service_completed_successfully",
            "mysql": "service_healthy",
            "redis": "service_healthy",
        }, name
    assert conditions("frontend") == {"producer": "service_healthy"}
    for name in services():
        for dep, condition in conditions(name).items():
            if condition == "service_healthy":
                assert dep in long_running(), f"{name} waits for {dep}, which has no health check"


def test_secrets_are_required_not_defaulted() -> None:
    for name, service in services().items():
        for key, value in environment(service).items():
            # MYSQL_RANDOM_ROOT_PASSWORD is a yes/no switch, not a secret.
            if key.endswith("PASSWORD") and key != "MYSQL_RANDOM_ROOT_PASSWORD":
                match = REQUIRED.match(value)
                assert match and match["name"] == key, f"{name}.{key} must be ${{{key}:?...}}"
    raw = COMPOSE.read_text()
    assert not re.search(r"\$\{[A-Z_]*(PASSWORD|SECRET|TOKEN)[A-Z_]*:?-", raw)


def test_stateful_services_keep_data_in_named_volumes() -> None:
    assert set(compose()["volumes"]) == {"mysql-data", "redis-data"}
    redis_cmd = command(services()["redis"])
    assert redis_cmd[:3] == ["redis-server", "--appendonly", "yes"], "no queued message lost"


def test_frontend_service_builds_from_the_root_context() -> None:
    frontend = services()["frontend"]
    assert frontend["build"] == {"context": ".", "dockerfile": "frontend/Dockerfile"}
    assert container_ports(frontend) == [8080]
    assert frontend["read_only"] is True and "/tmp" in frontend["tmpfs"]


@pytest.mark.parametrize("name", ["envoy"])
def test_optional_services_sit_behind_a_profile(name: str) -> None:
    assert services()[name]["profiles"] == [name]
    others = {n for n, s in services().items() if "profiles" in s}
    assert others == {name}


def test_yaml_has_no_duplicate_keys() -> None:
    """PyYAML keeps the last of two equal keys silently; Compose refuses the file."""
    root = yaml.compose(COMPOSE.read_text())
    assert root is not None
    pending: list[yaml.Node] = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, yaml.MappingNode):
            keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
            dupes = {k for k in keys if keys.count(k) > 1 and k != "<<"}
            assert not dupes, f"line {node.start_mark.line + 1}: duplicate keys {dupes}"
            pending.extend(v for _, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
