"""Run one capture run in a process of its own, which a fault test then kills.

``python -m tests.support.capture_child DATABASE_URL IMAGES_DIR TILE_URL RUN_ID HOLD HOLD_FILE``

HOLD says where the process stops for good at the second tile, so that the kill lands
at a known point: ``writing`` (its temporary file written, not yet renamed into place)
or ``recording`` (the file in place, its row not yet committed). It then writes
HOLD_FILE, which tells the test to kill it.
"""

import os
import sys
import threading
from pathlib import Path

from app import create_app
from app.jobs import land_watch
from app.services import capture
from tests.conftest import make_config


def hold_at_second_tile(point, hold_file):
    """Wrap the file writing so that the second tile blocks at ``point``."""
    tiles_seen = []
    real_replace, real_write = os.replace, capture.write_atomically

    def stop_here():
        Path(hold_file).write_text(point)
        threading.Event().wait()  # until killed

    def replace(source, target, *args, **kwargs):
        if str(target).endswith(".png"):
            tiles_seen.append(target)
            if point == "writing" and len(tiles_seen) == 2:
                stop_here()
        return real_replace(source, target, *args, **kwargs)

    def write_atomically(path, data):
        real_write(path, data)
        if point == "recording" and len(tiles_seen) == 2:
            stop_here()

    os.replace = replace
    capture.write_atomically = write_atomically


def main(database_url, images_dir, tile_url, run_id, hold, hold_file):
    app = create_app(make_config(database_url, IMAGES_DIR=Path(images_dir),
                                 XYZ_TILE_URL=tile_url, IMAGERY_WORKERS=2))
    hold_at_second_tile(hold, hold_file)
    with app.app_context():
        land_watch.run_capture(int(run_id))


if __name__ == "__main__":
    main(*sys.argv[1:])
