"""The baseline for the load bench: a bare Flask app served by the same gunicorn config.

``gunicorn -c deploy/gunicorn.conf.py bench.hello_app:app``; ``GET /hello`` answers a
small JSON document without touching a database, a token or a log line.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello():
    """Answer a constant JSON document."""
    return {"hello": "world"}
