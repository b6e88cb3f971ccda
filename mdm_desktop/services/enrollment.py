"""Enrolment: the site CA, enrolment tokens (console side) and device enrolment (gateway side).

Console side (:class:`EnrollmentService`, every call checks the caller's permission and is audited):
create a token (shown once, as text and as a QR payload with the server URL and the CA
fingerprint for pinning), list and revoke tokens, revoke a device's certificates.

Gateway side: :meth:`EnrollmentService.enrol` takes one use of a token (a conditional
``UPDATE``, so concurrent enrolments succeed at most the allowed number of times), creates the
device, signs its certificate request and audits it with the device as actor, all in one
transaction. The CA is made on first use; its key is sealed under the store's data key.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlencode, urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mdm_desktop.domain.accounts import Permission, Principal
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.domain.devices import ComplianceState, LifecycleStatus, Ownership
from mdm_desktop.domain.errors import AuthenticationError, NotFoundError, PermissionDeniedError, ValidationError
from mdm_desktop.security.ca import LocalCA, ServerCredentials, display_fingerprint
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.audit_values import keyed_values
from mdm_desktop.services.checkin import CHECKIN_INTERVAL_SECONDS, apply_inventory, evaluate_compliance, replace_apps
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.guard import Guard
from mdm_desktop.services.operations import mutating
from mdm_desktop.services.reenrolment import (
    PossibleCloneError,
    PreviousRecord,
    cancel_open_commands,
    prepare_reuse,
    previous_record,
)
from mdm_desktop.store.encryption import FieldCipher
from mdm_desktop.store.repositories import gateway as repo
from mdm_desktop.store.schema import Device, DeviceCertificate, DeviceGroup, EnrollmentToken, GatewayAuthority, Setting
from mdm_desktop.store.unit_of_work import UnitOfWork, UnitOfWorkFactory
from mdm_desktop.wire.v1 import BYOD_NOTICE, EnrollNotice, EnrollRequest, EnrollResponse, notice_sha256

TOKEN_PURPOSE = "enrollment_tokens.token"  # noqa: S105 (a hash purpose label, not a secret)
MAX_TOKEN_USES = 10_000
MIN_TOKEN_LIFETIME = dt.timedelta(minutes=5)
MAX_TOKEN_LIFETIME = dt.timedelta(days=90)
GATEWAY_SETTING = "gateway.address"
QR_SCHEME = "mdmdesktop"

GATEWAY_CONTROL = Permission.SETTINGS_MANAGE
"""Starting and stopping the gateway from the console is a site setting."""

__all__ = ["BYOD_NOTICE", "EnrollmentService"]  # BYOD_NOTICE lives in the wire schema; re-exported for the console


class EnrollmentRefusedError(AuthenticationError):
    """The enrolment token is unknown, used up, expired or revoked (nothing was written)."""


class ByodNoticeRequiredError(ValidationError):
    """A BYOD enrolment without the device user's acceptance of the current notice (nothing was written)."""


