"""The virtual fleet: many simulated devices in one process, against a real gateway.

Each virtual device enrols with its own EC P-256 key and certificate (mutual TLS afterwards),
reports platform-typical inventory (models, OS versions and patch levels as in a clinic in late
2026) that drifts over time (OS updates, battery, the occasional root/jailbreak, encryption turned
off, firewall off), and carries out the commands it receives after a realistic delay, failing now
and then. :class:`VirtualFleet` runs them on one asyncio loop with ``httpx.AsyncClient``;
:meth:`VirtualFleet.summary` returns the figures the benchmark prints (enrolled devices, sustained
check-ins per second, p50/p99 check-in latency).

Key generation is not a bottleneck: an EC P-256 key and its CSR take well under a millisecond,
so 1,000 devices need no process pool (measured: see ``benchmarks``/the README figures).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import math
import random
import ssl
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from mdm_desktop.agent import fleet_profiles as profiles
from mdm_desktop.agent.keys import (
    build_csr,
    certificate_fingerprint,
    generate_key,
    private_key_pem,
    write_private_file,
)
from mdm_desktop.agent.tls import server_context
from mdm_desktop.wire.v1 import (
    CheckinRequest,
    CheckinResponse,
    CommandOutcome,
    CommandResult,
    EnrollRequest,
    EnrollResponse,
    InstalledAppReport,
    Inventory,
    Location,
    PendingCommand,
    WirePlatform,
    notice_sha256,
)

P = WirePlatform
USER_AGENT = "mdm-desktop-simulator/1"


# -- figures -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetSummary:
    """The fleet's figures at one moment (what the live line and the benchmark print)."""

    devices: int
    enrolled: int
    enrol_failures: int
    active: int
    checkins: int
    checkin_errors: int
    elapsed_seconds: float
    checkins_per_second: float
    p50_ms: float | None
    p99_ms: float | None
    commands_received: int
    commands_acknowledged: int
    commands_failed: int
    commands_unsupported: int
    stopped_devices: int
    """Devices that stopped: wiped, retired, or their certificate refused."""

    def line(self) -> str:
        """One line for a terminal."""
        p50 = "-" if self.p50_ms is None else f"{self.p50_ms:.1f}"
        p99 = "-" if self.p99_ms is None else f"{self.p99_ms:.1f}"
        return (
            f"enrolled {self.enrolled:,}/{self.devices:,} | check-ins {self.checkins:,} "
            f"({self.checkins_per_second:.1f}/s) | p50 {p50} ms p99 {p99} ms | commands "
            f"{self.commands_acknowledged:,} done, {self.commands_failed:,} failed, "
            f"{self.commands_unsupported:,} unsupported | errors {self.checkin_errors + self.enrol_failures:,}"
        )


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile of already sorted values (``None`` when empty)."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), math.ceil(fraction * len(sorted_values) - 1e-9)))
    return sorted_values[rank - 1]


@dataclass
class FleetStats:
    """Counters the devices update (one event loop, so no locks)."""

    started: float = field(default_factory=time.perf_counter)
    first_checkin: float | None = None
    enrolled: int = 0
    enrol_failures: int = 0
    checkins: int = 0
    checkin_errors: int = 0
    commands_received: int = 0
    commands_acknowledged: int = 0
    commands_failed: int = 0
    commands_unsupported: int = 0
    stopped_devices: int = 0
    latencies: array[float] = field(default_factory=lambda: array("d"))
    last_errors: list[str] = field(default_factory=list)

    def error(self, text: str) -> None:
        """Keep the last few distinct error texts for the final report."""
        if text not in self.last_errors:
            self.last_errors.append(text)
            del self.last_errors[:-5]

    def summary(self, devices: int) -> FleetSummary:
        """The figures now."""
        now = time.perf_counter()
        ordered = sorted(self.latencies)
        window = now - self.first_checkin if self.first_checkin is not None else 0.0
        return FleetSummary(
            devices=devices,
            enrolled=self.enrolled,
            enrol_failures=self.enrol_failures,
            active=self.enrolled - self.stopped_devices,
            checkins=self.checkins,
            checkin_errors=self.checkin_errors,
            elapsed_seconds=now - self.started,
            checkins_per_second=self.checkins / window if window > 0 else 0.0,
            p50_ms=None if not ordered else (percentile(ordered, 0.50) or 0.0) * 1000,
            p99_ms=None if not ordered else (percentile(ordered, 0.99) or 0.0) * 1000,
            commands_received=self.commands_received,
            commands_acknowledged=self.commands_acknowledged,
            commands_failed=self.commands_failed,
            commands_unsupported=self.commands_unsupported,
            stopped_devices=self.stopped_devices,
        )


