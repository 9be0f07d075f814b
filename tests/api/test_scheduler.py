"""The scheduler's machinery on both databases: lease, slot claims, runs, keyed jobs."""

import threading
from datetime import UTC, datetime, timedelta

import click
import pytest
from sqlalchemy import func, select, update

from app.extensions import db as _db
from app.models import Incident, JobRun, RevokedSession, User
from app.models.scheduling import FAILED, SUCCEEDED
from app.scheduler import current_scheduler, init_scheduler
from app.scheduler.lease import acquire_lease, claim_slot, lease_holder, release_lease
from app.scheduler.registry import scheduled_jobs
from app.scheduler.runner import LEASE_NAME, Scheduler, current_slot
from app.scheduler.specs import JobSpec, KeyedJobs, cron, every, latest_fire_time
from app.services import dispatch
from tests.support.factories import make_drone, make_incident, make_user

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def race(app, count, attempt):
    """Run ``attempt(i)`` in ``count`` threads at once, each in its own app context."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(i):
        with app.app_context():
            barrier.wait()
            results[i] = attempt(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def run_count(job_id=None):
    stmt = select(func.count()).select_from(JobRun)
    if job_id:
        stmt = stmt.where(JobRun.job_id == job_id)
    _db.session.rollback()
    return _db.session.scalar(stmt)


def test_the_lease_is_held_renewed_taken_over_when_expired_and_released(db):
    assert acquire_lease("lease", "a", ttl_s=30, now=T0)
    assert not acquire_lease("lease", "b", ttl_s=30, now=T0 + timedelta(seconds=29))
    assert acquire_lease("lease", "a", ttl_s=30, now=T0 + timedelta(seconds=29))
    assert not acquire_lease("lease", "b", ttl_s=30, now=T0 + timedelta(seconds=58))
    assert acquire_lease("lease", "b", ttl_s=30, now=T0 + timedelta(seconds=60))
    assert not acquire_lease("lease", "a", ttl_s=30, now=T0 + timedelta(seconds=61))
    assert lease_holder("lease", now=T0 + timedelta(seconds=61)) == "b"
    release_lease("lease", "b", now=T0 + timedelta(seconds=62))
    assert lease_holder("lease", now=T0 + timedelta(seconds=63)) is None
    assert acquire_lease("lease", "a", ttl_s=30, now=T0 + timedelta(seconds=63))


def test_of_processes_racing_for_a_lease_exactly_one_gets_it(app, db):
    fresh = race(app, 6, lambda i: acquire_lease("fresh", f"holder-{i}", ttl_s=30, now=T0))
    assert fresh.count(True) == 1
    later = T0 + timedelta(seconds=31)
    expired = race(app, 6, lambda i: acquire_lease("fresh", f"other-{i}", ttl_s=30, now=later))
    assert expired.count(True) == 1


def test_of_processes_racing_for_a_slot_exactly_one_claims_it(app, db):
    results = race(app, 6, lambda i: claim_slot("job", T0, f"holder-{i}"))
    assert len([run_id for run_id in results if run_id is not None]) == 1
    assert claim_slot("job", T0 + timedelta(seconds=1), "holder-0") is not None
    assert claim_slot("other-job", T0, "holder-0") is not None


@pytest.fixture
def schedulers(app, db):
    """Factory of schedulers on the test app; shut down after the test."""
    made = []

    def factory(jobs=(), families=(), leader=True):
        scheduler = Scheduler(app, jobs, families)
        if leader:
            scheduler._leader_until = float("inf")
        made.append(scheduler)
        return scheduler

    yield factory
    for scheduler in made:
        scheduler.shutdown(wait=True)


def revoked(expires_at):
    return RevokedSession(sid=f"s{expires_at.timestamp()}", expires_at=expires_at)


def test_the_leader_runs_a_slot_once_and_commits_the_jobs_work(db, schedulers):
    from app.services.auth import prune_revoked_sessions

    now = datetime.now(UTC)
    db.session.add_all([revoked(now - timedelta(days=1)), revoked(now + timedelta(days=1))])
    db.session.commit()
    spec = JobSpec("auth.prune-revoked-sessions", prune_revoked_sessions, cron(minute=17))
    first, second = schedulers([spec]), schedulers([spec])
    slot = now.replace(microsecond=0)
    assert first.run_slot(spec.id, slot) == "ran"
    assert second.run_slot(spec.id, slot) == "taken"
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(RevokedSession)) == 1
    run = db.session.scalars(select(JobRun)).one()
    assert (run.job_id, run.scheduled_for, run.outcome) == (spec.id, slot, SUCCEEDED)
    assert run.holder == first.holder and run.finished_at is not None


def test_a_process_without_the_lease_does_not_run_leader_jobs(db, schedulers):
    calls = []
    spec = JobSpec("test.count", lambda: calls.append(1), every(seconds=5))
    follower = schedulers([spec], leader=False)
    assert follower.run_slot(spec.id, T0) == "skipped"
    assert calls == [] and run_count() == 0


def test_a_pass_another_connection_wrote_under_is_run_again_not_failed(db, schedulers):
    """A job's pass reads, another connection commits, then the pass writes. SQLite refuses
    that write at once ("database is locked": the pass's snapshot is stale, the busy timeout
    does not apply), as MariaDB refuses a deadlock's loser: the pass is rolled back and run
    again in the same slot."""
    other_user = make_user(_db)
    passes = []

    def reads_then_writes():
        passes.append(1)
        with _db.session.begin_nested():
            _db.session.scalar(select(func.count(User.id)))
            if len(passes) == 1:
                with _db.engine.connect() as other:
                    other.execute(update(User).where(User.id == other_user.id)
                                  .values(email="edited@x.org"))
                    other.commit()
            _db.session.add(User(username="written-by-the-job", email="w@x.org",
                                 password_hash="x"))
            _db.session.flush()

    spec = JobSpec("test.reads-then-writes", reads_then_writes, every(seconds=5))
    assert schedulers([spec]).run_slot(spec.id, T0) == "ran"
    db.session.rollback()
    assert len(passes) == (2 if db.engine.dialect.name == "sqlite" else 1)
    assert db.session.scalar(select(User.id).where(User.username == "written-by-the-job"))
    assert db.session.get(User, other_user.id).email == "edited@x.org"
    assert db.session.scalars(select(JobRun)).one().outcome == SUCCEEDED


def test_the_queue_job_claims_an_incident_before_reading_the_fleet(app, db, schedulers,
                                                                    monkeypatch, caplog):
    """So another connection's write while it ranks drones waits for the pass (SQLite) or
    goes on beside it (MariaDB): the pass is not refused and never needs running again."""
    incident = make_incident(_db, status="queued")
    drone = make_drone(_db)
    other_row = make_incident(_db)
    real_rank = dispatch.rank_drones
    writers = []

    def edit_other_row():
        with app.app_context(), _db.engine.connect() as other:
            other.execute(update(Incident).where(Incident.id == other_row.id)
                          .values(description="edited meanwhile"))
            other.commit()

    def another_writer_meanwhile(*args, **kwargs):
        if not writers:
            writers.append(threading.Thread(target=edit_other_row))
            writers[0].start()
            writers[0].join(0.5)  # it has written, or waits for this pass's write lock
        return real_rank(*args, **kwargs)

    monkeypatch.setattr(dispatch, "rank_drones", another_writer_meanwhile)
    spec = next(spec for spec in scheduled_jobs(app.config)
                if spec.id == "dispatch.queued-incidents")
    with caplog.at_level("INFO", logger="app.services.transactions"):
        assert schedulers([spec]).run_slot(spec.id, T0) == "ran"
    writers[0].join()
    assert "retrying after a database conflict" not in caplog.text
    db.session.rollback()
    dispatched = db.session.get(Incident, incident.id)
    assert dispatched.status == "dispatched" and dispatched.drone_id == drone.id
    assert db.session.get(Incident, other_row.id).description == "edited meanwhile"


def test_a_failing_job_is_rolled_back_and_its_run_records_the_error(db, schedulers):
    def breaks():
        make_user(_db, username="halfway")  # committed by the factory: then undone below
        _db.session.add(User(username="never", email="n@x.org", password_hash="x"))
        _db.session.flush()
        raise RuntimeError("camera offline")

    spec = JobSpec("test.breaks", breaks, every(seconds=5))
    assert schedulers([spec]).run_slot(spec.id, T0) == "failed"
    db.session.rollback()
    assert db.session.scalar(select(User.id).where(User.username == "never")) is None
    run = db.session.scalars(select(JobRun)).one()
    assert run.outcome == FAILED and run.error == "RuntimeError: camera offline"


def test_a_new_leader_runs_the_latest_slot_nobody_claimed_once(db, schedulers):
    slots = []
    spec = JobSpec("test.five-minutes", lambda: slots.append(current_slot()), every(minutes=5),
                   misfire_grace_s=600)
    now = datetime.now(UTC)
    missed = latest_fire_time(spec.trigger, now - timedelta(minutes=5), now)
    scheduler = schedulers([spec], leader=False)
    scheduler.start()  # takes the free lease, then catches up
    assert scheduler.is_leader
    scheduler.catch_up()  # the slot is claimed now: not again
    scheduler.shutdown(wait=True)
    assert slots.count(missed) == 1 and run_count(spec.id) == len(slots)


def test_a_fired_job_runs_as_the_slot_it_was_due_at(db, schedulers):
    slots, seen = [], threading.Event()

    def job():
        slots.append((current_slot(), datetime.now(UTC)))
        if len(slots) >= 2:
            seen.set()

    spec = JobSpec("test.every-second", job, every(seconds=1))
    scheduler = schedulers([spec])
    scheduler.start()
    assert seen.wait(30)
    scheduler.shutdown(wait=True)
    due = [slot for slot, _ in slots]
    assert all(slot.microsecond == 0 and slot <= ran for slot, ran in slots)
    assert due == sorted(set(due)) and run_count(spec.id) == len(slots)


def test_a_slot_claimed_elsewhere_is_not_caught_up(db, schedulers):
    slots = []
    spec = JobSpec("test.five-minutes", lambda: slots.append(current_slot()), every(minutes=5),
                   misfire_grace_s=600)
    now = datetime.now(UTC)
    claim_slot(spec.id, latest_fire_time(spec.trigger, now - timedelta(minutes=5), now), "old")
    scheduler = schedulers([spec], leader=False)
    scheduler.start()
    scheduler.shutdown(wait=True)
    assert slots == [] or slots[0] > now


def test_with_the_default_settings_a_dead_leader_is_replaced_within_10_s(db, schedulers):
    leader, standby = schedulers(leader=False), schedulers(leader=False)
    assert leader.beat(now=T0) is True
    # The leader dies right after renewing; the standby beats every heartbeat from then on.
    beat, taken_at = 0, None
    while taken_at is None and beat < 100:
        beat += 1
        moment = T0 + timedelta(seconds=beat * standby.heartbeat_s)
        if standby.beat(now=moment):
            taken_at = moment
    assert taken_at is not None and (taken_at - T0).total_seconds() <= 10
    # ... and a slot missed meanwhile is still within the misfire grace.
    assert standby.misfire_grace_s > (taken_at - T0).total_seconds()


def test_latest_fire_time_looks_back_only_as_far_as_asked():
    trigger = every(minutes=5)
    assert latest_fire_time(trigger, T0 - timedelta(seconds=60), T0 + timedelta(seconds=5)) == T0
    assert latest_fire_time(trigger, T0, T0 + timedelta(seconds=60)) is None
    assert latest_fire_time(trigger, T0 - timedelta(minutes=11), T0) == T0


def test_interval_slots_agree_between_processes_and_crontab_sundays_are_sundays():
    now = datetime(2030, 1, 1, 12, 0, 0, 400000, tzinfo=UTC)
    earlier, later = every(seconds=15), every(seconds=15)
    assert earlier.get_next_fire_time(None, now) == later.get_next_fire_time(None, now) \
        == datetime(2030, 1, 1, 12, 0, 15, tzinfo=UTC)
    sunday = cron("0 9 * * 0").get_next_fire_time(None, now)
    assert sunday == datetime(2030, 1, 6, 9, 0, tzinfo=UTC) and sunday.weekday() == 6
    assert cron("0 9 * * 1").get_next_fire_time(None, now) == datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    assert cron("0 9 * * 6,7").get_next_fire_time(None, now).weekday() == 5


def test_keyed_jobs_are_added_replaced_and_removed_to_match_the_schedules(schedulers):
    def capture(key):
        """Stand-in for a per-area capture job."""

    scheduler = schedulers()
    first = scheduler.sync_keyed_jobs("area-capture", capture,
                                      {1: cron("0 */6 * * *"), 2: cron("30 2 * * *")})
    assert first == {"added": ["area-capture:1", "area-capture:2"], "replaced": [],
                     "removed": []}
    same = scheduler.sync_keyed_jobs("area-capture", capture,
                                     {1: cron("0 */6 * * *"), 2: cron("30 2 * * *")})
    assert same == {"added": [], "replaced": [], "removed": []}
    changed = scheduler.sync_keyed_jobs("area-capture", capture,
                                        {1: cron("0 */3 * * *"), 3: every(minutes=10)})
    assert changed == {"added": ["area-capture:3"], "replaced": ["area-capture:1"],
                       "removed": ["area-capture:2"]}
    jobs = {job.id: job for job in scheduler._aps.get_jobs()}
    assert sorted(jobs) == ["area-capture:1", "area-capture:3"]
    assert "hour='*/3'" in repr(jobs["area-capture:1"].trigger)
    assert scheduler.remove_job("area-capture:3") and not scheduler.remove_job("area-capture:3")


def test_a_keyed_family_follows_the_database_and_runs_with_its_key(db, schedulers):
    ran = []
    family = KeyedJobs("watch", ran.append, lambda: {
        user.id: every(minutes=5)
        for user in _db.session.scalars(select(User).where(User.is_active))})
    scheduler = schedulers(families=[family])
    alice, bob = make_user(db), make_user(db)
    with scheduler.app.app_context():
        scheduler.sync_families()
    assert {spec.id for spec in scheduler.job_specs()} >= {f"watch:{alice.id}", f"watch:{bob.id}"}
    bob.is_active = False
    db.session.commit()
    with scheduler.app.app_context():
        scheduler.sync_families()
    assert f"watch:{bob.id}" not in {spec.id for spec in scheduler.job_specs()}
    assert scheduler.run_slot(f"watch:{alice.id}", T0) == "ran" and ran == [alice.id]


def test_the_factory_starts_the_registered_jobs_only_when_enabled(app, make_app, db):
    assert current_scheduler(app) is None
    enabled = make_app(SCHEDULER_ENABLED=True, SCHEDULER_HEARTBEAT_S=60)
    scheduler = current_scheduler(enabled)
    try:
        assert scheduler is not None and scheduler.is_leader
        assert {"notifications.deliver", "devices.prune-stale", "auth.prune-revoked-sessions",
                "scheduler.prune-job-runs"} <= {spec.id for spec in scheduler.job_specs()}
        with enabled.app_context():
            assert lease_holder(LEASE_NAME) == scheduler.holder
    finally:
        scheduler.shutdown()
    with enabled.app_context():
        assert lease_holder(LEASE_NAME) is None


def test_one_off_flask_commands_do_not_start_the_scheduler(make_app, db):
    enabled = make_app(SCHEDULER_ENABLED=False)
    enabled.config["SCHEDULER_ENABLED"] = True
    with click.Context(click.Command("upgrade")):
        assert init_scheduler(enabled) is None
    assert current_scheduler(enabled) is None
