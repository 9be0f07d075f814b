"""Hotspot statistics: vectorised Gi* vs a per-cell loop, and the full analysis at scale.

DBSCAN and the back-test are measured end to end, on stored incidents, in bench_hotspots.

Synthetic city (about 20 x 20 km around London): a uniform background plus hot spots whose
intensity rises or fades over the 90 days, so decay and trend have something to find.
Everything runs single-threaded on the same data in one process.
"""

import math
import statistics
import time
import tracemalloc

import h3.api.basic_int as h3
import numpy as np

from app.services.hotspots import Incidents, analyse, bucket_origin
from app.services.hotspots.counts import aggregate_incidents
from app.services.hotspots.grid import neighbour_matrix
from app.services.hotspots.stats import gi_star
from bench.common import md_table, ratio, time_calls

DAY = 86_400.0
UNTIL = 1_750_000_000.0
CENTRE = (51.50, -0.12)


def synthetic_city(n, seed=0, days=90):
    """Incidents: 70 % uniform, 30 % in eight hot spots (four rising, four fading)."""
    rng = np.random.default_rng(seed)
    lat = rng.uniform(CENTRE[0] - 0.09, CENTRE[0] + 0.09, n)
    lon = rng.uniform(CENTRE[1] - 0.14, CENTRE[1] + 0.14, n)
    age = rng.uniform(0, days, n)
    spots = rng.uniform([-0.07, -0.11], [0.07, 0.11], (8, 2)) + CENTRE
    hot = int(0.3 * n)
    which = rng.integers(0, 8, hot)
    lat[:hot] = spots[which, 0] + rng.normal(0, 0.002, hot)
    lon[:hot] = spots[which, 1] + rng.normal(0, 0.003, hot)
    # Rising spots put more incidents near the end of the window, fading ones near the start.
    ramp = rng.triangular(0, 0, days, hot)
    age[:hot] = np.where(which < 4, ramp, days - ramp)
    types = rng.choice(["theft", "assault", "burglary", "vandalism", "drugs"], n)
    return Incidents(lat, lon, UNTIL - age * DAY, types, rng.integers(1, 6, n))


def naive_gi_star(cells, values, k=1):
    """Gi* the straightforward way: one cell at a time, grid_disk and dictionary look-ups."""
    index = {c: i for i, c in enumerate(cells.tolist())}
    n = len(values)
    mean = sum(values) / n
    s = math.sqrt(sum(v * v for v in values) / n - mean * mean)
    z = []
    for cell in cells.tolist():
        members = [index[c] for c in h3.grid_disk(cell, k) if c in index]
        w = len(members)
        lag = sum(values[j] for j in members)
        denominator = s * math.sqrt((n * w - w * w) / (n - 1))
        z.append((lag - mean * w) / denominator if denominator > 0 else 0.0)
    return z


def disk_cells(cells_wanted, resolution=10):
    k = max(1, round((math.sqrt(12 * cells_wanted - 3) - 3) / 6))
    centre = h3.latlng_to_cell(*CENTRE, resolution)
    return np.unique(np.array(h3.grid_disk(centre, k), dtype=np.int64))


def gi_star_section():
    rows = []
    for wanted in (1_000, 10_000, 100_000):
        cells = disk_cells(wanted)
        values = np.random.default_rng(1).poisson(3.0, cells.size).astype(float)
        listed = values.tolist()
        repeat = 3 if cells.size > 20_000 else 5
        ours = time_calls(lambda c=cells, v=values: gi_star(v, neighbour_matrix(c, 1)), repeat)
        weights = neighbour_matrix(cells, 1)
        stat_only = time_calls(lambda v=values, w=weights: gi_star(v, w), repeat)
        naive = time_calls(lambda c=cells, v=listed: naive_gi_star(c, v), repeat)
        check = np.max(np.abs(gi_star(values, weights) - naive_gi_star(cells, listed)))
        rows.append([f"{cells.size:,}", _ms(naive), _ms(ours), _ms(stat_only),
                     f"{ratio(naive, ours):.0f}x", f"{ratio(naive, stat_only):.0f}x",
                     f"{check:.1e}"])
    return md_table(["cells", "naive loop ms", "ours ms (weights + Gi*)", "ours ms (Gi* only)",
                     "ratio", "ratio (Gi* only)", "max abs diff"], rows)


def analysis_section():
    rows = []
    memory = {}
    since = UNTIL - 90 * DAY

    def analysis_of(counts):
        return analyse(counts, since=since, until=UNTIL, half_life_days=30, trend=True)

    for n in (10_000, 100_000, 1_000_000):
        incidents = synthetic_city(n)
        started = time.perf_counter()
        counts = aggregate_incidents(incidents, 9, bucket_origin(since, UNTIL))
        binning_s = time.perf_counter() - started
        samples = time_calls(lambda c=counts: analysis_of(c), 5)
        result = analysis_of(counts)
        if n == 1_000_000:
            memory = _peak_mib(lambda c=counts: analysis_of(c))
        rows.append([f"{n:,}", f"{counts.cells.size:,}", result["counts"]["study_area_cells"],
                     f"{binning_s * 1000:.0f}", _ms(samples), result["counts"]["hot_cells"],
                     result["counts"]["zones"], result["trend"]["slices"]])
    table = md_table(["incidents", "(cell, day) rows", "study-area cells",
                      "binning ms (plain arrays, once)", "analyse ms (from counts, trend on)",
                      "hot cells", "zones", "weekly slices"], rows)
    return table, memory


def run():
    """Run every comparison; return the Markdown section."""
    gi_table = gi_star_section()
    analysis_table, memory = analysis_section()
    return "\n".join([
        "## Hotspot statistics",
        "",
        "Synthetic city, about 20 x 20 km: 70 % uniform incidents and 30 % in eight hot spots "
        "(four rising, four fading over 90 days). Single-threaded; medians.",
        "",
        "### Getis-Ord Gi*: vectorised vs a per-cell loop",
        "",
        "Random Poisson counts on an H3 resolution-10 disk, k = 1. *Naive*: per cell, "
        "`grid_disk` and dictionary look-ups in Python. *Ours*: local-IJ neighbour matrix "
        "(sparse) and one sparse product; the last column checks both give the same z. "
        "Building the weights is most of our time; they are built once per request and "
        "reused for every time slice of the trend, where the loop would run again per slice.",
        "",
        gi_table,
        "",
        "### Full analysis (`analyse`), resolution 9, k = 1, half-life 30 days, trend on",
        "",
        "From `CellCounts` (the rows a SQL `GROUP BY cell, day` returns): study area with "
        "empty cells, neighbours, Gi* + FDR, zones, 12 weekly slices of Gi* and Mann-Kendall. "
        "Binning the raw arrays (what the database does at write time) is timed apart.",
        "",
        analysis_table,
        "",
        f"Peak traced memory of one analysis of 1,000,000 incidents from counts: "
        f"{memory.get('peak_mib', float('nan')):.0f} MiB.",
        "",
    ])


def _peak_mib(func):
    tracemalloc.start()
    try:
        func()
        return {"peak_mib": tracemalloc.get_traced_memory()[1] / 2**20}
    finally:
        tracemalloc.stop()


def _ms(samples):
    return f"{statistics.median(samples) * 1000:.1f}"


if __name__ == "__main__":
    print(run())