@dataclass(frozen=True, slots=True)
class AuthorityInfo:
    """The site CA as the console shows it."""

    fingerprint: str
    fingerprint_display: str
    certificate_pem: str
    created_at: dt.datetime
    not_after: dt.datetime


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An enrolment token without its secret text."""

    uid: str
    group_id: int | None
    group_name: str
    ownership: Ownership
    uses_allowed: int
    uses_left: int
    expires_at: dt.datetime
    created_by: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    def active(self, now: dt.datetime) -> bool:
        """Whether a device can still enrol with it."""
        return self.revoked_at is None and self.uses_left > 0 and self.expires_at > now

    def state(self, now: dt.datetime) -> str:
        """``active``, ``revoked``, ``used up`` or ``expired``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.uses_left <= 0:
            return "used up"
        if self.expires_at <= now:
            return "expired"
        return "active"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: its text is shown once and never stored."""

    token: str
    info: TokenInfo
    server_url: str
    ca_fingerprint: str
    qr_payload: str


@dataclass(frozen=True, slots=True)
class GatewayAddress:
    """Where the last started gateway listens (recorded by ``mdm-desktop serve``)."""

    url: str
    ca_fingerprint: str
    started_at: dt.datetime


def normalize_token(text: str) -> str:
    """A token as typed or scanned, without separators and in lower case."""
    return "".join(ch for ch in text if ch.isalnum()).lower()


def new_token_text() -> str:
    """128 random bits in lower-case base32, in groups of five for reading aloud."""
    raw = base64.b32encode(os.urandom(16)).decode("ascii").rstrip("=").lower()
    return "-".join(raw[i : i + 5] for i in range(0, len(raw), 5))


def token_hash(cipher: FieldCipher, text: str) -> bytes:
    """The keyed hash the store keeps instead of the token."""
    digest = cipher.blind_index(normalize_token(text), purpose=TOKEN_PURPOSE)
    assert digest is not None
    return digest


def qr_payload(server_url: str, token: str, ca_fingerprint: str) -> str:
    """What the enrolment QR code holds: server URL, token and the CA fingerprint to pin."""
    return f"{QR_SCHEME}://enroll?" + urlencode({"server": server_url, "token": token, "ca_sha256": ca_fingerprint})


def check_server_url(url: str) -> str:
    """An ``https://host[:port]`` URL for devices.

    Raises:
        ValidationError: Not an https URL with a host.
    """
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        raise ValidationError(
            f"'{url}' is not a gateway address.",
            hint="Give it as https://HOST:PORT, for example https://10.0.0.5:8443.",
        )
    return text


def _token_info(token: EnrollmentToken, group_name: str) -> TokenInfo:
    return TokenInfo(
        uid=token.uid,
        group_id=token.group_id,
        group_name=group_name,
        ownership=Ownership(token.ownership),
        uses_allowed=token.uses_allowed,
        uses_left=token.uses_left,
        expires_at=token.expires_at,
        created_by=token.created_by,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


def _authority_info(row: GatewayAuthority) -> AuthorityInfo:
    return AuthorityInfo(
        fingerprint=row.fingerprint,
        fingerprint_display=display_fingerprint(row.fingerprint),
        certificate_pem=row.certificate_pem,
        created_at=row.created_at,
        not_after=row.not_after,
    )


class EnrollmentService:
    """The site CA, enrolment tokens and device enrolment.

    Args:
        uow: Unit-of-work factory.
        guard: Permission checks for console callers.
        audit: The audit log.
        clock: Source of UTC time.
        site_name: Written into the CA certificate when it is made.
    """

    def __init__(
        self, uow: UnitOfWorkFactory, guard: Guard, audit: AuditLog, clock: Clock, site_name: str = "MDM Desktop"
    ) -> None:
        self._uow = uow
        self._guard = guard
        self._audit = audit
        self._clock = clock
        self._site_name = site_name
        self._ca: LocalCA | None = None

    # -- the site CA -----------------------------------------------------------------------------------------

    def authority(self) -> AuthorityInfo:
        """The site CA (made, sealed and audited on first use; two gateways starting at once share one)."""
        with self._uow() as uow:
            row = repo.load_authority(uow.session)
            if row is not None:
                return _authority_info(row)
        now = self._clock()
        ca = LocalCA.create(self._site_name, now)
        with self._uow(write=True) as uow:
            row = repo.load_authority(uow.session)
            if row is not None:
                return _authority_info(row)
            row = GatewayAuthority(id=repo.AUTHORITY_ID, uid=os.urandom(16).hex())
            sealed = uow.cipher.seal(
                ca.private_key_pem().decode("ascii"), table="gateway_authority", column="private_key", row=row.uid
            )
            assert sealed is not None
            row.certificate_pem = ca.certificate_pem
            row.private_key_sealed = sealed
            row.fingerprint = ca.fingerprint
            row.created_at = now
            row.not_after = ca.not_after
            uow.session.add(row)
            self._audit.record(
                uow,
                Principal.system("gateway"),
                "gateway.ca_created",
                target_kind="certificate_authority",
                target=ca.fingerprint,
                details={"not_after": ca.not_after.isoformat()},
            )
            try:
                uow.commit()
            except IntegrityError:
                pass  # another gateway made it first: use theirs
            else:
                self._ca = ca
                return _authority_info(row)
        return self.authority()

    def _local_ca(self, uow: UnitOfWork) -> LocalCA:
        if self._ca is not None:
            return self._ca
        row = repo.load_authority(uow.session)
        if row is None:
            raise NotFoundError("The site certificate authority has not been made yet.", hint="Start the gateway.")
        key = uow.cipher.open(row.private_key_sealed, table="gateway_authority", column="private_key", row=row.uid)
        assert key is not None
        self._ca = LocalCA.from_pem(row.certificate_pem, key.encode("ascii"))
        return self._ca

    def server_credentials(self, names: tuple[str, ...]) -> ServerCredentials:
        """A fresh TLS server key and certificate for the gateway, naming ``names`` (kept in memory only).

        Raises:
            ValidationError: A name is neither a host name nor an IP address.
        """
        self.authority()
        with self._uow(write=True) as uow:
            credentials = self._local_ca(uow).issue_server_certificate(names, self._clock())
            self._audit.record(
                uow,
                Principal.system("gateway"),
                "gateway.server_certificate",
                target_kind="certificate",
                target=credentials.certificate.fingerprint,
                details={"names": list(credentials.names), "not_after": credentials.certificate.not_after.isoformat()},
            )
            uow.commit()
        return credentials

    def check_gateway_control(self, actor: Principal) -> None:
        """Refuse (audited) unless ``actor`` may start and stop the gateway from the console.

        Raises:
            PermissionDeniedError: The caller lacks ``settings.manage``.
        """
        self._guard.require(actor, GATEWAY_CONTROL, "gateway.start")

    @mutating("gateway.started")
    def record_gateway_start(self, url: str, names: tuple[str, ...], actor: Principal | None = None) -> GatewayAddress:
        """Remember where the gateway listens (so tokens name it) and audit the start.

        Args:
            url: The address devices use.
            names: What the server certificate names.
            actor: The console user who started it (needs ``settings.manage``); ``None`` for
                ``mdm-desktop serve`` (recorded as the ``gateway`` system actor).

        Raises:
            PermissionDeniedError: ``actor`` may not control the gateway.
        """
        if actor is not None:
            self._guard.require(actor, GATEWAY_CONTROL, "gateway.start", target=url)
        address = check_server_url(url)
        info = self.authority()
        now = self._clock()
        with self._uow(write=True) as uow:
            value = {"url": address, "ca_fingerprint": info.fingerprint, "started_at": now.isoformat()}
            setting = uow.session.get(Setting, GATEWAY_SETTING)
            if setting is None:
                uow.session.add(Setting(key=GATEWAY_SETTING, value=value, updated_at=now))
            else:
                setting.value = value
                setting.updated_at = now
            self._audit.record(
                uow,
                actor or Principal.system("gateway"),
                "gateway.started",
                target_kind="gateway",
                target=address,
                details={"names": list(names), "in_console": actor is not None},
            )
            uow.commit()
        return GatewayAddress(address, info.fingerprint, now)

    @mutating("gateway.stopped")
    def record_gateway_stop(self, url: str, actor: Principal | None = None, reason: str = "") -> None:
        """Audit that the gateway stopped.

        Args:
            url: The address it served.
            actor: The console user who stopped it (needs ``settings.manage``); ``None``: the gateway
                itself (Ctrl+C, or the console window closing).
            reason: Why, when not an explicit stop (for example ``console closed``).
        """
        if actor is not None:
            self._guard.require(actor, GATEWAY_CONTROL, "gateway.stop", target=url)
        with self._uow(write=True) as uow:
            self._audit.record(
                uow,
                actor or Principal.system("gateway"),
                "gateway.stopped",
                target_kind="gateway",
                target=url,
                details={"reason": reason} if reason else None,
            )
            uow.commit()

    def existing_authority(self, actor: Principal) -> AuthorityInfo | None:
        """The site CA if it has been made (``None`` before the gateway first started); never makes one."""
        self._guard.require(actor, Permission.DEVICES_READ, "enrollment.authority_view")
        with self._uow() as uow:
            row = repo.load_authority(uow.session)
            return _authority_info(row) if row is not None else None

    def gateway_address(self) -> GatewayAddress | None:
        """Where the last started gateway listens, if one was started on this store."""
        with self._uow() as uow:
            setting = uow.session.get(Setting, GATEWAY_SETTING)
            if setting is None or not isinstance(setting.value, dict):
                return None
            value = setting.value
            return GatewayAddress(
                str(value.get("url", "")),
                str(value.get("ca_fingerprint", "")),
                dt.datetime.fromisoformat(str(value.get("started_at"))),
            )

    # -- tokens (console side) -------------------------------------------------------------------------------

    @mutating("enrollment.token_created")
    def create_token(
        self,
        actor: Principal,
        *,
        group_id: int | None,
        uses: int,
        lifetime: dt.timedelta,
        ownership: Ownership,
        server_url: str | None = None,
    ) -> IssuedToken:
        """Make an enrolment token; its text is returned once (with the QR payload) and only its hash kept.

        Args:
            actor: Who asks (needs ``devices.write`` in the target group).
            group_id: Group new devices join (``None``: no group).
            uses: How many devices may enrol with it (1 to 10,000).
            lifetime: How long it stays valid (5 minutes to 90 days).
            ownership: Corporate or BYOD for the devices enrolled with it.
            server_url: The gateway address devices use (default: where the gateway was last started).

        Raises:
            ValidationError: Out-of-range uses or lifetime, bad URL, no gateway address known.
            NotFoundError: No such group.
            PermissionDeniedError: The caller may not enrol devices (into that group).
        """
        self._guard.require(actor, Permission.DEVICES_WRITE, "enrollment.token_create")
        if not 1 <= uses <= MAX_TOKEN_USES:
            raise ValidationError(f"A token allows between 1 and {MAX_TOKEN_USES:,} enrolments.")
        if not MIN_TOKEN_LIFETIME <= lifetime <= MAX_TOKEN_LIFETIME:
            raise ValidationError("A token must stay valid between 5 minutes and 90 days.")
        if server_url is None:
            address = self.gateway_address()
            if address is None:
                raise ValidationError(
                    "No gateway address is known yet.",
                    hint="Start the gateway (mdm-desktop serve) first, or give the address devices use.",
                )
            server_url = address.url
        url = check_server_url(server_url)
        ca = self.authority()
        text = new_token_text()
        now = self._clock()
        with self._uow(write=True) as uow:
            group_name = self._group_name(uow.session, actor, group_id)
            token = EnrollmentToken(
                uid=secrets.token_hex(16),
                token_hash=token_hash(uow.cipher, text),
                group_id=group_id,
                ownership=ownership.value,
                uses_allowed=uses,
                uses_left=uses,
                expires_at=now + lifetime,
                created_by=actor.name,
                created_at=now,
                revoked_by="",
            )
            uow.session.add(token)
            uow.session.flush()
            self._audit.record(
                uow,
                actor,
                "enrollment.token_created",
                target_kind="enrollment_token",
                target=token.uid,
                details={
                    "group": group_name,
                    "uses": uses,
                    "expires_at": token.expires_at.isoformat(),
                    "ownership": ownership.value,
                },
            )
            uow.commit()
            info = _token_info(token, group_name)
        return IssuedToken(text, info, url, ca.fingerprint, qr_payload(url, text, ca.fingerprint))

    def _group_name(self, session: Session, actor: Principal, group_id: int | None) -> str:
        if (
            not actor.can_in_group(Permission.DEVICES_WRITE, group_id)
            and actor.groups_for(Permission.DEVICES_WRITE) is not None
        ):
            self._guard_denied(actor, group_id)
        if group_id is None:
            return ""
        group = session.get(DeviceGroup, group_id)
        if group is None:
            raise NotFoundError(f"Device group {group_id} does not exist.", hint="Choose an existing group.")
        return group.name

    def _guard_denied(self, actor: Principal, group_id: int | None) -> None:
        self._audit.record_alone(
            self._uow,
            actor,
            "enrollment.token_create",
            target_kind="device_group",
            target=str(group_id or ""),
            outcome=Outcome.DENIED,
            details={"permission": Permission.DEVICES_WRITE.value},
        )
        raise PermissionDeniedError(
            "Your role does not allow enrolling devices into that group.", hint="Choose a group you manage."
        )

    def list_tokens(self, actor: Principal, *, include_inactive: bool = False) -> tuple[TokenInfo, ...]:
        """Tokens, newest first (only usable ones unless ``include_inactive``)."""
        self._guard.require(actor, Permission.DEVICES_READ, "enrollment.token_list")
        now = self._clock()
        with self._uow() as uow:
            rows = uow.session.execute(
                select(EnrollmentToken, DeviceGroup.name)
                .outerjoin(DeviceGroup, DeviceGroup.id == EnrollmentToken.group_id)
                .order_by(EnrollmentToken.created_at.desc(), EnrollmentToken.id.desc())
            ).all()
            infos = tuple(_token_info(t, name or "") for t, name in rows)
        return infos if include_inactive else tuple(i for i in infos if i.active(now))

    @mutating("enrollment.token_revoked")
    def revoke_token(self, actor: Principal, uid: str) -> TokenInfo:
        """Revoke a token by its id (or a unique prefix of at least 6 characters of it); idempotent.

        Raises:
            NotFoundError: No token, or more than one, matches.
        """
        self._guard.require(actor, Permission.DEVICES_WRITE, "enrollment.token_revoke", target=uid)
        wanted = uid.strip().lower()
        if len(wanted) < 6 or not all(c in "0123456789abcdef" for c in wanted):
            raise NotFoundError(f"No enrolment token has the id '{uid}'.", hint="Copy the id from 'token list'.")
        now = self._clock()
        with self._uow(write=True) as uow:
            found = uow.session.scalars(
                select(EnrollmentToken).where(EnrollmentToken.uid.startswith(wanted, autoescape=True)).limit(2)
            ).all()
            if len(found) != 1:
                raise NotFoundError(
                    f"No enrolment token has the id '{uid}'." if not found else f"'{uid}' matches several tokens.",
                    hint="Copy the id from 'token list'.",
                )
            token = found[0]
            if token.revoked_at is None:
                token.revoked_at = now
                token.revoked_by = actor.name
                self._audit.record(
                    uow,
                    actor,
                    "enrollment.token_revoked",
                    target_kind="enrollment_token",
                    target=token.uid,
                    details={"uses_left": token.uses_left},
                )
            group = uow.session.get(DeviceGroup, token.group_id) if token.group_id is not None else None
            uow.commit()
            return _token_info(token, group.name if group else "")

    def revoke_device_certificates(self, actor: Principal, device_id: int, reason: str = "retired") -> int:
        """Revoke every certificate of a device (retire, wipe, lost): its next request is refused.

        Returns how many certificates were revoked (0 when none was live). Lifecycle code that already
        holds a transaction calls :func:`mdm_desktop.store.repositories.gateway.revoke_device_certificates`
        in it instead.
        """
        self._guard.require(actor, Permission.DEVICES_WRITE, "enrollment.certificates_revoke", target=str(device_id))
        with self._uow(write=True) as uow:
            device = uow.session.get(Device, device_id)
            if device is None:
                raise NotFoundError(f"Device {device_id} does not exist.", hint="Refresh the device list.")
            count = repo.revoke_device_certificates(uow.session, device_id, self._clock(), reason)
            if count:
                self._audit.record(
                    uow,
                    actor,
                    "enrollment.certificates_revoked",
                    target_kind="device",
                    target=device.uid,
                    details={"count": count, "reason": reason},
                )
            uow.commit()
            return count

    # -- enrolment (gateway side) ----------------------------------------------------------------------------

    def enrolment_notice(self, token_text: str, peer: str = "") -> EnrollNotice:
        """What enrolling with a token shows the device user: for a BYOD token, the notice to accept.

        Reads only: no use of the token is taken.

        Raises:
            EnrollmentRefusedError: The token is unknown, used up, expired or revoked (refusal audited).
        """
        now = self._clock()
        with self._uow() as uow:
            hashed = token_hash(uow.cipher, token_text)
            token = repo.token_by_hash(uow.session, hashed)
            usable = token is not None and token.revoked_at is None and token.uses_left > 0 and token.expires_at > now
            if usable and token is not None:
                if token.ownership == Ownership.BYOD.value:
                    return EnrollNotice(byod=True, notice=BYOD_NOTICE, notice_sha256=notice_sha256())
                return EnrollNotice(byod=False)
            refusal, refused_uid = self._refusal(uow.session, hashed, now)
        self._refuse(refusal, refused_uid, peer, step="notice")

    def _refuse(
        self, reason: str, token_uid: str, peer: str, step: str = "enrol", clone_of: str = "", hardware_id: str = ""
    ) -> NoReturn:
        """Audit a refused enrolment and raise the error the device sees (a clone's hardware id as a keyed hash)."""
        clone = {"device": clone_of, **keyed_values(self._uow.cipher, hardware_id=hardware_id)} if clone_of else {}
        self._audit.record_alone(
            self._uow,
            Principal.system("gateway"),
            "device.enrol_refused",
            target_kind="enrollment_token",
            target=token_uid,
            outcome=Outcome.DENIED,
            details={"reason": reason, "peer": peer, "step": step, **clone},
        )
        if clone_of:
            raise PossibleCloneError(clone_of)
        if reason == "byod_notice_not_accepted":
            raise ByodNoticeRequiredError(
                "This enrolment is for a personally owned (BYOD) device: its user must accept the notice first.",
                hint="Read the notice from POST /v1/enroll/notice and send its notice_sha256 as byod_notice_accepted.",
            )
        raise EnrollmentRefusedError(
            "The enrolment token is not valid: it is unknown, used up, expired or revoked.",
            hint="Ask the clinic's IT staff for a new enrolment token.",
        )

    def enrol(self, request: EnrollRequest, peer: str = "") -> EnrollResponse:
        """Enrol a device: one use of the token, a new device, its certificate, one audit entry.

        A BYOD token enrols only when the request carries the SHA-256 of the current
        :data:`BYOD_NOTICE` (the device user accepted it); the acceptance is in the audit entry.

        Raises:
            EnrollmentRefusedError: The token is unknown, used up, expired or revoked (refusal audited).
            ByodNoticeRequiredError: A BYOD token without the notice accepted (refusal audited, no use taken).
            CertificateRequestError: The CSR is unusable (nothing written, the token use is not taken).
            PossibleCloneError: An active device with a live certificate already reports this hardware id
                (refusal audited, no use taken). A retired record, or one without a live certificate, is
                reused instead (see :mod:`mdm_desktop.services.reenrolment`).
        """
        self.authority()
        now = self._clock()
        refusal, refused_uid, clone_of = "", "", ""
        with self._uow(write=True) as uow:
            ca = self._local_ca(uow)
            hashed = token_hash(uow.cipher, request.token)
            token = repo.take_token_use(uow.session, hashed, now)
            if token is None:
                refusal, refused_uid = self._refusal(uow.session, hashed, now)
            elif token.ownership == Ownership.BYOD.value and request.byod_notice_accepted != notice_sha256():
                # Not committed: the use just taken is given back when the transaction rolls back.
                refusal, refused_uid = "byod_notice_not_accepted", token.uid
            else:
                previous = previous_record(uow.session, uow.cipher, request.inventory, now)
                if previous is not None and not previous.reusable:
                    # Not committed: the use just taken is given back when the transaction rolls back.
                    refusal, refused_uid, clone_of = "possible_clone", token.uid, previous.device.uid
                else:
                    response = self._enrol_with(uow, ca, token, request, peer, now, previous)
                    uow.commit()
                    return response
        self._refuse(refusal, refused_uid, peer, clone_of=clone_of, hardware_id=request.inventory.hardware_id or "")

    @staticmethod
    def _refusal(session: Session, hashed: bytes, now: dt.datetime) -> tuple[str, str]:
        """Why a token was not accepted, and its id ("" when unknown)."""
        token = repo.token_by_hash(session, hashed)
        if token is None:
            return "unknown", ""
        if token.revoked_at is not None:
            return "revoked", token.uid
        if token.uses_left <= 0:
            return "used_up", token.uid
        return ("expired" if token.expires_at <= now else "busy"), token.uid

    def _enrol_with(
        self,
        uow: UnitOfWork,
        ca: LocalCA,
        token: EnrollmentToken,
        request: EnrollRequest,
        peer: str,
        now: dt.datetime,
        previous: PreviousRecord | None = None,
    ) -> EnrollResponse:
        cancelled: list[str] = []
        if previous is not None:  # re-enrolment: same record, history kept, a new certificate
            device = previous.device
            prepare_reuse(uow.session, previous, now)
            cancelled = cancel_open_commands(uow.session, device.id, now)
        else:
            device = Device(uid=secrets.token_hex(16), created_at=now)
        certificate = ca.sign_device_request(request.csr_pem, device.uid, now)
        ownership = Ownership(token.ownership)
        device.ownership = ownership.value
        device.group_id = token.group_id
        device.status = LifecycleStatus.ENROLLED.value
        device.enrolled_at = now
        apply_inventory(uow.cipher, device, request.inventory, now)
        device.compliance_state = ComplianceState.UNKNOWN.value  # until evaluated below
        uow.session.add(device)
        uow.session.flush()
        replace_apps(uow.session, device.id, request.inventory)
        evaluate_compliance(uow.session, device, now)  # needs the device's id and apps (rule states)
        uow.session.add(
            DeviceCertificate(
                device_id=device.id,
                serial=certificate.serial_hex,
                fingerprint=certificate.fingerprint,
                not_before=certificate.not_before,
                not_after=certificate.not_after,
                issued_at=now,
                revoke_reason="",
                last_sequence=-1,
            )
        )
        self._audit.record(
            uow,
            Principal(kind="device", id=device.id, name=device.uid, role=None, workstation=peer),
            "device.re_enrolled" if previous is not None else "device.enrolled",
            target_kind="device",
            target=device.uid,
            details={
                **(
                    {"previous_status": previous.previous_status, "cancelled_commands": cancelled}
                    if previous is not None
                    else {}
                ),
                "token": token.uid,
                "platform": device.platform,
                "ownership": ownership.value,
                "group_id": token.group_id,
                "certificate_serial": certificate.serial_hex,
                **({"byod_notice_accepted": request.byod_notice_accepted} if ownership is Ownership.BYOD else {}),
                **keyed_values(uow.cipher, serial=request.inventory.serial, hardware_id=request.inventory.hardware_id),
            },
        )
        return EnrollResponse(
            device_id=device.uid,
            certificate_pem=certificate.pem,
            ca_certificate_pem=ca.certificate_pem,
            byod_notice=BYOD_NOTICE if ownership is Ownership.BYOD else "",
            checkin_interval_seconds=CHECKIN_INTERVAL_SECONDS,
        )
