"""Seeded hashes and smooth noise on world coordinates: the synthetic imagery's randomness.

Pure functions of their seed and coordinates, stable across runs and machines, so a
synthetic scene is the same wherever and whenever it is drawn.
"""

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(h):
    h = (h ^ (h >> np.uint64(30))) * _M1
    h = (h ^ (h >> np.uint64(27))) * _M2
    return h ^ (h >> np.uint64(31))


def hash_ints(seed, *values):
    """Return a uint64 hash of integer arrays (broadcast), stable across runs."""
    with np.errstate(over="ignore"):
        h = np.asarray(np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * _GOLDEN + _GOLDEN)
        for value in values:
            v = np.asarray(value).astype(np.int64).astype(np.uint64)
            h = _mix(h ^ (v + _GOLDEN + (h << np.uint64(6)) + (h >> np.uint64(2))))
        return h


def hash_unit(seed, *values):
    """Return hashes as floats in [0, 1)."""
    return (hash_ints(seed, *values) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def value_noise(xs, ys, cell, seed):
    """Smooth noise in [0, 1) on the grid ``xs`` (columns) × ``ys`` (rows), world units.

    One hashed lattice value per ``cell``, interpolated with a smoothstep.
    """
    gx, gy = np.asarray(xs, np.float64) / cell, np.asarray(ys, np.float64) / cell
    x0, y0 = np.floor(gx).astype(np.int64), np.floor(gy).astype(np.int64)
    ix = np.arange(x0.min(), x0.max() + 2)
    iy = np.arange(y0.min(), y0.max() + 2)
    lattice = hash_unit(seed, ix[None, :], iy[:, None])
    cx, cy = x0 - ix[0], y0 - iy[0]
    fx, fy = gx - x0, gy - y0
    sx = (fx * fx * (3 - 2 * fx))[None, :]
    sy = (fy * fy * (3 - 2 * fy))[:, None]
    rows0, rows1 = lattice[cy], lattice[cy + 1]
    top = rows0[:, cx] * (1 - sx) + rows0[:, cx + 1] * sx
    bottom = rows1[:, cx] * (1 - sx) + rows1[:, cx + 1] * sx
    return top * (1 - sy) + bottom * sy


def noise_1d(t, key, cell, seed):
    """Smooth noise in [0, 1) along ``t`` (any array), a separate curve per integer ``key``."""
    g = np.asarray(t, np.float64) / cell
    i = np.floor(g)
    f = g - i
    s = f * f * (3 - 2 * f)
    return hash_unit(seed, key, i) * (1 - s) + hash_unit(seed, key, i + 1) * s


def fbm(xs, ys, cell, seed, octaves=4):
    """Fractal sum of value noise on a grid, normalised to about [0, 1)."""
    total, amplitude, norm = 0.0, 1.0, 0.0
    for octave in range(octaves):
        total = total + amplitude * value_noise(xs, ys, cell / (2 ** octave), seed + octave * 7919)
        norm += amplitude
        amplitude *= 0.5
    return total / norm
