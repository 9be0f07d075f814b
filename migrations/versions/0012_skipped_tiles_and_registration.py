"""skipped tiles and registration status

Every tile a session skipped gets a row (the session kept only the first 100 inline);
sessions count skipped tiles by kind of reason and the compared tiles whose alignment
could not be verified; each alert detail keeps how its tile pair was aligned. Sessions
that ended before this recorded no kind: their tiles count as ``unclassified`` and the
listed ones are copied into rows.

Revision ID: 0012
Revises: 0008
Create Date: 2026-11-24 09:00:00.000000

"""
import json

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0008'
branch_labels = None
depends_on = None

UNCLASSIFIED = 'unclassified'  # frozen here: the service's kinds may change, this file may not


def upgrade():
    op.create_table('alert_skipped_tiles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('z', sa.Integer(), nullable=False),
    sa.Column('x', sa.Integer(), nullable=False),
    sa.Column('y', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['alert_sessions.id'], name=op.f('fk_alert_skipped_tiles_session_id_alert_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_skipped_tiles'))
    )
    with op.batch_alter_table('alert_skipped_tiles', schema=None) as batch_op:
        batch_op.create_index('ix_alert_skipped_tiles_session_kind', ['session_id', 'kind'], unique=False)

    with op.batch_alter_table('alert_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tiles_unverified', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('skipped_by_reason', sa.JSON(), nullable=True))
    with op.batch_alter_table('alert_details', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registration', sa.JSON(), nullable=True))

    backfill(op.get_bind())

    with op.batch_alter_table('alert_sessions', schema=None) as batch_op:
        batch_op.alter_column('tiles_unverified', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('skipped_by_reason', existing_type=sa.JSON(), nullable=False)


def backfill(bind):
    """Give earlier sessions their counts, and rows for the skipped tiles they listed."""
    sessions = sa.table('alert_sessions', sa.column('id', sa.Integer()),
                        sa.column('tiles_skipped', sa.Integer()),
                        sa.column('skipped_tiles', sa.JSON()),
                        sa.column('tiles_unverified', sa.Integer()),
                        sa.column('skipped_by_reason', sa.JSON()))
    skipped = sa.table('alert_skipped_tiles', sa.column('session_id', sa.Integer()),
                       sa.column('z', sa.Integer()), sa.column('x', sa.Integer()),
                       sa.column('y', sa.Integer()), sa.column('kind', sa.String()),
                       sa.column('reason', sa.String()))
    bind.execute(sa.update(sessions).values(tiles_unverified=0, skipped_by_reason={}))
    for row in bind.execute(sa.select(sessions.c.id, sessions.c.tiles_skipped,
                                      sessions.c.skipped_tiles)
                            .where(sessions.c.tiles_skipped > 0)).all():
        listed = row.skipped_tiles
        if isinstance(listed, str):  # some drivers hand JSON back as text
            listed = json.loads(listed)
        bind.execute(sa.update(sessions).where(sessions.c.id == row.id)
                     .values(skipped_by_reason={UNCLASSIFIED: row.tiles_skipped}))
        rows = [{'session_id': row.id, 'z': tile['z'], 'x': tile['x'], 'y': tile['y'],
                 'kind': UNCLASSIFIED, 'reason': str(tile.get('reason', ''))[:300]}
                for tile in listed or []]
        if rows:
            bind.execute(sa.insert(skipped), rows)


def downgrade():
    # The earlier code knows no inconclusive session: it called them failed.
    op.execute("UPDATE alert_sessions SET state = 'failed' WHERE state = 'inconclusive'")
    with op.batch_alter_table('alert_details', schema=None) as batch_op:
        batch_op.drop_column('registration')
    with op.batch_alter_table('alert_sessions', schema=None) as batch_op:
        batch_op.drop_column('skipped_by_reason')
        batch_op.drop_column('tiles_unverified')
    # Dropping the table drops its index; MySQL refuses to drop an index a foreign key needs.
    op.drop_table('alert_skipped_tiles')
