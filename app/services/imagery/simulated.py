"""The offline default provider: synthetic aerial tiles that change between captures."""

from app.services.imagery import synthetic
from app.services.imagery.base import ImageryProvider, TileImage
from app.services.imagery.checks import encode_png


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
