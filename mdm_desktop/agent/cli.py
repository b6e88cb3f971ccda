"""Command line of the device side: ``agent enroll|run|status`` and ``simulate``.

Registered as ``mdm-desktop agent ...`` and ``mdm-desktop simulate ...``, and runnable alone as
``python -m mdm_desktop.agent ...`` (this module imports only the standard library at start, so the
agent runs without the console's dependencies). Errors meant for a person are one line on stderr
and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

EXIT_OK = 0
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
PROG = "mdm-agent"


class UsageError(ValueError):
    """Bad command-line input; the message says what to give instead."""


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be more than 0")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be 1 or more")
    return value


def _data_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="the agent's data folder: key, certificate, state, managed folder "
        "(default: the user data folder 'mdm-agent', e.g. ~/.local/share/mdm-agent)",
    )


def _pinning_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", metavar="URL", help="the gateway, e.g. https://gateway.clinic.lan:8443")
    parser.add_argument(
        "--token", required=True, metavar="TOKEN", help="the enrolment token (or the whole text of the QR code)"
    )
    parser.add_argument(
        "--fingerprint",
        metavar="SHA256",
        help="the site CA's SHA-256 fingerprint shown with the token (needed unless the token text holds it)",
    )
    parser.add_argument(
        "--ca-file",
        type=Path,
        metavar="FILE",
        help="the site CA certificate, if the gateway does not present it (checked against the fingerprint)",
    )


def add_parsers(commands: Any, parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser) -> None:
    """Add ``agent`` (enroll, run, status, inventory) and ``simulate`` to a subcommand collection."""
    agent = commands.add_parser(
        "agent",
        help="the reference device agent: enrol this computer and report its inventory",
        description="The reference agent for laptops and workstations: enrols this computer into the clinic's "
        "gateway, reports its real inventory (OS, kernel, vendor and model, serial, disk encryption, screen "
        "lock, firewall, last OS update) and carries out the commands the console queues.",
    )
    agent.set_defaults(handler=run_handler)
    agent_commands = agent.add_subparsers(title="commands", metavar="COMMAND", required=True, parser_class=parser_class)
    add_agent_commands(agent_commands)
    add_simulate_parser(commands)


def add_agent_commands(agent_commands: Any) -> None:
    """Add ``enroll``, ``run``, ``status`` and ``inventory``."""
    enroll = agent_commands.add_parser(
        "enroll",
        help="enrol this computer with a token",
        description="Enrol this computer: pin the site CA by its fingerprint, create the device key (owner-only "
        "file), send the token, a certificate request and the inventory, and keep the certificate. The token "
        "is sent only after the gateway has proved it holds a certificate from the pinned CA.",
    )
    _pinning_options(enroll)
    enroll.add_argument(
        "--accept-byod-notice",
        action="store_true",
        help="for a personally owned (BYOD) device: the user has read the clinic's notice (printed) and accepts it; "
        "without this option the agent asks, or refuses to enrol when it cannot ask",
    )
    _data_dir_option(enroll)
    enroll.set_defaults(agent_handler=_cmd_enroll)
    run = agent_commands.add_parser(
        "run",
        help="check in and carry out commands (until stopped, or once)",
        description="Check in with the gateway over mutual TLS, carry out the commands received and report "
        "their results, then wait for the check-in interval the gateway asks for (or --interval).",
    )
    run.add_argument("--once", action="store_true", help="check in once and exit")
    run.add_argument("--interval", type=_positive_float, metavar="S", help="seconds between check-ins")
    _data_dir_option(run)
    run.set_defaults(agent_handler=_cmd_run)
    status = agent_commands.add_parser(
        "status", help="show the enrolment", description="Show the server, device id and check-in state."
    )
    status.add_argument("--json", action="store_true", help="print a JSON object")
    _data_dir_option(status)
    status.set_defaults(agent_handler=_cmd_status)
    inventory = agent_commands.add_parser(
        "inventory",
        help="print this computer's inventory",
        description="Print the inventory the agent would report, as JSON (nothing is sent).",
    )
    _data_dir_option(inventory)
    inventory.set_defaults(agent_handler=_cmd_inventory)
    for parser in (enroll, run, status, inventory):
        parser.set_defaults(handler=run_handler)


def add_simulate_parser(commands: Any) -> None:
    """Add ``simulate`` (the virtual fleet)."""
    simulate = commands.add_parser(
        "simulate",
        help="run a virtual fleet of devices against a gateway",
        description="Run many virtual devices in one process: each enrols with its own key and certificate, "
        "checks in with realistic inventory that drifts over time, and carries out commands with realistic "
        "delays and occasional failures. Prints a live summary (enrolled, check-ins per second, p50/p99 latency).",
    )
    _pinning_options(simulate)
    simulate.add_argument("--devices", type=_positive_int, required=True, metavar="N", help="number of devices")
    simulate.add_argument(
        "--mix",
        default="ios=40,android=40,windows=15,macos=5",
        metavar="P=W,...",
        help="platform weights (ios, ipados, android, windows, macos, linux); default ios=40,android=40,windows=15,"
        "macos=5",
    )
    simulate.add_argument(
        "--interval", type=_positive_float, default=60.0, metavar="S", help="seconds between check-ins"
    )
    simulate.add_argument(
        "--duration", type=_positive_float, metavar="S", help="stop after S seconds (default: Ctrl-C)"
    )
    simulate.add_argument("--seed", type=int, metavar="N", help="seed for reproducible devices and drift")
    simulate.add_argument(
        "--insecure-trust-first-use",
        action="store_true",
        help="without a fingerprint, trust the CA the gateway presents (load tests on a lab network only)",
    )
    simulate.set_defaults(handler=run_handler, agent_handler=_cmd_simulate)


def build_parser() -> argparse.ArgumentParser:
    """The standalone parser (``python -m mdm_desktop.agent enroll|run|status|inventory|simulate``)."""
    parser = argparse.ArgumentParser(prog=PROG, description="MDM Desktop reference agent and virtual fleet.")
    parser.add_argument("--verbose", action="store_true", help="log what the agent does")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    add_agent_commands(commands)
    add_simulate_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    if getattr(args, "verbose", False):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return run_handler(args)


def run_handler(args: argparse.Namespace) -> int:
    """Run the chosen handler and turn the errors meant for people into one line and exit code 2."""
    from mdm_desktop.agent.client import GatewayError
    from mdm_desktop.agent.keys import FingerprintError
    from mdm_desktop.agent.state import AgentStateError
    from mdm_desktop.agent.tls import PinningError

    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "agent_handler", None)
    if handler is None:
        print(f"{PROG}: error: choose a command; see --help", file=sys.stderr)
        return EXIT_ERROR
    try:
        return handler(args)
    except (GatewayError, PinningError, AgentStateError, FingerprintError, UsageError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"{PROG}: error: {exc.strerror or exc} ({exc.filename or 'network'})", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: stopped.", file=sys.stderr)
        return EXIT_INTERRUPTED


# -- enrolment text ----------------------------------------------------------------------------------------------


def parse_enrolment_text(
    token: str, server: str | None, fingerprint: str | None, *, require_fingerprint: bool = True
) -> tuple[str, str, str]:
    """``(server, token, fingerprint)`` from the options, or from the QR text pasted as the token.

    The QR text is ``mdmdesktop://enroll?server=...&token=...&ca_sha256=...``; a JSON object with the same
    keys (or ``url``, ``fingerprint``, ``ca_fingerprint``) is accepted too. Explicit options win.

    Returns:
        The server URL, the token and the normalised fingerprint (``""`` when none was given and
        ``require_fingerprint`` is false).

    Raises:
        UsageError: when the server or the fingerprint is missing.
    """
    from mdm_desktop.agent.keys import normalise_fingerprint

    found: dict[str, str] = {}
    text = token.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise UsageError("the token text looks like JSON but cannot be read; paste it whole") from None
        if isinstance(data, dict):
            found = {str(k).lower(): str(v) for k, v in data.items() if isinstance(v, str | int)}
    elif "?" in text and "=" in text:
        query = parse_qs(urlsplit(text).query)
        found = {k.lower(): v[0] for k, v in query.items() if v}
        parts = urlsplit(text)
        if parts.scheme == "https" and parts.netloc:
            found.setdefault("server", f"https://{parts.netloc}")
    token_value = found.get("token") or (text if not found else "")
    server_value = server or found.get("server") or found.get("url") or found.get("server_url")
    print_value = (
        fingerprint
        or found.get("ca_sha256")
        or found.get("fingerprint")
        or found.get("ca_fingerprint")
        or found.get("fp")
    )
    if not token_value:
        raise UsageError("no enrolment token given; pass --token with the token shown by the console")
    if not server_value:
        raise UsageError("no gateway address given; pass --server https://HOST:PORT")
    if not print_value and not require_fingerprint:
        return server_value, token_value, ""
    if not print_value:
        raise UsageError(
            "no CA fingerprint given; pass --fingerprint with the SHA-256 fingerprint shown with the token"
        )
    return server_value, token_value, normalise_fingerprint(print_value)


def _store(args: argparse.Namespace) -> Any:
    from mdm_desktop.agent.state import AgentStore, default_data_dir

    return AgentStore(args.data_dir or default_data_dir())


# -- handlers ----------------------------------------------------------------------------------------------------


def _cmd_enroll(args: argparse.Namespace) -> int:
    from mdm_desktop.agent.runner import enroll_device

    server, token, fingerprint = parse_enrolment_text(args.token, args.server, args.fingerprint)
    store = _store(args)
    if store.is_enrolled():
        raise UsageError(
            f"this computer is already enrolled (data folder {store.data_dir}); retire it from the console or use "
            "another --data-dir"
        )
    state = enroll_device(
        store,
        server,
        token,
        fingerprint,
        ca_file=args.ca_file,
        accept_notice=lambda text: accept_byod_notice(text, accepted=args.accept_byod_notice),
    )
    print(f"Enrolled as device {state.device_id} with {state.server_url}.")
    print(f"Data folder: {store.data_dir}. Start checking in with: mdm-desktop agent run")
    return EXIT_OK


def accept_byod_notice(
    text: str,
    *,
    accepted: bool,
    ask: Callable[[str], str] = input,
    interactive: Callable[[], bool] = lambda: sys.stdin.isatty(),
) -> bool:
    """Show the BYOD notice; accepted by ``--accept-byod-notice`` or by answering yes at the prompt.

    Without the option and without a terminal to ask on, the answer is no (and the user is told
    how to accept), so a script never enrols a personal device by accident.
    """
    print("This enrolment is for a personally owned device. Please read what the clinic can and cannot do:")
    print()
    print(textwrap.fill(text, width=100))
    print()
    if accepted:
        print("Accepted with --accept-byod-notice.")
        return True
    if not interactive():
        print(
            f"{PROG}: the device user must accept this notice: run again with --accept-byod-notice once they have.",
            file=sys.stderr,
        )
        return False
    try:
        answer = ask("Do you accept and enrol this device? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _cmd_run(args: argparse.Namespace) -> int:
    from mdm_desktop.agent.runner import AgentRunner

    runner = AgentRunner(_store(args))
    if args.once:
        summary = runner.run_once()
        print(f"Checked in: {summary.commands} commands carried out, {summary.results_sent} results sent.")
        if summary.retired:
            print("The device was retired: its identity and managed folder were deleted.")
        return EXIT_OK
    runner.run_forever(interval=args.interval, report=lambda text: print(text, flush=True))
    return EXIT_OK


def _cmd_status(args: argparse.Namespace) -> int:
    state = _store(args).load_state()
    data = {
        "server": state.server_url,
        "device_id": state.device_id,
        "ca_fingerprint": state.ca_fingerprint,
        "enrolled_at": state.enrolled_at.isoformat(),
        "sequence": state.sequence,
        "checkin_interval_seconds": state.checkin_interval_seconds,
        "policy_version": state.policy_version,
        "quarantined": state.quarantined,
        "results_not_sent": len(state.unsent_results),
    }
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        for key, value in data.items():
            print(f"{key.replace('_', ' ')}: {value}")
    return EXIT_OK


def _cmd_inventory(args: argparse.Namespace) -> int:
    from mdm_desktop.agent.commands import installed_apps
    from mdm_desktop.agent.inventory import probe_for_this_machine

    print(probe_for_this_machine(installed_apps(_store(args))).collect().model_dump_json(indent=2))
    return EXIT_OK


def _cmd_simulate(args: argparse.Namespace) -> int:
    from mdm_desktop.agent.simulator import run_simulation_cli

    return run_simulation_cli(args)
