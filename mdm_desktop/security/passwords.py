"""Password hashing with Argon2id (argon2-cffi), stored as PHC strings."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from mdm_desktop.domain.accounts import normalize_password

# OWASP's minimum for Argon2id is m=19 MiB, t=2, p=1. We use 46 MiB and three passes, which verifies in
# roughly 110-150 ms on a 2-core clinic workstation (benchmarks/bench_login.py prints the figure): slow for
# an attacker with a stolen database, not noticeable at sign-in. Hashes made with weaker parameters are
# upgraded at the next successful sign-in.
DEFAULT_HASHER = PasswordHasher(time_cost=3, memory_cost=46 * 1024, parallelism=1)


class PasswordHashing:
    """Hash and verify passwords; tell when a stored hash needs new parameters."""

    def __init__(self, hasher: PasswordHasher = DEFAULT_HASHER) -> None:
        self._hasher = hasher

    def hash(self, password: str) -> str:
        """Return the PHC string for ``password`` (normalised with NFKC)."""
        return self._hasher.hash(normalize_password(password))

    def verify(self, stored: str, password: str) -> bool:
        """Return whether ``password`` matches ``stored``; malformed hashes never match."""
        try:
            return self._hasher.verify(stored, normalize_password(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """Return whether ``stored`` was made with weaker parameters than now."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    def dummy_verify(self) -> None:
        """Spend the same time as a real check (unknown user), so timing reveals nothing."""
        self.verify(_DUMMY_HASH, "not-the-password")


_DUMMY_HASH = DEFAULT_HASHER.hash("mdm-desktop-dummy-password")
