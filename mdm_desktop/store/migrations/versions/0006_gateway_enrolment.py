"""enrolment tokens, device certificates and the local CA (issue 6)

``gateway_authority`` holds the site CA (one row; its private key sealed under the store's
data key), ``enrollment_tokens`` the tokens (only a keyed hash of each), and
``device_certificates`` every client certificate issued to a device with its revocation and
the highest check-in sequence number seen (replay protection). New tables only: no existing
table is changed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('gateway_authority',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=False),
    sa.Column('certificate_pem', sa.Text(), nullable=False),
    sa.Column('private_key_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_gateway_authority_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_authority')),
    sa.UniqueConstraint('uid', name=op.f('uq_gateway_authority_uid'))
    )
    op.create_table('enrollment_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=False),
    sa.Column('token_hash', sa.LargeBinary(length=16), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('ownership', sa.String(length=16), nullable=False),
    sa.Column('uses_allowed', sa.Integer(), nullable=False),
    sa.Column('uses_left', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=64), nullable=False),
    sa.CheckConstraint('uses_left >= 0 AND uses_left <= uses_allowed', name=op.f('ck_enrollment_tokens_uses_in_range')),
    sa.ForeignKeyConstraint(['group_id'], ['device_groups.id'], name=op.f('fk_enrollment_tokens_group_id_device_groups'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollment_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_enrollment_tokens_token_hash')),
    sa.UniqueConstraint('uid', name=op.f('uq_enrollment_tokens_uid'))
    )
    with op.batch_alter_table('enrollment_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_enrollment_tokens_created_at_id', ['created_at', 'id'], unique=False)

    op.create_table('device_certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=40), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoke_reason', sa.String(length=32), nullable=False),
    sa.Column('last_sequence', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_certificates_device_id_devices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_certificates')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_device_certificates_fingerprint')),
    sa.UniqueConstraint('serial', name=op.f('uq_device_certificates_serial'))
    )
    with op.batch_alter_table('device_certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_certificates_device_id'), ['device_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('device_certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_certificates_device_id'))

    op.drop_table('device_certificates')
    with op.batch_alter_table('enrollment_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_enrollment_tokens_created_at_id')

    op.drop_table('enrollment_tokens')
    op.drop_table('gateway_authority')
