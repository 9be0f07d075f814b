# gunicorn settings for CPS: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.
# nginx terminates TLS and proxies to this socket; see deploy/nginx-cps.conf.
bind = "127.0.0.1:8000"
workers = 3
threads = 2
worker_class = "gthread"
timeout = 60
graceful_timeout = 30
max_requests = 2000          # recycle workers now and then (memory hygiene)
max_requests_jitter = 200
forwarded_allow_ips = "127.0.0.1"
accesslog = None             # the app logs one JSON line per request itself
errorlog = "-"
