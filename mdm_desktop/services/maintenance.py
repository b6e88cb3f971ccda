"""Store maintenance that runs before a store is opened (``mdm-desktop db upgrade``).

These functions take a store URL rather than an opened application: opening a
store already upgrades it, and ``db upgrade`` must report what it found first.
"""

from __future__ import annotations

from mdm_desktop.services.dto import StoreUpgradeInfo
from mdm_desktop.store.engine import create_store_engine, describe
from mdm_desktop.store.versioning import upgrade


def upgrade_store(db_url: str) -> StoreUpgradeInfo:
    """Create or upgrade the store at ``db_url`` to this program's schema.

    Needs no key file: schema changes never read sealed values.

    Raises:
        StoreError: The store cannot be opened, is not an MDM Desktop store, or
            is newer than this program (left untouched).
    """
    engine = create_store_engine(db_url)
    try:
        before, after = upgrade(engine)
        where = describe(engine.url.render_as_string(hide_password=True)).description
    finally:
        engine.dispose()
    return StoreUpgradeInfo(location=where, before=before, after=after)