# -- one virtual device --------------------------------------------------------------------------------------------


def _weighted(rng: random.Random, items: Sequence[Any], weights: Sequence[float]) -> Any:
    return rng.choices(items, weights=weights, k=1)[0]


def _serial(rng: random.Random, style: str) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    if style == "apple":
        return "".join(rng.choice(alphabet) for _ in range(10))
    if style == "samsung":
        return "R" + "".join(rng.choice(alphabet) for _ in range(10))
    if style == "dell":
        return "".join(rng.choice(alphabet) for _ in range(7))
    if style == "lenovo":
        return "PF" + "".join(rng.choice(alphabet) for _ in range(6))
    if style == "hp":
        return (
            "5CG"
            + "".join(rng.choice("0123456789") for _ in range(3))
            + "".join(rng.choice(alphabet) for _ in range(4))
        )
    return "".join(rng.choice("0123456789ABCDEF") for _ in range(12))


@dataclass
class DeviceProfile:
    """A virtual device's inventory state, which drifts between check-ins."""

    name: str
    platform: WirePlatform
    model: profiles.Model
    release: profiles.Release
    serial: str
    hardware_id: str
    battery: int | None
    encrypted: bool
    passcode_set: bool
    screen_lock: bool
    firewall: bool | None
    compromised: bool
    security_patch: dt.date | None
    last_os_update: dt.datetime
    apps: dict[str, InstalledAppReport]

    @classmethod
    def create(cls, index: int, platform: WirePlatform, rng: random.Random, now: dt.datetime) -> DeviceProfile:
        """A plausible device of ``platform``."""
        models = [m for m in profiles.MODELS if m.platform == platform] or [profiles.MODELS[0]]
        model: profiles.Model = _weighted(rng, models, [m.weight for m in models])
        releases = [r for r in profiles.RELEASES if r.platform == model.platform and r.major in model.os_majors]
        release: profiles.Release = _weighted(rng, releases, [r.weight for r in releases])
        mobile = model.platform in profiles.MOBILE
        laptop = not mobile and any(w in model.model for w in ("Latitude", "ThinkPad", "EliteBook", "MacBook"))
        patch: dt.date | None = None
        if model.platform == P.ANDROID:
            lags = profiles.PATCH_LAGS.get(model.serial_style, profiles.PATCH_LAGS["samsung"])
            months = _weighted(rng, [m for m, _ in lags], [w for _, w in lags])
            first = now.date().replace(day=1)
            for _ in range(months):
                first = (first - dt.timedelta(days=1)).replace(day=1)
            patch = first
        apps = {
            ident: InstalledAppReport(identifier=ident, name=name, version=version, managed=True)
            for ident, name, version in profiles.BASE_APPS.get(model.platform, ())
            if rng.random() < 0.9
        }
        return cls(
            name=f"SIM-{profiles.NAME_CODES[model.platform]}-{index:05d}",
            platform=model.platform,
            model=model,
            release=release,
            serial=_serial(rng, model.serial_style),
            hardware_id=f"{rng.getrandbits(128):032x}",
            battery=rng.randint(20, 100) if mobile or laptop else None,
            encrypted=rng.random() < 0.97,
            passcode_set=rng.random() < (0.97 if mobile else 0.995),
            screen_lock=rng.random() < 0.95,
            firewall=None if mobile else rng.random() < 0.96,
            compromised=mobile and rng.random() < 0.005,
            security_patch=patch,
            last_os_update=now - dt.timedelta(days=rng.randint(1, 90), minutes=rng.randint(0, 1440)),
            apps=apps,
        )

    def inventory(self) -> Inventory:
        """What the device reports now."""
        mobile = self.platform in profiles.MOBILE
        return Inventory(
            name=self.name,
            platform=self.platform,
            vendor=self.model.vendor,
            model=self.model.model,
            serial=self.serial,
            hardware_id=self.hardware_id,
            os_version=self.release.version,
            os_build=self.release.build,
            kernel=profiles.KERNELS[self.platform],
            security_patch=self.security_patch,
            last_os_update=self.last_os_update,
            storage_encrypted=self.encrypted,
            passcode_set=self.passcode_set,
            screen_lock_enabled=self.screen_lock,
            firewall_enabled=self.firewall,
            compromised=self.compromised if mobile else None,
            managed_container=True,
            battery_percent=self.battery,
            apps=list(self.apps.values()),
        )

    def drift(self, rng: random.Random, now: dt.datetime) -> None:
        """Change a little, as real devices do between two check-ins."""
        if self.battery is not None:
            if self.battery < 15 or rng.random() < 0.05:
                self.battery = min(100, self.battery + rng.randint(20, 60))  # on the charger
            else:
                self.battery = max(1, self.battery - rng.randint(0, 3))
        if rng.random() < 0.02:
            self.update_os(now)
        if self.platform in profiles.MOBILE and rng.random() < 0.0005:
            self.compromised = True
        if rng.random() < 0.0005:
            self.encrypted = False
        if self.firewall and rng.random() < 0.001:
            self.firewall = False

    def update_os(self, now: dt.datetime) -> bool:
        """Move to the next newer release this model runs; ``False`` when already on the newest."""
        newer = [
            r
            for r in profiles.RELEASES
            if r.platform == self.platform and r.major in self.model.os_majors and r.major >= self.release.major
        ]
        index = next((i for i, r in enumerate(newer) if r.version == self.release.version), len(newer) - 1)
        if index + 1 >= len(newer):
            return False
        self.release = newer[index + 1]
        self.last_os_update = now
        if self.security_patch is not None:
            self.security_patch = now.date().replace(day=1)
        return True


