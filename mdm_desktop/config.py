"""Where things live: the store URL, the key file and the data folder.

Resolution order for the store: ``--db URL`` > ``MDM_DATABASE_URL`` > a SQLite
file in the platform's user data folder. A bare path is accepted as a SQLite file.
The key file: ``--key-file`` > ``MDM_KEY_FILE`` > ``keys/kek.json`` in the data folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "mdm-desktop"


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """The user data folder (``MDM_DATA_DIR`` overrides the platform default)."""
    env = os.environ if env is None else env
    if env.get("MDM_DATA_DIR"):
        return Path(env["MDM_DATA_DIR"]).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def normalize_db_url(value: str) -> str:
    """Accept a SQLAlchemy URL or a plain file path (taken as a SQLite file)."""
    if "://" in value:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        return value
    return "sqlite:///" + str(Path(value).expanduser().resolve())


@dataclass(frozen=True, slots=True)
class Config:
    """Resolved settings handed to :mod:`mdm_desktop.app`."""

    db_url: str
    key_file: Path
    data_dir: Path

    @classmethod
    def resolve(
        cls,
        db: str | None = None,
        key_file: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Config:
        """Resolve settings from arguments, then environment, then defaults."""
        env = os.environ if env is None else env
        data_dir = default_data_dir(env)
        raw_db = db or env.get("MDM_DATABASE_URL") or str(data_dir / "mdm-desktop.sqlite3")
        raw_key = key_file or env.get("MDM_KEY_FILE") or str(data_dir / "keys" / "kek.json")
        return cls(db_url=normalize_db_url(raw_db), key_file=Path(raw_key).expanduser(), data_dir=data_dir)
