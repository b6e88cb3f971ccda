"""Console sign-in cost: Argon2id verification, and a full sign-in (password + TOTP + session) on SQLite.

Prints:

- the Argon2id parameters in production use (``security/passwords.py``);
- one Argon2id verification alone (median of N);
- a full ``AuthService.sign_in`` (user look-up, throttle check, Argon2id verify, TOTP check with its
  replay-protecting UPDATE, session row, audit entry, commit): median and p95 over N sign-ins.
  Each sign-in needs a TOTP time step of its own, so the store runs on an injected clock that
  moves 30 s before each one;
- what each CLI command pays on top of its work: opening the store and resuming the CLI session.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from _util import report, timed

from mdm_desktop.app import open_app
from mdm_desktop.config import Config
from mdm_desktop.domain.accounts import SessionKind
from mdm_desktop.security import totp
from mdm_desktop.security.passwords import DEFAULT_HASHER, PasswordHashing

USER = "bench.admin"
PASSWORD = "violet harbor lantern 93 quietly"


class SteppingClock:
    """Real time plus an offset; :meth:`next_step` moves into the next 30-second TOTP step."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def next_step(self) -> dt.datetime:
        self.offset += dt.timedelta(seconds=totp.STEP_SECONDS)
        return self()


def percentile(samples: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``samples``."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def argon2_figures(rounds: int) -> None:
    print("Argon2id parameters (security/passwords.py DEFAULT_HASHER):")
    print(f"  memory cost {DEFAULT_HASHER.memory_cost:,} KiB ({DEFAULT_HASHER.memory_cost / 1024:.0f} MiB)")
    print(f"  time cost {DEFAULT_HASHER.time_cost} iterations, parallelism {DEFAULT_HASHER.parallelism} lane(s)")
    print(f"  hash length {DEFAULT_HASHER.hash_len} bytes, salt {DEFAULT_HASHER.salt_len} bytes")
    hashing = PasswordHashing()
    stored = hashing.hash(PASSWORD)
    hashing.verify(stored, PASSWORD)  # warm up
    samples = [timed(lambda: hashing.verify(stored, PASSWORD))[1] for _ in range(rounds)]
    report(f"Argon2id verify alone (median of {rounds})", statistics.median(samples))
    report("Argon2id verify alone (p95)", percentile(samples, 0.95))


def sign_in_figures(rounds: int) -> None:
    clock = SteppingClock()
    with tempfile.TemporaryDirectory() as tmp:
        config = Config.resolve(
            db=str(Path(tmp) / "bench.sqlite3"), key_file=str(Path(tmp) / "kek.json"), env={"MDM_DATA_DIR": tmp}
        )
        ctx = open_app(config, clock=clock)  # production Argon2id parameters
        try:
            auth = ctx.services.auth
            auth.create_first_admin(USER, PASSWORD)
            first = auth.sign_in(USER, PASSWORD, kind=SessionKind.CLI)
            enrolment = auth.begin_totp_enrolment(first.principal)
            auth.confirm_totp_enrolment(first.principal, totp.code_at(enrolment.secret, clock.next_step()))
            code = totp.code_at(enrolment.secret, clock.next_step())
            auth.sign_in(USER, PASSWORD, code, kind=SessionKind.CLI)  # warm up caches and connections
            samples: list[float] = []
            last = first
            for _ in range(rounds):
                code = totp.code_at(enrolment.secret, clock.next_step())
                last, ms = timed(lambda c=code: auth.sign_in(USER, PASSWORD, c, kind=SessionKind.CLI))
                samples.append(ms)
            print(f"Full sign-in on SQLite: password + TOTP + CLI session + audit ({rounds} sign-ins):")
            report("sign-in median", statistics.median(samples))
            report("sign-in p95", percentile(samples, 0.95))
            report("sign-in min", min(samples))
            report("sign-in max", max(samples))
            token = last.token
        finally:
            ctx.close()

        def command_overhead() -> None:
            opened = open_app(config, clock=clock)
            try:
                opened.services.sessions.resume(token)
            finally:
                opened.close()

        command_overhead()
        overhead = [timed(command_overhead)[1] for _ in range(rounds)]
        print("Per CLI command (open the store, resume and validate the session):")
        report(f"open store + resume session (median of {rounds})", statistics.median(overhead))
        report("open store + resume session (p95)", percentile(overhead, 0.95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="sign-ins and verifications to time (default 30)")
    args, _other = parser.parse_known_args()  # run_all.py passes every script the same arguments
    started = time.perf_counter()
    argon2_figures(args.rounds)
    sign_in_figures(args.rounds)
    print(f"(benchmark took {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
