"""flight plans and no-fly zones

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 20:03:41.937212

"""
from alembic import op
import sqlalchemy as sa
from app.models.types import UTCDateTime

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('no_fly_zones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('geometry', sa.JSON(), nullable=False),
    sa.Column('min_latitude', sa.Double(), nullable=False),
    sa.Column('max_latitude', sa.Double(), nullable=False),
    sa.Column('min_longitude', sa.Double(), nullable=False),
    sa.Column('max_longitude', sa.Double(), nullable=False),
    sa.Column('floor_m', sa.Double(), nullable=False),
    sa.Column('ceiling_m', sa.Double(), nullable=True),
    sa.Column('active_from', UTCDateTime(), nullable=True),
    sa.Column('active_until', UTCDateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_no_fly_zones_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_no_fly_zones')),
    sa.UniqueConstraint('name', name=op.f('uq_no_fly_zones_name'))
    )
    with op.batch_alter_table('no_fly_zones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_no_fly_zones_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index('ix_no_fly_zones_position', ['min_latitude', 'max_latitude'], unique=False)

    op.create_table('flight_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('drone_id', sa.Integer(), nullable=True),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('route', sa.JSON(), nullable=False),
    sa.Column('min_altitude_m', sa.Double(), nullable=False),
    sa.Column('max_altitude_m', sa.Double(), nullable=False),
    sa.Column('starts_at', UTCDateTime(), nullable=False),
    sa.Column('ends_at', UTCDateTime(), nullable=False),
    sa.Column('margin_m', sa.Double(), nullable=False),
    sa.Column('footprint', sa.JSON(), nullable=False),
    sa.Column('min_latitude', sa.Double(), nullable=False),
    sa.Column('max_latitude', sa.Double(), nullable=False),
    sa.Column('min_longitude', sa.Double(), nullable=False),
    sa.Column('max_longitude', sa.Double(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('atc_reference', sa.String(length=128), nullable=True),
    sa.Column('decision_reason', sa.String(length=2000), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=1000), nullable=True),
    sa.Column('next_attempt_at', UTCDateTime(), nullable=True),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('claimed_until', UTCDateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('submitted_at', UTCDateTime(), nullable=True),
    sa.Column('decided_at', UTCDateTime(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_flight_plans_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['drone_id'], ['drones.id'], name=op.f('fk_flight_plans_drone_id_drones'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_flight_plans_incident_id_incidents'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flight_plans')),
    sa.UniqueConstraint('request_id', name=op.f('uq_flight_plans_request_id'))
    )
    with op.batch_alter_table('flight_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flight_plans_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_flight_plans_drone_id'), ['drone_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_flight_plans_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_flight_plans_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index('ix_flight_plans_position', ['min_latitude', 'max_latitude'], unique=False)
        batch_op.create_index(batch_op.f('ix_flight_plans_purpose'), ['purpose'], unique=False)
        batch_op.create_index('ix_flight_plans_window', ['state', 'starts_at', 'ends_at'], unique=False)


def downgrade():
    # Dropping a table drops its indexes; MySQL refuses to drop an index a
    # foreign key needs before the table goes.
    op.drop_table('flight_plans')
    op.drop_table('no_fly_zones')
