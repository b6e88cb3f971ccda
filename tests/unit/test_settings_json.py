"""The console's own policy file: round trip, and hostile or malformed files refused with a clear error."""

from __future__ import annotations

import json

import pytest

from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.domain.policy_baselines import BASELINES, SHARED_TABLET
from mdm_desktop.domain.policy_settings import SettingsError, parse_settings
from mdm_desktop.exports.report import PolicySource
from mdm_desktop.exports.settings_json import MAX_FILE_BYTES, build_settings_json, read_settings_json

SOURCE = PolicySource("abc", "Ward tablets", 4, "Shared tablets")


@pytest.mark.parametrize("baseline", BASELINES, ids=lambda b: b.name)
def test_round_trip(baseline) -> None:  # type: ignore[no-untyped-def]
    settings = parse_settings({**baseline.to_dict(), "escalation": {"wipe_after_days": 30}})
    result = build_settings_json(settings, SOURCE)
    assert result.report.unexpressed == ()
    imported = read_settings_json(result.content)
    assert (imported.name, imported.description) == ("Ward tablets", "Shared tablets")
    assert parse_settings(imported.settings) == settings


def _file(**changes: object) -> bytes:
    document = json.loads(build_settings_json(SHARED_TABLET.policy_settings(), SOURCE).content)
    document.update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe\x00garbage", "not text"),
        (b"{not json", r"not valid JSON \(line 1, column 2"),
        (b"[1, 2]", "not an MDM Desktop policy file"),
        (b'{"format": "mdm-desktop-policy", "format": "other"}', "names 'format' twice"),
        (_file(format_version=99), "format version 99"),
        (_file(settings=[1]), "holds no settings object"),
        (_file(name=5), "name or description is not text"),
        (_file().replace(b'"min_length": 6', b'"min_length": NaN'), "NaN, which is not a number"),
        (b" " * (MAX_FILE_BYTES + 1), "a policy file is at most"),
        (_file(extra=json.loads("[" * 40 + "]" * 40)), "nested too deeply"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
    ],
)  # fmt: skip
def test_hostile_files_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        read_settings_json(data)


def test_invalid_settings_name_every_problem() -> None:
    bad = _file(settings={"passcode": {"min_length": 99, "history": -1}, "apps": {"blocked": ["!"]}})
    with pytest.raises(SettingsError) as caught:
        read_settings_json(bad)
    assert [p.key for p in caught.value.problems] == ["passcode.min_length", "passcode.history", "apps.blocked"]
