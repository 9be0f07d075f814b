"""Patrol-sized hot zones: significant hot cells cut into pieces a patrol can cover, ranked.

Gi* says which cells form real clusters; a cluster of a busy district can span kilometres.
Hot cells are cut greedily: the remaining cell with the most expected incidents seeds a zone,
which grows by the best of the remaining hot cells sharing an edge with it, as long as no two
of its vertices lie more than ``diameter_m`` apart. So a zone is connected, no zone is wider
than ``diameter_m`` (a single cell wider than that stays one zone), and a large cluster
becomes several zones, ranked by the incidents the forecast expects in them.
"""

import contextlib

import h3.api.basic_int as h3
import numpy as np
from scipy.spatial import ConvexHull, QhullError

from app.services.geo import great_circle_m
from app.services.hotspots.grid import cell_centres, cell_ids, neighbour_matrix

TOP_TYPES = 3
DEFAULT_DIAMETER_M = 1_000.0


def hot_zones(cells, hot, counts, weights, z, *, expected=None, type_counts=None,
              type_names=(), diameter_m=DEFAULT_DIAMETER_M, top_types=TOP_TYPES):
    """Return the patrol-sized hot zones, best first.

    ``cells`` are the study area's cells and ``hot`` marks the significant hot ones;
    ``counts`` are incidents per cell, ``weights`` the time-decayed counts, ``z`` the Gi*
    z-scores, ``expected`` the forecast's incidents per cell (default: ``counts``) and
    ``type_counts`` an optional (cells x types) sparse matrix of incidents per type. Each
    zone gives its ``id`` (its cell with the most expected incidents), rank, member cells
    (most expected first), a centre inside the zone (the incident-weighted centroid, or the
    member cell centre nearest to it when the centroid falls outside), ``radius_m`` (centre
    to the farthest member-cell vertex), ``diameter_m`` (the widest vertex-to-vertex span),
    incidents, weighted and expected incidents, mean and max z, ``score`` (the rank key:
    expected incidents) and dominant incident types.
    """
    cells = np.asarray(cells, dtype=np.int64)
    members = np.flatnonzero(np.asarray(hot, dtype=bool))
    if members.size == 0:
        return []
    counts = np.asarray(counts, dtype=float)
    expected = counts if expected is None else np.asarray(expected, dtype=float)
    hot_cells = cells[members]
    pieces = patrol_pieces(hot_cells, expected[members], diameter_m)
    lat, lon = cell_centres(hot_cells)
    zones = []
    for own in pieces:
        rows = members[own]
        c_lat, c_lon = _centre_inside(hot_cells[own], lat[own], lon[own], counts[rows])
        vertices = _vertices(hot_cells[own])
        zone_z = np.asarray(z, dtype=float)[rows]
        zones.append({
            "id": cell_ids(hot_cells[own[:1]])[0],
            "cells": cell_ids(hot_cells[own]),
            "lat": c_lat,
            "lon": c_lon,
            "radius_m": float(great_circle_m(c_lat, c_lon, vertices[:, 0], vertices[:, 1]).max()),
            "diameter_m": _span_m(vertices),
            "incidents": int(round(counts[rows].sum())),
            "weighted_incidents": float(np.asarray(weights, dtype=float)[rows].sum()),
            "expected_incidents": float(expected[rows].sum()),
            "mean_z": float(zone_z.mean()),
            "max_z": float(zone_z.max()),
            "score": float(expected[rows].sum()),
            "dominant_types": _dominant_types(type_counts, type_names, rows, top_types),
        })
    zones.sort(key=lambda zone: (-zone["score"], -zone["incidents"], zone["id"]))
    for rank, zone in enumerate(zones, start=1):
        zone["rank"] = rank
    return zones


