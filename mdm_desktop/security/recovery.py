"""Single-use recovery codes and break-glass emergency codes.

Codes are drawn with :mod:`secrets` from a 32-letter alphabet without look-alike
letters (no i, l, o, u) and shown in groups of four: a recovery code is
``xxxx-xxxx-xxxx`` (12 letters, 60 bits), an emergency code five groups (20 letters,
100 bits). Typing is forgiving: case, spaces and dashes do not matter, and the
look-alikes ``i``/``l`` and ``o`` read as ``1`` and ``0``.

Storage: only a *keyed* hash of the normalised code is stored, HMAC-SHA-256 under the
store's index key (through ``FieldCipher.blind_index``, truncated to 128 bits), with the
account's uid in the purpose so a hash means nothing outside its row. A slow password
hash (Argon2) is not needed: unlike passwords these codes are uniformly random with
60 or more bits, so even an unkeyed SHA-256 could not be brute-forced from a stolen
database; the key (kept in the key file, outside the database) adds a second barrier,
and a keyed hash allows a direct equality look-up, which makes "use once" a single
atomic ``UPDATE ... WHERE code_hash = :h AND used_at IS NULL``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
GROUP = 4
RECOVERY_GROUPS = 3
EMERGENCY_GROUPS = 5
RECOVERY_CODE_COUNT = 10

_LOOKALIKES = str.maketrans({"i": "1", "l": "1", "o": "0"})

KeyedHash = Callable[[str], bytes]
"""Maps a normalised code to its stored digest (the service binds key and account)."""


def _new_code(groups: int) -> str:
    letters = "".join(secrets.choice(ALPHABET) for _ in range(groups * GROUP))
    return "-".join(letters[i : i + GROUP] for i in range(0, len(letters), GROUP))


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> tuple[str, ...]:
    """``count`` distinct fresh recovery codes, formatted for display."""
    codes: list[str] = []
    while len(codes) < count:
        code = _new_code(RECOVERY_GROUPS)
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def new_emergency_code() -> str:
    """A fresh break-glass code (five groups of four), formatted for printing."""
    return _new_code(EMERGENCY_GROUPS)


def normalize(code: str, groups: int = RECOVERY_GROUPS) -> str | None:
    """The canonical form of a typed code, or ``None`` when it cannot be one of ours."""
    compact = "".join(ch for ch in code.casefold() if ch not in " -\t").translate(_LOOKALIKES)
    if len(compact) != groups * GROUP or any(ch not in ALPHABET for ch in compact):
        return None
    return compact


def digest(code: str, keyed_hash: KeyedHash, groups: int = RECOVERY_GROUPS) -> bytes | None:
    """The stored digest of a typed code, or ``None`` when it is malformed."""
    canonical = normalize(code, groups)
    return None if canonical is None else keyed_hash(canonical)


def looks_like_recovery_code(code: str) -> bool:
    """True when ``code`` has the shape of a recovery code (not of a six-digit TOTP code)."""
    return normalize(code, RECOVERY_GROUPS) is not None
