"""Daily batch: installments due on one day across loans with many investors each, collected by `lendkit daily`.

A database ``lendkit_daily_scratch`` (and ``…_bank`` for the sandbox bank) is created next to the one in
--database-url; tenant ``alpha`` gets --investors investors and --borrowers
borrowers (custody accounts opened, borrowers funded at the sandbox bank), and
--loans repaying loans (spread over the borrowers) each held by every
investor (one claim each), with their first installment due on the day. The
loans, claims and installments are inserted directly (what disbursement
would have stored); the money then moves through the real path: one custody
batch and one ledger entry per installment, split among its holders.

Printed: the wall time of the daily run (every step, in-process by default;
with --workers N, on N Celery workers over Redis that the script starts), the
installments repaid and the distributions written, and the books' check.

    .venv/bin/python bench/daily_batch.py --database-url postgresql://postgres@127.0.0.1:5432/test --loans 5000
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "lending"))

from bid_storm import app_config, drop_scratch, migrate_and_sync, scratch_url, use_bank_database  # noqa: E402

#: Scratch databases of this bench (its own names: the bid storm may run at the same time).
SCRATCH_DB = "lendkit_daily_scratch"


def start_workers(app, args, url: str, instance: Path) -> list:
    """``args.workers`` Celery workers (one process each) on the scratch database; the bench's app sends to them."""
    import subprocess

    from core import jobs

    env = dict(os.environ, LENDKIT_DATABASE_URL=url, LENDKIT_BROKER_URL=args.broker, LENDKIT_ENV="testing",
               LENDKIT_TENANTS_DIR=app.config["LENDKIT_TENANTS_DIR"], LENDKIT_INSTANCE_PATH=str(instance),
               LENDKIT_SECRET_KEY=app.config["SECRET_KEY"], PYTHONPATH=str(ROOT))
    app.config["LENDKIT_BROKER_URL"] = args.broker
    celery = jobs.init_app(app)
    celery.control.purge()
    procs = [subprocess.Popen([sys.executable, "-m", "celery", "-A", "core.jobs", "worker", "--pool", "solo",
                               "--loglevel", "warning", "--hostname", f"bench{n}@%h", "--without-gossip",
                               "--without-mingle"], cwd=ROOT, env=env) for n in range(args.workers)]
    deadline = time.monotonic() + 120
    while len(celery.control.ping(timeout=1.0) or []) < args.workers:
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            stop_workers(procs)
            raise SystemExit("daily_batch: the Celery workers did not start")
    print(f"workers: {args.workers} Celery workers over {args.broker}", flush=True)
    return procs


