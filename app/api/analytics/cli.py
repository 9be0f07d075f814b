"""``flask analytics backtest``: score the hot spot forecast on the stored incidents."""

import math

import click

from app.services import hotspot_queries
from app.services.errors import InvalidInput

METHOD_NAMES = {"gi_star_decay": "Gi* with decay", "recent_counts": "recent counts",
                "random": "random cells"}


def backtest_table(report):
    """Return the back-test summary as a Markdown table: hit rate and PAI per coverage."""
    coverages = report["parameters"]["coverages"]
    header = ["method"] + [f"{label} at {c:.0%} of the area" for c in coverages
                           for label in ("hit rate", "PAI")]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method, scores in report["summary"].items():
        cells = [f"{s['hit_rate']:.1%} | {s['pai']:.2f}" for s in scores]
        lines.append(f"| {METHOD_NAMES.get(method, method)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@click.command("backtest")
@click.option("--fit-days", type=click.IntRange(min=7), default=90, show_default=True,
              help="Days of history each forecast is fitted on.")
@click.option("--recent-days", type=click.IntRange(min=1), default=28, show_default=True,
              help="Days the plain-counts baseline looks back.")
@click.option("--horizon-days", type=click.IntRange(min=1), default=7, show_default=True,
              help="Days each forecast covers.")
@click.option("--folds", type=click.IntRange(min=1, max=104), default=8, show_default=True,
              help="Forecast periods, stepping back from the newest incident.")
@click.option("--resolution", type=click.IntRange(min=0, max=15), default=9,
              show_default=True, help="H3 resolution of the cells.")
@click.option("-k", "k", type=click.IntRange(min=1, max=5), default=1, show_default=True,
              help="Gi* neighbourhood rings.")
@click.option("--half-life-days", type=click.FloatRange(min=0, min_open=True), default=21.0,
              show_default=True, help="Time decay of the Gi* method.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the random baseline.")
def backtest_command(fit_days, recent_days, horizon_days, folds, resolution, k,
                     half_life_days, seed):
    """Rolling back-test: PAI and hit rate at 1 % and 5 % of the area, Gi* vs baselines."""
    if recent_days > fit_days:
        raise click.BadParameter("must not exceed --fit-days", param_hint="--recent-days")
    try:
        report = hotspot_queries.backtest_stored_incidents(
            resolution=resolution, k=k, half_life_days=half_life_days, fit_days=fit_days,
            recent_days=recent_days, horizon_days=horizon_days, folds=folds, seed=seed)
    except InvalidInput as error:
        raise click.ClickException(error.detail) from error
    scored = sum(1 for fold in report["folds"] if fold["forecast_incidents"] > 0)
    click.echo(f"{folds} folds of {horizon_days} days ({scored} with incidents), fitted on "
               f"{fit_days} days; {report['study_area_cells']:,} cells at resolution "
               f"{resolution}")
    click.echo(backtest_table(report))
    if not scored or math.isnan(report["summary"]["random"][0]["pai"]):
        click.echo("No forecast period had incidents: nothing was scored.")
