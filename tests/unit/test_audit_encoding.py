"""The canonical encoding that audit entry hashes and checkpoint signatures cover is injective."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdm_desktop.domain.audit import (
    EntryFields,
    canonical_json,
    chain_bytes,
    checkpoint_bytes,
    escape_field,
    unescape_field,
    utc_text,
)

TAG = b"mdm-desktop-audit-v2"

texts = st.text(max_size=40) | st.sampled_from(["", "|", "a|b", "{}", '{"d":1}', "\u00e9", "e\u0301"])
moments = st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC))
fields = st.builds(
    EntryFields,
    occurred_at=moments,
    actor_kind=texts,
    actor=texts,
    workstation=texts,
    action=texts,
    target_kind=texts,
    target=texts,
    outcome=texts,
    details=texts,
)
entries = st.tuples(st.integers(0, 2**63), texts, fields)


def decode(data: bytes) -> tuple[str, ...]:
    """The left inverse of :func:`chain_bytes`: the texts it was built from."""
    assert data.startswith(TAG)
    rest, parts = data[len(TAG) :], []
    while rest:
        size = int.from_bytes(rest[:8], "big")
        parts.append(rest[8 : 8 + size].decode("utf-8", "surrogatepass"))
        rest = rest[8 + size :]
    return tuple(parts)


def as_texts(seq: int, prev: str, f: EntryFields) -> tuple[str, ...]:
    return (
        str(seq), prev, utc_text(f.occurred_at), f.actor_kind, f.actor, f.workstation, f.action,
        f.target_kind, f.target, f.outcome, f.details,
    )  # fmt: skip


@given(entries)
def test_encoding_decodes_back_to_every_field(entry: tuple[int, str, EntryFields]) -> None:
    seq, prev, f = entry
    assert decode(chain_bytes(seq, prev, f)) == as_texts(seq, prev, f)


@given(entries, entries)
def test_different_entries_never_encode_to_the_same_bytes(
    a: tuple[int, str, EntryFields], b: tuple[int, str, EntryFields]
) -> None:
    assert (chain_bytes(*a) == chain_bytes(*b)) == (a == b)


@given(fields, st.text(max_size=30), st.integers(0, 30), st.integers(0, 30))
def test_moving_text_across_a_field_boundary_changes_the_bytes(f: EntryFields, joined: str, i: int, j: int) -> None:
    """Splitting the same text differently between two neighbouring fields gives different bytes."""
    i, j = min(i, len(joined)), min(j, len(joined))
    one = EntryFields(f.occurred_at, f.actor_kind, joined[:i], joined[i:], *as_texts(0, "", f)[6:])
    two = EntryFields(f.occurred_at, f.actor_kind, joined[:j], joined[j:], *as_texts(0, "", f)[6:])
    assert (chain_bytes(1, "", one) == chain_bytes(1, "", two)) == (i == j)


def test_separator_characters_cannot_forge_a_boundary() -> None:
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    one = EntryFields(when, "user", "a|b", "c", "x", "", "", "success", "{}")
    two = EntryFields(when, "user", "a", "b|c", "x", "", "", "success", "{}")
    assert chain_bytes(1, "", one) != chain_bytes(1, "", two)
    assert chain_bytes(12, "3", one) != chain_bytes(1, "23", one)


@given(
    st.integers(0, 2**40),
    st.integers(0, 2**40),
    texts,
    moments,
    st.integers(0, 2**40),
    st.integers(0, 2**40),
    texts,
    moments,
)
def test_checkpoint_encoding_is_injective(
    e1: int, s1: int, h1: str, t1: dt.datetime, e2: int, s2: int, h2: str, t2: dt.datetime
) -> None:
    same = (e1, s1, h1, t1) == (e2, s2, h2, t2)
    assert (checkpoint_bytes(e1, s1, h1, t1) == checkpoint_bytes(e2, s2, h2, t2)) == same


def test_naive_times_and_negative_positions_are_refused() -> None:
    f = EntryFields(dt.datetime(2026, 1, 1), "user", "a", "w", "x", "", "", "success", "{}")
    with pytest.raises(ValueError, match="timezone"):
        chain_bytes(1, "", f)
    with pytest.raises(ValueError, match="negative"):
        chain_bytes(-1, "", EntryFields(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "u", "a", "w", "x", "", "", "", ""))


# -- the stored form of text fields (NUL, lone surrogates, backslashes) ------------------------------------------

hostile = st.text(alphabet=st.sampled_from(["\\", "0", "u", "d", "8", "\x00", "\ud800", "\udfff", "a", "\u202e"]))


@given(hostile | st.text())
def test_stored_form_decodes_back_and_holds_no_nul_or_lone_surrogate(value: str) -> None:
    stored = escape_field(value)
    assert unescape_field(stored) == value
    assert "\x00" not in stored
    stored.encode("utf-8")  # a lone surrogate would raise here


@given(hostile, hostile)
def test_distinct_values_never_share_a_stored_form(a: str, b: str) -> None:
    assert (escape_field(a) == escape_field(b)) == (a == b)


@pytest.mark.parametrize(
    "plain", ["", "admin", "CLINIC\\jdoe", "C:\\Temp\\x", "<img src=x>", "\x1b[2J", "\u202eexe.pdf"]
)
def test_ordinary_text_is_stored_as_it_is(plain: str) -> None:
    assert escape_field(plain) == plain


def test_details_json_holds_no_nul_or_lone_surrogate() -> None:
    text = canonical_json({"name": "a\x00b\ud800", "k\x00": 1})
    assert "\x00" not in text
    text.encode("utf-8")
    assert json.loads(text) == {"name": "a\x00b\ud800", "k\x00": 1}
