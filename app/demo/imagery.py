"""The offline default provider: synthetic aerial tiles that change between captures.

Its multispectral mode (``simulated_sentinel2``) renders Sentinel-2 style scenes of a
whole area instead: six bands and a scene classification with clouds.
"""

import numpy as np

from app.demo import synthetic, synthetic_s2
from app.services.imagery.base import ImageryProvider, TileImage
from app.services.imagery.checks import encode_png
from app.services.imagery.scenes import (
    SCL_NO_DATA,
    UNUSABLE_SCL,
    Scene,
    SceneProvider,
    area_mask,
    clear_share,
)


class SimulatedProvider(ImageryProvider):
    """Renders tile z/x/y as the land looks at the area's ``capture_number``-th capture."""

    name = "simulated"
    max_workers = 2  # rendering is CPU-bound; more threads than cores only queue

    def __init__(self, seed=0):
        self.seed = seed

    def fetch_tile(self, z, x, y, capture_number):
        """Render the tile and return it as PNG."""
        image = synthetic.render_tile(z, x, y, capture_number, seed=self.seed)
        height, width = image.shape[:2]
        return TileImage(encode_png(image), "image/png", width, height)


class SimulatedSentinel2Provider(SceneProvider):
    """Renders an area as Sentinel-2 L2A would see it at its ``capture_number``-th capture."""

    name = "simulated_sentinel2"

    def __init__(self, seed=0):
        self.seed = seed

    def fetch_scene(self, polygon, grid, when, capture_number, newer_than=None):
        """Render the area's grid: bands, SCL with this capture's clouds, outside left empty.

        Every capture is a new scene, acquired ``when`` (``newer_than`` holds by design).
        """
        rendered = synthetic_s2.render_scene(grid, capture_number, seed=self.seed)
        inside = area_mask(grid, polygon)
        bands = np.where(inside, rendered.bands, 0).astype(np.uint16)
        scl = np.where(inside, rendered.scl, SCL_NO_DATA).astype(np.uint8)
        cloudy = float(np.isin(rendered.scl, list(UNUSABLE_SCL)).mean())
        return Scene(grid, bands, scl, f"simulated-S2-{self.seed}-{capture_number}", when,
                     clear_share(scl, inside), round(100 * cloudy, 2))