@dataclass
class VirtualDevice:
    """One simulated device: profile, identity and protocol state."""

    index: int
    profile: DeviceProfile
    rng: random.Random
    device_id: str = ""
    client: httpx.AsyncClient | None = None
    sequence: int = 0
    active: bool = False
    executed: dict[str, CommandResult] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)
    unsent: dict[str, CommandResult] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    lost_location: dict[str, float] | None = None
    identity_file: Path | None = None
    """The device's key and certificate (PEM) once enrolled, in the fleet's work folder."""


# -- the fleet -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulationConfig:
    """How the fleet runs.

    ``command_delay`` is the range of seconds a device takes to carry out a command and
    ``failure_rate`` the share of commands that fail (a device busy, out of storage, offline).
    """

    server_url: str
    token: str
    ca_pem: str
    devices: int
    mix: Mapping[WirePlatform, float] = field(default_factory=lambda: dict(profiles.DEFAULT_MIX))
    interval: float = 60.0
    duration: float | None = None
    seed: int | None = None
    command_delay: tuple[float, float] = (0.5, 5.0)
    failure_rate: float = 0.03
    enrol_concurrency: int = 32
    timeout: float = 30.0
    work_dir: Path | None = None


class VirtualFleet:
    """Runs :attr:`SimulationConfig.devices` virtual devices until the duration ends or :meth:`stop`."""

    def __init__(self, config: SimulationConfig, *, now: Callable[[], dt.datetime] | None = None) -> None:
        self.config = config
        self.stats = FleetStats()
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        seed = config.seed if config.seed is not None else random.SystemRandom().getrandbits(32)
        self._rng = random.Random(seed)  # noqa: S311 - simulation, not security
        platforms = [p for p, w in config.mix.items() if w > 0]
        weights = [config.mix[p] for p in platforms]
        start = self._now()
        self.devices: list[VirtualDevice] = []
        for index in range(1, config.devices + 1):
            rng = random.Random(self._rng.getrandbits(64))  # noqa: S311 - simulation
            platform = _weighted(rng, platforms, weights)
            self.devices.append(VirtualDevice(index, DeviceProfile.create(index, platform, rng, start), rng))
        self._stop = asyncio.Event()
        self._server_ssl = server_context(config.ca_pem)
        self._ca_fingerprint = certificate_fingerprint(_load_certificate(config.ca_pem))
        self._tasks: set[asyncio.Task[Any]] = set()

    def summary(self) -> FleetSummary:
        """The fleet's figures now: enrolled devices, check-ins per second, p50/p99 latency, commands."""
        return self.stats.summary(len(self.devices))

    def stop(self) -> None:
        """Ask every device to stop after its current request."""
        self._stop.set()

    async def run(
        self, *, on_tick: Callable[[FleetSummary], None] | None = None, tick_seconds: float = 5.0
    ) -> FleetSummary:
        """Enrol every device, then check in until the duration ends or :meth:`stop` is called."""
        self._stop = asyncio.Event()
        semaphore = asyncio.Semaphore(self.config.enrol_concurrency)
        with tempfile.TemporaryDirectory(prefix="mdm-fleet-", dir=self.config.work_dir) as folder:
            work = Path(folder)
            loops = [asyncio.create_task(self._device_loop(d, semaphore, work)) for d in self.devices]
            ticker = asyncio.create_task(self._ticker(on_tick, tick_seconds)) if on_tick else None
            try:
                if self.config.duration is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), self.config.duration)
                    self._stop.set()
                await asyncio.gather(*loops)
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
            finally:
                self._stop.set()
                for task in loops:
                    task.cancel()
                if ticker is not None:
                    ticker.cancel()
                await asyncio.gather(*loops, return_exceptions=True)
                await asyncio.gather(*(d.client.aclose() for d in self.devices if d.client is not None))
        return self.summary()

    async def enrol_all(self, work: Path) -> FleetSummary:
        """Enrol every device and stop there (no check-ins): the set-up step of the gateway benchmark.

        Key and certificate files go to ``work``, which must outlive the devices' use of them;
        close the devices' HTTPS clients with :meth:`aclose` afterwards.
        """
        semaphore = asyncio.Semaphore(self.config.enrol_concurrency)

        async def one(device: VirtualDevice) -> None:
            async with semaphore:
                await self._enrol(device, work)

        await asyncio.gather(*(one(d) for d in self.devices))
        return self.summary()

    async def aclose(self) -> None:
        """Close every device's HTTPS client."""
        await asyncio.gather(*(d.client.aclose() for d in self.devices if d.client is not None))

    async def _ticker(self, on_tick: Callable[[FleetSummary], None], every: float) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), every)
            on_tick(self.summary())

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped; ``True`` when the fleet is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), max(0.0, seconds))
        return self._stop.is_set()

    async def _device_loop(self, device: VirtualDevice, semaphore: asyncio.Semaphore, work: Path) -> None:
        async with semaphore:
            if self._stop.is_set() or not await self._enrol(device, work):
                return
        if await self._sleep(device.rng.uniform(0, self.config.interval)):
            return
        while device.active and not self._stop.is_set():
            await self._check_in(device)
            if await self._sleep(self.config.interval * device.rng.uniform(0.9, 1.1)):
                return

    # -- protocol ----------------------------------------------------------------------------------------------

    async def _enrol(self, device: VirtualDevice, work: Path) -> bool:
        key = generate_key()
        # A virtual device's user accepts the BYOD notice at once (ignored for a corporate token).
        request = EnrollRequest(
            token=self.config.token,
            csr_pem=build_csr(key, device.profile.name),
            inventory=device.profile.inventory(),
            byod_notice_accepted=notice_sha256(),
        )
        try:
            async with httpx.AsyncClient(
                base_url=self.config.server_url,
                verify=self._server_ssl,
                timeout=self.config.timeout,
                headers={"User-Agent": USER_AGENT},
            ) as http:
                response = await http.post("/v1/enroll", json=request.model_dump(mode="json"))
            if not response.is_success:
                self.stats.enrol_failures += 1
                self.stats.error(f"enrol: HTTP {response.status_code} {response.text[:200]}")
                return False
            answer = EnrollResponse.model_validate_json(response.content)
            if certificate_fingerprint(_load_certificate(answer.ca_certificate_pem)) != self._ca_fingerprint:
                self.stats.enrol_failures += 1
                self.stats.error("enrol: the gateway answered with another CA")
                return False
        except (httpx.HTTPError, ValidationError, ValueError) as exc:
            self.stats.enrol_failures += 1
            self.stats.error(f"enrol: {type(exc).__name__}: {exc}"[:300])
            return False
        identity = work / f"device-{device.index:06d}.pem"
        write_private_file(identity, private_key_pem(key) + answer.certificate_pem.encode("ascii"))
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=self.config.ca_pem)
        context.load_cert_chain(str(identity))
        device.client = httpx.AsyncClient(
            base_url=self.config.server_url,
            verify=context,
            timeout=self.config.timeout,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=2, max_keepalive_connections=1),
        )
        device.device_id = answer.device_id
        device.identity_file = identity
        device.active = True
        self.stats.enrolled += 1
        return True

    async def _check_in(self, device: VirtualDevice) -> None:
        assert device.client is not None
        async with device.lock:
            if not device.active:
                return
            device.profile.drift(device.rng, self._now())
            device.sequence += 1
            results = list(device.unsent.values())[:100]
            body = CheckinRequest(
                sequence=device.sequence, sent_at=self._now(), inventory=device.profile.inventory(), results=results
            ).model_dump(mode="json")
            started = time.perf_counter()
            if self.stats.first_checkin is None:
                self.stats.first_checkin = started
            try:
                response = await device.client.post("/v1/checkin", json=body)
            except httpx.HTTPError as exc:
                self.stats.checkin_errors += 1
                self.stats.error(f"check-in: {type(exc).__name__}: {exc}"[:300])
                return
            elapsed = time.perf_counter() - started
            if response.status_code in (401, 403):
                device.active = False
                self.stats.stopped_devices += 1
                self.stats.error(f"check-in refused (HTTP {response.status_code}): certificate revoked or unknown")
                return
            if not response.is_success:
                self.stats.checkin_errors += 1
                self.stats.error(f"check-in: HTTP {response.status_code} {response.text[:200]}")
                return
            try:
                answer = CheckinResponse.model_validate_json(response.content)
            except ValidationError as exc:
                self.stats.checkin_errors += 1
                self.stats.error(f"check-in: answer not in the API schema ({exc.error_count()} problems)")
                return
            self.stats.checkins += 1
            self.stats.latencies.append(elapsed)
            for result in results:
                device.unsent.pop(result.command_id, None)
        for command in answer.commands:
            self._start_command(device, command)

    def _start_command(self, device: VirtualDevice, command: PendingCommand) -> None:
        if command.command_id in device.running:
            return
        known = device.executed.get(command.command_id)
        if known is not None:
            device.unsent[command.command_id] = known  # asked again: answer again with the same result
            return
        self.stats.commands_received += 1
        device.running.add(command.command_id)
        task = asyncio.create_task(self._carry_out(device, command))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _carry_out(self, device: VirtualDevice, command: PendingCommand) -> None:
        low, high = self.config.command_delay
        if await self._sleep(device.rng.uniform(low, high)):
            device.running.discard(command.command_id)
            return
        outcome, detail, after = await self._outcome(device, command)
        lost = command.type == "lost_mode" and outcome == CommandOutcome.ACKNOWLEDGED
        location = Location.model_validate(device.lost_location) if lost and device.lost_location else None
        result = CommandResult(command_id=command.command_id, outcome=outcome, detail=detail, location=location)
        device.executed[command.command_id] = result
        device.running.discard(command.command_id)
        if outcome == CommandOutcome.ACKNOWLEDGED:
            self.stats.commands_acknowledged += 1
        elif outcome == CommandOutcome.FAILED:
            self.stats.commands_failed += 1
        else:
            self.stats.commands_unsupported += 1
        sent = await self._send_result(device, result)
        if after == "stop" and sent:
            device.active = False
            self.stats.stopped_devices += 1
        elif after == "refresh" and device.active:
            await self._check_in(device)

    async def _send_result(self, device: VirtualDevice, result: CommandResult) -> bool:
        assert device.client is not None
        try:
            response = await device.client.post(
                f"/v1/commands/{result.command_id}/result", json=result.model_dump(mode="json")
            )
        except httpx.HTTPError as exc:
            self.stats.error(f"result: {type(exc).__name__}: {exc}"[:300])
            device.unsent[result.command_id] = result
            return False
        if not response.is_success:
            self.stats.error(f"result: HTTP {response.status_code} {response.text[:200]}")
            device.unsent[result.command_id] = result
            return False
        return True

    async def _outcome(self, device: VirtualDevice, command: PendingCommand) -> tuple[CommandOutcome, str, str]:
        """``(outcome, detail, afterwards)`` where afterwards is ``""``, ``"refresh"`` or ``"stop"``."""
        kind = command.type
        payload = command.payload
        known = {
            "lock",
            "message",
            "refresh_inventory",
            "restart",
            "os_update",
            "install_app",
            "remove_app",
            "selective_wipe",
            "lost_mode",
            "wipe",
            "retire",
        }
        if kind not in known:
            return CommandOutcome.UNSUPPORTED, f"the device does not know the command '{kind}'", ""
        if device.rng.random() < self.config.failure_rate:
            reason = device.rng.choice(
                [
                    "the device was busy and did not confirm in time",
                    "not enough free storage",
                    "the user postponed the action",
                    "the network dropped during the action",
                ]
            )
            return CommandOutcome.FAILED, f"simulated failure: {reason}", ""
        profile = device.profile
        if kind == "install_app":
            return await self._install(device, payload)
        if kind == "remove_app":
            ident = str(payload.get("identifier", ""))
            existed = profile.apps.pop(ident, None) is not None
            return CommandOutcome.ACKNOWLEDGED, f"{ident} {'removed' if existed else 'was not installed'}", "refresh"
        if kind == "os_update":
            updated = profile.update_os(self._now())
            detail = f"updated to {profile.release.version}" if updated else "already on the newest release"
            return CommandOutcome.ACKNOWLEDGED, detail, "refresh"
        if kind == "selective_wipe":
            profile.apps.clear()
            return CommandOutcome.ACKNOWLEDGED, "managed apps and corporate data removed", "refresh"
        if kind == "lost_mode":
            device.lost_location = {
                "lat": round(40.7 + device.rng.uniform(-0.05, 0.05), 5),
                "lon": round(-74.0 + device.rng.uniform(-0.05, 0.05), 5),
                "accuracy_m": float(device.rng.choice([5, 10, 25, 65])),
            }
            return CommandOutcome.ACKNOWLEDGED, "lost mode on; location reported", ""
        if kind in ("wipe", "retire"):
            return CommandOutcome.ACKNOWLEDGED, "wiped" if kind == "wipe" else "management removed", "stop"
        if kind == "refresh_inventory":
            return CommandOutcome.ACKNOWLEDGED, "inventory sent again", "refresh"
        if kind == "restart":
            return CommandOutcome.ACKNOWLEDGED, "restarted", ""
        if kind == "message":
            return CommandOutcome.ACKNOWLEDGED, "message shown", ""
        return CommandOutcome.ACKNOWLEDGED, "screen locked", ""

    async def _install(self, device: VirtualDevice, payload: Mapping[str, Any]) -> tuple[CommandOutcome, str, str]:
        assert device.client is not None
        ident = str(payload.get("identifier", ""))[:255]
        sha256 = str(payload.get("sha256", ""))
        if not ident or len(sha256) != 64:
            return CommandOutcome.FAILED, "the install command has no identifier or SHA-256", ""
        url = str(payload.get("url") or f"/v1/apps/{sha256}")
        try:
            response = await device.client.get(url)
        except httpx.HTTPError as exc:
            return CommandOutcome.FAILED, f"download failed: {type(exc).__name__}", ""
        if not response.is_success:
            return CommandOutcome.FAILED, f"download refused: HTTP {response.status_code}", ""
        if hashlib.sha256(response.content).hexdigest() != sha256:
            return CommandOutcome.FAILED, "the downloaded package's SHA-256 does not match; not installed", ""
        version = str(payload.get("version", ""))[:64]
        name = str(payload.get("name") or ident)[:255]
        device.profile.apps[ident] = InstalledAppReport(identifier=ident, name=name, version=version, managed=True)
        return CommandOutcome.ACKNOWLEDGED, f"{name} {version} installed".strip(), "refresh"


