"""incident dispatch error

Revision ID: 0009
Revises: 0010 (re-chained after 0010, the head on main; originally on 0012)
Create Date: 2026-12-03 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dispatch_error', sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('dispatch_error')
