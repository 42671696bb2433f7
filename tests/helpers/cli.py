"""Run `ofa-deploy` as a user would (a subprocess, offline) and check a bad-input answer: exit 2,
no traceback, the named needles in stderr."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cli(*args, env=None, cwd=None, timeout=300):
    exe = Path(sys.executable).with_name("ofa-deploy")
    full_env = {**os.environ, "OFA_DEPLOY_OFFLINE": "1", **(env or {})}
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout, env=full_env,
                          cwd=cwd or REPO)


def bad(*args, needles=(), env=None, cwd=None):
    r = cli(*args, env=env, cwd=cwd)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr
    return r.stderr
