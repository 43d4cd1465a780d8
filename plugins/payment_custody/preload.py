"""SANDBOX ONLY: accounts the sandbox bank holds before the platform's records begin.

A client moving onto lendkit brings users whose custody sub-accounts, with
money in them, already exist at its bank. A real bank needs nothing for
that. The sandbox bank stands in for it through this bank-side setup — never
through the platform or its ledger — from a CSV file with the columns::

    account,holder_name,id_number,card_number,available,frozen[,currency]

(``currency`` defaults to the one given to :func:`preload_csv`). Used by
``lendkit sandbox-bank-preload --tenant SLUG FILE`` (the in-process
``sandbox`` bank of a tenant) and by ``sandbox-bank --preload-accounts FILE``
(the sandbox bank server).
"""
from __future__ import annotations

import csv
from pathlib import Path

from core.custody.provider import CustodyError

__all__ = ["COLUMNS", "PreloadError", "preload_csv"]

COLUMNS = ("account", "holder_name", "id_number", "card_number", "available", "frozen")


class PreloadError(ValueError):
    """The file cannot be loaded; the message names the line and the problem."""


def _amount(text: str, where: str) -> int:
    if not text.isdigit():
        raise PreloadError(f"{where}: {text!r} is not an amount in minor units")
    return int(text)


def preload_csv(engine, path, currency: str) -> int:
    """Preload every account of the CSV ``path`` into ``engine`` (a BankEngine); returns how many.

    Every line's amounts are read before any account is written; an account
    the bank refuses (CustodyError) stops the load with that line named. An
    account already preloaded with the same figures is left as it is, so the
    same file can be loaded again.
    """
    path = Path(path)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise PreloadError(f"{path.name}:1: missing column(s) {', '.join(missing)}")
        rows = []
        for row in reader:
            where = f"{path.name}:{reader.line_num}"
            values = {k: (v or "").strip() for k, v in row.items() if k}
            if not any(values.values()):
                continue
            rows.append((where, values["account"], dict(
                currency=values.get("currency") or currency,
                holder_name=values["holder_name"], id_number=values["id_number"],
                card_number=values["card_number"], available=_amount(values["available"], where),
                frozen=_amount(values["frozen"], where),
            )))
    for where, account, details in rows:
        try:
            engine.preload_account(account, **details)
        except CustodyError as exc:
            raise PreloadError(f"{where}: {exc}") from None
    return len(rows)
