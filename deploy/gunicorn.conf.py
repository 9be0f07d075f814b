# gunicorn settings for CPS: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.
# nginx terminates TLS and proxies to this socket; see deploy/nginx-cps.conf.
bind = "127.0.0.1:8000"
workers = 3
threads = 2
worker_class = "gthread"
timeout = 60
graceful_timeout = 30
# Recycle workers now and then (memory hygiene), but rarely: loading the app costs a worker
# about 2 s of CPU, which at a few hundred requests a second would be every few seconds.
max_requests = 50000
max_requests_jitter = 5000
forwarded_allow_ips = "127.0.0.1"
accesslog = None             # the app logs one JSON line per request itself
errorlog = "-"


def post_worker_init(worker):
    """Move the loaded app's objects out of the collector's way (fewer long GC pauses)."""
    import gc

    gc.freeze()
