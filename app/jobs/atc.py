"""The ATC job (``atc.process-submissions``): submit filed plans, poll decisions, release."""

import time
import uuid
from collections import Counter
from functools import partial

from flask import current_app
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.jobs import checkpoint, run_or_fail
from app.models.types import utcnow
from app.services.atc import get_atc
from app.services.atc.submissions import claim_next_plan, set_aside, work_on


def process_submissions(now=None, atc=None, limit=None):
    """Work on the plans that are due, one claim at a time; return a count per outcome.

    Outcomes: ``approved``, ``denied``, ``pending``, ``failed``, ``retry``,
    ``released``, ``release_failed`` (ATC was not told; given up), ``superseded``
    (the plan changed while ATC answered), ``skipped`` (nothing left to do) and
    ``error`` (working on it raised: the plan is set aside, see ``set_aside``).
    Each plan is worked on at most once per call, and no new plan is claimed
    after about one job interval: what is left is due for the next run, so runs
    seldom overlap. A lost database is raised: every other plan would fail the same way.
    """
    config = current_app.config
    client = atc or get_atc()
    limit = limit or config["ATC_BATCH_SIZE"]
    stop_claiming = time.monotonic() + config["ATC_PROCESS_INTERVAL_S"]
    claimer = uuid.uuid4().hex
    outcomes, seen = Counter(), []
    while len(seen) < limit and (not seen or time.monotonic() < stop_claiming):
        at = now or utcnow()
        plan_id = claim_next_plan(claimer, at, seen)
        db.session.commit()
        if plan_id is None:
            break
        seen.append(plan_id)
        outcome = run_or_fail(
            partial(work_on, plan_id, client, claimer, at),
            partial(set_aside, plan_id, claimer, at, checkpoint=checkpoint),
            passes=OperationalError)
        outcomes[outcome] += 1
    return dict(outcomes)

