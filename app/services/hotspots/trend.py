"""Space-time trend: Gi* per time slice, Mann-Kendall per cell, emerging hot spot labels.

Labels adapt ESRI's Emerging Hot Spot Analysis to the six the product names. A slice is *hot*
for a cell when its Gi* is significantly positive at the FDR level (``stats.hot_spot_test``,
one BH family per slice) and *cold* when significantly negative. With T slices, the last one
being the most recent, and "mostly hot" meaning hot in at least 90 % of the slices:

- ``new``: hot in the last slice; the current uninterrupted run of hot slices is the only hot
  time the cell has had, and it is not mostly hot. (ESRI's *new* and *consecutive* hot spots.)
- ``intensifying``: mostly hot, hot in the last slice, and the Mann-Kendall test on the
  cell's Gi* z-scores over time shows a significant increase (p <= alpha, z > 0).
- ``persistent``: mostly hot, hot in the last slice, no significant trend either way.
- ``diminishing``: mostly hot, hot in the last slice, significant decrease.
- ``historical``: mostly hot but not hot in the last slice.
- ``sporadic``: hot in some slices, not mostly hot, and not ``new``: an on-and-off hot spot.
  This also covers ESRI's *oscillating* hot spots (ones that were cold at some time).
- none: never hot.

ESRI adds time-lagged neighbours to each slice's neighbourhood; here each slice is analysed on
its own spatial k-ring. The trend needs at least ``MIN_SLICES`` slices.
"""

from dataclasses import dataclass

import numpy as np
from scipy import stats

from app.services.hotspots.stats import hot_spot_test

MIN_SLICES = 10
MOSTLY = 0.9
LABELS = ("new", "intensifying", "persistent", "diminishing", "sporadic", "historical")


@dataclass(frozen=True)
class MannKendall:
    """Mann-Kendall test per series: S, its tie-corrected variance, z, two-sided p, tau-b."""

    s: np.ndarray
    var_s: np.ndarray
    z: np.ndarray
    p: np.ndarray
    tau: np.ndarray


def mann_kendall(series):
    """Run the Mann-Kendall trend test along the last axis of ``series``.

    ``S = sum_{i<j} sign(y_j - y_i)``. Ties in y shrink the variance:
    ``Var(S) = (n(n-1)(2n+5) - sum_t t(t-1)(2t+5)) / 18`` over the tie groups of size t.
    ``z = (S - sign(S)) / sqrt(Var(S))`` (continuity correction), 0 when S or Var(S) is 0;
    ``tau`` is Kendall's tau-b between time and y, ``S / sqrt(n0 (n0 - n1))`` with
    ``n0 = n(n-1)/2`` and ``n1 = sum_t t(t-1)/2``.
    """
    y = np.asarray(series, dtype=float)
    flat = y.ndim == 1
    y = np.atleast_2d(y)
    n = y.shape[1]
    s = np.zeros(y.shape[0])
    for lag in range(1, n):
        s += np.sign(y[:, lag:] - y[:, :-lag]).sum(axis=1)
    # For each value, t = size of its tie group; summing f(t)/t over members gives sum_t f(t).
    t = (y[:, :, None] == y[:, None, :]).sum(axis=2).astype(float)
    ties_var = ((t - 1) * (2 * t + 5)).sum(axis=1)
    tied_pairs = ((t - 1) / 2).sum(axis=1)
    var_s = (n * (n - 1) * (2 * n + 5) - ties_var) / 18.0
    z = np.zeros_like(s)
    usable = var_s > 0
    np.divide(s - np.sign(s), np.sqrt(var_s, where=usable, out=np.ones_like(var_s)),
              out=z, where=usable)
    pairs = n * (n - 1) / 2.0
    tau_den = np.sqrt(pairs * np.maximum(pairs - tied_pairs, 0.0))
    tau = np.zeros_like(s)
    np.divide(s, tau_den, out=tau, where=tau_den > 0)
    p = 2.0 * stats.norm.sf(np.abs(z))
    result = MannKendall(s=s, var_s=var_s, z=z, p=p, tau=tau)
    if flat:
        return MannKendall(*(float(getattr(result, f)[0]) for f in ("s", "var_s", "z", "p", "tau")))
    return result


def emerging_labels(hot, z_series, alpha=0.05):
    """Return the emerging hot spot label of each cell (None where there is none).

    ``hot`` is a boolean (cells, slices) matrix of significant hot slices, oldest first, and
    ``z_series`` the Gi* z-scores whose Mann-Kendall trend separates intensifying, persistent
    and diminishing hot spots. Returns the labels and the Mann-Kendall results of the cells
    that were hot at least once (NaN elsewhere).
    """
    hot = np.asarray(hot, dtype=bool)
    n_cells, n_slices = hot.shape
    labels = np.full(n_cells, None, dtype=object)
    mk_z = np.full(n_cells, np.nan)
    mk_p = np.full(n_cells, np.nan)
    mk_tau = np.full(n_cells, np.nan)
    ever = hot.any(axis=1)
    if not ever.any():
        return labels, {"z": mk_z, "p": mk_p, "tau": mk_tau}
    idx = np.flatnonzero(ever)
    h = hot[idx]
    mk = mann_kendall(np.asarray(z_series, dtype=float)[idx])
    mk_z[idx], mk_p[idx], mk_tau[idx] = mk.z, mk.p, mk.tau

    last = h[:, -1]
    mostly = h.sum(axis=1) >= MOSTLY * n_slices
    # Length of the hot run ending at the last slice, and the total hot count.
    cold_from_end = ~h[:, ::-1]
    run = np.where(cold_from_end.any(axis=1), cold_from_end.argmax(axis=1), n_slices)
    only_run = h.sum(axis=1) == run
    rising = (mk.p <= alpha) & (mk.z > 0)
    falling = (mk.p <= alpha) & (mk.z < 0)

    chosen = np.full(idx.size, "sporadic", dtype=object)
    chosen[last & only_run & ~mostly] = "new"
    chosen[mostly & ~last] = "historical"
    chosen[mostly & last] = "persistent"
    chosen[mostly & last & rising] = "intensifying"
    chosen[mostly & last & falling] = "diminishing"
    labels[idx] = chosen
    return labels, {"z": mk_z, "p": mk_p, "tau": mk_tau}


def slice_edges(since, until, slice_seconds):
    """Return the start times of the whole slices ending at ``until`` and fitting after ``since``.

    Slices are anchored at ``until`` so the last one is the most recent; a part-slice left at
    the start of the window is not analysed (it would carry less exposure than the others).
    """
    n = int((until - since) // slice_seconds)
    return until - slice_seconds * np.arange(n, 0, -1, dtype=float)


def space_time_trend(slice_values, neighbours, alpha=0.05, min_slices=MIN_SLICES):
    """Label every cell from its per-slice values (cells x slices, oldest slice first).

    Returns ``{"available": False, "reason": ...}`` when there are fewer than ``min_slices``
    slices; otherwise the labels, the per-slice hot matrix and the Mann-Kendall figures.
    """
    values = np.asarray(slice_values, dtype=float)
    n_slices = values.shape[1] if values.ndim == 2 else 0
    if n_slices < min_slices:
        return {"available": False, "slices": n_slices,
                "reason": f"the trend needs at least {min_slices} time slices; "
                          f"the window holds {n_slices}"}
    test = hot_spot_test(values, neighbours, alpha)
    labels, mk = emerging_labels(test.hot, test.z, alpha)
    return {"available": True, "slices": n_slices, "labels": labels, "hot": test.hot,
            "cold": test.cold, "mann_kendall": mk}
