"""Unbound extension objects, initialised by :func:`core.app.create_app`."""
from flask_limiter import Limiter
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from core.i18n import LendkitBabel
from core.tenancy.scoping import TenantSession

#: Constraint names are fixed so migrations name them the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base, session_options={"class_": TenantSession})
babel = LendkitBabel()
csrf = CSRFProtect()
#: Rate limits (core.accounts.limits); memory storage, or Redis when LENDKIT_REDIS_URL is set.
limiter = Limiter(key_func=lambda: "-", default_limits=[], headers_enabled=True)
