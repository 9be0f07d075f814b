"""A small world of rows and callers for the tests that sweep the whole API.

The authorization matrix, the fuzzer and the attack tests address these rows. Callers are
``anonymous``, ``viewer``, ``operator``, ``admin`` and ``other_owner`` (an operator who owns
an area, a device and images of their own, but not the ones addressed). The owner-scoped rows
(``area``, ``run``, ``tile``, ``device``) belong to ``operator``.

Rows are made on first use and made again by ``live()`` when a request deleted them, so a
path parameter always names a row that exists. A new path parameter gets an entry in
``PATH_ROWS``; a new kind of row gets a maker method.
"""

import hashlib
import itertools
from datetime import timedelta

import cv2
import numpy as np

from app.models import Device, ImageTile
from app.models.alerts import EVIDENCE_KINDS
from app.models.area import COMPLETED
from app.models.flight import DRAFT
from app.models.types import utcnow
from app.models.user import ADMIN, OPERATOR, VIEWER
from app.services import auth as auth_service
from app.services.tiles import tile_bounds
from tests.support.factories import (
    SOWETO,
    SOWETO_TILE,
    make_area,
    make_detail,
    make_drone,
    make_flight_plan,
    make_ground_unit,
    make_incident,
    make_no_fly_zone,
    make_run,
    make_session,
    make_station,
    make_user,
    square,
    tiles_bbox,
    towards,
)

ANONYMOUS, OTHER_OWNER = "anonymous", "other_owner"
IDENTITIES = (ANONYMOUS, VIEWER, OPERATOR, ADMIN, OTHER_OWNER)
PASSWORD = "correct-horse-42"

# Path parameter → the row it names (a key of ``World.row``).
PATH_ROWS = {
    "station_id": "station",
    "drone_id": "drone",
    "unit_id": "ground_unit",
    "incident_id": "incident",
    "plan_id": "plan",
    "zone_id": "no_fly_zone",
    "user_id": "target_user",
    "area_id": "area",
    "area_config_id": "area",
    "run_id": "run",
    "tile_id": "tile",
    "device_id": "device",
    "session_id": "alert_session",
    "detail_id": "alert_detail",
}
# Rows deleted along with another (by cascade).
DEPENDANTS = {"area": ("run", "tile", "alert_session", "alert_detail"),
              "run": ("tile", "alert_session", "alert_detail"), "alert_session": ("alert_detail",)}
# Patrol plans name a hot zone by its H3 cell; this one holds no incidents.
UNKNOWN_ZONE = "8928308280fffff"

_serial = itertools.count(1)


def png_bytes(shade=90):
    """A small real PNG image."""
    ok, encoded = cv2.imencode(".png", np.full((8, 8, 3), shade, np.uint8))
    assert ok
    return encoded.tobytes()


