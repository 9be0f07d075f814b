"""The demo's commands: ``flask seed`` and ``flask fleet report-in`` (only with the demo on)."""

import time

import click
from flask import current_app
from flask.cli import AppGroup

from app.demo import seed_as_configured
from app.demo.fleet import report_docked_drones
from app.extensions import db
from app.services.dispatch import dispatch_queued_incidents
from app.services.dispatch_ranking import DispatchRules

fleet_cli = AppGroup("fleet", help="The demo fleet.")


@click.command("seed")
def seed_command():
    """Add the demo data (idempotent)."""
    try:
        seed_as_configured(current_app.config, echo=click.echo)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    click.echo("demo data is in place")



@fleet_cli.command("report-in")
@click.option("--every", type=click.IntRange(min=5), default=None,
              help="Repeat every N seconds until interrupted (a simulated dock heartbeat).")
def report_in_command(every):
    """Simulated docks: drones resting at their stations report fresh telemetry."""
    while True:
        drones = report_docked_drones()
        db.session.flush()
        dispatched = dispatch_queued_incidents(DispatchRules.from_config(current_app.config))
        db.session.commit()
        click.echo(f"{len(drones)} docked drones reported in"
                   + (f"; dispatched queued incidents {dispatched}" if dispatched else ""))
        if every is None:
            return
        time.sleep(every)
