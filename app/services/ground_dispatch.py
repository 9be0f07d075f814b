"""Sending a ground unit: the suitable one with the lowest ETA, within its kind's reach.

Which kinds may answer which incident type is a table; among the suitable units the
ranking (``dispatch_ranking.rank_ground_units``) passes over the busy ones and those
whose ETA exceeds their kind's limit (``GROUND_UNIT_MAX_ETA_S``: a foot patrol is not
sent across the city). The winner is claimed with one conditional UPDATE; when none
can go, the decision says why in words.
"""

import numpy as np
from sqlalchemy import select, update

from app.extensions import db
from app.models import GroundUnit
from app.models.fleet import UNIT_AVAILABLE, UNIT_DISPATCHED
from app.services.dispatch_ranking import (
    BUSY,
    IMPLAUSIBLE,
    REASONS,
    TOO_FAR,
    rank_ground_units,
    slower_or_taken,
)

# Which ground units may answer which incident type (any of them, lowest ETA wins).
POLICE = ("armed_response", "patrol_car", "foot_patrol")
SUITABLE_UNIT_KINDS = {
    "burglary": POLICE,
    "robbery": ("armed_response", "patrol_car"),
    "assault": POLICE + ("ambulance",),
    "fire": ("ambulance", "patrol_car"),
    "vehicle_theft": ("patrol_car", "armed_response"),
    "suspicious_activity": POLICE,
    "medical": ("ambulance",),
    "other": POLICE + ("ambulance",),
}


def claim_ground_unit(unit_id, incident_id, now):
    """Mark the ground unit dispatched to the incident if it is still available."""
    result = db.session.execute(
        update(GroundUnit)
        .where(GroundUnit.id == unit_id, GroundUnit.status == UNIT_AVAILABLE)
        .values(status=UNIT_DISPATCHED, incident_id=incident_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _kinds_in_words(kinds):
    return " or ".join(kind.replace("_", " ") for kind in kinds)


def choose_ground_unit(incident_id, incident_type, point, rules, now):
    """Claim the suitable ground unit with the lowest ETA within reach.

    Returns ``(choice, runners-up, note)``: the note says, when none was sent, why.
    """
    kinds = SUITABLE_UNIT_KINDS.get(incident_type, POLICE)
    rows = db.session.connection().execute(
        select(GroundUnit.id, GroundUnit.latitude, GroundUnit.longitude, GroundUnit.speed_mps,
               GroundUnit.status, GroundUnit.callsign, GroundUnit.kind)
        .where(GroundUnit.kind.in_(kinds))
    ).all()
    if not rows:
        return None, [], (f"No ground unit could respond: there is no {_kinds_in_words(kinds)} "
                          "unit.")
    ids, lat, lon, speed, status, callsigns, unit_kinds = (np.array(c) for c in zip(*rows,
                                                                                     strict=True))
    ranking = rank_ground_units(status, lat.astype(float), lon.astype(float),
                                speed.astype(float), point, rules, unit_kinds)
    chosen, taken = None, set()
    for index in ranking.best_first():
        if claim_ground_unit(int(ids[index]), incident_id, now):
            chosen = index
            break
        taken.add(index)

    def describe(index):
        return {"ground_unit_id": int(ids[index]), "callsign": str(callsigns[index]),
                "kind": str(unit_kinds[index]),
                "distance_m": round(float(ranking.distance_m[index]), 1),
                "eta_s": round(float(ranking.eta_s[index]), 1)}

    runners_up = []
    for index in ranking.nearest(rules.runners_up, [chosen] if chosen is not None else []):
        code = ranking.reason[index]
        if code == BUSY:
            reason, detail = REASONS[BUSY], f"status is {status[index]}"
        elif code == IMPLAUSIBLE:
            reason, detail = REASONS[IMPLAUSIBLE], (f"speed {speed[index]:g} m/s: no ground "
                                                    "unit moves so; correct its record")
        elif code == TOO_FAR:
            kind = str(unit_kinds[index])
            reason, detail = REASONS[TOO_FAR], (
                f"ETA {ranking.eta_s[index]:.0f} s, over the {rules.max_eta_s(kind):.0f} s "
                f"limit for a {kind.replace('_', ' ')}")
        else:
            chosen_eta = None if index in taken or chosen is None else ranking.eta_s[chosen]
            reason, detail = slower_or_taken(ranking, index, chosen_eta)
        runners_up.append({**describe(index), "reason": reason, "detail": detail})
    if chosen is None:
        return None, runners_up, why_none(ranking, taken)
    choice = describe(chosen)
    choice["id"] = choice.pop("ground_unit_id")
    return choice, runners_up, None


def why_none(ranking, taken):
    """Say why none of the ranked units could be sent."""
    too_far = ranking.reason == TOO_FAR
    parts = []
    if too_far.any():
        nearest = float(ranking.eta_s[too_far].min())
        parts.append(f"{int(too_far.sum())} too far (the nearest {nearest:.0f} s away)")
    if (busy := int((ranking.reason == BUSY).sum())):
        parts.append(f"{busy} busy")
    if (implausible := int((ranking.reason == IMPLAUSIBLE).sum())):
        parts.append(f"{implausible} with an implausible record")
    if taken:
        parts.append(f"{len(taken)} taken by another incident a moment earlier")
    return "No ground unit could respond: " + ", ".join(parts) + "."
