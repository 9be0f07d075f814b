"""Hot spot forecasts on real history: the service's forecast against counting, week by week.

The published 2024 Philadelphia incidents (``../shared/data/crime/``, or under
``CPS_REAL_DATA_DIR``), dirty rows included: the reader rejects and counts them. Every
weekly fold the year holds is scored, each fitted on the previous 90 days only: the service's
forecast, the three simple baselines (counts of the last 28 and 90 days, a Gaussian KDE of
200 m), Gi* with decay, and three rankings that read the future (hindsight, nearby weeks and
the ceiling).
Resolutions 9 and 8; all incidents and the three commonest offences.
"""

import time
from collections import Counter

import numpy as np

from app.api.analytics.cli import counted, method_names
from app.services.hotspots import rolling_backtest
from app.services.hotspots.evaluation import BASELINES
from app.services.incident_csv import read_incident_csv
from bench.common import md_table
from tests.support.real_data import CRIME_2024, real_data_path

RESOLUTIONS = (9, 8)
OFFENCES = 3
TARGET = 1.05


def run():
    """Back-test every fold of the real year per resolution and offence; tabulate."""
    path = real_data_path(*CRIME_2024)
    if not path.exists():
        return ("## Hot spot forecasts on real history\n\n"
                f"_Not run: {path.name} is not under the real-data folder on this machine._")
    started = time.perf_counter()
    rows = read_incident_csv(path)
    read_s = time.perf_counter() - started
    kinds = [None] + [k for k, _ in Counter(rows.offense.tolist()).most_common(OFFENCES)]
    reports = {}
    for resolution in RESOLUTIONS:
        for kind in kinds:
            incidents = rows.incidents if kind is None else rows.incidents.where(
                rows.offense == kind)
            tick = time.perf_counter()
            report = rolling_backtest(incidents, resolution=resolution, folds=None)
            reports[resolution, kind] = (report, time.perf_counter() - tick)
    return _section(path, rows, read_s, reports)


def _section(path, rows, read_s, reports):
    summary, ratios, hindsight, nearby = [], [], [], []
    for (resolution, kind), (report, _) in reports.items():
        for i, coverage in enumerate(report["parameters"]["coverages"]):
            scores = {name: rows[i] for name, rows in report["summary"].items()}
            best = max(BASELINES, key=lambda name: scores[name]["pai"])
            ratios.append(scores["forecast"]["ratio_to_best_baseline"])
            hindsight.append(scores["hindsight"]["pai"] / scores[best]["pai"])
            nearby.append(scores["nearby_weeks"]["pai"] / scores[best]["pai"])
            summary.append([resolution, kind or "all incidents", f"{coverage:.0%}",
                            _pai(scores["forecast"]),
                            f"{_label(report, best)}: {_pai(scores[best])}",
                            f"{ratios[-1]:.3f}", _wins(report, i), _pai(scores["hindsight"]),
                            f"{hindsight[-1]:.3f}", f"{nearby[-1]:.3f}",
                            _pai(scores["ceiling"])])
    reached = sum(r >= TARGET for r in ratios)
    first = next(iter(reports.values()))[0]
    lines = [
        "## Hot spot forecasts on real history",
        "",
        f"**Over {len(ratios)} (resolution, offence, coverage) cases the service's forecast "
        f"scores {min(ratios):.3f}–{max(ratios):.3f} × the mean PAI of the best of the three "
        f"baselines (median {np.median(ratios):.3f}); {TARGET} × is reached in {reached} of them. "
        "Ranking by the "
        "counts of the whole year outside the scored week, which reads the future, scores "
        f"{min(hindsight):.3f}–{max(hindsight):.3f} × (median {np.median(hindsight):.3f}): "
        "a steady rate per cell, known in hindsight, is barely better than counting. Ranking "
        f"by the {first['parameters']['nearby_days']} days on either side of the scored week, "
        "which reads the future too and follows a rate that drifts, scores "
        f"{min(nearby):.3f}–{max(nearby):.3f} × (median {np.median(nearby):.3f}; "
        f"{TARGET} × or more in {sum(r >= TARGET for r in nearby)} cases): where that stays "
        f"under {TARGET} ×, no forecast from the past can be expected to reach it; the rest of "
        "the way to the ceiling is the chance in one week's counts.**",
        "",
        f"`{path.name}`: {rows.rows_read:,} rows, {rows.incidents.lat.size:,} usable; "
        + "; ".join(f"{n:,} rejected: {reason}" for reason, n in rows.rejected.items())
        + f" (read in {read_s:.1f} s). {first['parameters']['folds']} weekly folds (all "
        f"incidents), each fitted on the previous {first['parameters']['fit_days']} days; "
        "PAI = share of the week's incidents in the flagged cells ÷ their share of the "
        "study area, as mean ± standard deviation over the folds. *Wins*: folds where the "
        "forecast beats all three baselines.",
        "",
        md_table(["res.", "incidents", "area", "forecast PAI", "best baseline PAI",
                  "forecast ÷ best", "wins", "hindsight PAI", "hindsight ÷ best",
                  "nearby ÷ best", "ceiling PAI"], summary),
        "",
    ]
    for (resolution, kind), (report, seconds) in reports.items():
        names = method_names(report)
        left = report["left_out"]["far"]
        lines += [
            f"### Resolution {resolution}, {kind or 'all incidents'}",
            "",
            f"{report['study_area_cells']:,} cells (1 % = {report['flagged_cells'][0]}, "
            f"5 % = {report['flagged_cells'][1]}); {report['parameters']['folds']} folds in "
            f"{seconds:.1f} s" + (f"; left out {counted(left['incidents'], 'incident')} "
                                  f"{left['reason']}" if left else "") + ".",
            "",
            md_table(["method", "PAI at 1 %", "PAI at 5 %"],
                     [[names[m], *(_pai(s) for s in scores)]
                      for m, scores in report["summary"].items()]),
            "",
        ]
    return "\n".join(lines).rstrip()


def _wins(report, i):
    scored = [f for f in report["folds"] if f["forecast_incidents"] > 0]
    wins = sum(f["scores"]["forecast"][i]["pai"] > max(f["scores"][b][i]["pai"]
                                                      for b in BASELINES) for f in scored)
    return f"{wins} of {len(scored)}"


def _label(report, method):
    return method_names(report)[method].replace("counts of the last ", "counts ")


def _pai(score):
    return f"{score['pai']:.2f} ± {score['pai_sd']:.2f}"


if __name__ == "__main__":
    print(run())
