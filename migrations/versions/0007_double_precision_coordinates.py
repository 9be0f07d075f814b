"""double precision coordinates

MySQL's FLOAT is single precision: coordinates came back rounded to about 1e-4°
(up to ~10 m). DOUBLE keeps them exact on both engines.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 20:41:18.765834

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

COLUMNS = {
    'drones': ('battery_pct', 'latitude', 'longitude', 'cruise_speed_mps', 'max_range_m'),
    'ground_units': ('latitude', 'longitude', 'speed_mps'),
    'incidents': ('latitude', 'longitude'),
    'stations': ('latitude', 'longitude'),
}


def _retype(old, new):
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, existing_type=old, type_=new,
                                      existing_nullable=False)


def upgrade():
    _retype(sa.FLOAT(), sa.Double())


def downgrade():
    _retype(sa.Double(), sa.FLOAT())
