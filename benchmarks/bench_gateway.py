"""Device gateway throughput: the virtual fleet's check-ins against the real gateway, next to a bare endpoint.

For each store (SQLite always; PostgreSQL when ``MDM_TEST_POSTGRES_URL`` or ``--postgres URL`` is given,
in a fresh database dropped afterwards):

1. a store is set up with an administrator and an enrolment token;
2. the gateway runs in a child process (uvicorn + FastAPI + TLS 1.2+/mutual TLS, exactly as
   ``mdm-desktop serve`` runs it) and the virtual fleet enrols ``--devices`` devices (default 1,000;
   each its own EC key, CSR and certificate; not timed);
3. every device opens its own mutual-TLS connection (handshakes not timed) and the devices check in
   back to back, ``--concurrency`` in flight at a time, for ``--seconds``: full inventory with the apps,
   schema validation, certificate look-up, sequence (replay) check, inventory and apps written,
   compliance evaluated, pending commands claimed, commit;
4. the same load runs against a bare endpoint on the same stack (same uvicorn, FastAPI, TLS context
   asking for and verifying the same client certificates) that only parses the JSON body and returns
   a small JSON object, in the same run.

Printed: sustained check-ins per second, p50/p99 latency, the ratio to the bare endpoint (target
>= 0.3x) and how much CPU the gateway process and the load generator used (of how many cores), so a
saturated load generator is visible. The load generator is a lean HTTP/1.1 client on asyncio streams
(httpx costs more CPU per request than the gateway's bare endpoint, which would cap the baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mdm_desktop.agent.simulator import SimulationConfig, VirtualDevice, VirtualFleet, percentile
from mdm_desktop.app import open_app
from mdm_desktop.config import Config
from mdm_desktop.domain.accounts import SessionKind
from mdm_desktop.domain.devices import Ownership
from mdm_desktop.security import totp
from mdm_desktop.wire.v1 import CheckinRequest

HERE = Path(__file__).resolve().parent
ADMIN = "bench.admin"
PASSWORD = "violet harbor lantern 93 quietly"
LISTENING = "LISTENING "
TARGET_RATIO = 0.3


# -- the server side (child process) -----------------------------------------------------------------------------


def bare_app() -> Any:
    """The baseline: FastAPI with one endpoint that parses the JSON body and answers a small JSON object."""
    from fastapi import Body, FastAPI

    api = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @api.post("/v1/checkin")
    def checkin(body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008 - FastAPI's way
        return {"commands": [], "policy_version": None, "checkin_interval_seconds": 900, "quarantined": False}

    return api


def serve(kind: str, db: str, data_dir: str) -> None:
    """Child process: run the gateway (or the bare endpoint on the same stack) until SIGINT/SIGTERM."""
    from mdm_desktop.gateway.runner import GatewayServer, GatewayStatus

    ctx = open_app(_config(db, Path(data_dir)))
    server = GatewayServer(
        ctx.services.enrollment,
        ctx.services.checkin,
        "127.0.0.1:0",
        ("127.0.0.1", "localhost"),
        asgi_app=bare_app() if kind == "bare" else None,
    )

    def listening(status: GatewayStatus) -> None:
        print(f"{LISTENING}{status.port}", flush=True)

    try:
        server.run(listening)
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the SIGINT the parent sends to stop it, after a clean shutdown
    finally:
        ctx.close()


# -- set-up ------------------------------------------------------------------------------------------------------


def _config(db: str, folder: Path) -> Config:
    return Config.resolve(db=db, key_file=str(folder / "kek.json"), env={"MDM_DATA_DIR": str(folder)})


@contextmanager
def fresh_postgres(base: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of ``base``; dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"mdm_bench_{uuid.uuid4().hex[:12]}"
    if base.startswith("postgresql://"):
        base = base.replace("postgresql://", "postgresql+psycopg://", 1)
    url = make_url(base)
    conninfo = url.set(drivername="postgresql", database=url.database or "postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare_store(db: str, folder: Path, devices: int) -> tuple[str, str]:
    """Create the store with an administrator; return an enrolment token for ``devices`` and the CA (PEM)."""
    ctx = open_app(_config(db, folder))
    try:
        auth = ctx.services.auth
        auth.create_first_admin(ADMIN, PASSWORD)
        first = auth.sign_in(ADMIN, PASSWORD, kind=SessionKind.CLI)
        shown = auth.begin_totp_enrolment(first.principal)
        now = dt.datetime.now(dt.UTC)
        auth.confirm_totp_enrolment(first.principal, totp.code_at(shown.secret, now))
        later = now + dt.timedelta(seconds=totp.STEP_SECONDS)
        while dt.datetime.now(dt.UTC) < later:  # each TOTP step is accepted once per account
            time.sleep(0.5)
        session = auth.sign_in(ADMIN, PASSWORD, totp.code_at(shown.secret, dt.datetime.now(dt.UTC)))
        issued = ctx.services.enrollment.create_token(
            session.principal,
            group_id=None,
            uses=devices,
            lifetime=dt.timedelta(hours=2),
            ownership=Ownership.CORPORATE,
            server_url="https://127.0.0.1:1",
        )
        return issued.token, ctx.services.enrollment.authority().certificate_pem
    finally:
        ctx.close()


@dataclass
class Child:
    """A server child process and its port."""

    process: subprocess.Popen[str]
    port: int

    def cpu_seconds(self) -> float:
        """User + system CPU time the child used so far (Linux /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Ask it to stop (uvicorn shuts down on SIGINT) and wait."""
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_child(kind: str, db: str, folder: Path) -> Child:
    """Start ``serve(kind)`` in a child process and wait until it listens."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve", kind, "--db", db, "--data-dir", str(folder)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=HERE,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith(LISTENING):
        process.kill()
        raise RuntimeError(f"the {kind} server did not start: {line!r}")
    return Child(process, int(line[len(LISTENING) :]))


# -- the load (parent process) -----------------------------------------------------------------------------------


class Connection:
    """One device's keep-alive mutual-TLS connection and a minimal HTTP/1.1 exchange."""

    def __init__(self, device: VirtualDevice, context: ssl.SSLContext, port: int) -> None:
        self.device = device
        self.context = context
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.sequence = 0
        self.reconnects = 0

    async def open(self) -> None:
        """(Re)connect: TCP + TLS handshake with the device's certificate."""
        if self.writer is not None:
            self.writer.close()
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", self.port, ssl=self.context, server_hostname="127.0.0.1"
        )

    def body(self) -> bytes:
        """The next check-in as the device sends it: drifted inventory, the next sequence number."""
        profile = self.device.profile
        profile.drift(self.device.rng, dt.datetime.now(dt.UTC))
        self.sequence += 1
        request = CheckinRequest(sequence=self.sequence, sent_at=dt.datetime.now(dt.UTC), inventory=profile.inventory())
        return request.model_dump_json().encode()

    async def post(self, path: str, body: bytes) -> int:
        """Send one POST and read the whole answer; return the HTTP status."""
        for attempt in (1, 2):
            if self.writer is None or self.writer.is_closing():
                self.reconnects += attempt - 1
                await self.open()
            assert self.reader is not None
            assert self.writer is not None
            head = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            try:
                self.writer.write(head + body)
                raw = await self.reader.readuntil(b"\r\n\r\n")
            except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
                self.writer = None
                if attempt == 2:
                    raise
                continue
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            length = next(
                (int(v) for k, _, v in (x.partition(":") for x in lines[1:]) if k.lower() == "content-length"), 0
            )
            await self.reader.readexactly(length)
            return status
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass(frozen=True)
class Figures:
    """One measured run."""

    label: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu: float
    client_cpu: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def measure(label: str, child: Child, connections: list[Connection], seconds: float, concurrency: int) -> Figures:
    """Warm up (connect every device, a few check-ins each), then check in back to back for ``seconds``."""
    for conn in connections:
        conn.port = child.port
        conn.writer = None
    semaphore = asyncio.Semaphore(64)

    async def connect(conn: Connection) -> None:
        async with semaphore:
            await conn.open()

    await asyncio.gather(*(connect(c) for c in connections))
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for conn in connections:
        idle.put_nowait(conn)
    latencies: list[float] = []
    errors = 0
    deadline = 0.0
    recording = False

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            conn = await idle.get()
            body = conn.body()
            started = time.perf_counter()
            try:
                status = await conn.post("/v1/checkin", body)
            except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
                status = 0
            if recording:
                if status == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1
            idle.put_nowait(conn)

    deadline = time.perf_counter() + min(5.0, seconds / 3)  # warm-up: caches, thread pool, connections
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    recording = True
    cpu_server, cpu_client, started = child.cpu_seconds(), time.process_time(), time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    server_cpu = (child.cpu_seconds() - cpu_server) / elapsed
    client_cpu = (time.process_time() - cpu_client) / elapsed
    for conn in connections:
        conn.close()
    ordered = sorted(latencies)
    return Figures(
        label,
        len(latencies),
        errors,
        elapsed,
        (percentile(ordered, 0.5) or 0.0) * 1000,
        (percentile(ordered, 0.99) or 0.0) * 1000,
        server_cpu,
        client_cpu,
    )


