"""The compliance report: a CSV a security officer can file, of every device rule that does not pass.

One row per device and rule that is failing, unknown (no fresh data) or exempt, with the reason in
words, since when it fails, and for an exempt rule the exception that covers it (its id, until when,
why, who approved it, and whether it was granted to the device's group). Devices whose rules all pass
have no rows; the totals are in the result and in the audit entry.

Writing the report is an audited access to fleet data (``compliance.report_exported``, the file name,
its SHA-256 and the row count, in the same transaction as the read). The file is written through a
temporary file and a rename, so a failed export leaves no half-written file, and CSV cells that a
spreadsheet would evaluate as formulas start with a quote (OWASP's advice against formula injection).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from mdm_desktop.domain.accounts import Permission, Principal
from mdm_desktop.domain.compliance_rules import RuleStatus
from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.services.audit_export import csv_cell
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.guard import Guard
from mdm_desktop.services.operations import mutating
from mdm_desktop.services.policy_exports import write_bytes_atomically
from mdm_desktop.store.repositories import compliance_report as repo
from mdm_desktop.store.unit_of_work import UnitOfWorkFactory

ACTION = "compliance.report_exported"
COLUMNS = (
    "device",
    "device_name",
    "platform",
    "ownership",
    "group",
    "device_state",
    "rule",
    "rule_state",
    "failing_since",
    "reason",
    "exception",
    "exception_scope",
    "exception_until",
    "exception_reason",
    "exception_approved_by",
)
"""The report's header row."""


@dataclass(frozen=True, slots=True)
class ComplianceReportResult:
    """What a compliance report export wrote."""

    path: str
    rows: int
    devices: int
    exempt: int
    sha256: str
    size: int

    def describe(self) -> str:
        """In words: ``3 rules not passing on 2 devices (1 exempt by an exception)``."""

        def n(count: int, word: str) -> str:
            return f"{count:,} {word}" + ("" if count == 1 else "s")

        exempt = f"{self.exempt:,} exempt by an exception"
        return f"{n(self.rows, 'rule')} not passing on {n(self.devices, 'device')} ({exempt})"


def _when(value: dt.datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else ""


class ComplianceReportService:
    """Writes the compliance report (permission ``reports.read``)."""

    def __init__(self, uow: UnitOfWorkFactory, guard: Guard, audit: AuditLog, clock: Clock) -> None:
        self._uow = uow
        self._guard = guard
        self._audit = audit
        self._clock = clock

    @mutating(ACTION)
    def export(self, actor: Principal, path: Path, *, overwrite: bool = False) -> ComplianceReportResult:
        """Write the report to ``path`` as CSV (UTF-8, header row first).

        Raises:
            PermissionDeniedError: The actor may not read reports (the refusal is audited).
            ValidationError: ``path`` is a folder, exists (without ``overwrite``) or cannot be written.
        """
        self._guard.require(actor, Permission.REPORTS_READ, "compliance.report")
        if path.is_dir():
            raise ValidationError(f"{path} is a folder.", hint="Give a file name ending in .csv.")
        if path.exists() and not overwrite:
            raise ValidationError(f"{path} already exists.", hint="Choose another file, or allow replacing it.")
        now = self._clock()
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        rows = exempt = 0
        devices: set[int] = set()
        with self._uow(write=True) as uow:
            by_device, by_group = repo.active_exceptions(uow, now)
            for row in repo.rule_rows(uow):
                found = None
                if row.rule_state == RuleStatus.EXEMPT.value:
                    exempt += 1
                    found = by_device.get((row.device_id, row.rule_id))
                    if found is None and row.group_id is not None:
                        found = by_group.get((row.group_id, row.rule_id))
                cells = [
                    row.device_uid,
                    row.device_name,
                    row.platform,
                    row.ownership,
                    row.group_name,
                    row.device_state,
                    row.rule_id,
                    row.rule_state,
                    _when(row.failing_since),
                    row.reason,
                    found.uid if found else "",
                    ("group" if found.for_group else "device") if found else "",
                    _when(found.valid_until) if found else "",
                    found.reason if found else "",
                    found.approved_by if found else "",
                ]
                writer.writerow([csv_cell(c) for c in cells])
                rows += 1
                devices.add(row.device_id)
            data = buffer.getvalue().encode("utf-8")
            digest = hashlib.sha256(data).hexdigest()
            self._audit.record(
                uow,
                actor,
                ACTION,
                target_kind="report",
                target="compliance",
                details={"file": path.name, "sha256": digest, "rows": rows, "devices": len(devices), "exempt": exempt},
            )
            write_bytes_atomically(path, data)
            try:
                uow.commit()
            except BaseException:
                with contextlib.suppress(OSError):
                    path.unlink()
                raise
        return ComplianceReportResult(str(path), rows, len(devices), exempt, digest, len(data))
