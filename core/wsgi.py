"""The WSGI application app servers run: ``gunicorn core.wsgi:app``.

Configured from the environment (``LENDKIT_*``, see README.md); built once per
server process, whose heap is then frozen (:func:`core.app.freeze_heap`).
"""
from core.app import create_app, freeze_heap

app = create_app()
freeze_heap()
