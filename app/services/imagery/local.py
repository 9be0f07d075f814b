"""Tiles from a directory of ``{z}/{x}/{y}.png|jpg`` files (own drone or satellite imagery)."""

from pathlib import Path

from app.services.imagery.base import ImageryError, ImageryProvider, NoImagery
from app.services.imagery.checks import checked_tile

SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


class LocalDirectoryProvider(ImageryProvider):
    """Reads tiles from ``root`` laid out as an XYZ tile pyramid."""

    name = "local"

    def __init__(self, root, max_bytes=4 * 1024 * 1024, max_uniform_share=0.98):
        self.root = Path(root).resolve()
        self.max_bytes, self.max_uniform_share = max_bytes, max_uniform_share

    def tile_path(self, z, x, y):
        """Return the file holding tile z/x/y, or None when there is none."""
        folder = self.root / str(int(z)) / str(int(x))
        for suffix in SUFFIXES:
            candidate = folder / f"{int(y)}{suffix}"
            if candidate.is_file():
                return candidate
        return None

    def fetch_tile(self, z, x, y, capture_number):
        """Read and check the tile's file."""
        path = self.tile_path(z, x, y)
        if path is None:
            raise NoImagery(f"no file for tile {z}/{x}/{y}")
        try:
            if path.stat().st_size > self.max_bytes:
                raise ImageryError(f"tile {z}/{x}/{y} is over the {self.max_bytes} byte limit")
            data = path.read_bytes()
        except OSError as error:
            raise ImageryError(f"cannot read tile {z}/{x}/{y}: {error.strerror}") from error
        return checked_tile(data, max_uniform_share=self.max_uniform_share)
