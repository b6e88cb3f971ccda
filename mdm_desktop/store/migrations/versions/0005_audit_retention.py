"""audit retention: the audit_anchors table (one signed row per prune) and a controlled delete path (issue 5)

Pruning removes a contiguous prefix of the audit chain (entries older than the site's retention
period, after they were exported and signed). Each prune leaves a row in ``audit_anchors``: the
positions removed, the hash of the last one (the next entry's ``prev_hash`` links to it), the export
file's name and SHA-256, and an Ed25519 signature with the store's checkpoint key, so verification of
what remains still passes and a prefix removed without a valid anchor is reported.

The append-only triggers of 0003 change so that DELETE of an audit entry is allowed only when an
anchor covers its position (``upto_seq >= OLD.seq``); every other DELETE, and every UPDATE, is still
refused (and TRUNCATE on PostgreSQL). On PostgreSQL the console's role lacks DELETE on
``audit_entries`` (README role set-up), so the prune goes through ``audit_prune(upto)``, a SECURITY
DEFINER function that deletes only up to an existing anchor. Anchors themselves are append-only.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

SQLITE_UPGRADE = (
    'DROP TRIGGER IF EXISTS audit_entries_no_delete',
    """CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
    WHEN NOT EXISTS (SELECT 1 FROM audit_anchors WHERE audit_anchors.upto_seq >= OLD.seq)
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only: DELETE refused'); END""",
    """CREATE TRIGGER audit_anchors_no_update BEFORE UPDATE ON audit_anchors
    BEGIN SELECT RAISE(ABORT, 'audit anchors are append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_anchors_no_delete BEFORE DELETE ON audit_anchors
    BEGIN SELECT RAISE(ABORT, 'audit anchors are append-only: DELETE refused'); END""",
)

SQLITE_DOWNGRADE = (
    'DROP TRIGGER IF EXISTS audit_anchors_no_update',
    'DROP TRIGGER IF EXISTS audit_anchors_no_delete',
    'DROP TRIGGER IF EXISTS audit_entries_no_delete',
    """CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only: DELETE refused'); END""",
)

POSTGRES_UPGRADE = (
    """CREATE OR REPLACE FUNCTION audit_entries_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            IF EXISTS (SELECT 1 FROM audit_anchors WHERE audit_anchors.upto_seq >= OLD.seq) THEN
                RETURN OLD;
            END IF;
        END IF;
        RAISE EXCEPTION 'audit entries are append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$""",
    """CREATE OR REPLACE FUNCTION audit_prune(upto integer) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
    DECLARE
        removed bigint;
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM audit_anchors WHERE audit_anchors.upto_seq = upto) THEN
            RAISE EXCEPTION 'audit entries are append-only: no prune anchor up to entry %', upto
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        DELETE FROM audit_entries WHERE seq <= upto;
        GET DIAGNOSTICS removed = ROW_COUNT;
        RETURN removed;
    END
    $$""",
    """CREATE OR REPLACE FUNCTION audit_anchors_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit anchors are append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$""",
    """CREATE TRIGGER audit_anchors_no_update_delete BEFORE UPDATE OR DELETE ON audit_anchors
    FOR EACH ROW EXECUTE FUNCTION audit_anchors_refuse_change()""",
    """CREATE TRIGGER audit_anchors_no_truncate BEFORE TRUNCATE ON audit_anchors
    FOR EACH STATEMENT EXECUTE FUNCTION audit_anchors_refuse_change()""",
)

POSTGRES_DOWNGRADE = (
    'DROP TRIGGER IF EXISTS audit_anchors_no_update_delete ON audit_anchors',
    'DROP TRIGGER IF EXISTS audit_anchors_no_truncate ON audit_anchors',
    'DROP FUNCTION IF EXISTS audit_anchors_refuse_change()',
    'DROP FUNCTION IF EXISTS audit_prune(integer)',
    """CREATE OR REPLACE FUNCTION audit_entries_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit entries are append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$""",
)


def upgrade() -> None:
    op.create_table('audit_anchors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('first_seq', sa.Integer(), nullable=False),
    sa.Column('upto_seq', sa.Integer(), nullable=False),
    sa.Column('upto_hash', sa.String(length=64), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pruned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('export_file', sa.String(length=255), nullable=False),
    sa.Column('export_sha256', sa.String(length=64), nullable=False),
    sa.Column('key_fingerprint', sa.String(length=16), nullable=False),
    sa.Column('signature', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_anchors')),
    sa.UniqueConstraint('upto_seq', name=op.f('uq_audit_anchors_upto_seq'))
    )
    postgres = op.get_bind().dialect.name == 'postgresql'
    for statement in POSTGRES_UPGRADE if postgres else SQLITE_UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    for statement in POSTGRES_DOWNGRADE if postgres else SQLITE_DOWNGRADE:
        op.execute(statement)
    op.drop_table('audit_anchors')
