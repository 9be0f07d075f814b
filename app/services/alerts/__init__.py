"""Land watch alerts: comparison sessions, the changes they find, their evidence.

One module per concern: ``sessions`` (start, run, finish, background execution),
``pairing`` (which captures each tile compares, references), ``comparing`` (one
tile: the detector call and what is stored), ``skips`` (kinds of reason a tile was
not compared), ``evidence`` (images written and served) and ``reading`` (queries
and reviews). The names callers use are importable from here.
"""

from app.services.alerts.comparing import MAX_SKIPPED_LISTED, compare_tile
from app.services.alerts.evidence import evidence_file
from app.services.alerts.pairing import USABLE_RUN_STATES, next_reference, usable_runs
from app.services.alerts.reading import (
    details_stmt,
    get_detail,
    get_session,
    list_sessions_stmt,
    review_detail,
    skipped_tiles_stmt,
    visible_sessions,
)
from app.services.alerts.sessions import (
    comparison_executor,
    fail_stale_sessions,
    outcome_state,
    run_comparison,
    start_comparison,
    submit_comparison,
    wait_for_session,
)
from app.services.alerts.skips import SKIP_KINDS

__all__ = [
    "MAX_SKIPPED_LISTED", "SKIP_KINDS", "USABLE_RUN_STATES", "compare_tile",
    "comparison_executor", "details_stmt", "evidence_file", "fail_stale_sessions",
    "get_detail", "get_session", "list_sessions_stmt", "next_reference", "outcome_state",
    "review_detail", "run_comparison", "skipped_tiles_stmt", "start_comparison",
    "submit_comparison", "usable_runs", "visible_sessions", "wait_for_session",
]
