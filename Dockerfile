# One image for the producer, the consumer and the importer; the command picks
# the role (`countq producer`, `countq consumer`, `countq migrate`, ...).

FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
# Only what `pip install .` reads; .dockerignore keeps everything else out.
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
# Every dependency ships a manylinux wheel, so the builder needs no compiler;
# a dependency that would have to be compiled fails the build here, loudly.
# The `tracing` extra too: OpenTelemetry stays off until OTEL_EXPORTER_OTLP_ENDPOINT is set.
RUN pip wheel --wheel-dir /wheels ".[tracing]"


# The CA that MySQL's certificate must chain to (MYSQL_TLS_CA): in AWS, the
# RDS global bundle from AWS's trust store, checked against a pinned sha256 so
# that a changed file fails the build instead of changing what the services
# trust. Tests (offline) pass their own CA as PEM text in MYSQL_CA_PEM, which
# skips the download. To roll the pin when AWS publishes a new bundle:
#   curl -fsSL https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem | sha256sum
FROM python:3.11-slim-bookworm AS mysql-ca

ARG MYSQL_CA_PEM=""
ARG RDS_CA_URL=https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
ARG RDS_CA_SHA256=e5bb2084ccf45087bda1c9bffdea0eb15ee67f0b91646106e466714f9de3c7e3

# curl only in this throwaway stage: the final image never gets it; the
# version is whatever the base's Debian release ships (the pin is the file's sha256).
# hadolint ignore=DL3008
RUN mkdir /ca \
    && if [ -n "$MYSQL_CA_PEM" ]; then \
        printf '%s\n' "$MYSQL_CA_PEM" > /ca/mysql-ca.pem; \
    else \
        apt-get update \
        && apt-get install -y --no-install-recommends curl \
        && rm -rf /var/lib/apt/lists/* \
        && curl --fail --silent --show-error --location --proto '=https' \
            --output /ca/mysql-ca.pem "$RDS_CA_URL" \
        && printf '%s  /ca/mysql-ca.pem\n' "$RDS_CA_SHA256" > /tmp/mysql-ca.sha256 \
        && sha256sum --check --strict /tmp/mysql-ca.sha256; \
    fi \
    && grep -q -- '-----BEGIN CERTIFICATE-----' /ca/mysql-ca.pem


FROM python:3.11-slim-bookworm

# The wheels and the MySQL CA are bind-mounted for this one step, so they
# never become layers of their own; installing as root keeps site-packages
# and the CA (which the task names in MYSQL_TLS_CA in AWS) read-only for the
# runtime user.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    --mount=type=bind,from=mysql-ca,source=/ca,target=/ca \
    pip install --no-cache-dir --no-index --disable-pip-version-check \
        --find-links=/wheels /wheels/*.whl \
    && install -D -m 0444 /ca/mysql-ca.pem /etc/countq/mysql-ca.pem \
    && groupadd --system --gid 10001 countq \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /tmp --shell /usr/sbin/nologin countq

# The root filesystem may be read-only (ECS readonlyRootFilesystem, compose
# read_only): /tmp is the only writable path, a tmpfs. Byte code was compiled
# at install time, so Python has nothing to write next to the sources.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    DATA_DIR=/tmp/countq \
    HTTP_PORT=5080

WORKDIR /tmp
USER 10001:10001
EXPOSE 5080

HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["countq", "check"]

CMD ["countq", "producer"]
