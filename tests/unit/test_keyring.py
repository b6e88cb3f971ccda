"""The key-encryption key file: created owner-only, refused when damaged, exposed or foreign."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from mdm_desktop.domain.errors import KeyMaterialError
from mdm_desktop.security.keyring import load_or_create_kek


def test_created_with_owner_only_permissions(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "kek.json"
    kek = load_or_create_kek(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create_kek(path).key == kek.key


def test_wrap_unwrap_and_foreign_key_is_refused(tmp_path: Path) -> None:
    kek = load_or_create_kek(tmp_path / "a.json")
    other = load_or_create_kek(tmp_path / "b.json")
    data_key = os.urandom(32)
    wrapped = kek.wrap(data_key)
    assert kek.unwrap(wrapped) == data_key
    with pytest.raises(KeyMaterialError, match="does not belong to this store"):
        other.unwrap(wrapped)


def test_group_readable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kek.json"
    load_or_create_kek(path)
    path.chmod(0o644)
    with pytest.raises(KeyMaterialError, match="can be read by other users") as err:
        load_or_create_kek(path)
    assert "chmod 600" in err.value.hint


@pytest.mark.parametrize(
    "content",
    [
        "",
        "not json",
        json.dumps({"format": "other"}),
        json.dumps({"format": "mdm-desktop-kek", "kek": "!!"}),
        json.dumps({"format": "mdm-desktop-kek", "kek": "c2hvcnQ="}),
        "[]",
    ],
)
def test_damaged_file_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "kek.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(KeyMaterialError, match="damaged"):
        load_or_create_kek(path)


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(KeyMaterialError, match="Cannot create"):
        load_or_create_kek(locked / "kek.json")
