"""Audit log reading: filtered, newest-first keyset pages and single entries.

Paging through the log is not itself audited (it would flood the log); exports are (issue 5).
"""

from __future__ import annotations

from mdm_desktop.domain.accounts import Permission, Principal
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.domain.errors import NotFoundError, ValidationError
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.audit_values import normalise, resolve_query
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.dto import AuditCursor, AuditEntryInfo, AuditFilterChoices, AuditPage, AuditQuery
from mdm_desktop.services.guard import Guard
from mdm_desktop.store.repositories import audit as repo
from mdm_desktop.store.unit_of_work import UnitOfWorkFactory

MAX_PAGE = 1000
MAX_FILTER_TEXT = 255
SEARCH_MIN_CHARS = repo.SEARCH_MIN_CHARS
"""Shortest free text the search index answers; the console hints at it while the user types."""


def check_query(query: AuditQuery) -> None:
    """Reject malformed filters with plain words.

    Raises:
        ValidationError: Naive datetimes, an empty or inverted time range, over-long text, search text
            shorter than :data:`SEARCH_MIN_CHARS`, both search text and an identifier value, a bad outcome.
    """
    for name, when in (("start", query.since), ("end", query.until)):
        if when is not None and when.tzinfo is None:
            raise ValidationError(f"The {name} of the time range needs a time zone.")
    if query.since is not None and query.until is not None and query.since >= query.until:
        raise ValidationError("The start of the time range must be before its end.", hint="Swap the two dates.")
    named = (("actor", query.actor), ("action", query.action), ("search text", query.text), ("identifier", query.value))
    for name, text in named:
        if len(text) > MAX_FILTER_TEXT:
            raise ValidationError(f"The {name} filter is longer than {MAX_FILTER_TEXT} characters.")
    searched = repo.search_text(query)
    if 0 < len(searched) < SEARCH_MIN_CHARS:
        raise ValidationError(
            f"Search text needs at least {SEARCH_MIN_CHARS} characters.",
            hint="Type a longer part of the name, action or detail you are looking for.",
        )
    if normalise(query.value) and repo.search_text(query):
        raise ValidationError(
            "Search either for text or for an identifier, not both at once.",
            hint="Clear the search text, or search by identifier alone.",
        )
    if query.outcome is not None and not isinstance(query.outcome, Outcome):
        raise ValidationError("Choose an outcome from the list.")


class AuditService:
    """Reads the audit log for the console and the CLI."""

    def __init__(self, uow: UnitOfWorkFactory, guard: Guard, audit: AuditLog, clock: Clock) -> None:
        self._uow = uow
        self._guard = guard
        self._audit = audit
        self._clock = clock

    def list_page(
        self, actor: Principal, query: AuditQuery, after: AuditCursor | None = None, limit: int = 200
    ) -> AuditPage:
        """One page of entries matching ``query``, newest first, after ``after`` (keyset on id)."""
        self._guard.require(actor, Permission.AUDIT_READ, "audit.list")
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationError(f"Page size must be between 1 and {MAX_PAGE}.")
        check_query(query)
        with self._uow() as uow:
            return repo.list_page(uow, resolve_query(uow.cipher, query), after, limit)

    def count(self, actor: Principal, query: AuditQuery) -> int:
        """Number of entries matching ``query``."""
        self._guard.require(actor, Permission.AUDIT_READ, "audit.count")
        check_query(query)
        with self._uow() as uow:
            return repo.count(uow, resolve_query(uow.cipher, query))

    def entry(self, actor: Principal, entry_id: int) -> AuditEntryInfo:
        """One entry by id."""
        self._guard.require(actor, Permission.AUDIT_READ, "audit.view", target=str(entry_id))
        with self._uow() as uow:
            found = repo.entry(uow, entry_id)
        if found is None:
            raise NotFoundError(f"Audit entry {entry_id} does not exist.")
        return found

    def filter_choices(self, actor: Principal) -> AuditFilterChoices:
        """Distinct actors and actions in the log, for the filter bar."""
        self._guard.require(actor, Permission.AUDIT_READ, "audit.list")
        with self._uow() as uow:
            return repo.filter_choices(uow)
