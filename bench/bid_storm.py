"""Bid storm: many investors bid into one listing at once, over HTTP, on PostgreSQL.

A database ``lendkit_loans_scratch`` is created next to the one in
--database-url (dropped and made anew each run), tenant ``alpha`` of the test
tenants is loaded with a borrower, two staff members and --investors funded
investors (each with an API token), and one loan of --amount is listed. Real
app servers serve the site on 127.0.0.1 — gunicorn with --workers gthread
workers of --threads threads (the default), or --servers threaded werkzeug
processes — and --investors client threads each POST --bids-each bids of
--bid minor units to ``/api/v1/loans/<id>/bids`` as fast as they can.

Each client keeps one HTTP connection (``http.client``: the clients share the
machine's cores with the servers, and ``requests`` spent several times the CPU
per request). Printed: accepted bids per second, p50/p99 latency of every
request (HTTP status 0: a request that failed twice), the app
servers' CPU time per accepted bid, and the oversubscription check (Σ live
bids − amount, which must be 0) plus the double-freeze check (custody
instructions per bid, which must be 1). ``--profile N`` instead places N bids
one at a time in-process and prints SQL statements, commits and time per bid
and a cProfile (``SORT=tottime`` sorts it by own time; ``CALLEES=apply_result``
adds what that function spends its time on). ``--ceiling healthz|wallet``
sends the same clients' GETs to ``/healthz`` or to ``/api/v1/wallet`` (signed
in) instead of bids: what the same servers answer at all on this machine.

    .venv/bin/python bench/bid_storm.py --database-url postgresql://postgres@127.0.0.1:5432/test

Transaction passwords are hashed with the cheap argon2 parameters of
LENDKIT_ENV=testing unless --production-hash is given (see docs/benchmarks.md).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "lending"))

SCRATCH_DB = "lendkit_loans_scratch"
#: --ceiling: the GET each client sends instead of its bids.
CEILING_PATHS = {"healthz": "/healthz", "wallet": "/api/v1/wallet"}


def scratch_url(base: str, name: str = SCRATCH_DB) -> str:
    url = make_url(base)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_scratch(base: str, scratch: str = SCRATCH_DB) -> None:
    """Drop a bench's scratch database and its bank's (``<scratch>_bank``)."""
    admin = sa.create_engine(make_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in (scratch, scratch + "_bank"):
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def use_bank_database(app, base: str, scratch: str = SCRATCH_DB) -> None:
    """Point tenant alpha's sandbox bank at its own PostgreSQL database ``<scratch>_bank`` (a bank is its own
    server; the embedded SQLite file serialises every instruction of every app process)."""
    from core.extensions import db
    from core.tenancy.models import Tenant

    bank_url = scratch_url(base, scratch + "_bank")
    with app.app_context():
        tenant = Tenant.by_slug("alpha")
        config = dict(tenant.config)
        providers = dict(config["providers"])
        providers["custody"] = {"name": "sandbox", "settings": {"database_url": bank_url}}
        config["providers"] = providers
        tenant.config = config
        db.session.commit()


def app_config(url: str, instance: Path, production_hash: bool = False) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "LENDKIT_ENV": "development" if production_hash else "testing",
        "LENDKIT_TENANTS_DIR": str(ROOT / "tests" / "data" / "tenants"),
        "LENDKIT_INSTANCE_PATH": str(instance),
        "WTF_CSRF_ENABLED": False,
        # a bounded pool: requests beyond it wait for a connection instead of failing
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 40, "max_overflow": 0, "pool_timeout": 600},
        "SECRET_KEY": "bench-secret-key-0123456789abcdef",
    }


def migrate_and_sync(app) -> None:
    """Every migration, then any table whose migration has not landed yet, then the test tenants."""
    from alembic import command

    from core.cli import alembic_config
    from core.extensions import db
    from core.tenancy.sync import sync_tenants

    with app.app_context():
        command.upgrade(alembic_config(), "heads")
        import core.custody.models  # noqa: F401
        import core.ledger.models  # noqa: F401

        present = set(sa.inspect(db.engine).get_table_names())
        db.metadata.create_all(db.engine, tables=[t for t in db.metadata.sorted_tables if t.name not in present])
        sync_tenants()


def serve(url: str, instance: str, port: int, production_hash: bool) -> None:
    """The server process: the lendkit app on 127.0.0.1:<port>, threaded."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    from core.app import create_app

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    app = create_app(app_config(url, Path(instance), production_hash))
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=Quiet)
    print("ready", flush=True)
    server.serve_forever()


