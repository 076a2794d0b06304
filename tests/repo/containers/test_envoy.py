"""deploy/envoy/envoy.yaml: a valid Envoy bootstrap that fronts the producer
the way compose.yaml's `envoy` profile expects."""

from __future__ import annotations

import copy
import warnings
from datetime import timedelta
from typing import Any

import pytest
import yaml

from tests.repo.containers.lib import ENVOY, ROOT, command, container_ports, environment, services

# Importing these registers the typed_config types the bootstrap uses, so an
# unknown field inside them is refused too. The generated models trip
# pydantic's own deprecation warnings on import: not ours to fix.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import envoy_data_plane.envoy.extensions.access_loggers.stream.v3
    import envoy_data_plane.envoy.extensions.filters.http.router.v3  # noqa: F401
    from envoy_data_plane.envoy.config.bootstrap.v3 import Bootstrap
    from envoy_data_plane.envoy.extensions.filters.network.http_connection_manager.v3 import (
        HttpConnectionManager,
    )


def raw() -> dict[str, Any]:
    data = yaml.safe_load(ENVOY.read_text())
    assert isinstance(data, dict)
    return data


def bootstrap(data: dict[str, Any] | None = None) -> Any:
    # Any: every message field is Optional in the generated types; a missing
    # one fails the test with an AttributeError, which is the point.
    return Bootstrap.from_dict(raw() if data is None else data)


def connection_manager(boot: Any) -> Any:
    (listener,) = boot.static_resources.listeners
    (chain,) = listener.filter_chains
    (hcm_filter,) = chain.filters
    hcm = hcm_filter.typed_config.unpack()
    assert isinstance(hcm, HttpConnectionManager)
    return hcm


def test_config_is_a_valid_envoy_v3_bootstrap_without_deprecated_fields() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        connection_manager(bootstrap())
    deprecated = [str(w.message) for w in caught if "is deprecated" in str(w.message)]
    assert not deprecated, deprecated


@pytest.mark.parametrize(
    "path, bad",
    [
        (("static_resources", "clusters", 0, "connect_timeout"), "soon"),
        (("static_resources", "clusters", 0, "lb_policy"), "ROUND_ROBINN"),
        (("admin", "address", "socket_address", "port_value"), "nine"),
    ],
)
def test_validation_refuses_a_broken_value(path: tuple[Any, ...], bad: str) -> None:
    data = copy.deepcopy(raw())
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = bad
    with pytest.raises((ValueError, TypeError, KeyError)):
        connection_manager(bootstrap(data))


def test_validation_refuses_an_unknown_field_inside_a_typed_config() -> None:
    data = copy.deepcopy(raw())
    hcm = data["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    hcm["typed_config"]["stream_idle_timeoutt"] = "60s"
    with pytest.raises(KeyError):
        connection_manager(bootstrap(data))


def test_admin_listens_on_loopback_only() -> None:
    address = bootstrap().admin.address.socket_address
    assert address.address == "127.0.0.1"
    published = " ".join(services()["envoy"].get("ports", []))
    assert str(address.port_value) not in published


def test_listener_is_the_port_compose_publishes() -> None:
    (listener,) = bootstrap().static_resources.listeners
    assert listener.address.socket_address.address == "0.0.0.0"
    assert container_ports(services()["envoy"]) == [listener.address.socket_address.port_value]


def test_cluster_is_the_producer_service_on_its_http_port() -> None:
    (cluster,) = bootstrap().static_resources.clusters
    (locality,) = cluster.load_assignment.endpoints
    (endpoint,) = locality.lb_endpoints
    socket = endpoint.endpoint.address.socket_address
    producer = services()["producer"]
    assert socket.address == "producer"
    assert socket.port_value == int(environment(producer)["HTTP_PORT"])
    assert socket.port_value in container_ports(producer)
    (check,) = cluster.health_checks
    assert check.http_health_check.path == "/health"
    assert cluster.connect_timeout <= timedelta(seconds=5)


def test_every_route_goes_to_the_producer_with_timeouts_and_retries() -> None:
    hcm = connection_manager(bootstrap())
    (vhost,) = hcm.route_config.virtual_hosts
    assert vhost.routes, "no routes"
    for route in vhost.routes:
        action = route.route
        assert action.cluster == "producer"
        assert timedelta(0) < action.timeout <= timedelta(seconds=30)
        policy = action.retry_policy
        assert policy.num_retries >= 1 and policy.per_try_timeout < action.timeout
        assert "connect-failure" in policy.retry_on


def test_a_post_that_reached_the_producer_is_not_retried() -> None:
    hcm = connection_manager(bootstrap())
    (vhost,) = hcm.route_config.virtual_hosts
    post = vhost.routes[0]
    assert post.match.path == "/count"
    assert [(h.name, h.string_match.exact) for h in post.match.headers] == [(":method", "POST")]
    unsafe = {"5xx", "gateway-error", "reset", "retriable-status-codes"}
    assert not unsafe & set(post.route.retry_policy.retry_on.split(","))


def test_access_log_and_client_timeouts() -> None:
    hcm = connection_manager(bootstrap())
    assert [a.name for a in hcm.access_log] == ["envoy.access_loggers.stdout"]
    assert hcm.request_headers_timeout > timedelta(0)
    assert hcm.stream_idle_timeout > timedelta(0)


def test_compose_runs_this_file() -> None:
    envoy = services()["envoy"]
    mount = f"./{ENVOY.relative_to(ROOT)}:/etc/envoy/envoy.yaml:ro"
    assert envoy["volumes"] == [mount]
    argv = command(envoy)
    assert argv[argv.index("-c") + 1] == "/etc/envoy/envoy.yaml"
    assert envoy["depends_on"] == {"producer": {"condition": "service_healthy"}}
    admin_port = str(bootstrap().admin.address.socket_address.port_value)
    assert f"127.0.0.1/{admin_port}" in " ".join(envoy["healthcheck"]["test"])
