"""The operator console: one static page at ``/console`` (``/`` leads there).

The page is plain HTML, CSS and JavaScript in ``app/static/console`` with Leaflet vendored
in ``app/static/vendor``: no build step and no CDN. It calls the same API as curl does.
Its Content-Security-Policy lets it reach this server only, plus the origin of
``CONSOLE_BASEMAP_URL`` for images when an administrator configures one.
"""

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, send_from_directory

blp = Blueprint("console", __name__)
LANDING = ('<!doctype html><title>CPS</title><p>The operator console is at '
           '<a href="/console">/console</a>; the API and its documentation at '
           '<a href="/apidocs">/apidocs</a>.</p>')


def content_security_policy(basemap_url):
    """The page's CSP: this server only, and the basemap's origin for images if configured."""
    images = "'self' blob: data:"
    if basemap_url:
        parts = urlsplit(basemap_url.replace("{s}", "*"))
        images += f" {parts.scheme}://{parts.netloc}"
    return ("default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src {images}; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'; form-action 'self'")


@blp.get("/")
def landing():
    """Lead to the console; the landing text links the API docs."""
    response = Response(LANDING, status=302, mimetype="text/html")
    response.headers["Location"] = "/console"
    return response


@blp.get("/console")
def console_page():
    """Serve the operator console's single page."""
    folder = Path(current_app.static_folder) / "console"
    response = send_from_directory(folder, "index.html", max_age=0)
    response.headers["Content-Security-Policy"] = content_security_policy(
        current_app.config["CONSOLE_BASEMAP_URL"])
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def register_console(app):
    """Serve the console page and lead ``/`` to it."""
    app.register_blueprint(blp)
