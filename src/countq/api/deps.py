"""What the routes need, typed: the queue and the engine the app's lifespan opened."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.engine import Engine

from countq.queue.producer import ProducerQueue

HOSTNAME = socket.gethostname()


@dataclass(frozen=True)
class Services:
    queue: ProducerQueue
    engine: Engine


def services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


# async: FastAPI runs a plain `def` dependency in its thread pool.
async def _queue(request: Request) -> ProducerQueue:
    return services(request).queue


async def _engine(request: Request) -> Engine:
    return services(request).engine


Queue = Annotated[ProducerQueue, Depends(_queue)]
Database = Annotated[Engine, Depends(_engine)]
