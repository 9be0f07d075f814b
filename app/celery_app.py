"""The Celery app of ``BACKGROUND_BACKEND=celery``: the same jobs as tasks, on worker processes.

``init_celery(app)`` binds a Celery app to the Flask app (the factory calls it when the
backend is ``celery``): Redis is broker and result backend, every task runs inside an
app context, and a task is acknowledged only once it has ended (``acks_late``), so a
worker killed mid-task leaves its message to be delivered again after
``CELERY_VISIBILITY_TIMEOUT_S``. The tasks are in ``app.jobs.tasks``; what is queued and
when, in ``app.jobs.dispatch_work``. A worker runs with ``flask worker`` or
``celery -A app.celery_worker worker``.
"""

from celery import Celery, Task
from celery.signals import worker_process_init

from app.extensions import db

EXTENSION_KEY = "celery"


def celery_settings(config):
    """Celery's settings from the app's config (``CELERY_*``)."""
    url = config["CELERY_BROKER_URL"]
    visibility_s = config["CELERY_VISIBILITY_TIMEOUT_S"]
    timeout_s = config["CELERY_CONNECT_TIMEOUT_S"]
    # socket_timeout: a Redis frozen with its connections open would hold a request that
    # queues work for ever (kombu waits without limit by default); a worker's BRPOP loop
    # is not bound by it (kombu drops a silent one after its health check interval).
    redis_options = {"global_keyprefix": config["CELERY_KEY_PREFIX"],
                     "socket_connect_timeout": timeout_s, "socket_timeout": timeout_s}
    return {
        "broker_url": url,
        "result_backend": url,
        "broker_transport_options": {
            **redis_options, "visibility_timeout": visibility_s,
            # Look for messages of dead workers about ten times per visibility timeout.
            "unacked_restore_interval": max(1, min(10, visibility_s // 10)),
            "unacked_restore_throttle": 1},
        "result_backend_transport_options": redis_options,
        "redis_socket_connect_timeout": timeout_s,
        "redis_socket_timeout": timeout_s,
        "broker_connection_timeout": timeout_s,
        # A worker waits out any Redis outage, reconnecting by itself (Celery's default
        # gives up after 100 tries, some 45 minutes, and the worker exits); a task it runs
        # meanwhile goes on: its outcome lives on the row, not in Redis.
        "broker_connection_retry_on_startup": True,
        "broker_connection_retry": True,
        "broker_connection_max_retries": None,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        # A request that queues work waits for Redis once, briefly: the work waits in the
        # database when Redis is down (app.jobs.dispatch_work).
        "task_publish_retry_policy": {"max_retries": 1, "interval_start": 0.2,
                                      "interval_step": 0.2},
        "task_default_queue": config["CELERY_QUEUE"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # The outcome lives on the run's row; Redis keeps only the errors of tasks.
        "task_ignore_result": True,
        "task_store_errors_even_if_ignored": True,
        "result_expires": 24 * 3600,
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        "include": ["app.jobs.tasks"],
    }


def init_celery(app):
    """Create the Celery app bound to ``app`` (its tasks run in ``app``'s context); return it."""

    class AppContextTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=AppContextTask)
    celery.conf.update(celery_settings(app.config))
    celery.set_default()
    app.extensions[EXTENSION_KEY] = celery

    @worker_process_init.connect(weak=False)
    def fresh_connections(**_kwargs):
        """A forked (prefork) worker child opens database connections of its own."""
        with app.app_context():
            db.engine.dispose(close=False)

    return celery
