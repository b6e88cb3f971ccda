"""Export a published policy version to the vendors' formats, for sites that apply policies offline.

``export`` reads the version, builds the Apple configuration profile or the Android Management API
policy (:mod:`mdm_desktop.exports`), optionally signs the profile (CMS, with the site CA or an imported
certificate), writes the file and records the audit entry in one transaction: if the file cannot be
written, nothing is recorded; if the audit entry cannot be recorded, the file is removed again.

Exporting needs ``policies.read``; signing with the site CA's key needs ``policies.write``.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from mdm_desktop.domain.accounts import Permission, Principal
from mdm_desktop.domain.errors import ConflictError, NotFoundError, ValidationError
from mdm_desktop.domain.policy_settings import parse_settings
from mdm_desktop.exports.android_policy import build_android_policy
from mdm_desktop.exports.mobileconfig import build_mobileconfig, load_signer, sign_profile
from mdm_desktop.exports.report import ExportFormat, ExportReport, ExportResult, PolicySource
from mdm_desktop.exports.settings_json import build_settings_json
from mdm_desktop.security.ca import LocalCA
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.guard import Guard
from mdm_desktop.services.operations import mutating
from mdm_desktop.store.repositories import gateway as gateway_repo
from mdm_desktop.store.schema import Policy, PolicyVersion
from mdm_desktop.store.unit_of_work import UnitOfWork, UnitOfWorkFactory

MAX_PEM_BYTES = 64 * 1024


class SignWith(enum.StrEnum):
    """Who signs an Apple profile."""

    SITE_CA = "site_ca"
    CERTIFICATE = "certificate"


@dataclass(frozen=True, slots=True)
class SigningRequest:
    """How to sign an Apple profile.

    Attributes:
        method: The site CA, or an imported certificate.
        certificate_pem: The imported certificate (PEM), for ``CERTIFICATE``.
        key_pem: Its private key (PEM, unencrypted), for ``CERTIFICATE``.
    """

    method: SignWith
    certificate_pem: bytes = b""
    key_pem: bytes = b""

    @classmethod
    def site_ca(cls) -> SigningRequest:
        """Sign with the site's certificate authority."""
        return cls(SignWith.SITE_CA)

    @classmethod
    def from_files(cls, certificate: Path, key: Path) -> SigningRequest:
        """Sign with a certificate and key read from PEM files.

        Raises:
            ValidationError: A file cannot be read or is too large to be a PEM file.
        """
        return cls(SignWith.CERTIFICATE, _read_small(certificate, "signing certificate"), _read_small(key, "key"))


def _read_small(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > MAX_PEM_BYTES:
            raise ValidationError(f"The {what} file {path} is too large to be a PEM file.")
        return path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"Cannot read the {what} file {path}: {exc.strerror}.") from exc


@dataclass(frozen=True, slots=True)
class PolicyExportResult:
    """A written export.

    Attributes:
        path: Where the file was written.
        size: Its size in bytes.
        sha256: Its SHA-256, hex.
        report: What the file states and what it cannot.
    """

    path: str
    size: int
    sha256: str
    report: ExportReport


def default_file_name(policy_name: str, version: int, fmt: ExportFormat) -> str:
    """A file name for an export: the policy name made safe, the version and the format's suffix."""
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in policy_name).strip("-") or "policy"
    return f"{stem[:60]}-v{version}{fmt.suffix}"


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (never a half-written file).

    Raises:
        ValidationError: The file cannot be written.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ValidationError(f"Cannot write {path}: {exc.strerror}.", hint="Choose another folder.") from exc


_BUILDERS = {
    ExportFormat.MOBILECONFIG: build_mobileconfig,
    ExportFormat.ANDROID: build_android_policy,
    ExportFormat.SETTINGS: build_settings_json,
}


