"""Merge adjacent significant hot cells into ranked hot zones."""

import h3.api.basic_int as h3
import numpy as np
from scipy.sparse.csgraph import connected_components

from app.services.hotspots.grid import cell_centres, cell_ids, haversine_m, neighbour_matrix

TOP_TYPES = 3


def zone_score(incidents, mean_z):
    """Rank key of a zone: incidents x mean Gi* z of its cells (size and strength together)."""
    return float(incidents) * float(mean_z)


def hot_zones(cells, hot, counts, weights, z, type_counts=None, type_names=(),
              top_types=TOP_TYPES):
    """Return the hot zones, best first.

    ``cells`` are the study area's cells and ``hot`` marks the significant hot ones; cells
    sharing an edge (H3 grid distance 1, whatever k the statistic used) form one zone.
    ``counts`` are incidents per cell, ``weights`` the time-decayed counts, ``z`` the Gi*
    z-scores and ``type_counts`` an optional (cells x types) sparse matrix of incidents per
    type. Each zone gives its ``id`` (its highest-z cell: stable while that cell leads the
    zone), rank, member cells (highest z first), centroid (incident-weighted, on the sphere),
    ``radius_m`` (farthest member-cell vertex from the centroid), incidents, weighted
    incidents, mean and max z, score (``zone_score``) and dominant incident types.
    """
    cells = np.asarray(cells, dtype=np.int64)
    members = np.flatnonzero(np.asarray(hot, dtype=bool))
    if members.size == 0:
        return []
    hot_cells = cells[members]
    n_zones, label = connected_components(neighbour_matrix(hot_cells, 1), directed=False)
    lat, lon = cell_centres(hot_cells)
    counts = np.asarray(counts, dtype=float)[members]
    weights = np.asarray(weights, dtype=float)[members]
    z = np.asarray(z, dtype=float)[members]
    zones = []
    for zone in range(n_zones):
        own = np.flatnonzero(label == zone)
        c_lat, c_lon = _centroid(lat[own], lon[own], counts[own])
        incidents = int(round(counts[own].sum()))
        mean_z = float(z[own].mean())
        ids = cell_ids(hot_cells[own[np.argsort(-z[own], kind="stable")]])
        zones.append({
            "id": ids[0],
            "cells": ids,
            "lat": c_lat,
            "lon": c_lon,
            "radius_m": _radius_m(hot_cells[own], c_lat, c_lon),
            "incidents": incidents,
            "weighted_incidents": float(weights[own].sum()),
            "mean_z": mean_z,
            "max_z": float(z[own].max()),
            "score": zone_score(incidents, mean_z),
            "dominant_types": _dominant_types(type_counts, type_names, members[own], top_types),
        })
    zones.sort(key=lambda zone: (-zone["score"], -zone["incidents"], zone["cells"][0]))
    for rank, zone in enumerate(zones, start=1):
        zone["rank"] = rank
    return zones


def _centroid(lat, lon, weight):
    if weight.sum() <= 0:
        weight = np.ones_like(weight)
    phi, lam = np.radians(lat), np.radians(lon)
    xyz = np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
    x, y, zc = (xyz * weight[:, None]).sum(axis=0)
    return (float(np.degrees(np.arctan2(zc, np.hypot(x, y)))),
            float(np.degrees(np.arctan2(y, x))))


def _radius_m(cells, lat, lon):
    vertices = np.array([v for c in cells.tolist() for v in h3.cell_to_boundary(c)])
    return float(haversine_m(lat, lon, vertices[:, 0], vertices[:, 1]).max())


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
