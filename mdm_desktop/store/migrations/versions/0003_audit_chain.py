"""tamper-evident audit chain: seq and hash_version on audit entries, the audit_head row,
and triggers that refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) of audit entries (issue 5)

Existing entries keep their format (hash_version 1) and get seq numbers 1, 2, 3, ... in id
order; the head row is set to the last of them, so the first new entry (hash_version 2)
continues their chain.

Note for later migrations: on SQLite, a batch ("move and copy") change of ``audit_entries``
drops its triggers with the old table; such a migration must create them again
(``create_append_only_triggers``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 18:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = (
    """CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only: DELETE refused'); END""",
)

POSTGRES_TRIGGERS = (
    """CREATE OR REPLACE FUNCTION audit_entries_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit entries are append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$""",
    """CREATE TRIGGER audit_entries_no_update_delete BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_change()""",
    """CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change()""",
)


def create_append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_TRIGGERS if dialect == 'sqlite' else POSTGRES_TRIGGERS:
        op.execute(statement)


def drop_append_only_triggers() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('DROP TRIGGER IF EXISTS audit_entries_no_update')
        op.execute('DROP TRIGGER IF EXISTS audit_entries_no_delete')
    else:
        op.execute('DROP TRIGGER IF EXISTS audit_entries_no_update_delete ON audit_entries')
        op.execute('DROP TRIGGER IF EXISTS audit_entries_no_truncate ON audit_entries')
        op.execute('DROP FUNCTION IF EXISTS audit_entries_refuse_change()')


def upgrade() -> None:
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('hash_version', sa.Integer(), server_default='1', nullable=False))

    op.execute(
        'UPDATE audit_entries SET seq = numbered.rn FROM '
        '(SELECT id, row_number() OVER (ORDER BY id) AS rn FROM audit_entries) AS numbered '
        'WHERE numbered.id = audit_entries.id'
    )

    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_entries_seq'), ['seq'])

    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_audit_head_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.execute(
        "INSERT INTO audit_head (id, seq, entry_hash) SELECT 1, coalesce(max(seq), 0), coalesce(("
        "SELECT entry_hash FROM audit_entries ORDER BY seq DESC LIMIT 1), '') FROM audit_entries"
    )
    create_append_only_triggers()


def downgrade() -> None:
    drop_append_only_triggers()
    op.drop_table('audit_head')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_entries_seq'), type_='unique')
        batch_op.drop_column('hash_version')
        batch_op.drop_column('seq')
