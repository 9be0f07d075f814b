"""incident h3 cell

Each incident keeps its resolution-15 H3 cell and its report time in epoch seconds, so
hotspot analysis groups by cell and time bucket in SQL on SQLite and MySQL alike. Existing
rows are backfilled in batches before the columns become NOT NULL.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 20:00:26.494211

"""
import math
from datetime import UTC

from alembic import op
import h3.api.basic_int as h3
import sqlalchemy as sa
from app.models.types import UTCDateTime

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

BATCH = 5000
STORED_CELL_RESOLUTION = 15  # frozen here: the model's constant may change, this file may not


def upgrade():
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('h3_cell', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('reported_epoch', sa.BigInteger(), nullable=True))

    backfill(op.get_bind())

    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.alter_column('h3_cell', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('reported_epoch', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_index(batch_op.f('ix_incidents_h3_cell'), ['h3_cell'], unique=False)
        batch_op.create_index('ix_incidents_hotspots', ['reported_epoch', 'h3_cell', 'type',
                                                        'severity', 'latitude', 'longitude'],
                              unique=False)


def backfill(bind, batch=BATCH):
    """Compute the cell and epoch of every existing incident, ``batch`` rows at a time by id."""
    incidents = sa.table('incidents', sa.column('id', sa.Integer()),
                         sa.column('latitude', sa.Float()), sa.column('longitude', sa.Float()),
                         sa.column('reported_at', UTCDateTime()),
                         sa.column('h3_cell', sa.BigInteger()),
                         sa.column('reported_epoch', sa.BigInteger()))
    update = (sa.update(incidents).where(incidents.c.id == sa.bindparam('row_id'))
              .values(h3_cell=sa.bindparam('cell'), reported_epoch=sa.bindparam('epoch')))
    last_id = 0
    while True:
        rows = bind.execute(
            sa.select(incidents.c.id, incidents.c.latitude, incidents.c.longitude,
                      incidents.c.reported_at)
            .where(incidents.c.id > last_id).order_by(incidents.c.id).limit(batch)).all()
        if not rows:
            return
        bind.execute(update, [
            {'row_id': row.id,
             'cell': h3.latlng_to_cell(row.latitude, row.longitude, STORED_CELL_RESOLUTION),
             'epoch': math.floor(row.reported_at.astimezone(UTC).timestamp())}
            for row in rows])
        last_id = rows[-1].id


def downgrade():
    # No foreign key uses these indexes, so MySQL lets them go before the columns.
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_hotspots')
        batch_op.drop_index(batch_op.f('ix_incidents_h3_cell'))
        batch_op.drop_column('reported_epoch')
        batch_op.drop_column('h3_cell')
