"""lendkit core: the Flask application, tenancy, money, lending and the plugin contract.

A plugin writes ``from core import hookimpl`` and decorates functions named
after the hooks in :mod:`core.hookspecs`.
"""
import pluggy

hookimpl = pluggy.HookimplMarker("lendkit")

__all__ = ["hookimpl", "create_app"]


def create_app(*args, **kwargs):
    """Build the lendkit WSGI application (see :func:`core.app.create_app`)."""
    from core.app import create_app as _create_app

    return _create_app(*args, **kwargs)
