"""Configuration resolution: --db, environment, defaults."""

from __future__ import annotations

from pathlib import Path

from mdm_desktop.config import Config, normalize_db_url


def test_default_is_sqlite_in_data_dir(tmp_path: Path) -> None:
    cfg = Config.resolve(env={"MDM_DATA_DIR": str(tmp_path)})
    assert cfg.db_url == f"sqlite:///{tmp_path / 'mdm-desktop.sqlite3'}"
    assert cfg.key_file == tmp_path / "keys" / "kek.json"


def test_argument_beats_environment(tmp_path: Path) -> None:
    env = {"MDM_DATA_DIR": str(tmp_path), "MDM_DATABASE_URL": "postgresql://a@h/db"}
    assert Config.resolve(env=env).db_url == "postgresql+psycopg://a@h/db"
    assert Config.resolve(db=str(tmp_path / "x.db"), env=env).db_url.endswith("x.db")


def test_plain_path_becomes_sqlite_url(tmp_path: Path) -> None:
    assert normalize_db_url(str(tmp_path / "a.sqlite3")) == f"sqlite:///{tmp_path / 'a.sqlite3'}"
    assert normalize_db_url("postgres://u@h:5/d") == "postgresql+psycopg://u@h:5/d"
