"""Tenant scoping by the mechanism, not by each caller's care.

* Every tenant-owned model mixes in :class:`TenantScoped` and so carries
  ``tenant_id``.
* Every ORM query through a :class:`TenantSession` (that is ``db.session``)
  gets ``WHERE tenant_id = <bound tenant>`` on every tenant-owned entity it
  touches, including joins, relationship loads, ORM ``UPDATE`` and ``DELETE``.
* New tenant-owned objects are stamped with the bound tenant at flush; an
  object of another tenant cannot be written.
* Touching a tenant-owned table with no tenant bound raises
  :class:`TenantNotBound` instead of reading across tenants.

The one opt-out is explicit and greppable: the execution option
``all_tenants=True``, for the vendor console and jobs that walk every tenant::

    db.session.execute(select(Notice).execution_options(all_tenants=True))
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar

from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import ForeignKey, event
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, with_loader_criteria
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter, ClauseElement

_bound_tenant: ContextVar[int | None] = ContextVar("lendkit_tenant_id", default=None)

#: The execution option that lets one statement cross tenants.
ALL_TENANTS = "all_tenants"


class TenantNotBound(RuntimeError):
    """A tenant-owned table was touched while no tenant was bound."""


class CrossTenantWrite(RuntimeError):
    """An object of one tenant was about to be written while another is bound."""


def current_tenant_id() -> int | None:
    """The id of the tenant bound to this request, task or ``tenant_context`` block."""
    return _bound_tenant.get()


def bind_tenant(tenant_id: int | None):
    """Bind ``tenant_id`` until the returned token is passed to :func:`unbind_tenant`."""
    return _bound_tenant.set(tenant_id)


def unbind_tenant(token) -> None:
    _bound_tenant.reset(token)


@contextlib.contextmanager
def tenant_context(tenant):
    """Bind ``tenant`` (a Tenant or its id) for code outside a request::

        with tenant_context(tenant):
            Notice.query.all()

    The session must hold no unflushed changes on entry or exit: tenant-owned
    objects loaded under one tenant are expunged so they cannot leak into
    another (vendor-side objects such as the Tenant itself stay attached).
    """
    from core.extensions import db

    tenant_id = tenant if isinstance(tenant, int) else tenant.id
    _clear_identity_map(db.session)
    token = bind_tenant(tenant_id)
    try:
        yield tenant
    finally:
        try:
            _clear_identity_map(db.session)
        finally:
            unbind_tenant(token)


def _clear_identity_map(session) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("commit or roll back before switching tenant")
    for obj in [o for o in session.identity_map.values() if isinstance(o, TenantScoped)]:
        if obj in session:  # an earlier expunge may have cascaded to it already
            session.expunge(obj)


class TenantScoped:
    """Mixin for every tenant-owned model: adds ``tenant_id`` and the automatic scoping."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:
        #: The tenant owning this row; set automatically from the bound tenant.
        return mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), nullable=False, index=True)


class TenantSession(FlaskSession):
    """``db.session``'s class; the listeners below make it tenant-scoped."""


class CoreStatementOnTenantTable(TenantNotBound):
    """A Core (non-ORM) statement named a tenant-owned table: it cannot be scoped automatically."""


def _tenant_tables(statement) -> set[str]:
    """Names of tenant-owned tables anywhere in ``statement``, subqueries included."""
    scoped = _scoped_table_names()
    return {
        element.name
        for element in visitors.iterate(statement)
        if getattr(element, "__visit_name__", None) == "table" and element.name in scoped
    }


def _scoped_table_names() -> frozenset[str]:
    global _SCOPED_TABLES
    if _SCOPED_TABLES is None:
        from core.extensions import db

        _SCOPED_TABLES = frozenset(
            mapper.local_table.name
            for mapper in db.Model.registry.mappers
            if issubclass(mapper.class_, TenantScoped)
        )
    return _SCOPED_TABLES


_SCOPED_TABLES: frozenset[str] | None = None


@event.listens_for(TenantSession, "do_orm_execute")
def _scope_statement(state) -> None:
    if state.is_column_load:  # refresh of an object this session already holds
        return
    if state.execution_options.get(ALL_TENANTS):
        return
    tables = _tenant_tables(state.statement)
    if not tables:
        return
    names = ", ".join(sorted(tables))
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise TenantNotBound(f"no tenant is bound; refusing to touch tenant-owned {names}")
    if state.statement._propagate_attrs.get("compile_state_plugin") != "orm":
        raise CoreStatementOnTenantTable(
            f"a Core statement on tenant-owned {names} cannot be scoped; select ORM entities "
            f"or pass execution_options(all_tenants=True) and filter by tenant_id yourself"
        )
    if (state.is_insert or state.is_update) and any(value != tenant_id for value in _written_tenant_ids(state)):
        verb = "an INSERT into" if state.is_insert else "an UPDATE of"
        raise CrossTenantWrite(f"{verb} tenant-owned {names} names another tenant")
    if state.is_insert:
        return  # the caller's values carry tenant_id; NOT NULL catches a missing one
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped, lambda cls: cls.tenant_id == tenant_id, include_aliases=True
        )
    )


def _written_tenant_ids(state) -> set:
    """The literal ``tenant_id`` values an ORM INSERT or UPDATE writes, from its parameters and ``.values()``."""
    found = set()
    statement = state.statement
    multi = getattr(statement, "_multi_values", None) or ()  # insert().values([{…}, {…}])
    value_sets = [statement._values or {}] + [row for rows in multi for row in rows]
    for values in value_sets:
        for key, value in values.items():
            if getattr(key, "key", key) != "tenant_id":
                continue
            if isinstance(value, BindParameter):
                value = value.value
            elif isinstance(value, ClauseElement):
                continue  # an SQL expression: NOT NULL and the foreign key are all that can judge it
            found.add(value)
    parameters = state.parameters
    for row in [parameters] if isinstance(parameters, dict) else (parameters or ()):
        if "tenant_id" in row:
            found.add(row["tenant_id"])
    found.discard(None)
    return found


@event.listens_for(TenantSession, "before_flush")
def _stamp_and_check(session, flush_context, instances) -> None:
    tenant_id = current_tenant_id()
    for obj in session.new:
        if not isinstance(obj, TenantScoped):
            continue
        if tenant_id is None:
            raise TenantNotBound(f"no tenant is bound; refusing to insert {type(obj).__name__}")
        if obj.tenant_id is None:
            obj.tenant_id = tenant_id
        elif obj.tenant_id != tenant_id:
            raise CrossTenantWrite(f"{type(obj).__name__} belongs to another tenant")
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, TenantScoped) and obj.tenant_id != tenant_id:
            raise CrossTenantWrite(f"{type(obj).__name__} belongs to another tenant")
