"""Carrying out the commands the gateway hands the agent, each answered by a :class:`CommandResult`.

The desktop agent does what an ordinary user process can do and nothing destructive to the host:

* ``lock``: lock the desktop session (``loginctl lock-session`` on Linux, ``pmset displaysleepnow`` on
  macOS, ``LockWorkStation`` on Windows).
* ``message``: a desktop notification, always also written to ``messages.log``.
* ``refresh_inventory``: collect the inventory again and check in at once.
* ``selective_wipe``: delete the managed folder the agent owns (its apps and clinic data), nothing else.
* ``install_app`` / ``remove_app``: into / out of the managed folder; the package is downloaded from the
  gateway by hash and its SHA-256 checked before anything is installed.
* ``retire``: acknowledge, then delete the managed folder and the device's identity.
* ``wipe`` (full wipe) is reported ``unsupported`` and never attempted; so are restart, OS update, lost
  mode and any type the agent does not know.

Commands are idempotent by id: a command seen before is answered with its remembered result.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mdm_desktop.agent.inventory.base import run_tool_status
from mdm_desktop.agent.state import AgentState, AgentStore
from mdm_desktop.wire.v1 import CommandOutcome, CommandResult, InstalledAppReport, PendingCommand

Downloader = Callable[[str | None, str, Path], int]
"""``(url or None, sha256, destination) -> bytes written``; raises on failure or hash mismatch."""
ToolRunner = Callable[[Sequence[str]], tuple[int, str] | None]

IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
MANIFEST = "manifest.json"
PACKAGE = "package"
MAX_MESSAGE = 4096

UNSUPPORTED_DETAIL = {
    "wipe": "a full wipe is not supported by the desktop agent and was not attempted; "
    "use selective wipe, or reinstall the machine by hand",
    "restart": "restarting the computer is not supported by the desktop agent",
    "os_update": "OS updates are not installed by the desktop agent; use the system's update tool",
    "lost_mode": "lost mode is not supported by the desktop agent",
}


class CommandFailedError(RuntimeError):
    """A command that could not be carried out; the message is the result's detail."""


@dataclass
class ExecutionEffects:
    """What the runner must do after reporting the results."""

    refresh_inventory: bool = False
    retire: bool = False
    messages: list[str] = field(default_factory=list)


def lock_commands(system: str) -> list[list[str]]:
    """Commands that lock the current session on ``system`` (``sys.platform``), tried in order."""
    if system == "darwin":
        return [["pmset", "displaysleepnow"]]
    if system == "win32":
        return [["rundll32.exe", "user32.dll,LockWorkStation"]]
    return [
        ["loginctl", "lock-session"],
        ["xdg-screensaver", "lock"],
        ["gnome-screensaver-command", "--lock"],
        ["dm-tool", "lock"],
    ]


def notify_command(system: str, text: str) -> list[str]:
    """A command that shows ``text`` as a desktop notification (the text is passed as an argument, never parsed)."""
    title = "Message from the clinic IT"
    if system == "darwin":
        return [
            "osascript",
            "-e",
            "on run argv",
            "-e",
            f'display notification (item 1 of argv) with title "{title}"',
            "-e",
            "end run",
            text,
        ]
    if system == "win32":
        return ["msg", "*", text]
    return ["notify-send", "--app-name=MDM Desktop", title, text]


