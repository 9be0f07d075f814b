"""The scheduler in real processes: gunicorn with 3 workers, and ``flask scheduler run``.

Each run of the probe job appends ``<scheduled time> <pid>`` to a file, so the
file shows how many processes ran each one-second slot. What must hold whatever the
machine's load: no slot runs twice, and the jobs go on after the leader dies.
"""

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask_migrate import upgrade

from app import create_app
from app.extensions import db
from app.scheduler.lease import lease_holder
from app.scheduler.runner import LEASE_NAME
from tests.conftest import make_config
from tests.support.standins import child_env, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def migrated_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'cps.sqlite3'}"
    app = create_app(make_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url, app


def probe_runs(path, after=None):
    """Return [(slot, pid)] from the probe file (only slots later than ``after``)."""
    if not path.exists():
        return []
    runs = [(datetime.fromisoformat(slot), int(pid))
            for slot, pid in (line.split() for line in path.read_text().splitlines())]
    return [run for run in runs if after is None or run[0] > after]


def assert_no_slot_ran_twice(runs):
    """No one-second slot ran in more than one process, nor twice in one.

    A slot may go unrun when the machine is too busy to fire it in time (a missed run is
    skipped, not caught up): only running twice would be a fault.
    """
    counts = Counter(slot for slot, _ in runs)
    assert max(counts.values()) == 1, f"slots run more than once: {counts.most_common(3)}"


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_gunicorn_workers_run_each_slot_once_and_survive_the_leaders_death(tmp_path):
    url, _ = migrated_sqlite(tmp_path)
    probe, log_path = tmp_path / "probe.txt", tmp_path / "gunicorn.log"
    env = child_env(DATABASE_URL=url, SCHEDULER_ENABLED=1, SCHEDULER_PROBE_FILE=probe,
                    SCHEDULER_LEASE_TTL_S=3, SCHEDULER_HEARTBEAT_S=0.5, LOG_LEVEL="INFO")
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "3", "-b", f"127.0.0.1:{free_port()}",
             "--graceful-timeout", "5", "wsgi:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        # Count from the moment all three workers schedule (booting competes for the CPU).
        assert wait_until(lambda: log_path.read_text().count('"scheduler started"') >= 3, 60), \
            log_path.read_text()
        ready = datetime.now(UTC)
        steady = wait_until(lambda: len(runs := probe_runs(probe, after=ready)) >= 4 and runs, 60)
        assert steady, log_path.read_text()
        assert_no_slot_ran_twice(steady)  # three processes schedule, one runs each slot

        leader = steady[-1][1]
        os.kill(leader, signal.SIGKILL)
        taken_over = wait_until(
            lambda: len(runs := [run for run in probe_runs(probe) if run[1] != leader
                                 and run[0] > steady[-1][0]]) >= 3 and runs, 60)
        assert taken_over, log_path.read_text()
        assert_no_slot_ran_twice(probe_runs(probe))
    finally:
        stop(server)


def test_flask_scheduler_run_schedules_until_sigterm_then_releases_the_lease(tmp_path):
    url, app = migrated_sqlite(tmp_path)
    probe = tmp_path / "probe.txt"
    env = child_env(DATABASE_URL=url, SCHEDULER_ENABLED=0, SCHEDULER_PROBE_FILE=probe)
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_until(lambda: len(probe_runs(probe)) >= 2, 20), process.stdout
        with app.app_context():
            assert lease_holder(LEASE_NAME).split(":")[1] == str(process.pid)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    finally:
        stop(process)
    assert process.returncode == 0, output
    assert "scheduler stopped" in output
    assert {pid for _, pid in probe_runs(probe)} == {process.pid}
    with app.app_context():
        assert lease_holder(LEASE_NAME) is None
        db.engine.dispose()
