"""Delivery: from a client's requirements to a live branded platform.

* :mod:`core.delivery.requirements` — the requirements questionnaire and its checks.
* :mod:`core.delivery.scaffold` — ``lendkit tenant new``: render ``tenants/<slug>/``.
"""
