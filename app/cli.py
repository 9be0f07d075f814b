"""Every ``flask`` command is attached here: ``users``, ``notifications``, ``landwatch``,
``config``, ``scheduler``, ``worker``, ``analytics`` and, with the demo on, the demo's own."""

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import config_docs
from app.api.analytics.cli import backtest_command, forecast_command, import_csv_command
from app.extensions import db
from app.jobs.notifications import deliver_due_notifications
from app.models import User
from app.models.user import ROLES
from app.scheduler.cli import scheduler_cli
from app.services import auth as auth_service
from app.services import compare_files
from app.services.capture import StorageError, write_atomically
from app.services.errors import ServiceError
from app.services.imagery.checks import encode_png

users_cli = AppGroup("users", help="Manage user accounts.")
notifications_cli = AppGroup("notifications", help="The push notification outbox.")
landwatch_cli = AppGroup("landwatch", help="Land watch on your own imagery.")
analytics_cli = AppGroup("analytics", help="Hot spots: back-tests, forecasts, incident imports.")
for command in (backtest_command, forecast_command, import_csv_command):
    analytics_cli.add_command(command)
config_cli = AppGroup("config", help="The settings in config.py.")
# exit statuses of `flask landwatch compare` beyond 0 (compared) and 1 (an output not written)
BAD_INPUT, NOT_COMPARED = 2, 3


@users_cli.command("create")
@click.option("--username", required=True)
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.password_option(envvar="CPS_NEW_USER_PASSWORD")
def create_user_command(username, email, role, password):
    """Create a user with a role (the password is prompted for)."""
    weaknesses = auth_service.password_weaknesses(password, username, email)
    if weaknesses:
        raise click.ClickException("password " + "; ".join(weaknesses))
    try:
        user = auth_service.create_user(username, email, password, role=role)
        db.session.commit()
    except ServiceError as error:
        raise click.ClickException(error.detail) from error
    except IntegrityError as error:
        db.session.rollback()
        raise click.ClickException("that username or e-mail is already registered") from error
    click.echo(f"created user {user.username} (id {user.id}, role {user.role})")


@users_cli.command("set-password")
@click.option("--username", required=True)
@click.password_option(envvar="CPS_NEW_USER_PASSWORD")
def set_password_command(username, password):
    """Set a user's password (prompted for); every session of that user ends."""
    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    try:
        auth_service.set_password(user, password, field="password")
        db.session.commit()
    except ServiceError as error:
        raise click.ClickException(error.detail) from error
    click.echo(f"password of {user.username} set; their sessions have ended")


@notifications_cli.command("deliver")
def deliver_notifications_command():
    """Send the notifications that are due now (what the scheduled sweep does)."""
    outcomes = deliver_due_notifications()
    summary = ", ".join(f"{count} {state}" for state, count in sorted(outcomes.items()))
    click.echo(f"delivery sweep: {summary or 'nothing due'}")


@landwatch_cli.command("compare")
@click.argument("before", type=click.Path(path_type=Path))
@click.argument("after", type=click.Path(path_type=Path))
@click.option("--metres-per-pixel", type=float,
              help="Ground size of one pixel of both images, in metres (not with --bands).")
@click.option("--bands", help="Compare multi-band GeoTIFFs in all bands: the files' names "
                              "(or positions) of blue,green,red,nir,swir16,swir22.")
@click.option("--mask-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the changed pixels as a PNG the size of BEFORE (255 changed, 0 not).")
@click.option("--geojson-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the changes as GeoJSON (GeoTIFFs: longitude and latitude; images: "
                   "coordinates of a frame at 0° N 0° E).")
@click.option("--overlay-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write AFTER aligned onto BEFORE with the changes outlined, as a PNG.")
def landwatch_compare_command(before, after, metres_per_pixel, bands, mask_out, geojson_out,
                              overlay_out):
    """Compare two images of one place as land watch does; print a JSON summary."""
    try:
        if bands is None and metres_per_pixel is None:
            raise compare_files.ImageFileError("give --metres-per-pixel for images, or --bands "
                                               "for multi-band GeoTIFFs")
        if bands is not None and metres_per_pixel is not None:
            raise compare_files.ImageFileError("--metres-per-pixel does not go with --bands: "
                                               "GeoTIFFs carry their own")
        if bands is not None:
            names = [name.strip() for name in bands.split(",")]
            comparison = compare_files.compare_band_files(before, after, names)
        else:
            comparison = compare_files.compare_image_files(before, after, metres_per_pixel)
    except compare_files.ImageFileError as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(BAD_INPUT) from None
    click.echo(json.dumps(compare_files.summary(comparison), indent=2, ensure_ascii=False))
    if comparison.result.skipped:
        click.echo(f"not compared: {comparison.result.skipped}; no file written", err=True)
        raise SystemExit(NOT_COMPARED)
    outputs = [
        (mask_out, lambda: encode_png(compare_files.change_mask(comparison))),
        (geojson_out, lambda: json.dumps(compare_files.feature_collection(comparison)).encode()),
        (overlay_out, lambda: compare_files.overlay_png(comparison)),
    ]
    for path, contents in outputs:
        if path is None:
            continue
        try:
            write_atomically(path, contents())
        except StorageError as error:
            reason = getattr(error.__cause__, "strerror", None) or error
            raise click.ClickException(f"cannot write {path}: {reason}") from error


@click.command("worker", context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@with_appcontext
def worker_command(celery_args):
    """Take queued captures, comparisons, pushes and ATC work (BACKGROUND_BACKEND=celery).

    Arguments go to ``celery worker`` (e.g. ``--concurrency 2 --pool prefork``).
    """
    celery = current_app.extensions.get("celery")
    if celery is None:
        raise click.ClickException("BACKGROUND_BACKEND is not celery: set it (and "
                                   "CELERY_BROKER_URL) to run a worker")
    celery.worker_main(["worker", "--loglevel", current_app.config["LOG_LEVEL"],
                        *celery_args])


@config_cli.command("docs")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 if a generated file differs from config.py.")
def config_docs_command(check):
    """Write .env.example and docs/configuration.md from the settings in config.py."""
    if check:
        stale = config_docs.stale_files()
        if stale:
            names = ", ".join(str(path) for path in stale)
            raise click.ClickException(f"{names} differ from config.py: run flask config docs")
        click.echo("generated settings files are current")
        return
    written = config_docs.write_files()
    click.echo(f"wrote {', '.join(str(path) for path in written)}" if written
               else "generated settings files are current")


def register_cli(app):
    """Attach every command to ``flask``; the demo's only when the demo is on."""
    commands = [users_cli, notifications_cli, landwatch_cli, config_cli, scheduler_cli,
                worker_command, analytics_cli]
    if app.config["DEMO_ENABLED"]:
        from app.demo.cli import fleet_cli, seed_command

        commands += [seed_command, fleet_cli]
    for command in commands:
        app.cli.add_command(command)
