"""A diagnostic job: one line per run, to prove runs happen once per slot."""

import os

from app.scheduler.runner import current_slot


def write_probe_line(path):
    """Append ``<scheduled time> <pid>`` to ``path`` (one short append is atomic)."""
    line = f"{current_slot().isoformat()} {os.getpid()}\n"
    with open(path, "a", encoding="utf-8") as probe:
        probe.write(line)
