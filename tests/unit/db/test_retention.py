"""countq.db.retention's day arithmetic: partition names and the retention cutoff (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

from countq.db.retention import DAY_MS, cutoff_ms, day_start, partition_name


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_a_day_starts_at_utc_midnight() -> None:
    assert day_start(ms("2026-12-07 15:12:59.999")) == ms("2026-12-07 00:00")
    assert day_start(ms("2026-12-07 00:00")) == ms("2026-12-07 00:00")
    assert day_start(ms("2026-12-06 23:59:59.999")) == ms("2026-12-06 00:00")


def test_a_partition_is_named_after_its_utc_day() -> None:
    assert partition_name(ms("2026-12-07 00:00")) == "p20261207"
    assert partition_name(ms("2027-01-01 00:00")) == "p20270101"
    assert partition_name(ms("2027-01-01 00:00") - 1) == "p20261231"


def test_today_and_retention_days_before_it_stay() -> None:
    now = ms("2026-12-07 15:12")
    assert cutoff_ms(now, 1) == ms("2026-12-06 00:00")
    assert cutoff_ms(now, 7) == ms("2026-11-30 00:00")
    assert cutoff_ms(ms("2026-12-07 00:00"), 1) == cutoff_ms(ms("2026-12-07 23:59"), 1)
    assert DAY_MS == 86_400_000
