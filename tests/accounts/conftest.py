"""The accounts tests use the shared ``kit`` fixture (tests/conftest.py, built on testbed.Kit)."""
from testbed import JPEG, PASSWORD, PNG, bank_card, resident_id, uscc  # noqa: F401  (re-exported for older imports)
