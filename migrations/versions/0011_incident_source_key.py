"""incident source key

Incidents imported from a published export (``flask analytics import-csv``) keep a digest of
their row, unique, so importing the same export twice stores each incident once. Incidents
reported through the API leave it NULL (a unique index allows many NULLs on both engines).

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-22 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_key', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_incidents_source_key'), ['source_key'],
                              unique=True)


def downgrade():
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incidents_source_key'))
        batch_op.drop_column('source_key')
