"""alert sessions and details

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from app.models.types import UTCDateTime

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('alert_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_config_id', sa.Integer(), nullable=False),
    sa.Column('before_run_id', sa.Integer(), nullable=False),
    sa.Column('after_run_id', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('running_area_id', sa.Integer(), nullable=True),
    sa.Column('tiles_total', sa.Integer(), nullable=False),
    sa.Column('tiles_compared', sa.Integer(), nullable=False),
    sa.Column('tiles_changed', sa.Integer(), nullable=False),
    sa.Column('tiles_skipped', sa.Integer(), nullable=False),
    sa.Column('tiles_on_kept_reference', sa.Integer(), nullable=False),
    sa.Column('skipped_tiles', sa.JSON(), nullable=False),
    sa.Column('changes_count', sa.Integer(), nullable=False),
    sa.Column('suspected_count', sa.Integer(), nullable=False),
    sa.Column('confirmed_count', sa.Integer(), nullable=False),
    sa.Column('changed_area_m2', sa.Double(), nullable=False),
    sa.Column('started_at', UTCDateTime(), nullable=False),
    sa.Column('heartbeat_at', UTCDateTime(), nullable=False),
    sa.Column('finished_at', UTCDateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('notification_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['after_run_id'], ['capture_runs.id'], name=op.f('fk_alert_sessions_after_run_id_capture_runs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['area_config_id'], ['area_configs.id'], name=op.f('fk_alert_sessions_area_config_id_area_configs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['before_run_id'], ['capture_runs.id'], name=op.f('fk_alert_sessions_before_run_id_capture_runs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], name=op.f('fk_alert_sessions_notification_id_notifications'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_alert_sessions_requested_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_sessions')),
    sa.UniqueConstraint('running_area_id', name=op.f('uq_alert_sessions_running_area_id'))
    )
    with op.batch_alter_table('alert_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_alert_sessions_area_started', ['area_config_id', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_sessions_state'), ['state'], unique=False)

    op.create_table('alert_details',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('z', sa.Integer(), nullable=False),
    sa.Column('x', sa.Integer(), nullable=False),
    sa.Column('y', sa.Integer(), nullable=False),
    sa.Column('before_tile_id', sa.Integer(), nullable=False),
    sa.Column('after_tile_id', sa.Integer(), nullable=False),
    sa.Column('polygon', sa.JSON(), nullable=False),
    sa.Column('centroid_lon', sa.Double(), nullable=False),
    sa.Column('centroid_lat', sa.Double(), nullable=False),
    sa.Column('area_m2', sa.Double(), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('confidence', sa.Double(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('confirms_detail_id', sa.Integer(), nullable=True),
    sa.Column('confirmation_distance_m', sa.Double(), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=True),
    sa.Column('evidence_media_type', sa.String(length=32), nullable=True),
    sa.Column('review', sa.String(length=16), nullable=False),
    sa.Column('review_note', sa.Text(), nullable=True),
    sa.Column('reviewed_at', UTCDateTime(), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['after_tile_id'], ['image_tiles.id'], name=op.f('fk_alert_details_after_tile_id_image_tiles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['before_tile_id'], ['image_tiles.id'], name=op.f('fk_alert_details_before_tile_id_image_tiles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['confirms_detail_id'], ['alert_details.id'], name=op.f('fk_alert_details_confirms_detail_id_alert_details'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_alert_details_reviewed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['alert_sessions.id'], name=op.f('fk_alert_details_session_id_alert_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_details'))
    )
    with op.batch_alter_table('alert_details', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_details_confirms_detail_id'), ['confirms_detail_id'], unique=False)
        batch_op.create_index('ix_alert_details_session_tile', ['session_id', 'z', 'x', 'y'], unique=False)

    op.create_table('alert_tile_references',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_config_id', sa.Integer(), nullable=False),
    sa.Column('z', sa.Integer(), nullable=False),
    sa.Column('x', sa.Integer(), nullable=False),
    sa.Column('y', sa.Integer(), nullable=False),
    sa.Column('reference_tile_id', sa.Integer(), nullable=False),
    sa.Column('last_session_id', sa.Integer(), nullable=False),
    sa.Column('last_after_tile_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['area_config_id'], ['area_configs.id'], name=op.f('fk_alert_tile_references_area_config_id_area_configs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['last_after_tile_id'], ['image_tiles.id'], name=op.f('fk_alert_tile_references_last_after_tile_id_image_tiles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['last_session_id'], ['alert_sessions.id'], name=op.f('fk_alert_tile_references_last_session_id_alert_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reference_tile_id'], ['image_tiles.id'], name=op.f('fk_alert_tile_references_reference_tile_id_image_tiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_tile_references')),
    sa.UniqueConstraint('area_config_id', 'z', 'x', 'y', name=op.f('uq_alert_tile_references_area_config_id'))
    )


def downgrade():
    # Dropping a table drops its indexes; MySQL refuses to drop an index a
    # foreign key needs before the table goes.
    op.drop_table('alert_tile_references')
    op.drop_table('alert_details')
    op.drop_table('alert_sessions')
