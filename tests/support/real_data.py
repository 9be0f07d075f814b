"""Where the real data sets live: ``../shared/data`` next to the repository, or
``CPS_REAL_DATA_DIR``. They are read in place, never copied into the repository."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def real_data_path(*parts):
    """Return the path of a real data file (it may not exist on this machine)."""
    root = os.environ.get("CPS_REAL_DATA_DIR") or REPO_ROOT.parent / "shared" / "data"
    return Path(root).joinpath(*parts)


CRIME_2024 = ("crime", "philadelphia-2024.csv.gz")
