"""Configuration from environment variables, with safe defaults.

Every setting has a ``LENDKIT_`` environment variable. Development gets an
embedded SQLite database under ``instance/`` and a throw-away secret key;
production refuses to start without a real secret key.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

#: The checkout lendkit runs from: it holds ``tenants/``, ``themes/`` and ``migrations/``.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEV_SECRET_KEY = "lendkit-development-key-not-for-production"
#: Key material for personal data at rest (AES-GCM and blind indexes, derived per tenant).
DEV_DATA_KEY = "lendkit-development-data-key-not-for-production"
#: Key material of the platform's Ed25519 contract-signing key (the seed is its SHA-256).
DEV_CONTRACT_KEY = "lendkit-development-contract-key-not-for-production"


#: Secrets production refuses to start without: (environment variable, config key, development value).
SECRETS = (
    ("LENDKIT_SECRET_KEY", "SECRET_KEY", DEV_SECRET_KEY),
    ("LENDKIT_DATA_KEY", "LENDKIT_DATA_KEY", DEV_DATA_KEY),
    ("LENDKIT_CONTRACT_KEY", "LENDKIT_CONTRACT_KEY", DEV_CONTRACT_KEY),
)


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says which setting and why."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_config(overrides: dict | None = None, environ=os.environ) -> dict:
    """Build the Flask config mapping from ``environ`` and ``overrides``."""
    env = (overrides or {}).get("LENDKIT_ENV") or environ.get("LENDKIT_ENV", "development")
    if env not in {"development", "production", "testing"}:
        raise ConfigError(f"LENDKIT_ENV: must be development, production or testing, not {env!r}")
    root = Path(environ.get("LENDKIT_ROOT", PROJECT_ROOT))
    instance = Path(environ.get("LENDKIT_INSTANCE_PATH", root / "instance"))
    config = {
        "LENDKIT_ENV": env,
        "LENDKIT_ROOT": str(root),
        "LENDKIT_INSTANCE_PATH": str(instance),
        "LENDKIT_TENANTS_DIR": environ.get("LENDKIT_TENANTS_DIR", str(root / "tenants")),
        "LENDKIT_THEMES_DIR": environ.get("LENDKIT_THEMES_DIR", str(root / "themes")),
        "LENDKIT_MIGRATIONS_DIR": str(root / "migrations"),
        "SQLALCHEMY_DATABASE_URI": environ.get(
            "LENDKIT_DATABASE_URL", f"sqlite:///{instance / 'lendkit.db'}"
        ),
        "SECRET_KEY": environ.get("LENDKIT_SECRET_KEY", ""),
        "LENDKIT_DATA_KEY": environ.get("LENDKIT_DATA_KEY", ""),
        "LENDKIT_CONTRACT_KEY": environ.get("LENDKIT_CONTRACT_KEY", ""),
        "LENDKIT_BROKER_URL": environ.get("LENDKIT_BROKER_URL", ""),
        "LENDKIT_RESULT_BACKEND": environ.get("LENDKIT_RESULT_BACKEND", ""),
        "LENDKIT_REDIS_URL": environ.get("LENDKIT_REDIS_URL", ""),
        # Every tenant also answers at <slug>.localhost outside production.
        "LENDKIT_LOCALHOST_HOSTS": _bool(environ.get("LENDKIT_LOCALHOST_HOSTS"), env != "production"),
        "LENDKIT_PLUGINS": environ.get("LENDKIT_PLUGINS", ""),
        #: The host of the vendor console; it serves no tenant.
        "LENDKIT_VENDOR_HOST": environ.get("LENDKIT_VENDOR_HOST", "vendor.localhost").lower(),
        #: Where nightly backups go (checked by the go-live gate, used by the operator's backup job).
        "LENDKIT_BACKUP_TARGET": environ.get("LENDKIT_BACKUP_TARGET", ""),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env == "production",
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).parent / "translations"),
        "API_TITLE": "lendkit API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "JSON_SORT_KEYS": False,
    }
    config.update(overrides or {})
    for setting, key, development_value in SECRETS:
        value = config[key]
        if not value:
            if config["LENDKIT_ENV"] == "production":
                raise ConfigError(f"{setting}: must be set to a long random value in production")
            config[key] = development_value if env == "development" or key != "SECRET_KEY" else secrets.token_hex(16)
        elif config["LENDKIT_ENV"] == "production" and (value == development_value or len(value) < 32):
            raise ConfigError(f"{setting}: too short or the development key; use 32+ random characters")
    return config
