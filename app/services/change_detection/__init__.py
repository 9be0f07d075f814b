"""Change detection between two captures of a tile: pure functions over images.

``compare_tiles`` runs the whole pipeline; ``confirm_changes`` decides which new
detections confirm earlier suspicions; ``evidence_images`` crops what a person
needs to judge one change. No Flask and no database here.
"""

from app.services.change_detection.confirmation import (
    CONFIRMED,
    SUSPECTED,
    ConfirmationDecision,
    PreviousChange,
    confirm_changes,
)
from app.services.change_detection.evidence import (
    Caption,
    Evidence,
    evidence_images,
    tile_overlay,
)
from app.services.change_detection.georef import (
    TileGeoref,
    equator_bounds,
    ground_resolution_m,
    tile_bounds,
)
from app.services.change_detection.pipeline import DetectedChange, TileComparison, compare_tiles
from app.services.change_detection.registration import Registration
from app.services.change_detection.settings import ChangeDetectionSettings

__all__ = [
    "CONFIRMED", "SUSPECTED", "Caption", "ChangeDetectionSettings", "ConfirmationDecision",
    "DetectedChange", "Evidence", "PreviousChange", "Registration", "TileComparison",
    "TileGeoref", "compare_tiles", "confirm_changes", "equator_bounds", "evidence_images",
    "ground_resolution_m", "tile_bounds", "tile_overlay",
]
