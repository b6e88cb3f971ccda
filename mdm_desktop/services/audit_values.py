"""Sensitive values in audit entries as keyed hashes, never in clear, still searchable by value.

Identifiers, names and places (a device's serial number and hardware id, a staff member's name) are
recorded in an entry's details as a *keyed hash*::

    kh:<32 lowercase hex digits>

the first 16 bytes of HMAC-SHA-256, under the store's blind-index key (kept wrapped outside the
database, like the data key), of ``"audit_value|"`` and the value normalised by
:meth:`~mdm_desktop.store.encryption.FieldCipher.blind_index` (runs of whitespace made one space,
leading and trailing whitespace dropped, case folded). For example, the enrolment of a laptop with
serial ``PF3ABC12`` is recorded with ``"serial": "kh:5f0c…"``.

One purpose is used for every kind of value, so a search by value finds it wherever it was recorded
(as a serial, a hardware id or a staff name) and ``" pf3abc12 "`` finds ``PF3ABC12``. Nobody
without the key can tell from an entry, an export or a database copy which value it was, nor link it
to the devices table's own search index (another purpose). :func:`keyed_hash` is the one function
that makes the form, both when an entry is written and when the log is searched
(:func:`resolve_query`): the hash string is rare text, so the free-text index finds it quickly.

A value whose normalised form is empty is not recorded at all.
"""

from __future__ import annotations

import dataclasses
import re

from mdm_desktop.services.dto import AuditQuery
from mdm_desktop.store.encryption import FieldCipher
from mdm_desktop.store.schema import Device
from mdm_desktop.store.unit_of_work import UnitOfWork

PREFIX = "kh:"
"""How a keyed hash starts in an entry's details."""
PURPOSE = "audit_value"
"""The blind-index purpose of audit values (one for every kind of value)."""
KEYED_HASH = re.compile(r"kh:[0-9a-f]{32}")
"""The shape of a keyed hash."""


def normalise(value: str) -> str:
    """``value`` as it is hashed: whitespace runs made one space, trimmed, case folded."""
    return " ".join(value.split()).casefold()


def keyed_hash(cipher: FieldCipher, value: str) -> str:
    """The keyed-hash form (``kh:`` and 32 hex digits) of a sensitive ``value`` for audit details.

    Args:
        cipher: The store's field cipher (its blind-index key).
        value: The value in clear; it is normalised first (see :func:`normalise`).
    """
    digest = cipher.blind_index(normalise(value), purpose=PURPOSE)
    assert digest is not None
    return PREFIX + digest.hex()


def keyed_values(cipher: FieldCipher, **values: str | None) -> dict[str, str]:
    """The given named values as keyed hashes, leaving out those that are ``None`` or blank.

    ``keyed_values(cipher, serial="PF3ABC12", hardware_id=None)`` is ``{"serial": "kh:…"}``: ready to be
    merged into an entry's details.
    """
    return {name: keyed_hash(cipher, value) for name, value in values.items() if value and normalise(value)}


def device_values(uow: UnitOfWork, device_id: int) -> dict[str, str]:
    """A device's serial number and hardware id as keyed hashes (``{}`` for an unknown device).

    For entries about a device whose caller has no identifiers at hand (the lost-mode location view).
    """
    device = uow.session.get(Device, device_id)
    if device is None:
        return {}
    cipher = uow.cipher
    return keyed_values(
        cipher,
        serial=cipher.open(device.serial_sealed, table="devices", column="serial", row=device.uid),
        hardware_id=cipher.open(device.hardware_id_sealed, table="devices", column="hardware_id", row=device.uid),
    )


def is_keyed_hash(text: str) -> bool:
    """Whether ``text`` has the form :func:`keyed_hash` makes."""
    return KEYED_HASH.fullmatch(text) is not None


def resolve_query(cipher: FieldCipher, query: AuditQuery) -> AuditQuery:
    """``query`` with its identifier value (if any) turned into free text: the value's keyed hash.

    The repository then finds the entries whose details hold that hash through the free-text index.
    The caller has checked that a query does not carry both a value and free text.
    """
    if not normalise(query.value):
        return dataclasses.replace(query, value="")
    return dataclasses.replace(query, text=keyed_hash(cipher, query.value), value="")
