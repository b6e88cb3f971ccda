"""Check configuration profiles against Apple's device-management schema (YAML) in ../shared/reference/apple.

Test helper (PyYAML is a development dependency). Every key of the profile and of each payload must be
known to the schema of its payload type (plus the common payload keys), have the schema's type, lie in
its ``rangelist`` or ``range``, and every ``presence: required`` key must be there. Sub-dictionaries and
arrays are checked against their ``subkeys``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO.parent / "shared" / "reference"
APPLE = REFERENCE / "apple"
ANDROID_SCHEMA = REFERENCE / "android" / "policy.jsonschema.json"

_TYPES: dict[str, tuple[type, ...]] = {
    "<string>": (str,),
    "<integer>": (int,),
    "<real>": (int, float),
    "<boolean>": (bool,),
    "<date>": (dt.datetime,),
    "<data>": (bytes,),
    "<array>": (list,),
    "<dictionary>": (dict,),
}


def reference_missing_reason() -> str | None:
    """Why the Apple schema cannot be used here (``None`` when it can)."""
    if not APPLE.is_dir():
        return f"Apple schema not found at {APPLE} (../shared/reference is absent in this checkout)"
    try:
        import yaml  # noqa: F401
    except ImportError:
        return "PyYAML is not installed; it is needed to read Apple's schema"
    return None


def load(name: str) -> dict[str, Any]:
    """One schema file (e.g. ``com.apple.applicationaccess``)."""
    import yaml

    with (APPLE / f"{name}.yaml").open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict)
    return data


def key_table(name: str) -> dict[str, dict[str, Any]]:
    """The payload keys of a schema file by key."""
    return {k["key"]: k for k in load(name)["payloadkeys"]}


def supported(key: dict[str, Any], payload: dict[str, Any], os_name: str) -> bool:
    """Whether a key exists on ``os_name`` (``iOS``, ``macOS``): the payload's support updated by the key's."""
    base = dict(payload.get("payload", {}).get("supportedOS", {}).get(os_name) or {})
    if not base:
        return False
    base.update(key.get("supportedOS", {}).get(os_name) or {})
    return base.get("introduced") != "n/a"


@dataclass
class SchemaCheck:
    """Problems found, as readable strings."""

    problems: list[str]


def _check_value(spec: dict[str, Any], value: Any, where: str, problems: list[str]) -> None:
    kind = spec.get("type", "<any>")
    if kind != "<any>":
        allowed = _TYPES[kind]
        if isinstance(value, bool) and bool not in allowed:
            problems.append(f"{where}: boolean given, schema says {kind}")
            return
        if not isinstance(value, allowed):
            problems.append(f"{where}: {type(value).__name__} given, schema says {kind}")
            return
    if "rangelist" in spec and kind != "<array>" and value not in spec["rangelist"]:
        problems.append(f"{where}: {value!r} not in {spec['rangelist']}")
    bounds = spec.get("range")
    if bounds and isinstance(value, int | float):
        if "min" in bounds and value < bounds["min"]:
            problems.append(f"{where}: {value} below {bounds['min']}")
        if "max" in bounds and value > bounds["max"]:
            problems.append(f"{where}: {value} above {bounds['max']}")
    subkeys = spec.get("subkeys")
    if not subkeys:
        return
    if kind == "<dictionary>":
        _check_dict(value, {k["key"]: k for k in subkeys}, where, problems)
    elif kind == "<array>":
        item_spec = subkeys[0]
        for i, item in enumerate(value):
            _check_value(item_spec, item, f"{where}[{i}]", problems)


def _check_dict(value: dict[str, Any], keys: dict[str, dict[str, Any]], where: str, problems: list[str]) -> None:
    if "ANY" in keys:
        return
    for name, item in value.items():
        spec = keys.get(name)
        if spec is None:
            problems.append(f"{where}.{name}: unknown key")
            continue
        _check_value(spec, item, f"{where}.{name}", problems)
    for name, spec in keys.items():
        if spec.get("presence") == "required" and name not in value:
            problems.append(f"{where}.{name}: required key missing")


def check_profile(profile: dict[str, Any]) -> SchemaCheck:
    """Check a whole profile (the top level and every payload)."""
    problems: list[str] = []
    top = key_table("TopLevel")
    top_only = {k: v for k, v in top.items() if k != "PayloadContent"}
    _check_dict({k: v for k, v in profile.items() if k != "PayloadContent"}, top_only, "profile", problems)
    if not isinstance(profile.get("PayloadContent"), list):
        problems.append("profile.PayloadContent: missing or not an array")
        return SchemaCheck(problems)
    common = key_table("CommonPayloadKeys")
    for i, payload in enumerate(profile["PayloadContent"]):
        kind = payload.get("PayloadType")
        if not (APPLE / f"{kind}.yaml").is_file():
            problems.append(f"payload[{i}]: no schema for payload type {kind!r}")
            continue
        keys = {**common, **key_table(kind)}
        _check_dict(payload, keys, f"payload[{i}]({kind})", problems)
    return SchemaCheck(problems)
