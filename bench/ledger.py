"""How fast does the ledger post? Single idempotent postings per second and batch lines per second.

On SQLite (a temporary file) and on PostgreSQL (a database ``lendkit_bench``
created next to the one in --database-url / LENDKIT_BENCH_DATABASE_URL and
dropped at the end). For each backend:

* single postings: ``journal.record`` of a 2-line transfer between two users,
  each with its own idempotency key, one transaction each; with 1 writer and
  with --workers writer processes (each on its own user pairs, so no two
  writers wait for the same row);
* the same through one hot row: every posting also moves ``platform:bank_clearing``
  (deposits), so all writers queue for that row's lock;
* batch: ONE entry of --batch-lines lines (a repayment split among that many
  investors): lines per second.

Only the custody plugin is loaded (``LENDKIT_PLUGINS=payment_custody``) unless
--all-plugins is given: the figures are the ledger's, not what ``money_moved``
plugins (SMS notices) do after each commit.

    .venv/bin/python bench/ledger.py --database-url postgresql://postgres@127.0.0.1:5432/test
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "lendkit_bench"
CLEARING = "platform:bank_clearing"


# --------------------------------------------------------------------- setup


def _app(url: str):
    """The app as a serving process has it (``core.wsgi``, a Celery worker): built, then its heap frozen."""
    from core.app import create_app, freeze_heap

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LENDKIT_ENV": "testing"})
    freeze_heap()
    return app


def prepare(url: str, users: int) -> int:
    """Migrate, create tenant ``bench`` with platform accounts and ``users`` funded users; return its id."""
    from alembic import command

    from core.cli import alembic_config
    from core.extensions import db
    from core.ledger import journal
    from core.ledger.chart import open_platform_accounts
    from core.ledger.models import LedgerAccount
    from core.tenancy import tenant_context
    from core.tenancy.models import Tenant

    app = _app(url)
    with app.app_context():
        command.upgrade(alembic_config(), "heads")
        tenant = Tenant(slug="bench", name="Bench", default_locale="en", currency="CNY", theme="default",
                        config={"providers": {}}, config_digest="0")
        db.session.add(tenant)
        db.session.commit()
        tenant_id = tenant.id
        with tenant_context(tenant_id):
            open_platform_accounts()
            rows = [{"tenant_id": tenant_id, "code": f"user:{u}:{bucket}", "kind": "liability", "normal_side": "credit",
                     "owner_user_id": u, "custody_account": f"U{u}", "custody_bucket": bucket, "currency": "CNY",
                     "balance": 0, "pending_debit": 0, "pending_credit": 0}
                    for u in range(1, users + 1) for bucket in ("available", "frozen")]
            for start in range(0, len(rows), 5_000):
                db.session.execute(sa.insert(LedgerAccount), rows[start:start + 5_000])
            db.session.commit()
            lines = [(CLEARING, 10_000_000 * users)] + [(f"user:{u}:available", -10_000_000) for u in range(1, users + 1)]
            journal.record(lines, key="funding", kind="deposit")
        db.engine.dispose()
    return tenant_id


def _single_worker(url: str, tenant_id: int, series: str, worker: int, count: int, pairs: list, hot: bool,
                   ready, start, done):
    """One writer process: ``count`` postings, then report its elapsed time.

    Its keys are new (``<series>-<worker>-<i>``, a series per run): every posting
    writes, none is the idempotent replay of an earlier run's key.
    """
    from core.extensions import db
    from core.ledger import journal
    from core.tenancy import tenant_context

    app = _app(url)
    with app.app_context(), tenant_context(tenant_id):
        journal.record([(f"user:{pairs[0][0]}:available", 1), (f"user:{pairs[0][1]}:available", -1)],
                       key=f"warm-{series}-{worker}", kind="transfer")  # connect, compile, warm the caches
        ready.put(worker)
        start.wait()
        began = time.perf_counter()
        for i in range(count):
            source, target = pairs[i % len(pairs)]
            if hot:
                lines = [(CLEARING, 1), (f"user:{target}:available", -1)]
            else:
                lines = [(f"user:{source}:available", 1), (f"user:{target}:available", -1)]
            journal.record(lines, key=f"{series}-{worker}-{i}", kind="transfer")
        done.put(time.perf_counter() - began)
        db.engine.dispose()


def single_postings(url: str, tenant_id: int, workers: int, total: int, hot: bool) -> float:
    """Postings per second with ``workers`` writer processes (``total`` postings in all)."""
    ctx = multiprocessing.get_context("spawn")
    ready, start, done = ctx.Queue(), ctx.Event(), ctx.Queue()
    per = total // workers
    series = f"{'hot' if hot else 'single'}{workers}x{time.monotonic_ns()}"
    procs = []
    for w in range(workers):
        users = list(range(1 + 4 * w, 5 + 4 * w))  # each writer its own four users
        pairs = [(users[i], users[(i + 1) % 4]) for i in range(4)]
        procs.append(ctx.Process(target=_single_worker, args=(url, tenant_id, series, w, per, pairs, hot, ready, start, done)))
    for p in procs:
        p.start()
    for _ in procs:  # every writer imported lendkit, connected and posted once
        ready.get(timeout=300)
    started = time.perf_counter()
    start.set()
    for _ in procs:
        done.get(timeout=600)
    wall = time.perf_counter() - started
    for p in procs:
        p.join(timeout=60)
    return per * workers / wall


def batch_lines(url: str, tenant_id: int, lines_per_entry: int, repeat: int) -> list[float]:
    """Lines per second of ONE entry with ``lines_per_entry`` lines, ``repeat`` times."""
    from core.extensions import db
    from core.ledger import journal
    from core.tenancy import tenant_context

    app = _app(url)
    rates = []
    with app.app_context(), tenant_context(tenant_id):
        investors = lines_per_entry - 2
        for r in range(repeat):
            lines = [("user:1:available", 100 * investors + 7), ("platform:fee_income", -7)]
            lines += [(f"user:{u}:available", -100) for u in range(2, investors + 2)]
            began = time.perf_counter()
            entry = journal.record(lines, key=f"batch-{r}", kind="repayment")
            elapsed = time.perf_counter() - began
            assert entry.id
            rates.append(len(lines) / elapsed)
        db.engine.dispose()
    return rates


def verify(url: str, tenant_id: int) -> None:
    from core.extensions import db
    from core.ledger.balances import verify as verify_books
    from core.tenancy import tenant_context

    app = _app(url)
    with app.app_context(), tenant_context(tenant_id):
        problems = verify_books()
        db.engine.dispose()
    assert problems == [], problems[:5]


def commit_ceiling(url: str, count: int = 500) -> float:
    """Bare one-row INSERT + COMMIT per second on this database: the most any per-posting transaction can do."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS bench_commit_probe (x integer)")
        conn.commit()
        began = time.perf_counter()
        for _ in range(count):
            conn.exec_driver_sql("INSERT INTO bench_commit_probe VALUES (1)")
            conn.commit()
        rate = count / (time.perf_counter() - began)
        conn.exec_driver_sql("DROP TABLE bench_commit_probe")
        conn.commit()
    engine.dispose()
    return rate


