"""Production settings refuse insecure configurations and pass `check --deploy` cleanly."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k8Q!v2#Lr9zT@w5pX$e1mN^b7cY&h3fJ*u6sD(a0gK)oR-iZ_qW+lE=tV"


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    leaked = {"SECRET_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}  # set by the e2e conftest
    clean = {k: v for k, v in os.environ.items() if k not in leaked}
    clean.update({"DJANGO_SETTINGS_MODULE": "config.settings.production", **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_secret_key():
    result = run_manage("check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set in production" in result.stderr


def test_production_refuses_to_start_with_debug_on():
    result = run_manage("check", SECRET_KEY=STRONG_KEY, DEBUG="1")
    assert result.returncode != 0
    assert "DEBUG must be off in production" in result.stderr


def test_check_deploy_prints_no_warning():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="parley.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("name", ["config.settings.local", "config.settings.test"])
def test_debug_is_off_unless_set(name):
    code = (
        f"import os; os.environ['DJANGO_SETTINGS_MODULE']='{name}'; "
        "import django; from django.conf import settings; print(settings.DEBUG)"
    )
    env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "False", out.stderr
