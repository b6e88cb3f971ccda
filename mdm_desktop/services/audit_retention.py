"""Audit retention: the site's retention period and pruning of entries older than it (issue 5).

HIPAA 45 CFR 164.316(b)(2)(i) asks that documentation be kept six years, so the retention setting
(``audit_retention_years`` in the site's security settings) is never below six. A prune removes a
contiguous prefix of the chain, the entries recorded before a chosen date that is itself older than
the retention period, in this order, and stops at the first failure with nothing deleted:

1. permission (``settings.manage``, with a fresh authenticator code) and the date are checked;
2. the entries are exported with :class:`~mdm_desktop.services.audit_export.AuditExportService`
   (JSON Lines, signed, with a checkpoint) into the chosen folder;
3. the export is verified offline (:func:`~mdm_desktop.services.audit_export.verify_export`) and
   must hold exactly the entries to remove;
4. in one transaction: the head is locked, the store is checked to be unchanged since the export, a
   signed anchor (:class:`~mdm_desktop.store.schema.AuditAnchor`) is written, the prefix is deleted
   (the store allows DELETE only for positions an anchor covers; on PostgreSQL through the
   ``audit_prune`` function, as the console's role has no DELETE privilege) and the prune is
   audited (``audit.prune``).

Verification then starts the chain at the anchor (:func:`~mdm_desktop.services.audit_chain.verify_chain`).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import CursorResult, delete, func, select, text

from mdm_desktop.domain.accounts import Permission, Principal
from mdm_desktop.domain.audit import utc_text
from mdm_desktop.domain.errors import ConflictError, ValidationError
from mdm_desktop.services import security_settings
from mdm_desktop.services.audit_chain import CheckpointSigner, PruneAnchor, anchor_bytes, read_anchors
from mdm_desktop.services.audit_export import (
    AuditExportService,
    ExportFormat,
    Progress,
    read_signature_file,
    signature_path,
    verify_export,
)
from mdm_desktop.services.audit_log import HEAD_ID, AuditLog
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.operations import mutating
from mdm_desktop.services.sessions import SessionGuard
from mdm_desktop.store.schema import AuditAnchor, AuditEntry, AuditHead
from mdm_desktop.store.unit_of_work import UnitOfWork, UnitOfWorkFactory

_HINT_DAMAGED = "Run 'mdm-desktop audit verify' and find out what happened to the audit trail."


@dataclass(frozen=True, slots=True)
class PrunePlan:
    """What a prune before a given date would remove.

    Attributes:
        before: Entries recorded before this moment (UTC) are removed.
        count: How many entries (0 when none).
        first_seq: The first one's position (0 when none).
        last_seq: The last one's position (0 when none).
        first_at: When the first one was recorded.
        last_at: When the last one was recorded.
    """

    before: dt.datetime
    count: int
    first_seq: int = 0
    last_seq: int = 0
    first_at: dt.datetime | None = None
    last_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class RetentionStatus:
    """The retention setting and where the audit trail stands against it.

    Attributes:
        years: The retention period in years.
        cutoff: Entries recorded before this moment are older than the retention period.
        entries: Entries in the trail now.
        oldest_seq: The oldest entry's position (0 for an empty trail).
        oldest_at: When the oldest entry was recorded.
        prunable: What a prune at ``cutoff`` would remove.
        last_prune: The newest prune anchor, if the trail was ever pruned.
    """

    years: int
    cutoff: dt.datetime
    entries: int
    oldest_seq: int
    oldest_at: dt.datetime | None
    prunable: PrunePlan
    last_prune: PruneAnchor | None


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What a prune removed and where the removed entries are kept.

    Attributes:
        plan: The entries removed.
        export_path: The signed export holding them (JSON Lines).
        signature_path: Its signature file.
        export_sha256: The export's SHA-256 (hex), also recorded in the anchor.
        anchor: The signed anchor the prune left.
    """

    plan: PrunePlan
    export_path: str
    signature_path: str
    export_sha256: str
    anchor: PruneAnchor


