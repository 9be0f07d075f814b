"""queued work: when a run or comparison was handed to the task queue, and who works on it

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-10 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from app.models.types import UTCDateTime

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0011'
branch_labels = None
depends_on = None

TABLES = ('capture_runs', 'alert_sessions')


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('queued_at', UTCDateTime(), nullable=True))
            batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))


def downgrade():
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('claimed_by')
            batch_op.drop_column('queued_at')
