"""token generation and unknown sends

``users.token_generation`` is carried by every token a user's login issues; changing the
password counts it up, which ends every session issued before. ``notifications.unknown_sends``
counts the sends whose outcome was never known (a timeout, a sweep killed mid-send), so a
notification is tried again at most NOTIFY_UNKNOWN_RETRIES times before it is ``unknown``.

Revision ID: 0010
Revises: 0013 (re-chained after main's 0012; originally on 0008)
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_generation', sa.Integer(), nullable=False,
                                      server_default='0'))
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unknown_sends', sa.Integer(), nullable=False,
                                      server_default='0'))


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('unknown_sends')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('token_generation')
