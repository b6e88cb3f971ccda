"""inventory details: kernel, last OS update, screen lock, firewall and battery on devices (issue 6)

The agents and the virtual fleet report these fields in every inventory; the console now stores the
last reported values and shows them in the device detail. ``NULL`` means "not reported".

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 08:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kernel", sa.String(length=128), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("last_os_update", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("screen_lock_enabled", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("firewall_enabled", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("battery_percent", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("battery_percent")
        batch_op.drop_column("firewall_enabled")
        batch_op.drop_column("screen_lock_enabled")
        batch_op.drop_column("last_os_update")
        batch_op.drop_column("kernel")
