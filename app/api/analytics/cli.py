"""``flask analytics backtest | forecast | import-csv``: real history in, forecasts out."""

import csv
import json
import math
from contextlib import contextmanager
from datetime import UTC, datetime

import click
from flask import current_app

from app.extensions import db
from app.models.incident import INCIDENT_TYPES
from app.services import hotspot_history, incident_import
from app.services.errors import InvalidInput
from app.services.hotspots.evaluation import BASELINES
from app.services.incident_csv import CsvFormatError, parse_mapping
from app.services.jurisdiction import Jurisdiction

MAP_HELP = ("Map the file's columns to fields: COLUMN=FIELD,... (fields: reported_at, "
            "latitude, longitude, offense, ucr); usual column names are found without it.")


class IsoTime(click.ParamType):
    """An ISO 8601 time; without an offset it is UTC."""

    name = "ISO_TIME"

    def convert(self, value, param, ctx):
        """Return epoch seconds."""
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time such as 2024-10-01T00:00:00Z", param,
                      ctx)
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class FoldCount(click.ParamType):
    """A number of folds, or ``all`` for as many as the history holds."""

    name = "N|all"

    def convert(self, value, param, ctx):
        """Return the count, or None for ``all``."""
        if value is None or str(value).lower() == "all":
            return None
        try:
            folds = int(value)
        except ValueError:
            folds = 0
        if folds < 1:
            self.fail(f"{value!r} is not a positive number of folds or 'all'", param, ctx)
        return folds


def method_names(report):
    """Return the back-test's method labels, with its parameters filled in."""
    p = report["parameters"]
    return {"forecast": "the service's forecast",
            "recent_counts": f"counts of the last {p['recent_days']} days",
            "window_counts": f"counts of the last {p['fit_days']} days",
            "kde": f"Gaussian KDE, {p['kde_bandwidth_m']:g} m",
            "gi_star_decay": f"Gi* with decay ({p['half_life_days']:g}-day half-life)",
            "random": "random cells",
            "hindsight": "hindsight: all other days' counts (reads the future)",
            "nearby_weeks": (f"nearby weeks: the {p['nearby_days']} days either side "
                             "(reads the future)"),
            "ceiling": "the ceiling: the period's own counts (reads the future)"}


