"""compliance engine: per-rule state, exceptions, escalation steps, daily snapshots (issue 7)

Adds ``device_rule_states`` (one row per device and rule, with ``failing_since``),
``compliance_exceptions`` (approved, expiring exemptions of a device or group from a rule),
``escalation_steps`` (the ladder notify -> quarantine -> lock -> wipe taken per failing rule),
``compliance_snapshots`` and ``compliance_rule_snapshots`` (daily counts for trends), and
``devices.quarantined_at`` (the gateway withholds managed apps and data while it is set).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_rule_states",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("policy_version_id", sa.Integer(), nullable=True),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_rule_states_device_id_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["policy_version_id"],
            ["policy_versions.id"],
            name=op.f("fk_device_rule_states_policy_version_id_policy_versions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("device_id", "rule_id", name=op.f("pk_device_rule_states")),
    )
    with op.batch_alter_table("device_rule_states", schema=None) as batch_op:
        batch_op.create_index("ix_device_rule_states_rule_id_status", ["rule_id", "status"], unique=False)
        batch_op.create_index("ix_device_rule_states_status_failing_since", ["status", "failing_since"], unique=False)

    op.create_table(
        "compliance_exceptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(device_id IS NULL) <> (group_id IS NULL)", name=op.f("ck_compliance_exceptions_one_subject")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_compliance_exceptions_device_id_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["device_groups.id"],
            name=op.f("fk_compliance_exceptions_group_id_device_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_exceptions")),
        sa.UniqueConstraint("uid", name=op.f("uq_compliance_exceptions_uid")),
    )
    with op.batch_alter_table("compliance_exceptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_compliance_exceptions_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_compliance_exceptions_group_id"), ["group_id"], unique=False)
        batch_op.create_index("ix_compliance_exceptions_valid_until", ["valid_until"], unique=False)

    op.create_table(
        "escalation_steps",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("command_id", sa.Integer(), nullable=True),
        sa.Column("approval_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["approval_id"],
            ["command_approvals.id"],
            name=op.f("fk_escalation_steps_approval_id_command_approvals"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["command_id"],
            ["device_commands.id"],
            name=op.f("fk_escalation_steps_command_id_device_commands"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_escalation_steps_device_id_devices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("device_id", "rule_id", "step", name=op.f("pk_escalation_steps")),
    )

    op.create_table(
        "compliance_snapshots",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "state", "platform", name=op.f("pk_compliance_snapshots")),
    )
    op.create_table(
        "compliance_rule_snapshots",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("failing", sa.Integer(), nullable=False),
        sa.Column("exempt", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "rule_id", name=op.f("pk_compliance_rule_snapshots")),
    )

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("quarantined_at")
    op.drop_table("compliance_rule_snapshots")
    op.drop_table("compliance_snapshots")
    op.drop_table("escalation_steps")
    with op.batch_alter_table("compliance_exceptions", schema=None) as batch_op:
        batch_op.drop_index("ix_compliance_exceptions_valid_until")
        batch_op.drop_index(batch_op.f("ix_compliance_exceptions_group_id"))
        batch_op.drop_index(batch_op.f("ix_compliance_exceptions_device_id"))
    op.drop_table("compliance_exceptions")
    with op.batch_alter_table("device_rule_states", schema=None) as batch_op:
        batch_op.drop_index("ix_device_rule_states_status_failing_since")
        batch_op.drop_index("ix_device_rule_states_rule_id_status")
    op.drop_table("device_rule_states")
