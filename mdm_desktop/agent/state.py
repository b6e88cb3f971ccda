"""The agent's data folder: its key, certificate, pinned CA, check-in state and managed folder.

Layout (the folder and the key are owner-only)::

    <data dir>/            0700 (default: the platform's user data folder "mdm-agent")
      device.key           0600  EC P-256 private key, never leaves the device
      device.crt                 certificate issued by the gateway at enrolment
      ca.crt                     the site CA, pinned by its SHA-256 fingerprint
      state.json           0600  server, device id, next check-in sequence, command results
      managed/                   the only place the agent installs apps or keeps clinic data
        apps/<identifier>/       one folder per installed app (package + manifest.json)
        data/                    clinic data; a selective wipe deletes all of managed/
      messages.log               messages from the clinic when no desktop notification is possible
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mdm_desktop.agent.keys import ensure_private_dir, write_private_file
from mdm_desktop.wire.v1 import CommandResult

MAX_REMEMBERED_COMMANDS = 1000
APP_NAME = "mdm-agent"


class AgentStateError(RuntimeError):
    """The data folder is missing, not enrolled, or damaged; the message says what to do."""


class AgentState(BaseModel):
    """What the agent remembers between runs (``state.json``)."""

    model_config = ConfigDict(extra="ignore")

    server_url: str
    device_id: str
    ca_fingerprint: str
    enrolled_at: dt.datetime
    sequence: Annotated[int, Field(ge=0)] = 0
    checkin_interval_seconds: int = 900
    policy_version: str | None = None
    quarantined: bool = False
    byod_notice: str = ""
    executed: dict[str, CommandResult] = {}
    """Results of commands already carried out, by command id (newest last, capped)."""
    unsent_results: list[str] = []
    """Ids in :attr:`executed` whose result the gateway has not confirmed yet."""

    def remember(self, result: CommandResult) -> None:
        """Record a command's result (so a repeated command is answered, not run again) and queue it for sending."""
        self.executed[result.command_id] = result
        if result.command_id not in self.unsent_results:
            self.unsent_results.append(result.command_id)
        while len(self.executed) > MAX_REMEMBERED_COMMANDS:
            oldest = next(iter(self.executed))
            if oldest in self.unsent_results:
                break
            del self.executed[oldest]

    def pending_results(self) -> list[CommandResult]:
        """Results still to be confirmed by the gateway."""
        return [self.executed[i] for i in self.unsent_results if i in self.executed]

    def confirm_sent(self, command_ids: list[str]) -> None:
        """The gateway has these results."""
        done = set(command_ids)
        self.unsent_results = [i for i in self.unsent_results if i not in done]


def default_data_dir() -> Path:
    """The platform's per-user data folder for the agent (``~/.local/share/mdm-agent`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


class AgentStore:
    """Reads and writes the agent's data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    @property
    def key_path(self) -> Path:
        return self.data_dir / "device.key"

    @property
    def certificate_path(self) -> Path:
        return self.data_dir / "device.crt"

    @property
    def ca_path(self) -> Path:
        return self.data_dir / "ca.crt"

    @property
    def state_path(self) -> Path:
        return self.data_dir / "state.json"

    @property
    def managed_dir(self) -> Path:
        return self.data_dir / "managed"

    @property
    def messages_path(self) -> Path:
        return self.data_dir / "messages.log"

    def prepare(self) -> None:
        """Create the owner-only data folder and the managed folder."""
        ensure_private_dir(self.data_dir)
        (self.managed_dir / "apps").mkdir(parents=True, exist_ok=True)
        (self.managed_dir / "data").mkdir(parents=True, exist_ok=True)

    def is_enrolled(self) -> bool:
        """True when the key, certificate, CA and state are all present."""
        return all(p.is_file() for p in (self.key_path, self.certificate_path, self.ca_path, self.state_path))

    def save_identity(self, key_pem: bytes, certificate_pem: str, ca_pem: str) -> None:
        """Store the device key (owner-only), its certificate and the pinned CA."""
        self.prepare()
        write_private_file(self.key_path, key_pem)
        write_private_file(self.certificate_path, certificate_pem.encode("ascii"))
        write_private_file(self.ca_path, ca_pem.encode("ascii"))

    def load_state(self) -> AgentState:
        """The saved state.

        Raises:
            AgentStateError: when the agent is not enrolled or its files are damaged.
        """
        if not self.is_enrolled():
            raise AgentStateError(
                f"this device is not enrolled (no identity in {self.data_dir}); run 'mdm-desktop agent enroll' first"
            )
        try:
            return AgentState.model_validate(json.loads(self.state_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, ValidationError) as exc:
            raise AgentStateError(
                f"the agent state in {self.state_path} cannot be read ({type(exc).__name__}); enrol the device again"
            ) from exc

    def save_state(self, state: AgentState) -> None:
        """Write the state atomically (owner-only)."""
        write_private_file(self.state_path, state.model_dump_json(indent=2).encode("utf-8"))

    def forget_identity(self) -> None:
        """Delete the key, certificate, CA and state (after retirement)."""
        for path in (self.key_path, self.certificate_path, self.ca_path, self.state_path):
            path.unlink(missing_ok=True)

    def wipe_managed(self) -> int:
        """Delete the managed folder and everything in it, then recreate it empty.

        Returns:
            The number of files deleted.
        """
        count = 0
        if self.managed_dir.is_dir() and not self.managed_dir.is_symlink():
            count = sum(len(files) for _, _, files in os.walk(self.managed_dir))
            shutil.rmtree(self.managed_dir)
        elif self.managed_dir.is_symlink():
            self.managed_dir.unlink()  # never follow a link out of the folder the agent owns
        self.prepare()
        return count