def show(fig: Figures, baseline: Figures | None = None) -> None:
    ratio = f"  {fig.per_second / baseline.per_second:.2f}x of bare" if baseline and baseline.per_second else ""
    print(
        f"  {fig.label:<34} {fig.per_second:>8.0f} check-ins/s   p50 {fig.p50_ms:>7.1f} ms   p99 {fig.p99_ms:>7.1f} ms"
        f"   errors {fig.errors}{ratio}",
        flush=True,
    )
    per_request = fig.server_cpu * 1000 / fig.per_second if fig.per_second else 0.0
    print(
        f"  {'':<34} CPU: server process {fig.server_cpu * 100:.0f}% of a core ({per_request:.2f} ms per request), "
        f"load generator {fig.client_cpu * 100:.0f}% of a core",
        flush=True,
    )
    if fig.client_cpu > 0.9:
        print(f"  {'':<34} (the load generator was saturated: this figure is a lower bound)", flush=True)


async def enrol_fleet(token: str, ca_pem: str, port: int, devices: int, work: Path) -> list[Connection]:
    """Enrol the virtual fleet through the gateway; one mutual-TLS client context per device."""
    fleet = VirtualFleet(
        SimulationConfig(server_url=f"https://127.0.0.1:{port}", token=token, ca_pem=ca_pem, devices=devices, seed=6)
    )
    started = time.perf_counter()
    summary = await fleet.enrol_all(work)
    await fleet.aclose()
    took = time.perf_counter() - started
    print(
        f"  enrolled {summary.enrolled:,}/{devices:,} devices in {took:.1f} s (not timed; each: key, CSR, certificate)"
    )
    for text in fleet.stats.last_errors:
        print(f"  enrolment error: {text}")
    connections = []
    for device in fleet.devices:
        if device.identity_file is None:
            continue
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=ca_pem)
        context.load_cert_chain(str(device.identity_file))
        connections.append(Connection(device, context, port))
    return connections