def run_fleet(config: SimulationConfig, *, on_tick: Callable[[FleetSummary], None] | None = None) -> FleetSummary:
    """Run a fleet to the end of ``config.duration`` and return its figures (for benchmarks and scripts)."""
    if config.duration is None:
        raise ValueError("run_fleet needs a duration; use VirtualFleet.run with stop() to run without one")

    async def main() -> FleetSummary:
        return await VirtualFleet(config).run(on_tick=on_tick)

    return asyncio.run(main())


def _load_certificate(pem: str) -> Any:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem.encode("ascii"))


# -- command line --------------------------------------------------------------------------------------------------


def trust_first_use(server_url: str) -> str:
    """The CA certificate (PEM) the gateway presents, without a fingerprint to check it (lab use only)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from mdm_desktop.agent.tls import PinningError, presented_chain, split_server_url

    host, port = split_server_url(server_url)
    for certificate in reversed(presented_chain(host, port)):
        try:
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            continue
        if constraints.ca:
            return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    raise PinningError(f"the gateway at {server_url} does not present its CA certificate; pass --ca-file")


def run_simulation_cli(args: Any) -> int:
    """``mdm-desktop simulate``: run the fleet, print a live line every 5 s and the final figures."""
    from mdm_desktop.agent.cli import UsageError, parse_enrolment_text
    from mdm_desktop.agent.tls import normalise_server_url, pin_ca

    server, token, fingerprint = parse_enrolment_text(
        args.token, args.server, args.fingerprint, require_fingerprint=not args.insecure_trust_first_use
    )
    server = normalise_server_url(server)
    mix = profiles.parse_mix(args.mix)  # bad input is refused before anything goes over the network
    if fingerprint:
        ca_pem = pin_ca(server, fingerprint, ca_file=args.ca_file)
    elif args.ca_file is not None:
        raise UsageError("--ca-file needs --fingerprint to check it against")
    else:
        ca_pem = trust_first_use(server)
        shown = certificate_fingerprint(_load_certificate(ca_pem))
        print(f"warning: trusting the gateway's CA without a fingerprint check: {shown}", file=sys.stderr)
    config = SimulationConfig(
        server_url=server,
        token=token,
        ca_pem=ca_pem,
        devices=args.devices,
        mix=mix,
        interval=args.interval,
        duration=args.duration,
        seed=args.seed,
    )

    async def main() -> FleetSummary:
        fleet = VirtualFleet(config)
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            import signal

            loop.add_signal_handler(signal.SIGINT, fleet.stop)
            loop.add_signal_handler(signal.SIGTERM, fleet.stop)
        summary = await fleet.run(on_tick=lambda s: print(s.line(), file=sys.stderr, flush=True))
        for text in fleet.stats.last_errors:
            print(f"last error: {text}", file=sys.stderr)
        return summary

    summary = asyncio.run(main())
    print(summary.line())
    return 0 if summary.enrolled else 2