class AuditRetentionService:
    """The retention setting and the pruning of old audit entries, for the console and the CLI.

    Args:
        uow: Unit-of-work factory.
        guard: Permission and session checks (with step-up for ``settings.manage``).
        audit: The audit log (prunes and setting changes are audited).
        clock: Source of UTC time.
        exporter: Writes the signed export of the entries to prune.
        checkpoint_seed: Seed of the store's Ed25519 checkpoint key (signs anchors).
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        guard: SessionGuard,
        audit: AuditLog,
        clock: Clock,
        exporter: AuditExportService,
        checkpoint_seed: bytes,
    ) -> None:
        self._uow = uow
        self._guard = guard
        self._audit = audit
        self._clock = clock
        self._exporter = exporter
        self._signer = CheckpointSigner(checkpoint_seed)
        self._private = Ed25519PrivateKey.from_private_bytes(checkpoint_seed)

    # -- reading -------------------------------------------------------------------------------------------

    def retention_status(self, actor: Principal) -> RetentionStatus:
        """The retention setting, the oldest entry and how many entries are old enough to prune.

        Raises:
            PermissionDeniedError: ``actor`` may not read the audit log.
        """
        self._guard.require(actor, Permission.AUDIT_READ, "audit.retention_status")
        now = self._clock()
        with self._uow() as uow:
            settings = security_settings.load(uow)
            cutoff = settings.audit_retention_cutoff(now)
            entries = int(uow.session.scalar(select(func.count(AuditEntry.id))) or 0)
            oldest = uow.session.execute(
                select(AuditEntry.seq, AuditEntry.occurred_at).order_by(AuditEntry.seq).limit(1)
            ).one_or_none()
            anchors = read_anchors(uow)
            return RetentionStatus(
                years=settings.audit_retention_years,
                cutoff=cutoff,
                entries=entries,
                oldest_seq=int(oldest.seq) if oldest is not None else 0,
                oldest_at=oldest.occurred_at if oldest is not None else None,
                prunable=_plan(uow, cutoff),
                last_prune=anchors[-1] if anchors else None,
            )

    def plan(self, actor: Principal, before: dt.datetime) -> PrunePlan:
        """What :meth:`prune` with ``before`` would remove (nothing is changed).

        Raises:
            PermissionDeniedError: ``actor`` may not read the audit log.
            ValidationError: ``before`` has no time zone or is within the retention period.
        """
        self._guard.require(actor, Permission.AUDIT_READ, "audit.prune_plan")
        with self._uow() as uow:
            self._check_before(uow, before)
            return _plan(uow, before)

    # -- changing ------------------------------------------------------------------------------------------

    @mutating("settings.audit_retention", "settings.security")
    def set_retention_years(self, actor: Principal, years: int) -> int:
        """Change the retention period (``settings.manage``, fresh authenticator code); audited.

        Raises:
            PermissionDeniedError: ``actor`` may not change settings.
            StepUpRequiredError: A fresh authenticator code is needed first.
            ValidationError: ``years`` is below six or above 100.
        """
        fresh = self._guard.authorize(actor, Permission.SETTINGS_MANAGE, "settings.security")
        now = self._clock()
        with self._uow(write=True) as uow:
            current = security_settings.load(uow)
            changed = security_settings.save(uow, dataclasses.replace(current, audit_retention_years=years), now)
            if changed:
                self._audit.record(
                    uow,
                    fresh,
                    "settings.security",
                    target_kind="settings",
                    target="security",
                    details={k: {"from": old, "to": new} for k, (old, new) in changed.items()},
                )
            uow.commit()
            return security_settings.load(uow).audit_retention_years

    @mutating("audit.prune", "audit.prune", "audit.export", entries=2)
    def prune(
        self, actor: Principal, before: dt.datetime, out_dir: Path, progress: Progress | None = None
    ) -> PruneResult:
        """Export, sign and remove the entries recorded before ``before``, leaving a signed anchor.

        Nothing is deleted unless the export was written, signed and verified, and the store still
        holds exactly the exported entries; the prune itself is audited (``audit.prune``).

        Args:
            actor: Who prunes (``settings.manage`` with a fresh authenticator code, and ``audit.read``).
            before: Entries recorded before this moment are pruned; it must be older than the retention period.
            out_dir: The folder the export (``audit-pruned-FIRST-LAST.jsonl`` and its ``.sig.json``) goes to.
            progress: Called while exporting with (entries written, entries selected).

        Raises:
            PermissionDeniedError: ``actor`` may not do this.
            StepUpRequiredError: A fresh authenticator code is needed first.
            ValidationError: A bad date or folder, nothing to prune, or the export cannot be written.
            ConflictError: The trail is damaged or changed while pruning (nothing was deleted).
        """
        fresh = self._guard.authorize(actor, Permission.SETTINGS_MANAGE, "audit.prune")
        self._guard.require(fresh, Permission.AUDIT_READ, "audit.prune")
        with self._uow() as uow:
            self._check_before(uow, before)
            plan = _plan(uow, before)
        if plan.count == 0:
            raise ValidationError(
                f"No audit entries were recorded before {_day(before)}: nothing to prune.",
                hint="Choose a later date (still older than the retention period).",
            )
        path = self._export_path(out_dir, plan)
        exported = self._exporter.export(fresh, None, before, ExportFormat.JSONL, path, progress)
        if (exported.first_seq, exported.last_seq, exported.count) != (plan.first_seq, plan.last_seq, plan.count):
            raise ConflictError(
                f"The export holds entries #{exported.first_seq} to #{exported.last_seq}, not the #{plan.first_seq} "
                f"to #{plan.last_seq} to prune (entry times out of order, or another prune ran). Nothing was deleted.",
                hint="Choose an earlier date, or run 'mdm-desktop audit retention' to see the trail again.",
            )
        last_hash = self._verified_last_hash(path, plan, exported.file_sha256)
        anchor = self._sign(
            PruneAnchor(
                first_seq=plan.first_seq,
                upto_seq=plan.last_seq,
                upto_hash=last_hash,
                entries=plan.count,
                before=before.astimezone(dt.UTC),
                pruned_at=self._clock(),
                actor=fresh.name,
                export_file=path.name,
                export_sha256=exported.file_sha256,
                key_fingerprint=self._signer.fingerprint,
                signature="",
            )
        )
        with self._uow(write=True) as uow:
            self._remove(uow, anchor)
            self._audit.record(
                uow,
                fresh,
                "audit.prune",
                target_kind="audit",
                target=path.name[:255],
                details={
                    "before": utc_text(anchor.before),
                    "first_seq": anchor.first_seq,
                    "last_seq": anchor.upto_seq,
                    "count": anchor.entries,
                    "export": path.name,
                    "sha256": anchor.export_sha256,
                    "key_fingerprint": anchor.key_fingerprint,
                },
            )
            uow.commit()
        return PruneResult(
            plan=plan,
            export_path=exported.path,
            signature_path=exported.signature_path,
            export_sha256=exported.file_sha256,
            anchor=anchor,
        )

    # -- internals -----------------------------------------------------------------------------------------

    def _check_before(self, uow: UnitOfWork, before: dt.datetime) -> None:
        if before.tzinfo is None:
            raise ValidationError("The prune date needs a time zone.")
        settings = security_settings.load(uow)
        cutoff = settings.audit_retention_cutoff(self._clock())
        if before > cutoff:
            raise ValidationError(
                f"Entries recorded on or after {_day(cutoff)} are younger than the retention period "
                f"({settings.audit_retention_years} years) and cannot be pruned.",
                hint=f"Choose a date on or before {_day(cutoff)}.",
            )

    @staticmethod
    def _export_path(out_dir: Path, plan: PrunePlan) -> Path:
        if out_dir.exists() and not out_dir.is_dir():
            raise ValidationError(f"{out_dir} is not a folder.", hint="Choose a folder for the export.")
        path = out_dir / f"audit-pruned-{plan.first_seq}-{plan.last_seq}.jsonl"
        for existing in (path, signature_path(path)):
            if existing.exists():
                raise ValidationError(
                    f"{existing} already exists; an earlier export is never replaced.",
                    hint="Choose another folder, or move that file away first.",
                )
        return path

    @staticmethod
    def _verified_last_hash(path: Path, plan: PrunePlan, sha256: str) -> str:
        """Verify the written export offline; return the hash of its last entry (the anchor's hash)."""
        report = verify_export(path)
        if not report.ok or (report.first_seq, report.last_seq, report.entries) != (
            plan.first_seq,
            plan.last_seq,
            plan.count,
        ):
            why = report.problem.description if report.problem is not None else "it does not hold the entries"
            raise ConflictError(f"The export {path} does not verify ({why}). Nothing was deleted.", hint=_HINT_DAMAGED)
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != sha256:
            raise ConflictError(f"The export {path} changed after it was written. Nothing was deleted.")
        return read_signature_file(signature_path(path)).selection.last_hash

    def _sign(self, anchor: PruneAnchor) -> PruneAnchor:
        signature = self._private.sign(anchor_bytes(anchor))
        return dataclasses.replace(anchor, signature=base64.b64encode(signature).decode("ascii"))

    def _remove(self, uow: UnitOfWork, anchor: PruneAnchor) -> None:
        """Check the store still holds what was exported, write the anchor and delete the prefix."""
        session = uow.session
        session.execute(select(AuditHead.seq).where(AuditHead.id == HEAD_ID).with_for_update()).one_or_none()
        oldest = session.scalar(select(func.min(AuditEntry.seq)))
        last = session.execute(
            select(AuditEntry.entry_hash, AuditEntry.occurred_at).where(AuditEntry.seq == anchor.upto_seq)
        ).one_or_none()
        if oldest != anchor.first_seq or last is None or last.entry_hash != anchor.upto_hash:
            raise ConflictError(
                "The audit trail changed while the entries were exported (another prune, or damage). "
                "Nothing was deleted.",
                hint=_HINT_DAMAGED,
            )
        young = session.scalar(
            select(func.count(AuditEntry.id)).where(
                AuditEntry.seq <= anchor.upto_seq, AuditEntry.occurred_at >= anchor.before
            )
        )
        if young:
            raise ConflictError(
                f"{young} of the entries up to #{anchor.upto_seq} were recorded on or after {_day(anchor.before)}. "
                "Nothing was deleted.",
                hint="Choose an earlier date.",
            )
        session.add(
            AuditAnchor(
                first_seq=anchor.first_seq,
                upto_seq=anchor.upto_seq,
                upto_hash=anchor.upto_hash,
                entries=anchor.entries,
                before=anchor.before,
                pruned_at=anchor.pruned_at,
                actor=anchor.actor,
                export_file=anchor.export_file,
                export_sha256=anchor.export_sha256,
                key_fingerprint=anchor.key_fingerprint,
                signature=anchor.signature,
            )
        )
        session.flush()
        if session.get_bind().dialect.name == "postgresql":
            removed = session.scalar(text("SELECT audit_prune(:upto)"), {"upto": anchor.upto_seq})
        else:
            deleted = session.execute(delete(AuditEntry).where(AuditEntry.seq <= anchor.upto_seq))
            removed = cast(CursorResult[Any], deleted).rowcount
        if removed != anchor.entries:
            raise ConflictError(
                f"The prune would remove {removed} entries instead of {anchor.entries}. Nothing was deleted.",
                hint=_HINT_DAMAGED,
            )


def _plan(uow: UnitOfWork, before: dt.datetime) -> PrunePlan:
    """The contiguous prefix of the chain recorded before ``before`` (it stops at the first younger entry)."""
    session = uow.session
    first = session.execute(
        select(AuditEntry.seq, AuditEntry.occurred_at).order_by(AuditEntry.seq).limit(1)
    ).one_or_none()
    if first is None or first.occurred_at >= before:
        return PrunePlan(before=before, count=0)
    young = session.scalar(
        select(AuditEntry.seq).where(AuditEntry.occurred_at >= before).order_by(AuditEntry.seq).limit(1)
    )
    upto = int(young) - 1 if young is not None else int(session.scalar(select(func.max(AuditEntry.seq))) or 0)
    last = session.execute(select(AuditEntry.occurred_at).where(AuditEntry.seq == upto)).one_or_none()
    count = int(
        session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.seq >= first.seq, AuditEntry.seq <= upto))
        or 0
    )
    return PrunePlan(
        before=before,
        count=count,
        first_seq=int(first.seq),
        last_seq=upto,
        first_at=first.occurred_at,
        last_at=last.occurred_at if last is not None else None,
    )


def _day(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
