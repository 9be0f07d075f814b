"""The offline default: records every push as handled, sends nothing."""

import logging

from app.services.notifier.base import DELIVERED, Notifier, PushResult

log = logging.getLogger(__name__)

RECORDED_NOTE = "Recorded by the offline notifier (NOTIFIER=outbox); no push was sent."


class RecordingNotifier(Notifier):
    """Marks pushes delivered with a note, so the demo works with no Firebase project."""

    name = "outbox"

    def send(self, pushes):
        """Record each push; none leaves the machine."""
        for push in pushes:
            log.info("push recorded", extra={"fields": {
                "target": push.topic or "device", "title": push.title}})
        return [PushResult(DELIVERED, note=RECORDED_NOTE) for _ in pushes]

    def subscribe(self, tokens, topic):
        """Nothing to subscribe offline."""

    def unsubscribe(self, tokens, topic):
        """Nothing to unsubscribe offline."""
