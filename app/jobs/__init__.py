"""Jobs: the outermost callers of work that outlives a request. They own its transactions.

A service never commits or rolls back; the view, CLI command or job that called it
does. Work too long for one transaction (a capture keeps each tile as it arrives, a
push sweep must not hold a transaction while the push service answers) is written as
a service taking a ``checkpoint`` callable, and the job passes ``checkpoint`` below:
each call commits, so progress shows and a killed process loses nothing committed.
``run_or_fail`` is how a job ends one row's work: commit it, or roll it back and let
the service record the failure on the row.

The scheduler (``app/scheduler/registry.py``), the background pools (``background``)
and the CLI call these functions; services stay free of transaction control.
"""

from flask import current_app

from app.extensions import db
from app.services.transactions import commit_with_retry


def checkpoint(work=None):
    """Commit what the session holds; with ``work``, run it first, and again after a deadlock."""
    if work is None:
        db.session.commit()
        return None
    return commit_with_retry(work, current_app.config["DISPATCH_DEADLOCK_RETRIES"])


def run_or_fail(work, fail, passes=()):
    """Return ``work(checkpoint=…)`` committed; if it raises, roll back, commit ``fail(error)``.

    Errors of the kinds in ``passes`` are rolled back and raised instead.
    """
    try:
        result = work(checkpoint=checkpoint)
        db.session.commit()
        return result
    except Exception as error:
        db.session.rollback()
        if isinstance(error, passes):
            raise
        result = fail(error)
        db.session.commit()
        return result
