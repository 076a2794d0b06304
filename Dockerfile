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
RUN pip wheel --wheel-dir /wheels .


FROM python:3.11-slim-bookworm

# The wheels are bind-mounted for this one step, so they never become a layer
# of the final image; installing as root keeps site-packages read-only for
# the runtime user.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --disable-pip-version-check \
        --find-links=/wheels /wheels/*.whl \
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
