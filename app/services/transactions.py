"""Transactions that survive trouble: retry after a deadlock, isolate one item of a job.

``commit_with_retry`` runs a unit of work again after the database refused it for a
conflict with another connection: a MySQL/MariaDB deadlock, or SQLite's "database is
locked" (a write in a transaction whose snapshot another connection has changed since is
refused at once, whatever the busy timeout). ``isolated`` runs one item of a scheduled
job in a savepoint: if the item raises, only its own changes are undone, the failure is
logged with the item's id and marked on the item, and the job goes on with the next one.
"""

import logging
import random
import time

from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.services.errors import ServiceError

log = logging.getLogger(__name__)

# MySQL/MariaDB errors after which the whole transaction may simply run again:
# deadlock, and "record has changed" under MariaDB's snapshot isolation.
RETRYABLE_MYSQL_ERRORS = {1213, 1020}
SQLITE_BUSY = 5  # the primary result code; SQLITE_BUSY_SNAPSHOT (517) is one of its family
RETRY_BACKOFF_S = 0.02
REASON_MAX = 500
ITEM_FAILED = object()  # what ``isolated`` returns for an item whose work raised


def is_retryable(error):
    """Return True if a database error means "roll back and try again"."""
    sqlite_code = getattr(error.orig, "sqlite_errorcode", None)
    if sqlite_code is not None:
        return sqlite_code & 0xFF == SQLITE_BUSY
    args = getattr(error.orig, "args", None) or (None,)
    return args[0] in RETRYABLE_MYSQL_ERRORS


def commit_with_retry(work, attempts=3):
    """Run ``work()`` and commit; after a conflict (``is_retryable``) roll back and run it again.

    ``work`` must do the whole unit of work, lookups included, because a
    deadlock rolls everything back. For views and jobs, which own the commit.
    Before each rerun it waits a random time up to RETRY_BACKOFF_S × 2^(attempt − 1):
    transactions that collided and ran again at once would mostly collide again.
    """
    for attempt in range(1, attempts + 1):
        try:
            result = work()
            db.session.commit()
            return result
        except OperationalError as error:
            db.session.rollback()
            if attempt == attempts or not is_retryable(error):
                raise
            log.info("retrying after a database conflict (attempt %d): %s", attempt, error.orig)
            time.sleep(random.uniform(0.0, RETRY_BACKOFF_S * 2 ** (attempt - 1)))
    raise AssertionError("unreachable")


def failure_reason(error):
    """Return the words stored on a failed item: a refusal's own words, else the error's kind."""
    if isinstance(error, ServiceError):
        return error.detail[:REASON_MAX]
    return f"internal error: {type(error).__name__}: {error}"[:REASON_MAX]


def isolated(kind, item_id, work, mark=None):
    """Run ``work()`` for one item in a savepoint; return its result, or ITEM_FAILED.

    If it raises, its changes are rolled back to the savepoint, the failure is logged
    with ``kind`` and ``item_id``, and ``mark(reason)`` records it on the item (in a
    savepoint of its own). A lost database connection is not the item's fault: it is
    raised, since every other item would fail the same way. The caller commits.
    """
    try:
        with db.session.begin_nested():
            return work()
    except OperationalError:
        raise
    except Exception as error:
        reason = failure_reason(error)
        log.exception("%s %s failed; the job goes on with the others", kind, item_id,
                      extra={"fields": {"kind": kind, "id": item_id, "reason": reason}})
    if mark is not None:
        try:
            with db.session.begin_nested():
                mark(reason)
        except OperationalError:
            raise
        except Exception:
            log.exception("%s %s: the failure could not be recorded on it", kind, item_id)
    return ITEM_FAILED
