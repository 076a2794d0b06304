"""A Redis outage as the producer logs it: one WARNING when it starts, one when
Redis answers again with what was refused meanwhile, and a reminder a minute
at most, never a line per refused request (a failover at 2,000 POST/s would
write thousands)."""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)

REMIND_EVERY_S = 60.0


class Outage:
    def __init__(self, where: str = "") -> None:
        self.where = f" ({where})" if where else ""  # a partition's stream, when there are several
        self.since: float | None = None
        self.failed_calls = 0
        self.refused = 0
        self._remind_at = 0.0

    @property
    def ongoing(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException, refused: int) -> None:
        """A call to Redis failed, refusing `refused` requests."""
        now = time.monotonic()
        if self.since is None:
            self.since, self.failed_calls, self.refused = now, 0, 0
            self._remind_at = now + REMIND_EVERY_S
            log.warning(
                "Redis unavailable%s (%s: %s); answering 503 until it is back",
                self.where,
                type(exc).__name__,
                str(exc)[:200],
            )
        self.failed_calls += 1
        self.refused += refused
        if now >= self._remind_at:
            self._remind_at = now + REMIND_EVERY_S
            log.warning(
                "Redis still unavailable%s after %.0f s: %d requests refused so far (%s)",
                self.where,
                now - self.since,
                self.refused,
                type(exc).__name__,
            )

    def refused_fast(self, refused: int) -> None:
        """Requests refused without a call, while another call probes Redis."""
        self.refused += refused

    def answered(self) -> None:
        if self.since is not None:
            log.warning(
                "Redis answers again%s after %.1f s: %d requests refused, %d calls failed",
                self.where,
                time.monotonic() - self.since,
                self.refused,
                self.failed_calls,
            )
            self.since = None
