"""Rows kept across a commit instead of read again.

A session expires every object it holds when a transaction commits, so the
next use of any of them runs a SELECT. A request that commits several short
transactions — a bid commits six — paid for rows it already knew:

* its **tenant's row** (products, providers, texts: JSON parsed each time),
  which a request reads many times and does not change;
* a row the transaction **itself just wrote** (a custody instruction created
  or settled), whose values the session holds after the flush.

After a commit, such an object is given back the values it had, as if freshly
read (``set_committed_value``): no SELECT. The rules:

* a class registered with :func:`keep_unchanged` is kept when this
  transaction did not change (add, modify, delete) that object; a changed one
  is expired as before and read again when next used;
* an object passed to :func:`keep_after_commit` is kept after this
  transaction's commit whatever it did — the caller vouches that the row
  holds what the session flushed (no Core ``UPDATE`` of it, no server-side
  default the flush did not fetch);
* an object is kept only when every column is loaded (a server default the
  flush did not fetch leaves one unloaded: it is then read again);
* the values are given back as the database would (SQLite: datetimes naive, their zone dropped);
* a rollback forgets everything, as before; a SAVEPOINT released keeps
  nothing by itself (nothing is expired then).

Another process's change to a kept row is seen by the next request (each
request has its own session). Within one long-lived session (a command, a
worker) a kept tenant row is not read again after a commit, and a query
returns the object the session holds as it is (as it does for any loaded
object), unless it asks for ``populate_existing``: code that reads a tenant
to change it from what another process may have written asks for it
(:func:`core.tenancy.sync.sync_tenants` does).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import event, inspect
from sqlalchemy.orm.attributes import set_committed_value

from core.tenancy.scoping import TenantSession

_CHANGED = "lendkit_kept_changed"
_ASKED = "lendkit_kept_asked"
_KEPT = "lendkit_kept"
_TRACKED = "lendkit_kept_tracked"

_classes: tuple[type, ...] = ()
_columns: dict[type, tuple[str, ...]] = {}


def keep_unchanged(cls: type) -> None:
    """Keep every ``cls`` object across a commit when the transaction did not change it."""
    global _classes
    if cls not in _classes:
        _classes = (*_classes, cls)


def keep_after_commit(*objects) -> None:
    """Keep ``objects`` (flushed by this transaction) across its commit; see the module's rules."""
    from core.extensions import db

    for obj in objects:
        inspect(obj)  # not a mapped object: fail here, not after the commit
    db.session.info.setdefault(_ASKED, []).extend(objects)


def _column_keys(obj) -> tuple[str, ...]:
    cls = type(obj)
    keys = _columns.get(cls)
    if keys is None:
        keys = _columns[cls] = tuple(attr.key for attr in inspect(cls).column_attrs)
    return keys


def set_as_read(obj, values: dict) -> None:
    """Give ``obj`` these column ``values`` as if just loaded: no SELECT to read them back.

    Datetimes go in as the session's database gives them back: naive on SQLite, which
    keeps the wall-clock time and drops the zone.
    """
    from core.extensions import db

    naive = (inspect(obj).session or db.session).get_bind().dialect.name == "sqlite"
    for key, value in values.items():
        if naive and isinstance(value, datetime) and value.tzinfo is not None:
            value = value.replace(tzinfo=None)
        set_committed_value(obj, key, value)


@event.listens_for(TenantSession, "loaded_as_persistent")
@event.listens_for(TenantSession, "pending_to_persistent")
def _track(session, instance) -> None:
    """Remember the session's objects of the classes kept when unchanged: loaded by it, or inserted by it
    (an object attached from elsewhere carries values of no transaction of this session: not tracked)."""
    if _classes and isinstance(instance, _classes):
        session.info.setdefault(_TRACKED, {})[id(instance)] = instance


@event.listens_for(TenantSession, "before_flush")
def _note_changed(session, _flush_context, _instances) -> None:
    if not _classes:
        return
    changed = session.info.setdefault(_CHANGED, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _classes):
            changed.add(id(obj))


@event.listens_for(TenantSession, "after_commit")
def _snapshot(session) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT released: nothing is expired
        return
    changed = session.info.pop(_CHANGED, set())
    asked = session.info.pop(_ASKED, [])
    candidates = {id(obj): obj for obj in asked}
    tracked = session.info.get(_TRACKED, {})
    for key, obj in list(tracked.items()):  # not the whole identity map: a batch session holds 100,000s
        if inspect(obj).session is not session:
            del tracked[key]
        elif key not in changed:
            candidates.setdefault(key, obj)
    if not candidates:  # most commits: nothing to keep
        return
    kept = []
    for obj in candidates.values():
        state = inspect(obj)
        if state.session is not session or state.deleted or state.was_deleted or state.key is None:
            continue
        loaded = state.dict
        keys = _column_keys(obj)
        if all(key in loaded for key in keys):
            kept.append((obj, {key: loaded[key] for key in keys}))
    session.info[_KEPT] = kept


@event.listens_for(TenantSession, "after_transaction_end")
def _give_back(session, transaction) -> None:
    if transaction.parent is not None:
        return
    session.info.pop(_CHANGED, None)  # noted for this transaction only, however it ended (close() too)
    session.info.pop(_ASKED, None)
    for obj, values in session.info.pop(_KEPT, ()):
        if inspect(obj).session is session:
            set_as_read(obj, values)
