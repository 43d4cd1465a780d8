"""Base-data import at scale: `lendkit tenant import` of generated files into a fresh demo-cn on SQLite.

    .venv/bin/python bench/base_data_import.py --users 2000

Writes users.csv (a quarter borrowers, the rest investors), loans.csv (one
12-month loan per borrower, two investors' claims each) and repayments.csv
(six installments paid per loan) into a temporary folder, preloads the
sandbox bank with the users' sub-accounts, then times a dry run, the import
(check, ONE transaction, reconciliation) and the idempotent re-run, each in a
fresh process as an operator would run them.
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.accounts.identity import luhn_check_digit, resident_id_check_digit  # noqa: E402
from core.lending.schedule import build_schedule  # noqa: E402

AS_OF = "2026-11-20"


def generate(folder: Path, count: int) -> dict:
    users, bank = [], []
    for i in range(count):
        born = date(1970, 1, 1) + timedelta(days=i // 900)
        first17 = f"310101{born:%Y%m%d}{100 + i % 900:03d}"
        number = first17 + resident_id_check_digit(first17)
        card = f"62170001{i:010d}"
        card += luhn_check_digit(card)
        role = "borrower" if i % 4 == 0 else "investor"
        available = 0 if role == "borrower" else 2_000_000 + i
        users.append([f"U{i}", "person", f"139{i:08d}", "张伟", "", number, role, f"CB{i:07d}", card, "", available, 0, ""])
        bank.append([f"CB{i:07d}", "张伟", number, card, available, 0])
    schedule = build_schedule(1_200_000, "0.12", 12, "equal_installment", date(2026, 5, 15))
    loans, repayments = [], []
    investors = [u[0] for u in users if u[6] == "investor"]
    for n, borrower in enumerate(u[0] for u in users if u[6] == "borrower"):
        holders = f"{investors[(2 * n) % len(investors)]}:600000;{investors[(2 * n + 1) % len(investors)]}:600000"
        loans.append([f"L{n}", borrower, "consumer", 1_200_000, "0.12", 12, "equal_installment", "2026-05-15",
                      "repaying", holders, ""])
        for inst in schedule.installments[:6]:
            repayments.append([f"L{n}", inst.number, inst.due_date.isoformat(), inst.principal, inst.interest, "", 0])
    tables = {
        "users.csv": (["external_id", "kind", "mobile", "name", "company_name", "id_number", "roles", "custody_account",
                       "bank_card", "bank_name", "available", "frozen", "locale"], users),
        "bank.csv": (["account", "holder_name", "id_number", "card_number", "available", "frozen"], bank),
        "loans.csv": (["external_id", "borrower", "product", "amount", "annual_rate", "months", "method",
                       "disbursed_on", "status", "holders", "purpose"], loans),
        "repayments.csv": (["loan", "installment", "paid_on", "principal", "interest", "management_fee", "penalty"],
                           repayments),
    }
    for name, (header, rows) in tables.items():
        with (folder / name).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)
    return {"users": len(users), "loans": len(loans), "repayments": len(repayments)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    args = parser.parse_args()
    lendkit = str(ROOT / ".venv" / "bin" / "lendkit")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**os.environ, "LENDKIT_DATABASE_URL": f"sqlite:///{folder / 'lendkit.db'}",
               "LENDKIT_INSTANCE_PATH": str(folder / "instance"), "LENDKIT_OPERATOR": "bench"}
        counts = generate(folder, args.users)

        def run(*command, check=True):
            started = time.perf_counter()
            done = subprocess.run([lendkit, *command], cwd=folder, env=env, capture_output=True, text=True)
            elapsed = time.perf_counter() - started
            if check and done.returncode != 0:
                sys.exit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
            return elapsed, done.stdout

        run("db", "upgrade")
        run("tenant", "sync", "--only", "demo-cn")
        run("sandbox-bank-preload", "--tenant", "demo-cn", str(folder / "bank.csv"))
        files = ["--users", str(folder / "users.csv"), "--loans", str(folder / "loans.csv"),
                 "--repayments", str(folder / "repayments.csv"), "--as-of", AS_OF]
        print(f"{counts['users']} users, {counts['loans']} loans, {counts['repayments']} repayments")
        for label, extra in (("dry run", ["--dry-run"]), ("import", []), ("re-run (nothing new)", [])):
            elapsed, out = run("tenant", "import", "demo-cn", *files, *extra)
            print(f"{label:<22} {elapsed:6.2f} s   {out.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
