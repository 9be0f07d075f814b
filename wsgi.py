"""WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi run``.

``config`` loads ``.env`` when it is imported, so both servers see it.
"""

from app import create_app

app = create_app()
