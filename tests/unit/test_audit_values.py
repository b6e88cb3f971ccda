"""Keyed hashes of sensitive audit values: one form, normalised, keyed, never the value in clear."""

from __future__ import annotations

import os
import string

from hypothesis import given
from hypothesis import strategies as st

from mdm_desktop.services.audit_values import (
    PREFIX,
    is_keyed_hash,
    keyed_hash,
    keyed_values,
    normalise,
    resolve_query,
)
from mdm_desktop.services.dto import AuditQuery
from mdm_desktop.store.encryption import FieldCipher

CIPHER = FieldCipher(os.urandom(32), os.urandom(32))
OTHER_KEY = FieldCipher(os.urandom(32), os.urandom(32))


@given(st.text(max_size=300).filter(lambda v: bool(normalise(v))))
def test_every_value_gets_the_documented_form(value: str) -> None:
    hashed = keyed_hash(CIPHER, value)
    assert hashed.startswith(PREFIX)
    assert len(hashed) == len(PREFIX) + 32
    assert is_keyed_hash(hashed)
    assert hashed == keyed_hash(CIPHER, value)  # deterministic: a search finds what was written


@given(
    st.text(alphabet=string.ascii_letters + string.digits + "-_./ ", min_size=1, max_size=60),
    st.sampled_from(["", " ", "\t", "  \n"]),
)
def test_case_and_surrounding_or_repeated_spaces_do_not_matter(value: str, pad: str) -> None:
    if not normalise(value):
        return
    variant = pad + " ".join(value.swapcase().split()).replace(" ", "  ") + pad
    assert keyed_hash(CIPHER, variant) == keyed_hash(CIPHER, value)


def test_different_values_and_keys_give_different_hashes() -> None:
    assert keyed_hash(CIPHER, "PF3ABC12") != keyed_hash(CIPHER, "PF3ABC13")
    assert keyed_hash(CIPHER, "PF3ABC12") != keyed_hash(OTHER_KEY, "PF3ABC12")


def test_audit_hashes_are_not_the_device_search_index() -> None:
    """Another purpose: an audit value cannot be linked to the devices table's blind index."""
    index = CIPHER.blind_index("PF3ABC12", purpose="devices.serial")
    assert index is not None
    assert keyed_hash(CIPHER, "PF3ABC12") != PREFIX + index.hex()


def test_keyed_values_leaves_out_missing_and_blank_values() -> None:
    found = keyed_values(CIPHER, serial="PF3ABC12", hardware_id=None, assigned_to="  ", display_name="")
    assert list(found) == ["serial"]
    assert found["serial"] == keyed_hash(CIPHER, "pf3abc12")
    assert "PF3ABC12" not in repr(found)


def test_is_keyed_hash_rejects_other_text() -> None:
    assert not is_keyed_hash("PF3ABC12")
    assert not is_keyed_hash("kh:" + "0" * 31)
    assert not is_keyed_hash("kh:" + "G" * 32)
    assert not is_keyed_hash("kh:" + "0" * 32 + "\n")


def test_resolve_query_turns_the_value_into_its_hash_as_search_text() -> None:
    query = AuditQuery(action="device.", value=" pf3abc12 ")
    resolved = resolve_query(CIPHER, query)
    assert resolved == AuditQuery(action="device.", text=keyed_hash(CIPHER, "PF3ABC12"))
    assert resolve_query(CIPHER, AuditQuery(value="   ")) == AuditQuery()
    assert resolve_query(CIPHER, AuditQuery(text="lost")) == AuditQuery(text="lost")
