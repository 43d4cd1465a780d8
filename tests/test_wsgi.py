"""``core.wsgi``: the application app servers run, built from the environment, its heap frozen."""
import gc
import os
import subprocess
import sys
from pathlib import Path

from core.app import freeze_heap

ROOT = Path(__file__).resolve().parent.parent


def test_freeze_heap_moves_the_live_objects_out_of_the_collectors_generations():
    try:
        freeze_heap()
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()  # new objects are still collected
    finally:
        gc.unfreeze()


def test_core_wsgi_serves_the_app_built_from_the_environment(tmp_path):
    probe = "import gc, core.wsgi as w; print(type(w.app).__name__, w.app.instance_path, gc.get_freeze_count() > 0)"
    env = {**os.environ, "LENDKIT_ENV": "testing", "LENDKIT_INSTANCE_PATH": str(tmp_path),
           "LENDKIT_DATABASE_URL": f"sqlite:///{tmp_path / 'wsgi.db'}", "LENDKIT_PLUGINS": ""}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["LendkitFlask", str(tmp_path), "True"]
