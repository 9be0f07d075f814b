"""sentinel-2 scenes: the item on the capture run, the bands file on the tile, change kinds

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from app.models.types import UTCDateTime

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('capture_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scene_id', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('scene_acquired_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('scene_clear_share', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('scene_cloud_cover', sa.Double(), nullable=True))
    with op.batch_alter_table('image_tiles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bands_path', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('bands_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('ground_resolution_m', sa.Double(), nullable=True))
    with op.batch_alter_table('alert_details', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('spectral_indices', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('alert_details', schema=None) as batch_op:
        batch_op.drop_column('spectral_indices')
        batch_op.drop_column('kind')
    with op.batch_alter_table('image_tiles', schema=None) as batch_op:
        batch_op.drop_column('ground_resolution_m')
        batch_op.drop_column('bands_sha256')
        batch_op.drop_column('bands_path')
    with op.batch_alter_table('capture_runs', schema=None) as batch_op:
        batch_op.drop_column('scene_cloud_cover')
        batch_op.drop_column('scene_acquired_at')
        batch_op.drop_column('scene_clear_share')
        batch_op.drop_column('scene_id')