def run_store(label: str, db: str, args: argparse.Namespace, with_bare: bool) -> tuple[Figures, Figures | None]:
    """Set up one store, enrol the fleet, measure the gateway (and the bare endpoint when asked)."""
    with tempfile.TemporaryDirectory(prefix="mdm-bench-gw-") as tmp:
        folder = Path(tmp)
        token, ca_pem = prepare_store(db, folder, args.devices)
        gateway = start_child("gateway", db, folder)
        try:
            connections = asyncio.run(enrol_fleet(token, ca_pem, gateway.port, args.devices, folder / "fleet"))
            figures = asyncio.run(measure(f"gateway, {label}", gateway, connections, args.seconds, args.concurrency))
        finally:
            gateway.stop()
        bare: Figures | None = None
        if with_bare:
            child = start_child("bare", db, folder)
            try:
                bare = asyncio.run(
                    measure("bare endpoint, same stack", child, connections, args.seconds, args.concurrency)
                )
            finally:
                child.stop()
        return figures, bare


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000, help="virtual devices to enrol (default 1,000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per run (default 20)")
    parser.add_argument("--concurrency", type=int, default=32, help="check-ins in flight at a time (default 32)")
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("MDM_TEST_POSTGRES_URL"))
    parser.add_argument("--serve", choices=("gateway", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args, _other = parser.parse_known_args()  # run_all.py passes every script the same arguments
    if args.serve:
        serve(args.serve, args.db, args.data_dir)
        return 0
    cores = len(os.sched_getaffinity(0))
    print(
        f"Gateway check-ins: {args.devices:,} enrolled virtual devices, each on its own mutual-TLS connection, "
        f"{args.concurrency} check-ins in flight, {args.seconds:.0f} s measured per run."
    )
    print(
        f"Machine: {os.cpu_count()} cores ({cores} usable); gateway = 1 uvicorn worker process (+ its thread pool), "
        f"load generator = this process (1 asyncio loop). Load average before: {os.getloadavg()[0]:.2f}."
    )
    started = time.perf_counter()
    results: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="mdm-bench-gw-db-") as tmp:
        sqlite, bare = run_store("SQLite", f"sqlite:///{Path(tmp) / 'gateway.sqlite3'}", args, with_bare=True)
    assert bare is not None
    results.append(sqlite)
    if args.postgres:
        with fresh_postgres(args.postgres) as url:
            postgres, _ = run_store("PostgreSQL", url, args, with_bare=False)
        results.append(postgres)
    else:
        print("  (PostgreSQL skipped: set MDM_TEST_POSTGRES_URL or pass --postgres URL)")
    print("Results:")
    show(bare)
    for fig in results:
        show(fig, bare)
    for fig in results:
        ratio = fig.per_second / bare.per_second if bare.per_second else 0.0
        verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
        print(f"  {fig.label}: {ratio:.2f}x of the bare endpoint ({verdict} the {TARGET_RATIO}x target)")
    print(f"  load average after: {os.getloadavg()[0]:.2f} (the machine is shared; figures vary run to run)")
    print(f"(benchmark took {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
