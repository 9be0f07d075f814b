"""The push sweep as a job: ``notifications.deliver`` and ``flask notifications deliver``."""

from app.jobs import checkpoint
from app.services import notifications


def deliver_due_notifications(now=None, notifier=None):
    """Send the notifications that are due, committing at each step; return a count per state."""
    return notifications.deliver_due_notifications(now, notifier, checkpoint=checkpoint)
