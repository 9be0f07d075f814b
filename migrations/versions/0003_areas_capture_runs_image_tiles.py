"""areas, capture runs, image tiles

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 19:33:46.913326

"""
from alembic import op
import sqlalchemy as sa
from app.models.types import UTCDateTime

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('area_configs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('geometry', sa.JSON(), nullable=False),
    sa.Column('min_lon', sa.Double(), nullable=False),
    sa.Column('min_lat', sa.Double(), nullable=False),
    sa.Column('max_lon', sa.Double(), nullable=False),
    sa.Column('max_lat', sa.Double(), nullable=False),
    sa.Column('zoom', sa.Integer(), nullable=False),
    sa.Column('tile_count', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('schedule', sa.String(length=120), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('sensitivity', sa.Double(), nullable=False),
    sa.Column('min_change_area_m2', sa.Double(), nullable=False),
    sa.Column('notify', sa.Boolean(), nullable=False),
    sa.Column('immediate_alerts', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_area_configs_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_area_configs'))
    )
    with op.batch_alter_table('area_configs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_area_configs_enabled'), ['enabled'], unique=False)
        batch_op.create_index(batch_op.f('ix_area_configs_owner_id'), ['owner_id'], unique=False)

    op.create_table('capture_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_config_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('zoom', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('tiles_total', sa.Integer(), nullable=False),
    sa.Column('tiles_done', sa.Integer(), nullable=False),
    sa.Column('tiles_failed', sa.Integer(), nullable=False),
    sa.Column('tiles_no_imagery', sa.Integer(), nullable=False),
    sa.Column('started_at', UTCDateTime(), nullable=False),
    sa.Column('heartbeat_at', UTCDateTime(), nullable=False),
    sa.Column('finished_at', UTCDateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('tile_errors', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['area_config_id'], ['area_configs.id'], name=op.f('fk_capture_runs_area_config_id_area_configs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_capture_runs_requested_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_capture_runs')),
    sa.UniqueConstraint('area_config_id', 'sequence', name=op.f('uq_capture_runs_area_config_id'))
    )
    with op.batch_alter_table('capture_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_capture_runs_state'), ['state'], unique=False)

    op.create_table('image_tiles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_config_id', sa.Integer(), nullable=False),
    sa.Column('capture_run_id', sa.Integer(), nullable=False),
    sa.Column('z', sa.Integer(), nullable=False),
    sa.Column('x', sa.Integer(), nullable=False),
    sa.Column('y', sa.Integer(), nullable=False),
    sa.Column('west', sa.Double(), nullable=False),
    sa.Column('south', sa.Double(), nullable=False),
    sa.Column('east', sa.Double(), nullable=False),
    sa.Column('north', sa.Double(), nullable=False),
    sa.Column('captured_at', UTCDateTime(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['area_config_id'], ['area_configs.id'], name=op.f('fk_image_tiles_area_config_id_area_configs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['capture_run_id'], ['capture_runs.id'], name=op.f('fk_image_tiles_capture_run_id_capture_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_image_tiles')),
    sa.UniqueConstraint('capture_run_id', 'z', 'x', 'y', name=op.f('uq_image_tiles_capture_run_id'))
    )
    with op.batch_alter_table('image_tiles', schema=None) as batch_op:
        batch_op.create_index('ix_image_tiles_area_captured', ['area_config_id', 'captured_at'], unique=False)



def downgrade():
    # Dropping a table drops its indexes; MySQL refuses to drop an index a
    # foreign key needs before the table goes.
    op.drop_table('image_tiles')
    op.drop_table('capture_runs')
    op.drop_table('area_configs')
