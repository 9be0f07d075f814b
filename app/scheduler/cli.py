"""``flask scheduler run``: the scheduler as its own process, until SIGTERM."""

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from app.scheduler import start_scheduler

scheduler_cli = AppGroup("scheduler", help="Run scheduled jobs.")


@scheduler_cli.command("run")
def run_scheduler_command():
    """Run the job scheduler in the foreground until SIGTERM or Ctrl+C."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    scheduler = start_scheduler(current_app._get_current_object())
    click.echo(f"scheduler running as {scheduler.holder}; stop with SIGTERM or Ctrl+C")
    while not stop.wait(1):
        pass
    click.echo("stopping: waiting for running jobs")
    scheduler.shutdown(wait=True)
    click.echo("scheduler stopped")
