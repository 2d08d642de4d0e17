"""Shared plumbing for the benchmarks: a scratch PostgreSQL database, Redis, the simulator,
real Celery workers, and the results table in bench/README.md.

Benchmarks run against real services on this machine only (loopback). Each script can be run
alone (`.venv/bin/python bench/send_throughput.py`) or through `make bench`.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "bench" / "README.md"
PY = sys.executable
DB_NAME = os.environ.get("BENCH_DB_NAME", "parley_bench")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def bench_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "REDIS_URL": REDIS_URL,
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def setup_django(**extra: str) -> None:
    """Point this process at the scratch database and configure Django."""
    os.environ.update(bench_env(**extra))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def fresh_database() -> None:
    """Drop and re-create the scratch database, migrate it, and empty the Redis db."""
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run(
        [PY, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=bench_env(),
        check=True,
    )
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 20.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def process(args: list[str], *, env: dict | None = None, log: str | None = None):
    """Run a helper process for the duration of the block, then stop it."""
    (ROOT / "var").mkdir(exist_ok=True)
    out = open(ROOT / "var" / f"bench-{log}.log", "w") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env or bench_env(),
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        if log:
            out.close()


@contextlib.contextmanager
def simulator(*, webhooks_to: str | None = None, extra: list[str] | None = None):
    port = free_port()
    args = [PY, "manage.py", "whatsapp_simulator", "--port", str(port)]
    args += ["--webhook-url", webhooks_to] if webhooks_to else ["--no-webhooks"]
    with process(args + (extra or []), log="simulator"):
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/_sim/health")
        yield url


@contextlib.contextmanager
def workers(*, count: int, concurrency: int, queues: str, name: str = "bench", **env: str):
    procs = []
    with contextlib.ExitStack() as stack:
        for i in range(count):
            procs.append(
                stack.enter_context(
                    process(
                        [
                            PY,
                            "-m",
                            "celery",
                            "-A",
                            "config",
                            "worker",
                            "-Q",
                            queues,
                            "-c",
                            str(concurrency),
                            "-n",
                            f"{name}{i}@%h",
                            "--without-gossip",
                            "--without-mingle",
                            "--loglevel",
                            "WARNING",
                        ],
                        env=bench_env(**env),
                        log=f"{name}-worker{i}",
                    )
                )
            )
        yield procs


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_by_role(roles: dict[str, str]) -> dict[str, float]:
    """CPU seconds used so far by each role's processes, read from /proc.

    A process belongs to the first role whose text is in its command line; PostgreSQL's
    server processes are "PostgreSQL", the rest "other", and "machine" is every core's busy
    time. Each process counts with the children it has reaped (a worker's exited pool
    process, a closed database connection), so the difference of two readings is what each
    role used between them, whatever started or ended meanwhile.
    """
    used = dict.fromkeys([*roles, "PostgreSQL", "other"], 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # exited meanwhile: its parent has it now
        name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
        ticks = sum(int(value) for value in fields.split()[11:15])  # utime stime cutime cstime
        role = next((r for r, text in roles.items() if text in cmdline), None)
        if role is None:
            role = "PostgreSQL" if name.startswith("postgres") else "other"
        used[role] += ticks / CLOCK_TICKS
    with open("/proc/stat") as stat:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(
            int, stat.readline().split()[1:9]
        )
    used["machine"] = (user + nice + system + irq + softirq + steal) / CLOCK_TICKS
    return used


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {role: round(after[role] - before.get(role, 0.0), 1) for role in after}


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def write_section(title: str, body: str, *, first: bool = False) -> None:
    """Replace (or add: at the end, or before every other section when `first`) the
    `## title` section of bench/README.md."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"## {title}\n\nMeasured {stamp} on {machine()}.\n\n{body.strip()}\n"
    text = README.read_text() if README.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    elif first and "\n## " in text:
        head, rest = text.split("\n## ", 1)
        text = f"{head.rstrip()}\n\n{section}\n## {rest}"
    else:
        text = text.rstrip() + "\n\n" + section
    README.write_text(text)


RESULTS = ROOT / "var" / "bench-results"


def summary(name: str, rows: list[dict]) -> None:
    """Record a benchmark's headline figures for the table `make bench` prints.

    Each row: `path`, `measured`, `baseline`, `target` (text) and `met` (True, False, or
    None for a figure without a target)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(rows, indent=2))


def table(rows: list[tuple], header: tuple) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def wait_workers(app, count: int, timeout: float = 60.0) -> None:
    """Block until `count` Celery workers answer a ping."""
    deadline = time.monotonic() + timeout
    while len(app.control.ping(timeout=0.5) or []) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{count} worker(s) did not start within {timeout:.0f} s")
