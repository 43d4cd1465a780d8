"""The delivery process's Celery tasks (see core.jobs): each takes the tenant's id first."""
from __future__ import annotations

from core.jobs import celery


@celery.task(name="delivery.accept")
def accept(tenant_id: int, run_id: int, locale: str | None = None):
    """Run a tenant's acceptance suite started from the vendor console (core.delivery.acceptance), its texts
    written in ``locale``: the starter's (``en``, ``zh_CN``; None: the worker's current locale)."""
    from core.delivery.acceptance import finish_acceptance

    run = finish_acceptance(run_id, locale=locale)  # it writes the texts under force_locale(locale)
    return None if run is None else run.passed
