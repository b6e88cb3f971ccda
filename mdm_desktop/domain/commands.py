"""Remote command vocabulary and lifecycle."""

from __future__ import annotations

import enum


class CommandType(enum.StrEnum):
    """What the console can ask a device to do."""

    LOCK = "lock"
    WIPE = "wipe"
    SELECTIVE_WIPE = "selective_wipe"
    LOST_MODE = "lost_mode"
    OS_UPDATE = "os_update"
    INSTALL_APP = "install_app"
    REMOVE_APP = "remove_app"
    REFRESH_INVENTORY = "refresh_inventory"
    MESSAGE = "message"
    RESTART = "restart"
    RETIRE = "retire"

    @property
    def destructive(self) -> bool:
        """True for commands that destroy data or end management."""
        return self in DESTRUCTIVE_COMMANDS

    @property
    def label(self) -> str:
        """Human-readable name."""
        return self.value.replace("_", " ").capitalize().replace("Os ", "OS ")


DESTRUCTIVE_COMMANDS = frozenset({CommandType.WIPE, CommandType.SELECTIVE_WIPE, CommandType.RETIRE})


class CommandStatus(enum.StrEnum):
    """queued -> delivered -> acknowledged | failed | expired | cancelled."""

    QUEUED = "queued"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        """True once the command can no longer change state."""
        return self not in (CommandStatus.QUEUED, CommandStatus.DELIVERED)

    @property
    def label(self) -> str:
        """Human-readable name."""
        return self.value.capitalize()


GUARDED_COMMANDS = frozenset({CommandType.WIPE, CommandType.RETIRE})
"""Commands that always need a second administrator's approval, whatever the number of devices."""

CLI_NAMES: dict[str, CommandType] = {t.value.replace("_", "-"): t for t in CommandType} | {
    "refresh": CommandType.REFRESH_INVENTORY
}
"""Names the CLI accepts (``selective-wipe``, ``lost-mode``, ``refresh``, ...)."""

MAX_DEVICES_PER_SEND = 5000
MAX_REASON = 1000
MAX_MESSAGE = 1000


class ApprovalStatus(enum.StrEnum):
    """pending -> approved | rejected | expired."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        """Human-readable name."""
        return self.value.capitalize()


def parse_command_type(text: str) -> CommandType | None:
    """The command type named by ``text`` (``selective-wipe`` or ``selective_wipe``), or ``None``."""
    key = text.strip().lower().replace("_", "-")
    return CLI_NAMES.get(key)


def needs_approval(ctype: CommandType, device_count: int, threshold: int) -> bool:
    """Whether a send must wait for a second administrator.

    Full wipe and retire always do; any other destructive command does when it targets more
    than ``threshold`` devices.
    """
    if ctype in GUARDED_COMMANDS:
        return True
    return ctype.destructive and device_count > threshold


def payload_problems(ctype: CommandType, payload: dict[str, object]) -> list[str]:
    """Plain-words problems with a command's payload (empty when it is fine).

    Only the keys each type uses are checked: ``message`` needs ``text``; ``install_app``
    needs ``identifier`` and ``sha256``; ``remove_app`` needs ``identifier``; ``lost_mode``
    takes ``message``, ``phone`` and ``enable`` (true by default); ``os_update`` takes ``at``.
    """
    problems: list[str] = []

    def text(key: str, *, required: bool, limit: int = 255) -> None:
        value = payload.get(key)
        if value is None or value == "":
            if required:
                problems.append(f"A {ctype.label.lower()} command needs {key.replace('_', ' ')}.")
            return
        if not isinstance(value, str):
            problems.append(f"{key.replace('_', ' ').capitalize()} must be text.")
        elif len(value) > limit:
            problems.append(f"{key.replace('_', ' ').capitalize()} is longer than {limit} characters.")
        elif not value.strip():
            problems.append(f"{key.replace('_', ' ').capitalize()} is empty.")

    if ctype is CommandType.MESSAGE:
        text("text", required=True, limit=MAX_MESSAGE)
    elif ctype is CommandType.INSTALL_APP:
        text("identifier", required=True)
        text("sha256", required=True, limit=64)
    elif ctype is CommandType.REMOVE_APP:
        text("identifier", required=True)
    elif ctype is CommandType.LOST_MODE:
        text("message", required=False, limit=MAX_MESSAGE)
        text("phone", required=False, limit=64)
        if "enable" in payload and not isinstance(payload["enable"], bool):
            problems.append("Lost mode must be switched on or off.")
    elif ctype is CommandType.OS_UPDATE:
        text("at", required=False, limit=64)
    return problems