def patrol_pieces(cells, score, diameter_m=DEFAULT_DIAMETER_M):
    """Cut edge-connected ``cells`` into pieces at most ``diameter_m`` across.

    Returns index arrays into ``cells``, each starting with its seed (highest ``score``) in
    the order the cells joined.
    """
    cells = np.asarray(cells, dtype=np.int64)
    order = np.argsort(cells)
    cells, score = cells[order], np.asarray(score, dtype=float)[order]
    adjacency = neighbour_matrix(cells, 1)
    corners = _corners(cells)
    remaining = np.ones(cells.size, dtype=bool)
    pieces = []
    for seed in np.lexsort((cells, -score)).tolist():
        if remaining[seed]:
            piece = _grow_piece(seed, adjacency, corners, score, remaining, diameter_m)
            remaining[piece] = False
            pieces.append(order[piece])
    return pieces


def _grow_piece(seed, adjacency, corners, score, remaining, diameter_m):
    """Add the best-scoring neighbouring cell that keeps the piece within the diameter."""
    piece = [seed]
    points = corners[seed]
    refused = set()
    while True:
        frontier = {int(j) for i in piece for j in adjacency.indices[
            adjacency.indptr[i]:adjacency.indptr[i + 1]]}
        frontier = [j for j in frontier if remaining[j] and j not in piece and j not in refused]
        if not frontier:
            return np.array(piece)
        best = max(frontier, key=lambda j: (score[j], -j))
        farthest = great_circle_m(points[:, None, 0], points[:, None, 1],
                               corners[best][None, :, 0], corners[best][None, :, 1]).max()
        if farthest <= diameter_m:
            piece.append(best)
            points = np.vstack([points, corners[best]])
        else:
            refused.add(best)


def _centre_inside(cells, lat, lon, weight):
    c_lat, c_lon = _centroid(lat, lon, weight)
    resolution = h3.get_resolution(int(cells[0]))
    if h3.latlng_to_cell(c_lat, c_lon, resolution) in set(cells.tolist()):
        return c_lat, c_lon
    nearest = int(np.argmin(great_circle_m(c_lat, c_lon, lat, lon)))
    return float(lat[nearest]), float(lon[nearest])


def _centroid(lat, lon, weight):
    if weight.sum() <= 0:
        weight = np.ones_like(weight)
    phi, lam = np.radians(lat), np.radians(lon)
    xyz = np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
    x, y, zc = (xyz * weight[:, None]).sum(axis=0)
    return (float(np.degrees(np.arctan2(zc, np.hypot(x, y)))),
            float(np.degrees(np.arctan2(y, x))))


def _corners(cells):
    """Return (cells x vertices x 2) lat/lon, short boundaries padded with their first vertex.

    A hexagon has 6 vertices, a pentagon 5, and a coarse cell crossing an icosahedron face
    up to 10 (H3 adds the points where its edges bend).
    """
    boundaries = [h3.cell_to_boundary(c) for c in cells.tolist()]
    most = max((len(b) for b in boundaries), default=6)
    return np.array([list(b) + [b[0]] * (most - len(b)) for b in boundaries], dtype=float)


def _vertices(cells):
    return np.array([v for c in cells.tolist() for v in h3.cell_to_boundary(c)])


def _span_m(vertices):
    """The widest distance between two vertices: only those on their convex hull matter."""
    plane = np.column_stack([vertices[:, 1] * np.cos(np.radians(vertices[:, 0].mean())),
                             vertices[:, 0]])
    with contextlib.suppress(QhullError, ValueError):  # in a line: every vertex counts
        vertices = vertices[ConvexHull(plane).vertices]
    return float(great_circle_m(vertices[:, None, 0], vertices[:, None, 1],
                             vertices[None, :, 0], vertices[None, :, 1]).max())


def _dominant_types(type_counts, type_names, rows, top):
    if type_counts is None or len(type_names) == 0:
        return []
    totals = np.asarray(type_counts[rows].sum(axis=0)).ravel()
    total = totals.sum()
    if total <= 0:
        return []
    order = [i for i in np.argsort(-totals, kind="stable")[:top] if totals[i] > 0]
    return [{"type": type_names[i], "incidents": int(totals[i]),
             "share": float(totals[i] / total)} for i in order]
