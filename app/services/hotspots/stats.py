"""Getis-Ord Gi*, Benjamini-Hochberg FDR and Gi_Bin confidence classes, vectorised.

How bins and FDR combine (the rule the rest of the package follows):

1. Gi* gives each cell a z-score; its two-sided p-value is ``2 * (1 - Phi(|z|))``.
2. The p-values of one analysis (one time slice, for the space-time trend) are one family.
   Benjamini-Hochberg turns them into adjusted p-values ("q-values"):
   ``q_(i) = min_{j >= i} min(1, n * p_(j) / j)`` over the p-values sorted ascending.
3. The confidence bin is ``sign(z) * 3`` if ``q <= 0.01``, ``sign(z) * 2`` if ``q <= 0.05``,
   ``sign(z) * 1`` if ``q <= 0.10``, else 0. Because ``q_i <= a`` exactly when ``p_i`` is at or
   below the BH critical p-value for FDR level ``a``, this is ArcGIS's Gi_Bin with its FDR
   correction on: one BH threshold per confidence level (99, 95, 90 %).
4. A cell is *significant* when ``q <= alpha`` (the caller's FDR level, default 0.05); with the
   default, significant hot cells are exactly those with bin +2 or +3. Zones and the
   space-time labels use "significant", never a bare p-value.
"""

from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE_BINS = ((3, 0.01), (2, 0.05), (1, 0.10))


def gi_star(values, neighbours):
    """Return the Getis-Ord Gi* z-score of every cell (columns of 2-D ``values`` separately).

    ``values`` holds one figure per study-area cell (counts or decayed weights), ``neighbours``
    the binary weights with each cell in its own neighbourhood. With n cells, mean X and
    S = sqrt(sum(x^2) / n - X^2), and W_i the number of cells in i's neighbourhood::

        Gi*_i = (sum_j w_ij x_j - X W_i) / (S sqrt((n W_i - W_i^2) / (n - 1)))

    (binary weights make sum w_ij^2 = W_i). Cells whose denominator is 0 (no variation in the
    data, or a neighbourhood that is the whole area) get z = 0: no evidence either way.
    """
    x = np.asarray(values, dtype=float)
    flat = x.ndim == 1
    if flat:
        x = x[:, None]
    n = x.shape[0]
    if n < 2:
        return np.zeros(x.shape[0]) if flat else np.zeros_like(x)
    w_sum = np.asarray(neighbours.sum(axis=1)).ravel()[:, None]
    lag = neighbours @ x
    mean = x.mean(axis=0)
    s = np.sqrt(np.maximum((x * x).mean(axis=0) - mean * mean, 0.0))
    spread = np.sqrt(np.maximum(n * w_sum - w_sum * w_sum, 0.0) / (n - 1))
    denominator = s * spread
    scale = max(float(np.abs(x).max()), 1.0)
    usable = denominator > 1e-12 * scale
    z = np.zeros_like(lag)
    np.divide(lag - mean * w_sum, denominator, out=z, where=usable)
    return z[:, 0] if flat else z


def two_sided_p(z):
    """Return the two-sided normal p-value of each z-score."""
    return 2.0 * stats.norm.sf(np.abs(np.asarray(z, dtype=float)))


def bh_adjust(p):
    """Return Benjamini-Hochberg adjusted p-values (each column of 2-D ``p`` is one family)."""
    p = np.asarray(p, dtype=float)
    if p.shape[0] == 0:
        return p
    return stats.false_discovery_control(p, axis=0, method="bh")


def gi_bins(z, q):
    """Return Gi_Bin classes: +3/+2/+1 hot and -1/-2/-3 cold at FDR 0.01/0.05/0.10, else 0."""
    z = np.asarray(z, dtype=float)
    q = np.asarray(q, dtype=float)
    level = np.zeros(z.shape, dtype=np.int8)
    for confidence, fdr in reversed(CONFIDENCE_BINS):
        level[q <= fdr] = confidence
    return (level * np.sign(z)).astype(np.int8)


@dataclass(frozen=True)
class HotSpotTest:
    """Gi* outcome per cell: z, p, FDR-adjusted q, Gi_Bin class, significance at alpha."""

    z: np.ndarray
    p: np.ndarray
    q: np.ndarray
    bin: np.ndarray
    hot: np.ndarray
    cold: np.ndarray


def hot_spot_test(values, neighbours, alpha=0.05):
    """Run Gi* with BH correction at FDR level ``alpha`` (2-D values: one family per column)."""
    if not 0 < alpha < 1:
        raise ValueError("alpha must be between 0 and 1")
    z = gi_star(values, neighbours)
    p = two_sided_p(z)
    q = bh_adjust(p)
    significant = q <= alpha
    return HotSpotTest(z=z, p=p, q=q, bin=gi_bins(z, q),
                       hot=significant & (z > 0), cold=significant & (z < 0))
