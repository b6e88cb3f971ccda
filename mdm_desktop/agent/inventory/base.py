"""The probe interface and the small, never-raising helpers every per-OS probe uses.

A probe reads what the operating system says about the machine and returns a
:class:`~mdm_desktop.wire.v1.Inventory`. Every field is best effort: a missing
tool, an unreadable file or an unexpected output gives ``None`` (or an empty
string for text fields), never an exception, so one broken source cannot stop
a check-in.
"""

from __future__ import annotations

import abc
import datetime as dt
import logging
import os
import shutil
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

from mdm_desktop.wire.v1 import InstalledAppReport, Inventory

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_SECONDS = 10.0


class InventoryProbe(abc.ABC):
    """Reads one platform's inventory.

    Args:
        managed_apps: the apps the agent installed in its managed folder (the only apps it
            reports; the machine's whole package list is not the clinic's business).
    """

    def __init__(self, managed_apps: Sequence[InstalledAppReport] = ()) -> None:
        self._managed_apps = list(managed_apps)

    @abc.abstractmethod
    def collect(self) -> Inventory:
        """Read the machine's inventory now (never raises for a missing tool or file)."""

    @property
    def managed_apps(self) -> list[InstalledAppReport]:
        """The managed apps passed in, reported as they are."""
        return list(self._managed_apps)


def _run(args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[bytes] | None:
    """Run a program (no shell) in the C locale; ``None`` when it is missing, hangs or cannot start."""
    if not args or shutil.which(args[0]) is None:
        return None
    try:
        return subprocess.run(  # noqa: S603 - fixed argument lists, no shell
            list(args),
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "LC_ALL": "C", "LANG": "C"},
        )
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.debug("%s failed: %s", args[0], exc)
        return None


def run_tool(args: Sequence[str], *, timeout: float = COMMAND_TIMEOUT_SECONDS) -> str | None:
    """Run a command and return its standard output, or ``None`` if it is missing or fails.

    Args:
        args: the program and its arguments (no shell).
        timeout: seconds before the command is given up.

    Returns:
        The decoded standard output when the command exits with status 0, else ``None``.
    """
    done = _run(args, timeout)
    if done is None or done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", errors="replace")


def run_tool_status(args: Sequence[str], *, timeout: float = COMMAND_TIMEOUT_SECONDS) -> tuple[int, str] | None:
    """Run a command and return ``(exit status, stdout + stderr)``, or ``None`` if it cannot run."""
    done = _run(args, timeout)
    if done is None:
        return None
    return done.returncode, (done.stdout + done.stderr).decode("utf-8", errors="replace")


def read_text(path: Path | str) -> str | None:
    """The file's text, or ``None`` when it is missing or unreadable."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError):
        return None


def file_mtime(path: Path | str) -> dt.datetime | None:
    """The file's modification time in UTC, or ``None`` when it is missing."""
    try:
        return dt.datetime.fromtimestamp(Path(path).stat().st_mtime, tz=dt.UTC)
    except (OSError, ValueError, OverflowError):
        return None


def hostname() -> str:
    """The machine's host name (never empty)."""
    try:
        name = socket.gethostname().strip()
    except OSError:
        name = ""
    return clip(name or "unknown-host", 255)


def clip(text: str | None, limit: int) -> str:
    """``text`` stripped and cut to ``limit`` characters (``""`` for ``None``)."""
    return (text or "").strip()[:limit]


def clip_or_none(text: str | None, limit: int) -> str | None:
    """Like :func:`clip`, but ``None`` when nothing is left."""
    value = clip(text, limit)
    return value or None
