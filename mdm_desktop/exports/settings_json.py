"""The console's own policy file: a published version's settings as JSON, to carry to another site and import.

Writing (:func:`build_settings_json`) states every setting, so nothing is lost. Reading
(:func:`read_settings_json`) treats the file as hostile: size and nesting limits, no duplicate keys,
no ``NaN``/``Infinity``, a known format marker, and the settings validated by the settings model
before anything is stored. Errors say what is wrong in plain words.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.domain.policy_settings import SETTING_SPECS, PolicySettings, SettingsError, check_settings
from mdm_desktop.exports.report import ExportFormat, ExportResult, PolicySource, ReportBuilder

FORMAT_MARKER = "mdm-desktop-policy"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 12


@dataclass(frozen=True, slots=True)
class ImportedPolicy:
    """What a policy file holds, validated.

    Attributes:
        name: The policy's name in the file.
        description: Its description.
        settings: The settings object (valid for the settings model).
    """

    name: str
    description: str
    settings: dict[str, Any]


def build_settings_json(settings: PolicySettings, policy: PolicySource) -> ExportResult:
    """The policy file for one published version (every setting, extras included)."""
    report = ReportBuilder(settings)
    report.wrote(*(s.key for s in SETTING_SPECS))
    document = {
        "format": FORMAT_MARKER,
        "format_version": FORMAT_VERSION,
        "name": policy.name,
        "description": policy.description,
        "policy_uid": policy.uid,
        "policy_version": policy.version,
        "settings": settings.to_dict(),
    }
    text = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return ExportResult(text.encode("utf-8"), report.build(ExportFormat.SETTINGS, policy))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValidationError(f"The policy file names '{key}' twice.", hint="Export the policy again.")
        seen[key] = value
    return seen


def _reject_constant(name: str) -> Any:
    raise ValidationError(f"The policy file contains {name}, which is not a number.", hint="Export the policy again.")


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


def read_settings_json(data: bytes) -> ImportedPolicy:
    """Read and validate a policy file written by :func:`build_settings_json`.

    Raises:
        ValidationError: The file is too large, not UTF-8 JSON, not a policy file, too deeply nested,
            or its settings are invalid (:class:`SettingsError` lists every problem).
    """
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(
            f"The file is {len(data):,} bytes; a policy file is at most {MAX_FILE_BYTES:,}.",
            hint="Choose a policy file exported by MDM Desktop.",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(
            "The file is not text (UTF-8); it is not a policy file.",
            hint="Choose a .policy.json file exported by MDM Desktop.",
        ) from None
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except RecursionError:
        raise ValidationError("The policy file is nested too deeply.", hint="Export the policy again.") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
            hint="Choose a .policy.json file exported by MDM Desktop.",
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT_MARKER:
        raise ValidationError(
            "The file is not an MDM Desktop policy file.",
            hint="Export it with 'mdm-desktop policy export NAME --format settings'.",
        )
    if document.get("format_version") != FORMAT_VERSION:
        raise ValidationError(
            f"The policy file has format version {document.get('format_version')!r}; this console reads version "
            f"{FORMAT_VERSION}.",
            hint="Export it again with this version of MDM Desktop.",
        )
    if _depth(document) > MAX_DEPTH:
        raise ValidationError("The policy file is nested too deeply.", hint="Export the policy again.")
    name, description, settings = document.get("name"), document.get("description", ""), document.get("settings")
    if not isinstance(name, str) or not isinstance(description, str):
        raise ValidationError("The policy file's name or description is not text.", hint="Export the policy again.")
    if not isinstance(settings, dict):
        raise ValidationError("The policy file holds no settings object.", hint="Export the policy again.")
    checked = check_settings(settings)
    if not checked.ok:
        raise SettingsError(checked.problems)
    return ImportedPolicy(name, description, settings)
