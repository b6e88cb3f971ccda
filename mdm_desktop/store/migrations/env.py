"""Alembic environment: runs on the connection handed over by mdm_desktop.store.versioning."""

from __future__ import annotations

from alembic import context

from mdm_desktop.store.schema import Base, include_name

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via store.versioning
    raise RuntimeError("Run migrations through 'mdm-desktop db upgrade'.")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