def stop_workers(procs) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except Exception:  # noqa: BLE001 - a worker that does not stop is killed
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("LENDKIT_BENCH_DATABASE_URL",
                                                                  "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--loans", type=int, default=5000)
    parser.add_argument("--investors", type=int, default=200)
    parser.add_argument("--borrowers", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the daily run to FILE (pstats)")
    parser.add_argument("--slowest", type=int, default=0, metavar="N",
                        help="print the N statements lendkit spent most database time in (grouped by their text)")
    parser.add_argument("--no-money-moved-texts", action="store_true",
                        help="silence money_moved plugins in this process (the SMS plugin texts every account owner "
                             "of every entry; not in --workers)")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="run the steps on N Celery workers (started and stopped here) over --broker")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/7",
                        help="the broker of --workers (its queue is purged first)")
    args = parser.parse_args()

    from sqlalchemy import func, insert, select

    from core.app import create_app
    from core.extensions import db
    from core.tenancy import tenant_context
    from core.tenancy.models import Tenant

    if args.no_money_moved_texts:
        from core.plugins import get_plugin_manager

        for impl in get_plugin_manager().hook.money_moved.get_hookimpls():
            impl.function = lambda *a, **k: None
    instance = Path(tempfile.mkdtemp(prefix="lendkit-daily-"))
    os.chdir(instance)
    url = scratch_url(args.database_url, SCRATCH_DB)
    app = create_app(app_config(url, instance))
    migrate_and_sync(app)
    use_bank_database(app, args.database_url, SCRATCH_DB)
    day = date.today() + timedelta(days=30)
    t0 = time.perf_counter()
    with app.app_context():
        from core import jobs
        from core.lending.models import Claim, Installment, Loan, LoanContract
        from core.lending.products import product_of
        from core.lending.schedule import build_schedule
        from lending_support import World

        jobs.init_app(app)
        tenant = Tenant.by_slug("alpha")
        with tenant_context(tenant):
            world = World()
            world.open_platform()
            investors = [world.user("investor").id for _ in range(args.investors)]
            amount = 200 * args.investors * 100  # CNY 200 per investor
            schedule = build_schedule(amount, Decimal("0.10"), 6, "equal_installment", day - timedelta(days=31))
            first = schedule.installments[0]
            per_borrower = -(-args.loans // args.borrowers)
            need = (first.payment + 1000) * per_borrower
            borrowers = [world.user("borrower", funds=need).id for _ in range(args.borrowers)]
            product = product_of(tenant, "consumer")
            print(f"people: {args.investors} investors, {args.borrowers} borrowers in {time.perf_counter() - t0:.1f} s",
                  flush=True)
            share = amount // args.investors
            for start in range(0, args.loans, 500):
                count = min(500, args.loans - start)
                loans = [Loan(number=f"LN{start + n + 1:08d}", borrower_id=borrowers[(start + n) % args.borrowers],
                              borrower_type="person", product_code="consumer", terms=dict(product), amount=amount,
                              currency=tenant.currency, annual_rate=Decimal("0.10"), months=6,
                              method="equal_installment", purpose="bench", repayment_source="salary",
                              industry="bench", status="repaying", bid_total=amount, frozen_total=amount,
                              disbursed_on=schedule.installments[0].due_date - timedelta(days=31),
                              principal_outstanding=amount, disclosure={})
                         for n in range(count)]
                db.session.add_all(loans)
                db.session.flush()
                tid = tenant.id
                db.session.execute(insert(Installment), [
                    {"tenant_id": tid, "loan_id": loan.id, "number": i.number, "due_date": i.due_date - first.due_date + day,
                     "principal": i.principal, "interest": i.interest, "management_fee": 1000, "status": "due",
                     "penalty": 0, "late_fee": 0}
                    for loan in loans for i in schedule.installments])
                db.session.execute(insert(LoanContract), [  # stand-ins for the contracts disbursement renders
                    {"tenant_id": tid, "loan_id": loan.id, "locale": "en", "html": "", "pdf": b"", "sha256": "0" * 64,
                     "signature": "", "key_id": "bench"} for loan in loans])
                db.session.execute(insert(Claim), [
                    {"tenant_id": tid, "loan_id": loan.id, "holder_id": inv, "share": share,
                     "principal_outstanding": share, "status": "active", "price": 0}
                    for loan in loans for inv in investors])
                db.session.commit()
            if db.engine.dialect.name == "postgresql":
                # the bulk-loaded tables analyzed, as autovacuum would soon after; not the still-empty repayment
                # and distribution tables (statistics saying "empty" would plan every foreign-key check of the
                # run's million inserts as a scan)
                with db.engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                        "ANALYZE loan, claim, installment, ledger_account")
            print(f"setup: {args.loans} loans × {args.investors} claims in {time.perf_counter() - t0:.1f} s", flush=True)

            from core.lending.daily import run_day
            from core.lending.models import Distribution, Repayment

            workers = start_workers(app, args, url, instance) if args.workers else []

            statements = [0]
            spent: dict[str, list] = {}

            def count(conn, _cursor, _statement, _parameters, _context, _many):
                statements[0] += 1
                conn.info["lendkit_bench_t0"] = time.perf_counter()

            def timed(conn, _cursor, statement, _parameters, _context, _many):
                shape = " ".join(statement.split())[:110]
                entry = spent.setdefault(shape, [0, 0.0])
                entry[0] += 1
                entry[1] += time.perf_counter() - conn.info.pop("lendkit_bench_t0", time.perf_counter())

            from sqlalchemy import event

            event.listen(db.engine, "before_cursor_execute", count)
            event.listen(db.engine, "after_cursor_execute", timed)
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            t1 = time.perf_counter()
            results = run_day(day, echo=lambda step, counts: print(f"  {step:<9} {counts} "
                                                                    f"({time.perf_counter() - t1:.1f} s)", flush=True))
            wall = time.perf_counter() - t1
            stop_workers(workers)
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
            event.remove(db.engine, "before_cursor_execute", count)
            event.remove(db.engine, "after_cursor_execute", timed)
            print(f"lendkit statements: {statements[0]} (the sandbox bank's own database not counted)", flush=True)
            for shape, (calls, seconds) in sorted(spent.items(), key=lambda kv: -kv[1][1])[:args.slowest]:
                print(f"  {seconds:7.3f} s {calls:6d}×  {shape}", flush=True)
            repaid = db.session.scalar(select(func.count(Repayment.id)).where(Repayment.state == "done"))
            dists = db.session.scalar(select(func.count(Distribution.id)))
            from core.ledger.balances import verify

            problems = verify()
    print(f"daily run for {day}: {wall:.1f} s wall; {repaid} installments repaid, {dists} distributions "
          f"({dists / wall:.0f}/s); collect {results['collect']}; books: {problems or 'clean'}")
    if not args.keep:
        drop_scratch(args.database_url, SCRATCH_DB)


if __name__ == "__main__":
    main()
