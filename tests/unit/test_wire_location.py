"""Lost-mode location in a command result: finite numbers in range only (no NaN, infinity, strings or
booleans), lat -90..90, lon -180..180, accuracy 0 or more; unknown keys refused. And the agent's words
for a refused (possible clone) enrolment."""

from __future__ import annotations

import json
import math

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from mdm_desktop.agent.client import GatewayError, _refused_enrolment
from mdm_desktop.wire.v1 import CommandResult

COMMAND = "0" * 32


def _result(location: object) -> str:
    return json.dumps({"command_id": COMMAND, "outcome": "acknowledged", "location": location})


def test_a_location_in_range_is_taken() -> None:
    result = CommandResult.model_validate_json(_result({"lat": 52.52, "lon": 13.405, "accuracy_m": 12}))
    assert result.location is not None
    assert (result.location.lat, result.location.lon, result.location.accuracy_m) == (52.52, 13.405, 12.0)
    assert CommandResult.model_validate_json(_result({"lat": -90, "lon": 180})).location is not None
    assert CommandResult.model_validate_json(_result(None)).location is None


@pytest.mark.parametrize(
    "raw",
    [
        '{"lat": NaN, "lon": 1.0}',
        '{"lat": 1.0, "lon": Infinity}',
        '{"lat": -Infinity, "lon": 1.0}',
        '{"lat": "52.5", "lon": 13.4}',
        '{"lat": true, "lon": 13.4}',
        '{"lat": 90.0001, "lon": 0}',
        '{"lat": 0, "lon": -180.5}',
        '{"lat": 0, "lon": 0, "accuracy_m": -1}',
        '{"lat": 0, "lon": 0, "altitude": 3}',
        '{"lat": 0}',
        "[1, 2]",
    ],
)
def test_malformed_locations_are_refused(raw: str) -> None:
    body = f'{{"command_id": "{COMMAND}", "outcome": "acknowledged", "location": {raw}}}'
    with pytest.raises(ValidationError):
        CommandResult.model_validate_json(body)


@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_pair_is_taken_only_when_finite_and_in_range(lat: float, lon: float) -> None:
    good = math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180
    try:
        result = CommandResult.model_validate(
            {"command_id": COMMAND, "outcome": "acknowledged", "location": {"lat": lat, "lon": lon}}
        )
    except ValidationError:
        assert not good
    else:
        assert good
        assert result.location is not None
        assert (result.location.lat, result.location.lon) == (lat, lon)


def test_the_agent_reports_a_possible_clone_without_blaming_the_token() -> None:
    body = {"title": "A device with this hardware id is already enrolled.", "detail": "Retire the old record first."}
    with pytest.raises(GatewayError) as refused:
        _refused_enrolment(httpx.Response(409, json=body))
    assert "already enrolled" in str(refused.value)
    assert "token" not in str(refused.value)