class PolicyExportService:
    """Writes published policy versions as Apple profiles and Android policies."""

    def __init__(
        self, uow: UnitOfWorkFactory, guard: Guard, audit: AuditLog, clock: Clock, organization: str = "MDM Desktop"
    ) -> None:
        self._uow = uow
        self._guard = guard
        self._audit = audit
        self._clock = clock
        self._organization = organization

    @mutating("policies.export")
    def export(
        self,
        actor: Principal,
        policy: int | str,
        fmt: ExportFormat | str,
        path: Path,
        *,
        version: int | None = None,
        signing: SigningRequest | None = None,
        overwrite: bool = False,
    ) -> PolicyExportResult:
        """Export a published version of ``policy`` (id or name) to ``path``.

        Args:
            actor: The signed-in user.
            policy: The policy's id or name.
            fmt: ``mobileconfig``, ``android`` or ``settings`` (the console's own file, for import elsewhere).
            path: Where to write the file.
            version: The version number (default: the latest published version).
            signing: Sign the Apple profile (only Apple profiles are signed).
            overwrite: Replace ``path`` if it exists.

        Raises:
            ValidationError: Bad format, path, signing material, or the version's settings are invalid.
            NotFoundError: No such policy or version.
            ConflictError: The policy has no published version yet.
        """
        target = str(policy)
        self._guard.require(actor, Permission.POLICIES_READ, "policies.export", target=target)
        if signing is not None and signing.method is SignWith.SITE_CA:
            self._guard.require(actor, Permission.POLICIES_WRITE, "policies.export", target=target)
        try:
            kind = ExportFormat(fmt)
        except ValueError:
            choices = ", ".join(f.value for f in ExportFormat)
            raise ValidationError(f"'{fmt}' is not an export format.", hint=f"Choose {choices}.") from None
        if signing is not None and kind is not ExportFormat.MOBILECONFIG:
            raise ValidationError("Only Apple profiles can be signed.", hint="Leave signing off for Android policies.")
        if path.is_dir():
            raise ValidationError(f"{path} is a folder.", hint="Give a file name.")
        if path.exists() and not overwrite:
            raise ValidationError(f"{path} already exists.", hint="Choose another file, or allow replacing it.")
        with self._uow(write=True) as uow:
            row, version_row = self._version(uow, policy, version)
            source = PolicySource(row.uid, row.name, version_row.version, row.description, self._organization)
            settings = parse_settings(version_row.settings or {})
            result = _BUILDERS[kind](settings, source)
            if signing is not None:
                result = self._sign(uow, result, signing)
            digest = hashlib.sha256(result.content).hexdigest()
            report = result.report
            self._audit.record(
                uow,
                actor,
                "policies.export",
                target_kind="policy",
                target=row.uid,
                details={
                    "name": row.name,
                    "version": version_row.version,
                    "format": kind.value,
                    "file": path.name,
                    "sha256": digest,
                    "signed_by": report.signed_by or None,
                    "not_expressible": [u.key for u in report.unexpressed],
                },
            )
            write_bytes_atomically(path, result.content)
            try:
                uow.commit()
            except BaseException:
                with contextlib.suppress(OSError):
                    path.unlink()
                raise
        return PolicyExportResult(str(path), len(result.content), digest, report)

    def _version(self, uow: UnitOfWork, policy: int | str, version: int | None) -> tuple[Policy, PolicyVersion]:
        session = uow.session
        if isinstance(policy, int):
            row = session.get(Policy, policy)
        else:
            row = session.scalars(select(Policy).where(Policy.name == " ".join(policy.split()))).first()
        if row is None:
            raise NotFoundError(f"There is no policy '{policy}'.", hint="Check the name with the policy list.")
        query = select(PolicyVersion).where(PolicyVersion.policy_id == row.id)
        if version is not None:
            found = session.scalars(query.where(PolicyVersion.version == version)).first()
            if found is None:
                raise NotFoundError(f"'{row.name}' has no version {version}.", hint="Choose a published version.")
            return row, found
        latest = session.scalars(query.order_by(PolicyVersion.version.desc()).limit(1)).first()
        if latest is None:
            raise ConflictError(
                f"'{row.name}' has no published version yet.", hint="Publish the draft first; only versions export."
            )
        return row, latest

    def _sign(self, uow: UnitOfWork, result: ExportResult, signing: SigningRequest) -> ExportResult:
        if signing.method is SignWith.SITE_CA:
            authority = gateway_repo.load_authority(uow.session)
            if authority is None:
                raise NotFoundError(
                    "The site certificate authority has not been made yet.",
                    hint="Start the gateway once, or sign with an imported certificate.",
                )
            key = uow.cipher.open(
                authority.private_key_sealed, table="gateway_authority", column="private_key", row=authority.uid
            )
            assert key is not None
            ca = LocalCA.from_pem(authority.certificate_pem, key.encode("ascii"))
            certificate, private_key = load_signer(ca.certificate_pem.encode("ascii"), ca.private_key_pem())
        else:
            certificate, private_key = load_signer(signing.certificate_pem, signing.key_pem)
        signed = sign_profile(result.content, certificate, private_key)
        subject = certificate.subject.rfc4514_string()
        report = ExportReport(
            result.report.target,
            result.report.policy,
            result.report.written,
            result.report.unexpressed,
            result.report.notes,
            signed_by=subject,
        )
        return ExportResult(signed, report)
