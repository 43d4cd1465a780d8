"""Custody bank contract: the provider interface the core calls to move users' money (see :mod:`core.custody.provider`)."""
