"""stations drones ground units incidents

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 19:35:13.360586

"""
from alembic import op
import sqlalchemy as sa
from app.models.types import UTCDateTime

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ground_units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('callsign', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('speed_mps', sa.Float(), nullable=False),
    sa.Column('location_at', UTCDateTime(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ground_units')),
    sa.UniqueConstraint('callsign', name=op.f('uq_ground_units_callsign'))
    )
    with op.batch_alter_table('ground_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ground_units_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_ground_units_status'), ['status'], unique=False)

    op.create_table('stations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stations')),
    sa.UniqueConstraint('name', name=op.f('uq_stations_name'))
    )
    with op.batch_alter_table('stations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stations_active'), ['active'], unique=False)

    op.create_table('drones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('battery_pct', sa.Float(), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('cruise_speed_mps', sa.Float(), nullable=False),
    sa.Column('max_range_m', sa.Float(), nullable=False),
    sa.Column('last_telemetry_at', UTCDateTime(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_drones_station_id_stations'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drones')),
    sa.UniqueConstraint('serial', name=op.f('uq_drones_serial'))
    )
    with op.batch_alter_table('drones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drones_max_range_m'), ['max_range_m'], unique=False)
        batch_op.create_index('ix_drones_position', ['latitude', 'longitude'], unique=False)
        batch_op.create_index(batch_op.f('ix_drones_station_id'), ['station_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_drones_status'), ['status'], unique=False)

    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('severity', sa.SmallInteger(), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('reported_at', UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('drone_id', sa.Integer(), nullable=True),
    sa.Column('ground_unit_id', sa.Integer(), nullable=True),
    sa.Column('reported_by_id', sa.Integer(), nullable=True),
    sa.Column('dispatched_at', UTCDateTime(), nullable=True),
    sa.Column('closed_at', UTCDateTime(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['drone_id'], ['drones.id'], name=op.f('fk_incidents_drone_id_drones'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ground_unit_id'], ['ground_units.id'], name=op.f('fk_incidents_ground_unit_id_ground_units'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], name=op.f('fk_incidents_reported_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_drone_id'), ['drone_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_ground_unit_id'), ['ground_unit_id'], unique=False)
        batch_op.create_index('ix_incidents_position', ['latitude', 'longitude'], unique=False)
        batch_op.create_index('ix_incidents_queue', ['status', 'severity', 'reported_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_reported_at'), ['reported_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_reported_by_id'), ['reported_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_severity'), ['severity'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_type'), ['type'], unique=False)

    op.create_table('incident_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=16), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], name=op.f('fk_incident_events_actor_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_events_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_events'))
    )
    with op.batch_alter_table('incident_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_events_actor_user_id'), ['actor_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incident_events_incident_id'), ['incident_id'], unique=False)



def downgrade():
    # Dropping a table drops its indexes; MySQL refuses to drop an index a
    # foreign key needs before the table goes. Children before parents.
    op.drop_table('incident_events')
    op.drop_table('incidents')
    op.drop_table('drones')
    op.drop_table('stations')
    op.drop_table('ground_units')
