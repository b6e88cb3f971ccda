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
        return self.value.replace("_", " ").capitalize()


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
