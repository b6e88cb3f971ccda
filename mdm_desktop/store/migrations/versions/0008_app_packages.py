"""app packages stored by SHA-256 (issue 6: catalog builds and the device app download)

Adds ``app_packages`` (one row per distinct package: size, number of chunks) and
``app_package_chunks`` (the bytes in pieces of at most 1 MiB, written and streamed piece by piece).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_packages",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_app_packages")),
    )
    op.create_table(
        "app_package_chunks",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["app_packages.sha256"],
            name=op.f("fk_app_package_chunks_sha256_app_packages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sha256", "seq", name=op.f("pk_app_package_chunks")),
    )


def downgrade() -> None:
    op.drop_table("app_package_chunks")
    op.drop_table("app_packages")
