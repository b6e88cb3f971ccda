"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 09:42:39.692740
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op



revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('audit_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('workstation', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target_kind', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=255), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_action_id', ['action', 'id'], unique=False)
        batch_op.create_index('ix_audit_entries_actor_id', ['actor', 'id'], unique=False)
        batch_op.create_index('ix_audit_entries_occurred_at_id', ['occurred_at', 'id'], unique=False)
        batch_op.create_index('ix_audit_entries_outcome_id', ['outcome', 'id'], unique=False)

    op.create_table('catalog_apps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('identifier', sa.String(length=255), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('publisher', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_apps')),
    sa.UniqueConstraint('platform', 'identifier', name='uq_catalog_apps_platform_identifier')
    )
    op.create_table('device_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_groups')),
    sa.UniqueConstraint('name', name=op.f('uq_device_groups_name'))
    )
    op.create_table('key_material',
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
    sa.Column('kek_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('purpose', name=op.f('pk_key_material'))
    )
    op.create_table('policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('draft_settings', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policies')),
    sa.UniqueConstraint('name', name=op.f('uq_policies_name')),
    sa.UniqueConstraint('uid', name=op.f('uq_policies_uid'))
    )
    op.create_table('settings',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_settings'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('totp_secret_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('totp_last_step', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('uid', name=op.f('uq_users_uid')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('catalog_app_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['catalog_apps.id'], name=op.f('fk_catalog_app_versions_app_id_catalog_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_app_versions')),
    sa.UniqueConstraint('app_id', 'version', name='uq_catalog_app_versions_app_version')
    )
    with op.batch_alter_table('catalog_app_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_app_versions_app_id'), ['app_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalog_app_versions_sha256'), ['sha256'], unique=False)

    op.create_table('devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('vendor', sa.String(length=128), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.Column('serial_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('serial_bidx', sa.LargeBinary(length=16), nullable=True),
    sa.Column('hardware_id_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('hardware_id_bidx', sa.LargeBinary(length=16), nullable=True),
    sa.Column('os_version', sa.String(length=64), nullable=False),
    sa.Column('os_version_key', sa.String(length=32), nullable=False),
    sa.Column('os_build', sa.String(length=64), nullable=False),
    sa.Column('security_patch', sa.Date(), nullable=True),
    sa.Column('firmware', sa.String(length=128), nullable=False),
    sa.Column('ownership', sa.String(length=16), nullable=False),
    sa.Column('assigned_to_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('assigned_to_bidx', sa.LargeBinary(length=16), nullable=True),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('enrolled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_checkin_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('compromised', sa.Boolean(), nullable=True),
    sa.Column('storage_encrypted', sa.Boolean(), nullable=True),
    sa.Column('passcode_set', sa.Boolean(), nullable=True),
    sa.Column('managed_container', sa.Boolean(), nullable=True),
    sa.Column('compliance_state', sa.String(length=16), nullable=False),
    sa.Column('compliance_reasons', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['device_groups.id'], name=op.f('fk_devices_group_id_device_groups'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('uid', name=op.f('uq_devices_uid'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_assigned_to_bidx'), ['assigned_to_bidx'], unique=False)
        batch_op.create_index('ix_devices_compliance_state_id', ['compliance_state', 'id'], unique=False)
        batch_op.create_index('ix_devices_enrolled_at_id', ['enrolled_at', 'id'], unique=False)
        batch_op.create_index('ix_devices_group_id_id', ['group_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_hardware_id_bidx'), ['hardware_id_bidx'], unique=False)
        batch_op.create_index('ix_devices_last_checkin_at_id', ['last_checkin_at', 'id'], unique=False)
        batch_op.create_index('ix_devices_model_id', ['model', 'id'], unique=False)
        batch_op.create_index('ix_devices_name_id', ['name', 'id'], unique=False)
        batch_op.create_index('ix_devices_os_version_key_id', ['os_version_key', 'id'], unique=False)
        batch_op.create_index('ix_devices_ownership_id', ['ownership', 'id'], unique=False)
        batch_op.create_index('ix_devices_platform_id', ['platform', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_serial_bidx'), ['serial_bidx'], unique=False)
        batch_op.create_index('ix_devices_status_id', ['status', 'id'], unique=False)

    op.create_table('policy_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_by', sa.String(length=64), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_policy_versions_policy_id_policies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_versions')),
    sa.UniqueConstraint('policy_id', 'version', name='uq_policy_versions_policy_version')
    )
    with op.batch_alter_table('policy_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_versions_policy_id'), ['policy_id'], unique=False)

    op.create_table('device_commands',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_commands_device_id_devices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_commands')),
    sa.UniqueConstraint('uid', name=op.f('uq_device_commands_uid'))
    )
    with op.batch_alter_table('device_commands', schema=None) as batch_op:
        batch_op.create_index('ix_device_commands_device_id_id', ['device_id', 'id'], unique=False)
        batch_op.create_index('ix_device_commands_status_id', ['status', 'id'], unique=False)

    op.create_table('installed_apps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('identifier', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('managed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_installed_apps_device_id_devices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_installed_apps')),
    sa.UniqueConstraint('device_id', 'identifier', name='uq_installed_apps_device_identifier')
    )
    with op.batch_alter_table('installed_apps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_installed_apps_device_id'), ['device_id'], unique=False)

    op.create_table('policy_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_version_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('ownership', sa.String(length=16), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('assigned_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['device_groups.id'], name=op.f('fk_policy_assignments_group_id_device_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['policy_version_id'], ['policy_versions.id'], name=op.f('fk_policy_assignments_policy_version_id_policy_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_assignments'))
    )
    with op.batch_alter_table('policy_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_assignments_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_assignments_policy_version_id'), ['policy_version_id'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('policy_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_assignments_policy_version_id'))
        batch_op.drop_index(batch_op.f('ix_policy_assignments_group_id'))

    op.drop_table('policy_assignments')
    with op.batch_alter_table('installed_apps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_installed_apps_device_id'))

    op.drop_table('installed_apps')
    with op.batch_alter_table('device_commands', schema=None) as batch_op:
        batch_op.drop_index('ix_device_commands_status_id')
        batch_op.drop_index('ix_device_commands_device_id_id')

    op.drop_table('device_commands')
    with op.batch_alter_table('policy_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_versions_policy_id'))

    op.drop_table('policy_versions')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index('ix_devices_status_id')
        batch_op.drop_index(batch_op.f('ix_devices_serial_bidx'))
        batch_op.drop_index('ix_devices_platform_id')
        batch_op.drop_index('ix_devices_ownership_id')
        batch_op.drop_index('ix_devices_os_version_key_id')
        batch_op.drop_index('ix_devices_name_id')
        batch_op.drop_index('ix_devices_model_id')
        batch_op.drop_index('ix_devices_last_checkin_at_id')
        batch_op.drop_index(batch_op.f('ix_devices_hardware_id_bidx'))
        batch_op.drop_index('ix_devices_group_id_id')
        batch_op.drop_index('ix_devices_enrolled_at_id')
        batch_op.drop_index('ix_devices_compliance_state_id')
        batch_op.drop_index(batch_op.f('ix_devices_assigned_to_bidx'))

    op.drop_table('devices')
    with op.batch_alter_table('catalog_app_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_app_versions_sha256'))
        batch_op.drop_index(batch_op.f('ix_catalog_app_versions_app_id'))

    op.drop_table('catalog_app_versions')
    op.drop_table('users')
    op.drop_table('settings')
    op.drop_table('policies')
    op.drop_table('key_material')
    op.drop_table('device_groups')
    op.drop_table('catalog_apps')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_outcome_id')
        batch_op.drop_index('ix_audit_entries_occurred_at_id')
        batch_op.drop_index('ix_audit_entries_actor_id')
        batch_op.drop_index('ix_audit_entries_action_id')

    op.drop_table('audit_entries')
    
