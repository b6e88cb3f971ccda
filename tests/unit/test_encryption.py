"""Field encryption: round trip, binding to table/column/row, tamper detection, no clear text."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdm_desktop.domain.errors import KeyMaterialError
from mdm_desktop.store.encryption import FieldCipher, SealedBytes

CIPHER = FieldCipher(os.urandom(32), os.urandom(32))


@given(st.text(max_size=300))
def test_seal_open_round_trip(value: str) -> None:
    sealed = CIPHER.seal(value, table="devices", column="serial", row="r1")
    assert sealed is not None
    assert CIPHER.open(sealed, table="devices", column="serial", row="r1") == value
    if len(value) >= 4:
        assert value.encode() not in sealed


def test_none_stays_none() -> None:
    assert CIPHER.seal(None, table="t", column="c", row="r") is None
    assert CIPHER.open(None, table="t", column="c", row="r") is None
    assert CIPHER.blind_index(None, purpose="p") is None


@pytest.mark.parametrize(
    ("table", "column", "row"),
    [("users", "serial", "r1"), ("devices", "assigned_to", "r1"), ("devices", "serial", "r2")],
)
def test_value_moved_to_another_place_does_not_open(table: str, column: str, row: str) -> None:
    sealed = CIPHER.seal("C02XK1ABJG5H", table="devices", column="serial", row="r1")
    with pytest.raises(KeyMaterialError):
        CIPHER.open(sealed, table=table, column=column, row=row)


def test_flipped_bit_is_detected() -> None:
    sealed = bytearray(CIPHER.seal("R58N12ABCDE", table="devices", column="serial", row="r1") or b"")
    sealed[-1] ^= 0x01
    with pytest.raises(KeyMaterialError, match="could not be decrypted"):
        CIPHER.open(bytes(sealed), table="devices", column="serial", row="r1")


def test_other_key_cannot_open() -> None:
    sealed = CIPHER.seal("secret", table="t", column="c", row="r")
    other = FieldCipher(os.urandom(32), os.urandom(32))
    with pytest.raises(KeyMaterialError):
        other.open(sealed, table="t", column="c", row="r")


def test_nonces_differ_between_seals() -> None:
    a = CIPHER.seal("same", table="t", column="c", row="r")
    b = CIPHER.seal("same", table="t", column="c", row="r")
    assert a != b


def test_blind_index_is_keyed_and_normalised() -> None:
    assert CIPHER.blind_index("Ab 12", purpose="p") == CIPHER.blind_index("  ab   12 ", purpose="p")
    assert CIPHER.blind_index("Ab 12", purpose="p") != CIPHER.blind_index("Ab 12", purpose="q")
    other = FieldCipher(os.urandom(32), os.urandom(32))
    assert other.blind_index("Ab 12", purpose="p") != CIPHER.blind_index("Ab 12", purpose="p")


@pytest.mark.parametrize("value", ["clear text", b"clear bytes", 42])
def test_sealed_column_type_refuses_clear_text(value: object) -> None:
    with pytest.raises(TypeError, match="sealed"):
        SealedBytes().process_bind_param(value, dialect=None)  # type: ignore[arg-type]


def test_wrong_key_length_is_refused() -> None:
    with pytest.raises(KeyMaterialError):
        FieldCipher(b"short", os.urandom(32))
