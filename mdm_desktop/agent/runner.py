"""Enrolment and the check-in loop of the reference agent."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from mdm_desktop.agent import client as gateway
from mdm_desktop.agent.commands import CommandExecutor, ExecutionEffects, installed_apps
from mdm_desktop.agent.inventory import InventoryProbe, probe_for_this_machine
from mdm_desktop.agent.inventory.base import hostname
from mdm_desktop.agent.keys import build_csr, certificate_fingerprint, generate_key, private_key_pem, public_key_der
from mdm_desktop.agent.state import AgentState, AgentStore
from mdm_desktop.agent.tls import PinningError, normalise_server_url, pin_ca
from mdm_desktop.wire.v1 import CheckinRequest, CheckinResponse, EnrollRequest, InstalledAppReport, Inventory

log = logging.getLogger(__name__)

ProbeFactory = Callable[[list[InstalledAppReport]], InventoryProbe]
Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class NoticeDeclinedError(ValueError):
    """The device user did not accept the BYOD notice: nothing was enrolled."""


def enroll_device(
    store: AgentStore,
    server_url: str,
    token: str,
    fingerprint: str,
    *,
    ca_file: Path | None = None,
    probe_factory: ProbeFactory = probe_for_this_machine,
    retrying: gateway.Retrying | None = None,
    now: Clock = _utc_now,
    accept_notice: Callable[[str], bool] = lambda _notice: False,
) -> AgentState:
    """Enrol this machine: pin the CA, send the token, a CSR and the inventory, store the identity.

    Before anything else is sent, the gateway says whether the token enrols a personally owned
    (BYOD) device; if so, ``accept_notice(text)`` shows the notice to the user and returns whether
    they accept it (the default declines, so a BYOD enrolment always needs an explicit yes).

    Raises:
        PinningError: the gateway does not present the pinned CA (nothing was sent).
        NoticeDeclinedError: a BYOD token and the notice was not accepted (nothing enrolled).
        GatewayError: the gateway refused the enrolment or could not be reached.
    """
    server = normalise_server_url(server_url)
    ca_pem = pin_ca(server, fingerprint, ca_file=ca_file)
    notice = gateway.enroll_notice(server, ca_pem, token, retrying=retrying)
    if notice.byod and not accept_notice(notice.notice):
        raise NoticeDeclinedError(
            "this token enrols a personally owned (BYOD) device and its notice was not accepted; nothing was enrolled"
        )
    key = generate_key()
    inventory = probe_factory(installed_apps(store)).collect()
    request = EnrollRequest(
        token=token,
        csr_pem=build_csr(key, hostname()),
        inventory=inventory,
        byod_notice_accepted=notice.notice_sha256 if notice.byod else None,
    )
    answer = gateway.enroll(server, ca_pem, request, retrying=retrying)
    _check_enrolment(answer.certificate_pem, answer.ca_certificate_pem, fingerprint, public_key_der(key))
    store.save_identity(private_key_pem(key), answer.certificate_pem, answer.ca_certificate_pem)
    state = AgentState(
        server_url=server,
        device_id=answer.device_id,
        ca_fingerprint=fingerprint,
        enrolled_at=now(),
        checkin_interval_seconds=answer.checkin_interval_seconds,
        byod_notice=answer.byod_notice,
    )
    store.save_state(state)
    return state


def _check_enrolment(certificate_pem: str, ca_pem: str, fingerprint: str, public_der: bytes) -> None:
    try:
        ca = x509.load_pem_x509_certificate(ca_pem.encode("ascii"))
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode("ascii"))
    except ValueError as exc:
        raise gateway.GatewayError(f"the gateway returned an unreadable certificate ({exc})") from exc
    if certificate_fingerprint(ca) != fingerprint:
        raise PinningError("the CA returned by the enrolment is not the pinned CA; the certificate was not stored")
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise PinningError(f"the device certificate is not signed by the pinned CA ({exc})") from exc
    if public_key_der(certificate) != public_der:
        raise gateway.GatewayError("the gateway issued a certificate for another key; enrol again")


@dataclass(frozen=True)
class CheckinSummary:
    """What one run of :meth:`AgentRunner.run_once` did."""

    commands: int
    results_sent: int
    interval_seconds: int
    retired: bool = False


class AgentRunner:
    """Checks in, carries out commands, reports results; keeps its state in the data folder."""

    def __init__(
        self,
        store: AgentStore,
        *,
        probe_factory: ProbeFactory = probe_for_this_machine,
        client_factory: Callable[[AgentState], gateway.DeviceClient] | None = None,
        executor_factory: Callable[[gateway.DeviceClient], CommandExecutor] | None = None,
        now: Clock = _utc_now,
    ) -> None:
        self._store = store
        self._probe_factory = probe_factory
        self._client_factory = client_factory or self._default_client
        self._executor_factory = executor_factory or (lambda c: CommandExecutor(store, c.download, now=now))
        self._now = now

    def _default_client(self, state: AgentState) -> gateway.DeviceClient:
        return gateway.DeviceClient(
            state.server_url, self._store.ca_path, self._store.certificate_path, self._store.key_path
        )

    def collect(self) -> Inventory:
        """The inventory now, with the managed apps."""
        return self._probe_factory(installed_apps(self._store)).collect()

    def run_once(self) -> CheckinSummary:
        """One check-in: report, carry out the commands received, report their results.

        A ``refresh_inventory`` command causes one more check-in straight away.
        """
        state = self._store.load_state()
        with self._client_factory(state) as http:
            executor = self._executor_factory(http)
            commands = 0
            sent = 0
            for _ in range(2):
                response = self._check_in(http, state)
                effects = executor.execute_all(response.commands, state)
                commands += len(response.commands)
                self._store.save_state(state)
                sent += self._send_results(http, state)
                if effects.retire:
                    self._retire()
                    return CheckinSummary(commands, sent, state.checkin_interval_seconds, retired=True)
                if not effects.refresh_inventory:
                    break
            return CheckinSummary(commands, sent, state.checkin_interval_seconds)

    def _check_in(self, http: gateway.DeviceClient, state: AgentState) -> CheckinResponse:
        state.sequence += 1  # saved before sending: a sequence number is never used twice
        self._store.save_state(state)
        pending = state.pending_results()[:100]
        request = CheckinRequest(
            sequence=state.sequence, sent_at=self._now(), inventory=self.collect(), results=pending
        )
        response = http.check_in(request)
        state.confirm_sent([r.command_id for r in pending])
        state.checkin_interval_seconds = response.checkin_interval_seconds
        state.policy_version = response.policy_version
        state.quarantined = response.quarantined
        self._store.save_state(state)
        return response

    def _send_results(self, http: gateway.DeviceClient, state: AgentState) -> int:
        sent = 0
        for result in state.pending_results():
            try:
                http.send_result(result)
            except gateway.GatewayError as exc:
                log.warning("result of %s not sent yet (%s); it goes with the next check-in", result.command_id, exc)
                break
            state.confirm_sent([result.command_id])
            sent += 1
        self._store.save_state(state)
        return sent

    def _retire(self) -> None:
        self._store.wipe_managed()
        self._store.forget_identity()

    def run_forever(
        self,
        *,
        interval: float | None = None,
        stop: threading.Event | None = None,
        report: Callable[[str], None] = log.info,
    ) -> None:
        """Check in until stopped (or retired); errors are reported and retried at the next interval."""
        stop = stop or threading.Event()
        while not stop.is_set():
            wait = interval
            try:
                summary = self.run_once()
                report(f"checked in: {summary.commands} commands, {summary.results_sent} results sent")
                if summary.retired:
                    report("the device was retired: its identity and managed folder were deleted")
                    return
                wait = interval if interval is not None else summary.interval_seconds
            except gateway.CertificateRefusedError:
                raise
            except gateway.GatewayError as exc:
                report(f"check-in failed: {exc}")
                if wait is None:
                    wait = 60.0
            stop.wait(wait)


__all__ = ["AgentRunner", "CheckinSummary", "ExecutionEffects", "enroll_device"]