class World:
    """Callers of every role and the rows they address; see the module docstring."""

    def __init__(self, db, images_dir):
        self.db, self.images_dir = db, images_dir
        self.users = {role: make_user(db, role=role) for role in (VIEWER, OPERATOR, ADMIN)}
        self.users[OTHER_OWNER] = make_user(db, role=OPERATOR, username=f"other{next(_serial)}")
        self._tokens = {}
        self._rows = {}

    # --- callers ----------------------------------------------------------------------------

    def user(self, identity):
        return self.users[identity]

    def tokens(self, identity):
        if identity not in self._tokens:
            self._tokens[identity] = auth_service.issue_tokens(self.users[identity])
        return self._tokens[identity]

    def headers(self, identity, kind="access"):
        """The Authorization header of ``identity`` (none for anonymous)."""
        if identity == ANONYMOUS:
            return {}
        return {"Authorization": f"Bearer {self.tokens(identity)[f'{kind}_token']}"}

    # --- rows -------------------------------------------------------------------------------

    def row(self, name):
        """The row called ``name``, made on first use."""
        if name not in self._rows:
            self._rows[name] = getattr(self, f"make_{name}")()
        return self._rows[name]

    def live(self, name):
        """The row called ``name``, made again if a request has deleted it."""
        self.db.session.rollback()  # see what the requests committed
        row = self._rows.get(name)
        if row is not None and self.db.session.get(type(row), row.id) is None:
            del self._rows[name]
            for dependant in DEPENDANTS.get(name, ()):
                self._rows.pop(dependant, None)
        return self.row(name)

    def path_value(self, parameter, live=False):
        """The value a path parameter takes: the id of the row it names."""
        if parameter == "zone":
            return UNKNOWN_ZONE
        if parameter == "kind":  # an evidence image
            return "overlay"
        if parameter in ("z", "x", "y"):  # a basemap tile
            return dict(zip("zxy", SOWETO_TILE, strict=True))[parameter]
        try:
            name = PATH_ROWS[parameter]
        except KeyError:
            raise KeyError(f"no row for the path parameter {parameter!r}: add it to "
                           "tests/support/world.py PATH_ROWS (and a make_<row> method)") from None
        return (self.live(name) if live else self.row(name)).id

    def make_station(self):
        return make_station(self.db)

    def make_empty_station(self):
        return make_station(self.db)

    def make_drone(self):
        return make_drone(self.db, station=self.row("station"))

    def make_ground_unit(self):
        return make_ground_unit(self.db)

    def make_incident(self):
        return make_incident(self.db, status="queued")

    def make_plan(self):
        return self.flight_plan(DRAFT)

    def flight_plan(self, state):
        """A plan of the world's drone in ``state``, starting in an hour."""
        return make_flight_plan(self.db, drone=self.row("drone"), state=state,
                                starts_at=utcnow() + timedelta(hours=1))

    def make_no_fly_zone(self):
        return make_no_fly_zone(self.db, around=towards(SOWETO, 0.0, 5000.0))

    def make_target_user(self):
        return make_user(self.db, role=VIEWER)

    def make_area(self):
        return make_area(self.db, self.users[OPERATOR])

    def make_other_area(self):
        return make_area(self.db, self.users[OTHER_OWNER])

    def make_run(self):
        return self.capture_run(self.row("area"))

    def make_other_run(self):
        return self.capture_run(self.row("other_area"))

    def make_tile(self):
        return self.image_tile(self.row("run"), bands=True)

    def make_other_tile(self):
        return self.image_tile(self.row("other_run"), bands=True)

    def make_comparable_area(self):
        """An area of ``operator`` with two completed captures of one tile: ready to compare."""
        area = make_area(self.db, self.users[OPERATOR])
        for shade in (90, 140):
            self.image_tile(self.capture_run(area), png_bytes(shade))
        return area

    def make_alert_session(self):
        return self.alert_session(self.row("area"), self.row("run"))

    def make_other_alert_session(self):
        return self.alert_session(self.row("other_area"), self.row("other_run"))

    def make_alert_detail(self):
        return self.alert_detail(self.row("alert_session"), self.row("tile"))

    def make_other_alert_detail(self):
        return self.alert_detail(self.row("other_alert_session"), self.row("other_tile"))

    def alert_session(self, area, before):
        return make_session(self.db, area, before=before, after=self.capture_run(area))

    def alert_detail(self, session, tile):
        """A detail of ``session`` on ``tile`` with its three evidence images on disk."""
        folder = f"area_{session.area_config_id}/evidence/session_{session.id}"
        evidence = {kind: f"{folder}/{kind}_{next(_serial)}.png" for kind in EVIDENCE_KINDS}
        for path in evidence.values():
            (self.images_dir / path).parent.mkdir(parents=True, exist_ok=True)
            (self.images_dir / path).write_bytes(png_bytes())
        return make_detail(self.db, session, before_tile=tile, after_tile=tile,
                           evidence=evidence, evidence_media_type="image/png")

    def make_device(self):
        return self.device(self.users[OPERATOR])

    def make_other_device(self):
        return self.device(self.users[OTHER_OWNER])

    def capture_run(self, area):
        now = utcnow()
        return make_run(self.db, area, state=COMPLETED, tiles_total=1, tiles_done=1,
                        started_at=now, heartbeat_at=now, finished_at=now)

    def image_tile(self, run, data=None, bands=False):
        """A tile row of ``run`` and its PNG file (and a bands file, as scenes have)."""
        z, x, y = SOWETO_TILE
        data = data or png_bytes()
        path = f"area_{run.area_config_id}/run_{run.id}/{z}_{x}_{y}.png"
        (self.images_dir / path).parent.mkdir(parents=True, exist_ok=True)
        (self.images_dir / path).write_bytes(data)
        bands_path = path.replace(".png", ".tif") if bands else None
        if bands:
            (self.images_dir / bands_path).write_bytes(b"II*\x00 stand-in bands")
        west, south, east, north = tile_bounds(z, x, y)
        tile = ImageTile(area_config_id=run.area_config_id, capture_run_id=run.id, z=z, x=x, y=y,
                         west=west, south=south, east=east, north=north, provider="simulated",
                         path=path, sha256=hashlib.sha256(data).hexdigest(), width=8, height=8,
                         content_type="image/png", bands_path=bands_path)
        self.db.session.add(tile)
        self.db.session.commit()
        return tile

    def device(self, user):
        device = Device(user_id=user.id, token=f"world-token-{next(_serial)}", platform="android")
        self.db.session.add(device)
        self.db.session.commit()
        return device

    # --- request bodies ---------------------------------------------------------------------

    def unique(self, prefix):
        return f"{prefix}{next(_serial)}"

    def area_body(self):
        return {"name": self.unique("area "), "bbox": tiles_bbox(*SOWETO_TILE)}

    def zone_body(self):
        return {"name": self.unique("Zone "), "geometry": square(towards(SOWETO, 90, 9000), 100)}

    def plan_body(self):
        start = utcnow() + timedelta(hours=2)
        end = start + timedelta(minutes=30)
        return {"drone_id": self.row("drone").id, "purpose": "patrol",
                "route": [{"latitude": SOWETO[0], "longitude": SOWETO[1]},
                          {"latitude": -26.2290, "longitude": 27.8600}],
                "min_altitude_m": 30, "max_altitude_m": 90,
                "starts_at": start.isoformat(), "ends_at": end.isoformat()}

