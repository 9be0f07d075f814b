"""GeoJSON FeatureCollection of an analysis: cell polygons and zone points (lon, lat order)."""

import h3


def feature_collection(result):
    """Return the significant and the forecast cells as polygons and the zones as points."""
    features = [_cell_feature(cell) for cell in result["cells"]]
    features += [_cell_feature(cell, "forecast") for cell in result["forecast"]["cells"]]
    features += [_zone_feature(zone) for zone in result["zones"]]
    # "parameters", "counts" and "note" are GeoJSON foreign members (RFC 7946 section 6.1).
    collection = {"type": "FeatureCollection", "features": features,
                  "parameters": result["parameters"], "counts": result["counts"]}
    if "note" in result:
        collection["note"] = result["note"]
    return collection


def _cell_feature(cell, kind="cell"):
    ring = [[lon, lat] for lat, lon in h3.cell_to_boundary(cell["cell"])]
    ring.append(ring[0])
    properties = {"kind": kind, **{k: v for k, v in cell.items() if k not in ("lat", "lon")}}
    return {"type": "Feature", "id": cell["cell"] if kind == "cell" else f"{kind}-{cell['cell']}",
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": properties}


def _zone_feature(zone):
    properties = {"kind": "zone", **{k: v for k, v in zone.items() if k not in ("lat", "lon")}}
    return {"type": "Feature", "id": f"zone-{zone['id']}",
            "geometry": {"type": "Point", "coordinates": [zone["lon"], zone["lat"]]},
            "properties": properties}
