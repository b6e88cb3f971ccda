"""command approvals and destructive-command guard rails (issue 6)

Adds ``command_approvals`` (guarded command requests waiting for a second administrator)
and, on ``device_commands``, the approval a command came from and the sealed lost-mode
location, plus indexes for the Commands view (type) and expiry sweeps (status, expires_at).
The guard-rail settings (approval threshold, expiry, rate limit, pause state) are rows of
``settings`` written on first change; the code supplies the defaults.

On SQLite the ``device_commands`` change runs in batch mode (copy and move); that table has
no triggers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('command_approvals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('device_ids', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('requested_session', sa.String(length=64), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_command_approvals')),
    sa.UniqueConstraint('uid', name=op.f('uq_command_approvals_uid'))
    )
    with op.batch_alter_table('command_approvals', schema=None) as batch_op:
        batch_op.create_index('ix_command_approvals_status_expires_at', ['status', 'expires_at'], unique=False)
        batch_op.create_index('ix_command_approvals_status_id', ['status', 'id'], unique=False)

    with op.batch_alter_table('device_commands', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approval_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('location_sealed', sa.LargeBinary(), nullable=True))
        batch_op.create_index(batch_op.f('ix_device_commands_approval_id'), ['approval_id'], unique=False)
        batch_op.create_index('ix_device_commands_status_expires_at', ['status', 'expires_at'], unique=False)
        batch_op.create_index('ix_device_commands_type_id', ['type', 'id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_device_commands_approval_id_command_approvals'),
            'command_approvals', ['approval_id'], ['id'], ondelete='SET NULL',
        )


def downgrade() -> None:
    with op.batch_alter_table('device_commands', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_device_commands_approval_id_command_approvals'), type_='foreignkey')
        batch_op.drop_index('ix_device_commands_type_id')
        batch_op.drop_index('ix_device_commands_status_expires_at')
        batch_op.drop_index(batch_op.f('ix_device_commands_approval_id'))
        batch_op.drop_column('location_sealed')
        batch_op.drop_column('approval_id')

    with op.batch_alter_table('command_approvals', schema=None) as batch_op:
        batch_op.drop_index('ix_command_approvals_status_id')
        batch_op.drop_index('ix_command_approvals_status_expires_at')

    op.drop_table('command_approvals')
