"""The platform's books: a double-entry ledger mirroring the custody bank.

* :mod:`core.ledger.models` — ``LedgerAccount``, ``JournalEntry``, ``JournalLine``
  and the platform's chart of accounts.
* :mod:`core.ledger.journal` — posting: pending → posted | voided, reversal,
  idempotency keys, row locks; the only code that writes the books.
* :mod:`core.ledger.balances` — balances derived from lines and the check that
  every cached balance equals them.
* :mod:`core.ledger.export` — the books as a beancount file.
* :mod:`core.ledger.cli` — ``lendkit ledger …`` and ``lendkit reconcile``.

See ``docs/ledger.md``.
"""
