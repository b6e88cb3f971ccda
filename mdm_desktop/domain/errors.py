"""Errors that carry a plain-words message for the person using the console.

Every error the user may see derives from :class:`MdmError`. ``message`` says what
went wrong, ``hint`` says what to do next, and ``details`` holds technical text
that the GUI shows only on request.
"""

from __future__ import annotations


class MdmError(Exception):
    """Base of every error meant for a person."""

    def __init__(self, message: str, *, hint: str = "", details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def one_line(self) -> str:
        """Return the message and hint on one line (for the CLI)."""
        return f"{self.message} {self.hint}".strip()


class ValidationError(MdmError):
    """Input was malformed or out of range; nothing was written."""


class NotFoundError(MdmError):
    """The thing asked for does not exist (or the caller may not see it)."""


class PermissionDeniedError(MdmError):
    """The signed-in user's role does not allow the action."""


class AuthenticationError(MdmError):
    """Sign-in failed. The message never says which part was wrong."""


class ConflictError(MdmError):
    """The action clashes with the current state (duplicate name, stale edit)."""


class StoreError(MdmError):
    """The database could not be opened, reached, or used."""


class KeyMaterialError(MdmError):
    """Encryption keys are missing, unreadable, or do not match the store."""