# --------------------------------------------------------------------- backends


def run(label: str, url: str, args) -> None:
    users = max(args.batch_lines, 4 * args.workers + 4)
    began = time.perf_counter()
    tenant_id = prepare(url, users)
    print(f"{label}: set up {users} users in {time.perf_counter() - began:.1f} s", flush=True)
    print(f"{label}: calibration, bare INSERT + COMMIT: {commit_ceiling(url):,.0f} commits/s", flush=True)
    for workers in sorted({1, args.workers}):
        rate = single_postings(url, tenant_id, workers, args.postings * workers, hot=False)
        print(f"{label}: single postings, {workers} writer(s): {rate:,.0f} postings/s", flush=True)
    rate = single_postings(url, tenant_id, args.workers, args.postings * args.workers, hot=True)
    print(f"{label}: single postings through one hot row (bank_clearing), {args.workers} writers: "
          f"{rate:,.0f} postings/s", flush=True)
    rates = batch_lines(url, tenant_id, args.batch_lines, args.repeat)
    print(f"{label}: one batch entry of {args.batch_lines:,} lines: median {statistics.median(rates):,.0f} lines/s "
          f"(best {max(rates):,.0f}, {args.repeat} runs)", flush=True)
    verify(url, tenant_id)
    print(f"{label}: books verified (cache = lines, every entry sums to zero)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("LENDKIT_BENCH_DATABASE_URL", ""),
                        help="a PostgreSQL URL; lendkit_bench is created next to its database")
    parser.add_argument("--postings", type=int, default=2_000, help="single postings per writer")
    parser.add_argument("--workers", type=int, default=4, help="writer processes for the concurrent run")
    parser.add_argument("--batch-lines", type=int, default=10_000, help="lines of the batch entry")
    parser.add_argument("--repeat", type=int, default=3, help="batch entries to time")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--all-plugins", action="store_true", help="keep every plugin's money_moved hook")
    args = parser.parse_args()
    if not args.all_plugins:
        os.environ["LENDKIT_PLUGINS"] = "payment_custody"  # inherited by the writer processes

    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory(prefix="lendkit-bench-") as folder:
            run("sqlite", f"sqlite:///{folder}/bench.db", args)
    if args.database_url:
        base = make_url(args.database_url)
        if base.get_backend_name() != "postgresql":
            parser.error("--database-url must be a PostgreSQL URL")
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{BENCH_DB}"'))
        try:
            run("postgresql", base.set(database=BENCH_DB).render_as_string(hide_password=False), args)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
            admin.dispose()
    else:
        print("postgresql: skipped (give --database-url or LENDKIT_BENCH_DATABASE_URL)")


if __name__ == "__main__":
    main()