def cpu_seconds(pids) -> float:
    """User + system CPU time used so far by these processes and their children (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick + cpu_seconds(children)
    return total


def served_app():
    """The app gunicorn's workers serve (``bid_storm:served_app()``); the scratch database comes from the environment.

    Built as ``core.wsgi`` builds it: the app, then its heap frozen.
    """
    from core.app import create_app, freeze_heap

    app = create_app(app_config(os.environ["LENDKIT_BENCH_SERVE_URL"], Path(os.environ["LENDKIT_BENCH_SERVE_INSTANCE"]),
                                os.environ.get("LENDKIT_BENCH_PRODUCTION_HASH") == "1"))
    freeze_heap()
    return app


def start_servers(args, url: str, instance: Path) -> tuple[list, list[int]]:
    """The app servers: gunicorn (one port, --workers processes of --threads threads each) or
    --servers werkzeug processes (threaded, one port each). Returns (processes, ports) once they answer."""
    import requests

    if args.server == "gunicorn":
        env = dict(os.environ, LENDKIT_BENCH_SERVE_URL=url, LENDKIT_BENCH_SERVE_INSTANCE=str(instance),
                   LENDKIT_BENCH_PRODUCTION_HASH="1" if args.production_hash else "0")
        ports = [args.port]
        processes = [subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(args.workers), "--worker-class", "gthread",
             "--threads", str(args.threads), "--bind", f"127.0.0.1:{args.port}", "--backlog", "2048",
             "--timeout", "300", "--log-level", "warning", "--pythonpath", str(ROOT / "bench"),
             "bid_storm:served_app()"], cwd=instance, env=env)]
    else:
        ports = [args.port + k for k in range(args.servers)]
        processes = [subprocess.Popen([sys.executable, __file__, "--serve", url, str(instance), "--port", str(port)]
                                      + (["--production-hash"] if args.production_hash else []),
                                      stdout=subprocess.PIPE, cwd=instance) for port in ports]
        for process in processes:
            assert process.stdout.readline().strip() == b"ready"
    deadline = time.monotonic() + 180
    for port in ports:  # every worker imports the app on its own: wait until the port answers
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                for process in processes:
                    process.terminate()
                raise SystemExit(f"the app server on port {port} did not start")
            time.sleep(0.2)
    if args.server == "gunicorn":
        time.sleep(3)  # the other workers finish importing too
    return processes, ports


class Client:
    """One investor's keep-alive HTTP connection (``http.client``: a fraction of the CPU ``requests`` spends per
    request, and the clients share the machine with the servers). A connection the server dropped is opened
    again and the request sent once more: a bid carries its idempotency key, so a resent bid is the same bid.
    Returns the HTTP status, or 0 when the request failed twice."""

    def __init__(self, port: int):
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def send(self, method: str, path: str, body: dict | None, headers: dict) -> int:
        data = json.dumps(body).encode() if body is not None else None
        headers = dict(headers, **({"Content-Type": "application/json"} if data is not None else {}))
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=data, headers=headers)
                response = self.connection.getresponse()
                response.read()
                return response.status
            except (http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        return 0

    def close(self) -> None:
        self.connection.close()


def profile(app, loan_id: int, tokens: list, args) -> None:
    """Bids one after another through the WSGI app in this process: statements, commits, time; then cProfile."""
    import cProfile
    import pstats

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from lending_support import TX_PASSWORD

    counts = {"statements": 0, "commits": 0}

    def on_execute(*_args):
        counts["statements"] += 1

    def on_commit(*_args):
        counts["commits"] += 1

    client = app.test_client()
    path = f"/api/v1/loans/{loan_id}/bids"

    def bid(n: int) -> int:
        headers = dict(tokens[n % len(tokens)], Host="alpha.test")
        if args.ceiling:
            return client.get(CEILING_PATHS[args.ceiling], headers=headers).status_code
        body = {"amount": args.bid, "transaction_password": TX_PASSWORD, "key": f"profile-{n}"}
        return client.post(path, json=body, headers=headers).status_code

    bid(0)  # warm up: first-use imports, caches, the provider
    event.listen(Engine, "before_cursor_execute", on_execute)
    event.listen(Engine, "commit", on_commit)
    statuses: dict[int, int] = {}
    started, cpu = time.perf_counter(), time.process_time()
    for n in range(1, args.profile + 1):
        code = bid(n)
        statuses[code] = statuses.get(code, 0) + 1
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    event.remove(Engine, "before_cursor_execute", on_execute)
    event.remove(Engine, "commit", on_commit)
    what = f"GETs of {CEILING_PATHS[args.ceiling]}" if args.ceiling else "bids"
    print(f"{args.profile} {what} one at a time: HTTP statuses {statuses}")
    print(f"per {'request' if args.ceiling else 'bid'}: {counts['statements'] / args.profile:.1f} SQL statements "
          f"(lendkit and bank databases), "
          f"{counts['commits'] / args.profile:.1f} commits, {wall / args.profile * 1000:.1f} ms "
          f"({cpu / args.profile * 1000:.1f} ms of it CPU in this process)")
    profiler = cProfile.Profile()
    profiler.enable()
    for n in range(args.profile + 1, 2 * args.profile + 1):
        bid(n)
    profiler.disable()
    stats = pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative"))
    stats.print_stats(40)
    if os.environ.get("CALLEES"):  # e.g. CALLEES=apply_result: what that function spends its time on
        stats.print_callees(os.environ["CALLEES"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("LENDKIT_BENCH_DATABASE_URL",
                                                                  "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--investors", type=int, default=200)
    parser.add_argument("--bids-each", type=int, default=3)
    parser.add_argument("--bid", type=int, default=10_000)
    parser.add_argument("--amount", type=int, default=5_000_000)
    parser.add_argument("--port", type=int, default=18931)
    parser.add_argument("--server", choices=("gunicorn", "werkzeug"), default="gunicorn",
                        help="gunicorn (gthread workers on one port) or werkzeug (threaded, one process per port)")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 2),
                        help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads of each gunicorn worker")
    parser.add_argument("--servers", type=int, default=os.cpu_count() or 2,
                        help="werkzeug: app server processes (ports --port, --port+1, …), as behind a load balancer")
    parser.add_argument("--production-hash", action="store_true")
    parser.add_argument("--bank", choices=("postgresql", "sqlite"), default="postgresql",
                        help="where the sandbox bank keeps its books (default: its own PostgreSQL database)")
    parser.add_argument("--profile", type=int, metavar="BIDS", default=0,
                        help="instead of the storm: place BIDS bids one after another in-process (the same HTTP "
                             "request through the WSGI app, no server) and print SQL statements, commits and "
                             "time per bid, and a cProfile of them")
    parser.add_argument("--ceiling", choices=("healthz", "wallet"),
                        help="instead of bids, the same clients send the same number of GETs to /healthz (no "
                             "tenant, one SELECT 1) or to /api/v1/wallet (signed in, the investor's balances): "
                             "what this server set-up can answer at all on this machine")
    parser.add_argument("--serve", nargs=2, metavar=("URL", "INSTANCE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], args.port, args.production_hash)
        return

    import tempfile

    from core.app import create_app
    from core.extensions import db
    from core.tenancy import tenant_context
    from core.tenancy.models import Tenant

    instance = Path(tempfile.mkdtemp(prefix="lendkit-bidstorm-"))
    os.chdir(instance)
    url = scratch_url(args.database_url)
    app = create_app(app_config(url, instance, args.production_hash))
    migrate_and_sync(app)
    if args.bank == "postgresql":
        use_bank_database(app, args.database_url)
    started = time.perf_counter()
    with app.app_context():
        from lending_support import TX_PASSWORD, World

        from core import jobs

        jobs.init_app(app)
        tenant = Tenant.by_slug("alpha")
        with tenant_context(tenant):
            world = World()
            world.open_platform()
            borrower = world.user("borrower")
            loan = world.listed_loan(borrower, world.staff("reviewer"), world.staff("risk_officer"), amount=args.amount)
            investors = [world.user("investor", funds=args.bid * args.bids_each) for _ in range(args.investors)]
            tokens = [world.token(inv) for inv in investors]
            loan_id = loan.id
        db.session.remove()
    print(f"setup: {args.investors} funded investors, loan of {args.amount} in {time.perf_counter() - started:.1f} s")
    if args.profile:
        profile(app, loan_id, tokens, args)
        drop_scratch(args.database_url)
        return

    servers, ports = start_servers(args, url, instance)
    print(f"servers: gunicorn, {args.workers} gthread workers × {args.threads} threads" if args.server == "gunicorn"
          else f"servers: {args.servers} werkzeug processes, threaded")
    try:
        target = CEILING_PATHS[args.ceiling] if args.ceiling else f"/api/v1/loans/{loan_id}/bids"
        latencies: list[float] = []
        outcomes: dict[int, int] = {}
        lock = threading.Lock()
        gate = threading.Barrier(args.investors + 1)

        def investor(n: int) -> None:
            client = Client(ports[n % len(ports)])
            headers = dict(tokens[n], Host="alpha.test")
            gate.wait()
            for k in range(args.bids_each):
                body = {"amount": args.bid, "transaction_password": TX_PASSWORD, "key": f"storm-{n}-{k}"}
                t0 = time.perf_counter()
                status = client.send("GET" if args.ceiling else "POST", target, None if args.ceiling else body, headers)
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    outcomes[status] = outcomes.get(status, 0) + 1
            client.close()

        threads = [threading.Thread(target=investor, args=(n,)) for n in range(args.investors)]
        for t in threads:
            t.start()
        cpu0 = cpu_seconds([server.pid for server in servers])
        clients0 = time.process_time()  # the client threads run in this process
        load0 = os.getloadavg()[0]
        gate.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        server_cpu = cpu_seconds([server.pid for server in servers]) - cpu0
        client_cpu = time.process_time() - clients0
        load1 = os.getloadavg()[0]
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)

    with app.app_context(), tenant_context(Tenant.by_slug("alpha")):
        from sqlalchemy import func, select

        from core.custody.models import CustodyInstruction
        from core.lending.models import Bid, Loan

        loan = db.session.get(Loan, loan_id)
        live = db.session.scalar(select(func.coalesce(func.sum(Bid.amount), 0))
                                 .where(Bid.loan_id == loan_id, Bid.state.in_(("frozen", "settled"))))
        accepted = db.session.scalar(select(func.count(Bid.id)).where(Bid.loan_id == loan_id, Bid.state.in_(("frozen", "settled"))))
        keys = [f"bid:{i}" for i in db.session.scalars(select(Bid.id).where(Bid.loan_id == loan_id))]
        per_key = db.session.execute(select(CustodyInstruction.idempotency_key, func.count())
                                     .where(CustodyInstruction.idempotency_key.in_(keys))
                                     .group_by(CustodyInstruction.idempotency_key)).all()
        status = loan.status
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    if args.ceiling:
        print(f"ceiling, GET {CEILING_PATHS[args.ceiling]}: {len(latencies)} requests in {wall:.2f} s → "
              f"{len(latencies) / wall:.0f} req/s; HTTP statuses {dict(sorted(outcomes.items()))}")
        print(f"latency p50 {p(0.50):.0f} ms, p99 {p(0.99):.0f} ms; app servers' CPU {server_cpu:.1f} s = "
              f"{server_cpu / len(latencies) * 1000:.1f} ms per request; clients' CPU {client_cpu:.1f} s "
              f"(load average {load0:.1f} → {load1:.1f})")
        drop_scratch(args.database_url)
        return
    print(f"requests: {len(latencies)} in {wall:.2f} s; HTTP statuses {dict(sorted(outcomes.items()))}")
    print(f"accepted bids: {accepted} → {accepted / wall:.0f} bids/s; all requests {len(latencies) / wall:.0f} req/s")
    print(f"latency p50 {p(0.50):.0f} ms, p99 {p(0.99):.0f} ms, mean {statistics.mean(latencies) * 1000:.0f} ms")
    print(f"app servers' CPU: {server_cpu:.1f} s = {server_cpu / max(accepted, 1) * 1000:.0f} ms per accepted bid "
          f"(of {wall * (os.cpu_count() or 1):.0f} core-seconds; load average {load0:.1f} → {load1:.1f}); "
          f"clients' CPU {client_cpu:.1f} s")
    print(f"oversubscription: {live - args.amount} (Σ live bids {live} vs amount {args.amount}); loan {status}")
    print(f"freezes per bid: {sorted({c for _, c in per_key})} (must be [1])")
    drop_scratch(args.database_url)


if __name__ == "__main__":
    main()
