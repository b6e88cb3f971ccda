"""``format_local_time``: the same local wall-clock text as ``astimezone()``, for any time a device reports."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdm_desktop.gui.models.device_table_model import NEVER_TEXT, format_local_time

pytestmark = pytest.mark.skipif(not hasattr(time, "tzset"), reason="time.tzset() is POSIX only")

ZONES = ("Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC")
"""Daylight saving at odd hours, half-hour and 45-minute offsets, a 30-minute DST shift."""

# Check-in times a device may report: from the epoch (a reset clock) to far ahead (a wrong clock).
moments = st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC))


def slow_reference(value: dt.datetime) -> str:
    return value.astimezone().replace(tzinfo=None).isoformat(" ", "minutes")


@pytest.fixture(params=ZONES)
def zone(request: pytest.FixtureRequest):
    old = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    yield request.param
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)  # the zone stays
@given(value=moments)
def test_same_text_as_astimezone_in_every_zone(zone: str, value: dt.datetime) -> None:
    assert format_local_time(value) == slow_reference(value)


def test_around_a_daylight_saving_change(zone: str) -> None:
    start = dt.datetime(2026, 10, 24, 22, 0, tzinfo=dt.UTC)
    for minutes in range(0, 8 * 60, 7):
        value = start + dt.timedelta(minutes=minutes, seconds=59, microseconds=999_999)
        assert format_local_time(value) == slow_reference(value)


def test_no_time_reads_never() -> None:
    assert format_local_time(None) == NEVER_TEXT
    assert format_local_time(None, "—") == "—"
