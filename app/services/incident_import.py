"""Import a published incident export into the incidents table, once.

Each row's offence becomes one of the service's incident types (the offence text is kept as
the description) and its UCR code a severity. Each row gets a ``source_key``: a digest of its
time, position and offence, plus its repeat number among identical rows of the file, so a
second import of the same export (or of a later export that extends it) stores only what is
new. Imported incidents are history: ``resolved``, never dispatched.
"""

import hashlib
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import insert, select

from app.extensions import db
from app.models import Incident
from app.models.incident import RESOLVED, STORED_CELL_RESOLUTION
from app.models.types import utcnow
from app.services.hotspots.grid import cells_of_points

BATCH_ROWS = 5_000
# First match wins, on the lower-cased offence: "theft from vehicle" is not a vehicle theft.
TYPE_RULES = (
    ("burglary", ("burglary", "breaking and entering")),
    ("robbery", ("robbery", "carjacking")),
    ("vehicle_theft", ("motor vehicle theft", "vehicle theft", "auto theft", "stolen vehicle")),
    ("assault", ("assault", "homicide", "murder", "manslaughter", "rape", "sex offense",
                 "kidnap", "battery")),
    ("fire", ("arson", "fire")),
    ("suspicious_activity", ("disorderly", "vagrancy", "loitering", "trespass", "prowl",
                             "suspicious")),
    ("medical", ("overdose", "medical")),
)
# Severity by UCR hundred (100 homicide ... 2600 all other offences); unlisted ones are 2.
UCR_SEVERITY = {100: 5, 200: 5, 300: 4, 400: 4, 500: 3, 600: 2, 700: 3, 800: 3, 900: 4,
                1500: 3}
TYPE_SEVERITY = {"assault": 4, "robbery": 4, "fire": 4, "burglary": 3, "vehicle_theft": 3,
                 "medical": 3}
DEFAULT_SEVERITY = 2


def incident_type(offense):
    """Return the incident type an offence text maps to (``other`` when no rule matches)."""
    text = offense.casefold()
    return next((kind for kind, words in TYPE_RULES if any(w in text for w in words)), "other")


def severity_of(kind, ucr):
    """Return a 1-5 severity from the UCR code when there is one, else from the type."""
    if np.isfinite(ucr):
        return UCR_SEVERITY.get(int(ucr) // 100 * 100, DEFAULT_SEVERITY)
    return TYPE_SEVERITY.get(kind, DEFAULT_SEVERITY)


def source_keys(incidents, offense):
    """Return one digest per row; identical rows are told apart by their repeat number."""
    seen = {}
    keys = []
    for at, lat, lon, text in zip(incidents.reported_at.tolist(), incidents.lat.tolist(),
                                  incidents.lon.tolist(), offense.tolist(), strict=True):
        row = f"{int(at)}|{lat!r}|{lon!r}|{text}"
        seen[row] = seen.get(row, 0) + 1
        keys.append(hashlib.sha256(f"{row}|{seen[row]}".encode()).hexdigest())
    return keys


def import_rows(rows, *, batch_rows=BATCH_ROWS, after_batch=None, now=None):
    """Insert the rows of ``incident_csv.IncidentRows`` not stored yet; return the tallies.

    ``after_batch(done, total)`` runs after each batch is flushed: the caller commits there.
    Returns ``{"imported", "already_stored", "types"}`` (incidents per type imported).
    """
    now = now or utcnow()
    incidents = rows.incidents
    keys = source_keys(incidents, rows.offense)
    kinds = [incident_type(text) for text in rows.offense.tolist()]
    imported, already, types = 0, 0, {}
    for start in range(0, len(keys), batch_rows):
        part = slice(start, start + batch_rows)
        stored = set(db.session.scalars(select(Incident.source_key)
                                        .where(Incident.source_key.in_(keys[part]))))
        fresh = [i for i in range(start, min(start + batch_rows, len(keys)))
                 if keys[i] not in stored]
        already += min(batch_rows, len(keys) - start) - len(fresh)
        if fresh:
            cells = cells_of_points(incidents.lat[fresh], incidents.lon[fresh],
                                    STORED_CELL_RESOLUTION)
            db.session.execute(insert(Incident.__table__), [
                _row(incidents, rows, kinds, keys, i, int(cell), now)
                for i, cell in zip(fresh, cells.tolist(), strict=True)])
            for i in fresh:
                types[kinds[i]] = types.get(kinds[i], 0) + 1
            imported += len(fresh)
        if after_batch is not None:
            after_batch(min(start + batch_rows, len(keys)), len(keys))
    return {"imported": imported, "already_stored": already,
            "types": dict(sorted(types.items(), key=lambda kv: -kv[1]))}


def _row(incidents, rows, kinds, keys, i, cell, now):
    epoch = float(incidents.reported_at[i])
    return {"type": kinds[i], "description": rows.offense[i][:2000],
            "severity": severity_of(kinds[i], float(rows.ucr[i])),
            "latitude": float(incidents.lat[i]), "longitude": float(incidents.lon[i]),
            "reported_at": datetime.fromtimestamp(epoch, UTC), "status": RESOLVED,
            "h3_cell": cell, "reported_epoch": int(np.floor(epoch)), "source_key": keys[i],
            "created_at": now, "updated_at": now}
