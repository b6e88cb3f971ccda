"""The virtual fleet's device profiles, drift, platform mix and figures (no network)."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from mdm_desktop.agent import fleet_profiles as profiles
from mdm_desktop.agent.simulator import DeviceProfile, FleetStats, percentile
from mdm_desktop.wire.v1 import Inventory, WirePlatform

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("platform", list(WirePlatform))
def test_profiles_report_valid_platform_typical_inventory(platform: WirePlatform) -> None:
    rng = random.Random(1)
    for index in range(30):
        inventory = DeviceProfile.create(index, platform, rng, NOW).inventory()
        Inventory.model_validate_json(inventory.model_dump_json())
        if platform is WirePlatform.IPADOS:
            assert inventory.platform is WirePlatform.IPADOS
        assert inventory.vendor
        assert inventory.model
        assert inventory.os_version
        mobile = platform in profiles.MOBILE
        assert (inventory.compromised is not None) == mobile
        assert (inventory.firewall_enabled is None) == mobile
        if platform is WirePlatform.ANDROID:
            assert inventory.security_patch is not None
            assert inventory.security_patch <= NOW.date()


def test_models_only_run_their_os_majors() -> None:
    rng = random.Random(3)
    for _ in range(200):
        profile = DeviceProfile.create(1, WirePlatform.IOS, rng, NOW)
        assert profile.release.major in profile.model.os_majors


def test_drift_updates_os_and_changes_battery_within_bounds() -> None:
    rng = random.Random(5)
    profile = DeviceProfile.create(1, WirePlatform.ANDROID, rng, NOW)
    start = profile.release.version
    for _ in range(2000):
        profile.drift(rng, NOW)
        assert profile.battery is not None
        assert 1 <= profile.battery <= 100
        Inventory.model_validate_json(profile.inventory().model_dump_json())
    newest = max(
        (r for r in profiles.RELEASES if r.platform == WirePlatform.ANDROID and r.major in profile.model.os_majors),
        key=lambda r: r.major,
    )
    assert profile.release.version == newest.version or profile.release.version != start


def test_os_update_stops_at_the_newest_release() -> None:
    rng = random.Random(9)
    profile = DeviceProfile.create(1, WirePlatform.WINDOWS, rng, NOW)
    while profile.update_os(NOW):
        pass
    assert profile.update_os(NOW) is False
    assert profile.last_os_update <= NOW


def test_mix_parsing() -> None:
    assert profiles.parse_mix("ios=40,android=40,windows=15,macos=5") == {
        WirePlatform.IOS: 40,
        WirePlatform.ANDROID: 40,
        WirePlatform.WINDOWS: 15,
        WirePlatform.MACOS: 5,
    }
    for bad, message in [
        ("symbian=3", "unknown platform"),
        ("ios=-1", "0 or more"),
        ("ios", "0 or more"),
        ("ios=0", "above 0"),
        ("", "above 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            profiles.parse_mix(bad)


def test_percentiles_and_summary() -> None:
    values = sorted(float(v) for v in range(1, 101))
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([], 0.5) is None
    stats = FleetStats()
    assert stats.summary(10).p50_ms is None
    stats.enrolled = 10
    stats.checkins = 3
    stats.latencies.extend([0.010, 0.020, 0.030])
    stats.first_checkin = stats.started
    summary = stats.summary(10)
    assert summary.p50_ms == pytest.approx(20.0)
    assert summary.p99_ms == pytest.approx(30.0)
    assert "enrolled 10/10" in summary.line()