def backtest_table(report):
    """Return the back-test summary as Markdown: PAI (mean ± spread) and hit rate."""
    coverages = report["parameters"]["coverages"]
    header = ["method"] + [f"{label} at {c:.0%} of the area" for c in coverages
                           for label in ("PAI", "hit rate")]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    names = method_names(report)
    for method, scores in report["summary"].items():
        cells = [f"{s['pai']:.2f} ± {s['pai_sd']:.2f} | {s['hit_rate']:.1%}" for s in scores]
        lines.append(f"| {names.get(method, method)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def backtest_verdict(report):
    """Return one line: the forecast's mean PAI over the best baseline's, per coverage."""
    ratios = [f"{row['ratio_to_best_baseline']:.3f} at {row['coverage']:.0%}"
              for row in report["summary"]["forecast"]]
    return (f"The forecast's mean PAI over the best of {len(BASELINES)} baselines: "
            + ", ".join(ratios) + ".")


def left_out_lines(rejected, far):
    """Return what was left out and why, one line each: rows by reason, far outliers."""
    lines = [f"Left out {_rows(count)}: {reason}." for reason, count in rejected.items()]
    if far:
        lines.append(f"Left out {counted(far['incidents'], 'incident')} in "
                     f"{counted(far['cells'], 'cell')} {far['reason']}.")
    return lines


@click.command("backtest")
@click.option("--csv", "csv_file", type=click.Path(exists=True, dir_okay=False),
              help="Back-test a CSV export instead of the stored incidents.")
@click.option("--map", "mapping", default="", help=MAP_HELP)
@click.option("--type", "types", multiple=True,
              help="Only these: incident types (stored) or offences (CSV); repeatable.")
@click.option("--folds", type=FoldCount(), default="8", show_default=True,
              help="Forecast periods, stepping back from the newest incident, or 'all'.")
@click.option("--fit-days", type=click.IntRange(min=7), default=90, show_default=True,
              help="Days of history each forecast is fitted on.")
@click.option("--recent-days", type=click.IntRange(min=1), default=28, show_default=True,
              help="Days the recent-counts baseline looks back.")
@click.option("--horizon-days", type=click.IntRange(min=1), default=7, show_default=True,
              help="Days each forecast covers.")
@click.option("--resolution", type=click.IntRange(min=0, max=15), default=9,
              show_default=True, help="H3 resolution of the cells.")
@click.option("-k", "k", type=click.IntRange(min=1, max=5), default=1, show_default=True,
              help="Gi* neighbourhood rings.")
@click.option("--half-life-days", type=click.FloatRange(min=0, min_open=True), default=21.0,
              show_default=True, help="Time decay of the Gi* ranking.")
@click.option("--kde-bandwidth-m", type=click.FloatRange(min=1), default=200.0,
              show_default=True, help="Bandwidth of the kernel-density baseline.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the random baseline and of ties.")
def backtest_command(csv_file, mapping, types, folds, fit_days, recent_days, horizon_days,
                     resolution, k, half_life_days, kde_bandwidth_m, seed):
    """Rolling back-test: PAI at 1 % and 5 % of the area, the forecast vs the baselines."""
    if recent_days > fit_days:
        raise click.BadParameter("must not exceed --fit-days", param_hint="--recent-days")
    options = {"resolution": resolution, "k": k, "half_life_days": half_life_days,
               "fit_days": fit_days, "recent_days": recent_days, "folds": folds,
               "horizon_days": horizon_days, "seed": seed, "kde_bandwidth_m": kde_bandwidth_m}
    rejected = {}
    with _clear_errors():
        if csv_file:
            rows, incidents = hotspot_history.read_export(
                csv_file, mapping=parse_mapping(mapping), offenses=types)
            report = hotspot_history.backtest_export(incidents, **options)
            rejected = rows.rejected
        else:
            report = hotspot_history.backtest_stored_incidents(types=_stored_types(types),
                                                               **options)
    scored = sum(1 for fold in report["folds"] if fold["forecast_incidents"] > 0)
    flagged = report["flagged_cells"]
    click.echo(f"{report['parameters']['folds']} folds of {horizon_days} days ({scored} with "
               f"incidents), fitted on {fit_days} days; {report['study_area_cells']:,} cells "
               f"at resolution {resolution} (1 % = {flagged[0]:,} cells, 5 % = "
               f"{flagged[1]:,}); PAI as mean ± standard deviation over the folds")
    for line in left_out_lines(rejected, report["left_out"]["far"]):
        click.echo(line)
    click.echo(backtest_table(report))
    if not scored or math.isnan(report["summary"]["random"][0]["pai"]):
        click.echo("No forecast period had incidents: nothing was scored.")
    else:
        click.echo(backtest_verdict(report))


@click.command("forecast")
@click.option("--at", "at", type=IsoTime(), required=True,
              help="Forecast start: the 7 days from here are forecast from rows before it.")
@click.option("--csv", "csv_file", type=click.Path(exists=True, dir_okay=False),
              help="Forecast from a CSV export instead of the stored incidents.")
@click.option("--map", "mapping", default="", help=MAP_HELP)
@click.option("--type", "types", multiple=True,
              help="Only these: incident types (stored) or offences (CSV); repeatable.")
@click.option("--resolution", type=click.IntRange(min=0, max=15), default=9,
              show_default=True, help="H3 resolution of the cells.")
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many cells to print, the most expected incidents first.")
@click.option("--fit-days", type=click.IntRange(min=7), default=90, show_default=True,
              help="Days of history before --at the forecast is fitted on.")
def forecast_command(at, csv_file, mapping, types, resolution, top, fit_days):
    """Print {"cells": [...]}: the top H3 cells for the 7 days after --at."""
    options = {"resolution": resolution, "top": top, "fit_days": fit_days}
    rejected = {}
    with _clear_errors():
        if csv_file:
            rows, incidents = hotspot_history.read_export(
                csv_file, mapping=parse_mapping(mapping), offenses=types)
            result = hotspot_history.forecast_export(incidents, at, **options)
            rejected = rows.rejected
        else:
            result = hotspot_history.forecast_stored_incidents(at, types=_stored_types(types),
                                                               **options)
    for line in left_out_lines(rejected, result["left_out"]["far"]):
        click.echo(line, err=True)
    click.echo(json.dumps({"cells": result["cells"]}))


@click.command("import-csv")
@click.argument("csv_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--map", "mapping", default="", help=MAP_HELP)
@click.option("--batch-rows", type=click.IntRange(min=1, max=20_000), default=5_000,
              show_default=True, help="Rows inserted and committed at a time.")
def import_csv_command(csv_file, mapping, batch_rows):
    """Load a published incident export into the incidents table (again: adds only new rows)."""
    with _clear_errors():
        rows, _ = hotspot_history.read_export(
            csv_file, mapping=parse_mapping(mapping),
            jurisdiction=Jurisdiction.from_config(current_app.config),
            progress=lambda n: click.echo(f"read {n:,} rows", err=True))
    click.echo(f"Read {rows.rows_read:,} rows; {rows.incidents.lat.size:,} usable.")
    for reason, count in rows.rejected.items():
        click.echo(f"Rejected {_rows(count)}: {reason}.")

    def committed(done, total):
        db.session.commit()
        click.echo(f"stored {done:,} of {total:,}", err=True)

    tally = incident_import.import_rows(rows, batch_rows=batch_rows, after_batch=committed)
    click.echo(f"Imported {tally['imported']:,} incidents; {tally['already_stored']:,} were "
               "already stored.")
    if tally["types"]:
        click.echo("By type: " + ", ".join(f"{kind} {n:,}" for kind, n in tally["types"].items()))


def _rows(count):
    return counted(count, "row")


def counted(count, noun):
    """``count`` and the noun, plural unless one: '1 incident', '2,000 cells'."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _stored_types(types):
    unknown = sorted(set(types) - set(INCIDENT_TYPES))
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}: stored incidents have the types "
                                 f"{', '.join(INCIDENT_TYPES)}", param_hint="--type")
    return list(types) or None


@contextmanager
def _clear_errors():
    """Turn the services' refusals into a one-line error and exit status 1."""
    try:
        yield
    except InvalidInput as error:
        raise click.ClickException(error.detail) from error
    except (CsvFormatError, csv.Error, UnicodeDecodeError, OSError) as error:
        raise click.ClickException(str(error)) from error
