"""How long from a client's questionnaire to its branded demo site serving?

Runs `lendkit tenant new --from scaffolding/tenant/example-requirements.yaml`
as a new operator would (a fresh process, against a migrated database with the
demo tenants loaded), then fetches the new tenant's home page, and prints the
wall time of each step and in all. Repeats --runs times in fresh folders.

    .venv/bin/python bench/onboarding.py --runs 5
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "scaffolding" / "tenant" / "example-requirements.yaml"


def lendkit(env, *args):
    return subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True)


def one_run() -> tuple[float, float]:
    work = Path(tempfile.mkdtemp(prefix="lendkit-onboarding-"))
    try:
        shutil.copytree(ROOT / "tenants", work / "tenants")
        env = dict(
            os.environ,
            LENDKIT_TENANTS_DIR=str(work / "tenants"),
            LENDKIT_DATABASE_URL=f"sqlite:///{work / 'lendkit.db'}",
            LENDKIT_INSTANCE_PATH=str(work / "instance"),
        )
        lendkit(env, "db", "upgrade")
        lendkit(env, "tenant", "sync")
        started = time.perf_counter()
        lendkit(env, "tenant", "new", "--from", str(EXAMPLE))
        created = time.perf_counter()
        sys.path.insert(0, str(ROOT))
        os.environ.update(env)
        from core.app import create_app

        app = create_app({"SQLALCHEMY_DATABASE_URI": env["LENDKIT_DATABASE_URL"], "LENDKIT_TENANTS_DIR": env["LENDKIT_TENANTS_DIR"]})
        response = app.test_client().get("/", headers={"Host": "anxin.example"})
        assert response.status_code == 200 and "安心贷" in response.get_data(as_text=True)
        served = time.perf_counter()
        return created - started, served - started
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    new_times, total_times = [], []
    for _ in range(args.runs):
        new, total = one_run()
        new_times.append(new)
        total_times.append(total)
    print(f"tenant new (questionnaire -> folder rendered, validated, loaded, seeded): median {statistics.median(new_times):.2f} s, max {max(new_times):.2f} s over {args.runs} runs")
    print(f"questionnaire -> branded home page served: median {statistics.median(total_times):.2f} s, max {max(total_times):.2f} s")


if __name__ == "__main__":
    main()
