"""Audit vocabulary and canonical encoding of details."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Any


class Outcome(enum.StrEnum):
    """How an audited action ended."""

    SUCCESS = "success"
    DENIED = "denied"
    FAILED = "failed"


def canonical_json(details: Mapping[str, Any]) -> str:
    """Encode ``details`` deterministically: sorted keys, no spaces, UTF-8 kept.

    The same mapping always gives the same text, so the text can be hashed.
    """
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
