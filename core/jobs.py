"""Background work as Celery tasks, bound to the Flask app.

* No broker configured (the default): every task runs eagerly, in-process,
  in the caller's thread (``task_always_eager``) — the embedded demo and the
  tests need no Redis.
* ``LENDKIT_BROKER_URL=redis://127.0.0.1:6379/0`` (or ``amqp://…``): tasks go
  to Celery workers, started with::

      LENDKIT_BROKER_URL=redis://127.0.0.1:6379/0 celery -A core.jobs worker --loglevel=info

  Results come back over ``LENDKIT_RESULT_BACKEND`` (default: the broker when
  it is Redis, else ``rpc://``), so ``lendkit daily`` waits for each step.

Every task takes the tenant's id first and binds it; the work itself is
idempotent (see :mod:`core.lending.daily`), so a task retried or run twice
changes nothing the second time.
"""
from __future__ import annotations

import logging
import os

from celery import Celery, Task
from celery.signals import worker_init

log = logging.getLogger("lendkit.jobs")

__all__ = ["celery", "init_app", "dispatch", "flask_app", "is_eager"]

_flask_app = None


def flask_app():
    """The Flask app tasks run in: the current one, else one built from the environment (a worker)."""
    global _flask_app
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app._get_current_object()
    if _flask_app is None:
        from core.app import create_app

        _flask_app = create_app()
    return _flask_app


class AppTask(Task):
    """Runs inside the Flask app's context with the task's tenant bound."""

    abstract = True

    def __call__(self, tenant_id, *args, **kwargs):
        from flask import has_app_context

        from core.tenancy import tenant_context
        from core.tenancy.scoping import current_tenant_id

        if has_app_context() and current_tenant_id() == tenant_id:
            return self.run(tenant_id, *args, **kwargs)
        app = flask_app()
        with app.app_context():
            from core.extensions import db

            try:
                with tenant_context(tenant_id):
                    return self.run(tenant_id, *args, **kwargs)
            finally:
                db.session.remove()


def _configure(celery_app: Celery, config) -> None:
    broker = config.get("LENDKIT_BROKER_URL") or ""
    backend = config.get("LENDKIT_RESULT_BACKEND") or (broker if broker.startswith("redis") else ("rpc://" if broker else None))
    celery_app.conf.update(
        broker_url=broker or "memory://",
        result_backend=backend,
        task_always_eager=not broker,
        task_eager_propagates=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        timezone="UTC",
        broker_connection_retry_on_startup=True,
    )


celery = Celery("lendkit", task_cls=AppTask, include=["core.lending.tasks", "core.delivery.tasks"])
_configure(celery, os.environ)


@worker_init.connect
def _build_app_before_the_first_task(**_kwargs) -> None:
    """A worker builds its Flask app (plugins, themes, configuration) when it starts, not in its first task."""
    from core.app import freeze_heap

    flask_app()
    freeze_heap()


def init_app(app) -> Celery:
    """Bind the Celery app to ``app``'s configuration (called by the lending plugin's CLI and the tests)."""
    _configure(celery, app.config)
    app.extensions["celery"] = celery
    return celery


def is_eager() -> bool:
    return bool(celery.conf.task_always_eager)


def dispatch(name: str, *args, wait: bool = False):
    """Run task ``name`` for the bound tenant: inline when eager, else queued (``wait``: block for its result).

    A failure of a fire-and-forget task (``wait=False``) is logged, not raised:
    the daily job picks up whatever it left undone.
    """
    from core.tenancy.scoping import current_tenant_id

    _register_tasks()
    task = celery.tasks[name]
    tenant_id = current_tenant_id()
    if is_eager():
        try:
            # computed already: nothing blocks, even inside a task (the acceptance suite runs `lendkit daily` in one)
            return task.apply(args=(tenant_id, *args), throw=True).get(disable_sync_subtasks=False)
        except Exception:
            if wait:
                raise
            log.exception("task %s%r failed; the daily job retries it", name, args)
            return None
    result = task.apply_async(args=(tenant_id, *args))
    return result.get(propagate=True) if wait else result


_registered = False


def _register_tasks() -> None:
    global _registered
    if not _registered:
        import core.delivery.tasks  # noqa: F401  (defines the tasks on ``celery``)
        import core.lending.tasks  # noqa: F401

        _registered = True

