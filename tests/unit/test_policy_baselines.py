"""Built-in baselines: valid, every setting cited, and every citation found in the reference lists."""

from __future__ import annotations

import json
import re

import pytest

from mdm_desktop.domain.devices import Ownership
from mdm_desktop.domain.errors import NotFoundError
from mdm_desktop.domain.policy_baselines import BASELINES, BYOD, CORPORATE, SHARED_TABLET, find_baseline
from mdm_desktop.domain.policy_settings import SETTING_SPECS, Citation, CitationSource, check_settings, merge_settings
from tests.unit.apple_schema import REFERENCE

needs_reference = pytest.mark.skipif(
    not (REFERENCE / "stig").is_dir(), reason=f"reference lists not found at {REFERENCE} (../shared/reference)"
)


def test_three_baselines_with_the_issue_names() -> None:
    assert [b.name for b in BASELINES] == [
        "Clinic baseline (corporate)",
        "Clinician BYOD",
        "Shared nurse-station tablet",
    ]
    assert CORPORATE.ownership is Ownership.CORPORATE
    assert BYOD.ownership is Ownership.BYOD


@pytest.mark.parametrize("baseline", BASELINES, ids=lambda b: b.name)
def test_baseline_is_valid_and_round_trips(baseline) -> None:  # type: ignore[no-untyped-def]
    data = baseline.to_dict()
    result = check_settings(data)
    assert result.ok, result.problems
    assert result.settings == baseline.policy_settings()
    for key, value in baseline.values().items():
        group, name = key.split(".", 1)
        stored = data[group][name]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            assert stored == sorted(value), key
        else:
            assert stored == value, key


@pytest.mark.parametrize("baseline", BASELINES, ids=lambda b: b.name)
def test_every_baseline_setting_cites_its_source(baseline) -> None:  # type: ignore[no-untyped-def]
    keys = [s.key for s in baseline.settings]
    assert len(keys) == len(set(keys))
    for item in baseline.settings:
        assert item.sources, item.key
    assert set(baseline.citations()) == set(keys)


def test_baselines_differ_where_the_devices_differ() -> None:
    tablet, byod, corporate = (b.policy_settings() for b in (SHARED_TABLET, BYOD, CORPORATE))
    assert tablet.passcode.auto_lock_minutes < corporate.passcode.auto_lock_minutes
    assert not tablet.connections.camera_allowed
    assert corporate.connections.camera_allowed
    assert byod.containerisation.work_profile_required
    assert not corporate.containerisation.work_profile_required
    assert byod.connections.usb_data_allowed  # a personal device's USB port is the owner's business
    merged = merge_settings([(b.name, b.policy_settings()) for b in BASELINES])
    assert merged.settings.passcode.auto_lock_minutes == 2
    assert merged.sources["passcode.auto_lock_minutes"] == ("Shared nurse-station tablet",)


def test_find_baseline_ignores_case_and_spacing_and_names_the_choices() -> None:
    assert find_baseline("  clinician   byod ") is BYOD
    with pytest.raises(NotFoundError) as caught:
        find_baseline("Kiosk")
    assert "Clinic baseline (corporate)" in caught.value.hint


def _known_ids() -> tuple[set[str], set[str], str]:
    stig_ids: set[str] = set()
    for path in (REFERENCE / "stig").glob("*.txt"):
        stig_ids |= set(re.findall(r"^([A-Z][A-Z0-9-]+) \|", path.read_text(encoding="utf-8"), re.MULTILINE))
    rules = json.loads((REFERENCE / "mscp-ios" / "ios26_cis_stig_rules.json").read_text(encoding="utf-8"))
    cis_ids = {entry.split(" ", 1)[0] for rule in rules for entry in rule["cis_benchmark"]}
    hipaa_text = (REFERENCE / "hipaa" / "45CFR164_selected_text.md").read_text(encoding="utf-8")
    return stig_ids, cis_ids, hipaa_text


def _check(citation: Citation, stig_ids: set[str], cis_ids: set[str], hipaa_text: str) -> bool:
    if citation.source is CitationSource.STIG:
        return citation.ref in stig_ids
    if citation.source is CitationSource.CIS:
        return citation.ref.removeprefix("iOS ") in cis_ids
    if citation.source is CitationSource.HIPAA:
        section, _, rest = citation.ref.partition("(")
        first = rest.split(")")[0]
        return f"§ {section} " in hipaa_text or f"§ {section}({first})" in hipaa_text
    return True


@needs_reference
def test_every_citation_exists_in_the_reference_lists() -> None:
    stig_ids, cis_ids, hipaa_text = _known_ids()
    cited = {c for s in SETTING_SPECS for c in s.citations} | {
        c for b in BASELINES for s in b.settings for c in s.sources
    }
    missing = sorted(str(c) for c in cited if not _check(c, stig_ids, cis_ids, hipaa_text))
    assert missing == []
