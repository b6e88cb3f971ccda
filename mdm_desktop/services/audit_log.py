"""Appending audit entries inside the caller's transaction.

Each entry stores the previous entry's hash and an HMAC-SHA-256 (under the
store's audit key) over its canonical content and that previous hash. The
tamper-evident verification and checkpoints come with issue 5; the chain is
kept from the first entry so nothing has to be rebuilt later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from mdm_desktop.domain.accounts import Principal
from mdm_desktop.domain.audit import Outcome, canonical_json
from mdm_desktop.services.clock import Clock
from mdm_desktop.store.schema import AuditEntry
from mdm_desktop.store.unit_of_work import UnitOfWork, UnitOfWorkFactory


def entry_content(
    occurred_at: dt.datetime,
    actor_kind: str,
    actor: str,
    workstation: str,
    action: str,
    target_kind: str,
    target: str,
    outcome: str,
    details: str,
) -> str:
    """The canonical text an entry's hash covers."""
    return canonical_json(
        {
            "t": occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "ak": actor_kind,
            "a": actor,
            "w": workstation,
            "act": action,
            "tk": target_kind,
            "tg": target,
            "o": outcome,
            "d": details,
        }
    )


class AuditLog:
    """Writes hash-chained audit entries.

    Args:
        audit_key: HMAC key (kept wrapped outside the database).
        clock: Source of UTC time.
    """

    def __init__(self, audit_key: bytes, clock: Clock) -> None:
        self._key = audit_key
        self._clock = clock

    def record(
        self,
        uow: UnitOfWork,
        actor: Principal,
        action: str,
        *,
        target_kind: str = "",
        target: str = "",
        outcome: Outcome = Outcome.SUCCESS,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one entry in ``uow``'s transaction (committed with the work)."""
        session = uow.session
        prev = session.scalar(select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)) or ""
        when = self._clock()
        body = canonical_json(dict(details or {}))
        content = entry_content(
            when, actor.kind, actor.name, actor.workstation, action, target_kind, target, outcome.value, body
        )
        digest = hmac.new(self._key, (prev + "|" + content).encode(), hashlib.sha256).hexdigest()
        session.add(
            AuditEntry(
                occurred_at=when,
                actor_kind=actor.kind,
                actor=actor.name,
                workstation=actor.workstation,
                action=action,
                target_kind=target_kind,
                target=target,
                outcome=outcome.value,
                details=body,
                prev_hash=prev,
                entry_hash=digest,
            )
        )
        session.flush()

    def record_alone(
        self,
        uow_factory: UnitOfWorkFactory,
        actor: Principal,
        action: str,
        *,
        target_kind: str = "",
        target: str = "",
        outcome: Outcome,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one entry in its own transaction (refusals, failed sign-ins)."""
        with uow_factory(write=True) as uow:
            self.record(uow, actor, action, target_kind=target_kind, target=target, outcome=outcome, details=details)
            uow.commit()
