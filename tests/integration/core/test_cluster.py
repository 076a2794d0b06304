"""The same pipeline on a real 3-master Redis Cluster started from redis-server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from countq.api.app import create_app
from countq.config import Settings
from countq.messages import uuid7
from countq.queue.client import connect, connect_async
from countq.queue.partitions import configured
from countq.worker.loop import Consumer
from tests.helpers import elasticache_iam
from tests.helpers.database import db_rows
from tests.helpers.processes import settings_env, wait_until
from tests.helpers.redis_cluster import RedisClusterProcs


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cluster = RedisClusterProcs(tmp_path_factory.mktemp("cluster")).start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.mark.parametrize("partitions", [1, 3])
def test_end_to_end_on_a_redis_cluster(
    redis_cluster: str, settings: Settings, partitions: int
) -> None:
    clustered = settings.model_copy(
        update={"redis_url": redis_cluster, "redis_cluster": True, "queue_partitions": partitions}
    )
    consumer = Consumer(clustered, name="cluster")
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        with TestClient(create_app(clustered)) as client:
            assert client.get("/ready").json()["redis"] == "ok"
            for i in range(200):
                assert client.post("/count", json={"count": i}).status_code == 202
            wait_until(lambda: client.get("/count").json()["rows"] == 200, timeout=30)
            assert client.get("/count").json()["last_value"] == 199
            stats = client.get("/stats").json()
            assert (stats["backlog"], stats["pending"], stats["dead_letters"]) == (0, 0, 0)
            assert stats["consumers"] == 1
            assert len(stats["partitions"]) == partitions
    finally:
        consumer.stopping.set()
        thread.join(timeout=10)
    assert db_rows(settings) == (200, 200, 200)
    # Every key lives in one slot, so scripts and MULTI work across the cluster.
    node = redis.RedisCluster.from_url(redis_cluster)
    assert node.keyslot(clustered.stream_key) == node.keyslot(clustered.dead_key)
    # Three partitions: one on each primary, each drained.
    owners = {node.get_node_from_key(p.stream_key).port for p in configured(clustered)}
    assert len(owners) == partitions
    assert all(node.xlen(p.stream_key) == 0 for p in configured(clustered))


def test_dead_letters_replay_and_purge_on_a_redis_cluster(
    redis_cluster: str, settings: Settings
) -> None:
    """The replay script touches the stream and the dead-letter stream: one slot."""
    clustered = settings.model_copy(update={"redis_url": redis_cluster, "redis_cluster": True})
    node = redis.RedisCluster.from_url(redis_cluster, decode_responses=True)
    node.xadd(clustered.stream_key, {"id": str(uuid7()), "count": "x", "ts": "0"})
    node.xadd(clustered.stream_key, {"id": str(uuid7()), "count": "y", "ts": "0"})
    consumer = Consumer(clustered, name="cluster-dl")
    while consumer.run_once():
        pass
    first, second = (eid for eid, _ in node.xrange(clustered.dead_key))
    env = settings_env(clustered)
    replay = countq_cli(env, "dead-letters", "replay", first)
    assert replay.returncode == 0, replay.stderr
    assert [f["count"] for _, f in node.xrange(clustered.stream_key)] == ["x"]
    purge = countq_cli(env, "dead-letters", "purge", second, "--yes")
    assert purge.returncode == 0, purge.stderr
    assert node.xlen(clustered.dead_key) == 0


def countq_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "countq", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_iam_token_login_on_every_node_of_a_redis_cluster(
    redis_cluster: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REDIS_IAM_USER in cluster mode: the provider logs in every node's connections."""
    user = f"countq-iam-{uuid7().hex[:10]}"
    clustered = settings.model_copy(
        update={
            "redis_url": redis_cluster,
            "redis_cluster": True,
            "redis_iam_user": user,
            "redis_iam_cache_name": "countq-test",
            "aws_region": "eu-central-1",
        }
    )
    admin = redis.RedisCluster.from_url(redis_cluster)
    with elasticache_iam.frozen_aws(monkeypatch, "eu-central-1") as times:
        password = elasticache_iam.token(user, "countq-test", "eu-central-1", times[-1])
        admin.execute_command(
            "ACL", "SETUSER", user, "on", f">{password}", "~*", "+@all",
            target_nodes=redis.RedisCluster.ALL_NODES,
        )  # fmt: skip
        try:

            async def produce() -> str:
                client = connect_async(clustered, socket_timeout=2.0)
                try:
                    return str(await client.xadd(clustered.stream_key, {"count": "1"}))
                finally:
                    await client.aclose()

            entry = asyncio.run(produce())
            client = connect(clustered, socket_timeout=2.0)
            client.xgroup_create(clustered.stream_key, clustered.group, id="0")
            [[_, entries]] = client.xreadgroup(
                clustered.group, "c1", {clustered.stream_key: ">"}, count=10
            )
            assert [e for e, _ in entries] == [entry]
            # Every primary accepted the login (CLUSTER SLOTS ran on one of them).
            for node in client.get_primaries():
                assert client.execute_command("ACL WHOAMI", target_nodes=node) == user
            client.close()
        finally:
            admin.execute_command("ACL", "DELUSER", user, target_nodes=redis.RedisCluster.ALL_NODES)
            admin.close()