def installed_apps(store: AgentStore) -> list[InstalledAppReport]:
    """The apps installed in the managed folder, from their manifests (damaged ones skipped)."""
    apps: list[InstalledAppReport] = []
    root = store.managed_dir / "apps"
    if not root.is_dir():
        return apps
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            apps.append(
                InstalledAppReport(
                    identifier=str(manifest["identifier"]),
                    name=str(manifest.get("name") or manifest["identifier"]),
                    version=str(manifest.get("version", ""))[:64],
                    managed=True,
                )
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return apps


class CommandExecutor:
    """Runs commands for one enrolled agent.

    Args:
        store: the agent's data folder (managed folder, messages log).
        download: fetches an app package from the gateway and checks its hash.
        system: ``sys.platform`` of the host (tests pass another).
        run: runs a tool and returns ``(status, output)`` or ``None`` when missing (tests pass a fake).
        now: the clock.
    """

    def __init__(
        self,
        store: AgentStore,
        download: Downloader,
        *,
        system: str = sys.platform,
        run: ToolRunner = run_tool_status,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._store = store
        self._download = download
        self._system = system
        self._run = run
        self._now = now
        self._handlers: Mapping[str, Callable[[Mapping[str, Any], ExecutionEffects], str]] = {
            "lock": self._lock,
            "message": self._message,
            "refresh_inventory": self._refresh,
            "refresh": self._refresh,
            "selective_wipe": self._selective_wipe,
            "install_app": self._install_app,
            "remove_app": self._remove_app,
            "retire": self._retire,
        }

    def execute_all(self, commands: Sequence[PendingCommand], state: AgentState) -> ExecutionEffects:
        """Run each command once (in order) and remember its result in ``state``."""
        effects = ExecutionEffects()
        for command in commands:
            self.execute(command, state, effects)
        return effects

    def execute(self, command: PendingCommand, state: AgentState, effects: ExecutionEffects) -> CommandResult:
        """Run one command, or return its remembered result when it was run before."""
        known = state.executed.get(command.command_id)
        if known is not None:
            if command.command_id not in state.unsent_results:
                state.unsent_results.append(command.command_id)  # the gateway asks again: answer again
            return known
        handler = self._handlers.get(command.type)
        if handler is None:
            detail = UNSUPPORTED_DETAIL.get(
                command.type, f"the desktop agent does not know the command '{command.type}'"
            )
            result = CommandResult(command_id=command.command_id, outcome=CommandOutcome.UNSUPPORTED, detail=detail)
        else:
            try:
                detail = handler(command.payload, effects)
                outcome = CommandOutcome.ACKNOWLEDGED
            except CommandFailedError as exc:
                outcome, detail = CommandOutcome.FAILED, str(exc)
            except OSError as exc:
                outcome, detail = CommandOutcome.FAILED, f"file system error: {exc.strerror or exc}"
            except Exception as exc:
                outcome, detail = CommandOutcome.FAILED, f"unexpected error ({type(exc).__name__}: {exc})"
            result = CommandResult(command_id=command.command_id, outcome=outcome, detail=detail[:4096])
        state.remember(result)
        return result

    # -- handlers ------------------------------------------------------------------------------------------------

    def _lock(self, payload: Mapping[str, Any], effects: ExecutionEffects) -> str:
        tried: list[str] = []
        for args in lock_commands(self._system):
            done = self._run(args)
            if done is None:
                continue
            status, output = done
            if status == 0:
                return f"session locked ({args[0]})"
            tried.append(f"{args[0]}: {' '.join(output.split())[:200] or f'exit status {status}'}")
        if not tried:
            raise CommandFailedError("no screen-locking tool is available on this computer")
        raise CommandFailedError("the session could not be locked (" + "; ".join(tried) + ")")

    def _message(self, payload: Mapping[str, Any], effects: ExecutionEffects) -> str:
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            raise CommandFailedError("the message command has no text")
        text = text.strip()[:MAX_MESSAGE]
        self._store.prepare()
        with self._store.messages_path.open("a", encoding="utf-8") as log:
            log.write(f"{self._now().isoformat(timespec='seconds')} {' '.join(text.splitlines())}\n")
        effects.messages.append(text)
        done = self._run(notify_command(self._system, text))
        if done is not None and done[0] == 0:
            return "message shown as a desktop notification"
        return f"no desktop notification possible; message written to {self._store.messages_path.name}"

    def _refresh(self, payload: Mapping[str, Any], effects: ExecutionEffects) -> str:
        effects.refresh_inventory = True
        return "inventory collected again and sent"

    def _selective_wipe(self, payload: Mapping[str, Any], effects: ExecutionEffects) -> str:
        count = self._store.wipe_managed()
        return f"managed folder deleted ({count} files); nothing outside it was touched"

    def _retire(self, payload: Mapping[str, Any], effects: ExecutionEffects) -> str:
        effects.retire = True
        return "retiring: the managed folder and the device identity will be deleted"

    def _install_app(self, payload: Mapping[str, Any], effects: ExecutionEffects) -> str:
        identifier = _identifier(payload)
        sha256 = payload.get("sha256")
        if not isinstance(sha256, str) or not SHA256.match(sha256):
            raise CommandFailedError("the install command has no valid SHA-256 (64 lowercase hex digits)")
        version = str(payload.get("version") or "")[:64]
        name = str(payload.get("name") or identifier)[:255]
        url = payload.get("url")
        if url is not None and not isinstance(url, str):
            raise CommandFailedError("the install command's download address is not text")
        apps = self._store.managed_dir / "apps"
        target = apps / identifier
        manifest_path = target / MANIFEST
        if manifest_path.is_file():
            try:
                current = json.loads(manifest_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                current = {}
            if current.get("sha256") == sha256:
                return f"{name} {version} is already installed"
        self._store.prepare()
        staging = apps / f".{identifier}.{secrets.token_hex(4)}.new"
        staging.mkdir()
        try:
            try:
                size = self._download(url, sha256, staging / PACKAGE)
            except Exception as exc:
                raise CommandFailedError(str(exc)) from exc
            manifest = {
                "identifier": identifier,
                "name": name,
                "version": version,
                "sha256": sha256,
                "size": size,
                "installed_at": self._now().isoformat(timespec="seconds"),
            }
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
            if target.exists():
                old = apps / f".{identifier}.{secrets.token_hex(4)}.old"
                target.rename(old)
                staging.rename(target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                staging.rename(target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return f"{name} {version} installed ({size} bytes, SHA-256 verified)".replace("  ", " ")

    def _remove_app(self, payload: Mapping[str, Any], effects: ExecutionEffects) -> str:
        identifier = _identifier(payload)
        target = self._store.managed_dir / "apps" / identifier
        if target.is_symlink():
            target.unlink()
            return f"{identifier} removed"
        if not target.exists():
            return f"{identifier} was not installed"
        shutil.rmtree(target)
        return f"{identifier} removed"


def _identifier(payload: Mapping[str, Any]) -> str:
    identifier = payload.get("identifier")
    if not isinstance(identifier, str) or not IDENTIFIER.match(identifier) or identifier in {".", ".."}:
        raise CommandFailedError(
            "the app identifier is missing or not a plain name (letters, digits, dots, dashes, underscores)"
        )
    return identifier
