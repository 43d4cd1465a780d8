"""The site's main navigation, filled by the modules that own the pages.

A module adds its entry once, at import::

    nav_item("wallet.balance", _l("Wallet"), order=30, when=lambda: current_user_is_signed_in())

``when`` decides per request whether the entry shows (signed in, has a role…).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flask import request, url_for


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # a lazy string, translated when rendered
    order: int
    when: Callable[[], bool] | None = None
    #: Endpoints (prefixes, one or a tuple) that mark this entry as the current page.
    active_prefix: str | tuple[str, ...] | None = None


_ITEMS: dict[str, NavItem] = {}


def nav_item(endpoint: str, label, order: int, when=None, active_prefix: str | tuple[str, ...] | None = None) -> None:
    """Add (or replace) the navigation entry leading to ``endpoint``."""
    _ITEMS[endpoint] = NavItem(endpoint, label, order, when, active_prefix)


def visible_nav_items() -> list[dict]:
    items = []
    for item in sorted(_ITEMS.values(), key=lambda i: i.order):
        if item.when is not None and not item.when():
            continue
        prefix = item.active_prefix or item.endpoint
        current = bool(request.endpoint) and (request.endpoint == item.endpoint or request.endpoint.startswith(prefix))
        items.append({"url": url_for(item.endpoint), "label": item.label, "current": current})
    return items
