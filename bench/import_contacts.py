"""Contact import throughput and memory on PostgreSQL.

Generates CSV files of 10,000 and 100,000 rows (2% bad rows: invalid phones, bad consent,
wrong attribute types), imports each with `manage.py import_contacts` in a child process
against a scratch PostgreSQL database, and reports rows per second and the child's peak
memory (ru_maxrss). Memory should not grow with the file: the reader streams, and each batch
of IMPORT_BATCH_SIZE rows is written with one INSERT ... ON CONFLICT (phone) DO UPDATE.

    .venv/bin/python bench/import_contacts.py [--rows 100000]

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/parley_bench (created and
migrated here; its crm tables are emptied before each run).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/parley_bench"
CITIES = ["Mumbai", "Delhi", "Bengaluru", "Pune", "Chennai", "Hyderabad", "Kolkata", "Jaipur"]


def env_for(database_url: str, media: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": media,
        "LOG_LEVEL": "WARNING",
    }


def ensure_database(database_url: str, env: dict) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                   check=True)  # fmt: skip
    run_python(
        env,
        "from crm.models import AttributeDefinition as A\n"
        "A.objects.get_or_create(key='city', defaults={'label': 'City'})\n"
        "A.objects.get_or_create(key='lifetime_orders', defaults={'label': 'Orders',"
        " 'type': 'number'})\n",
    )


def run_python(env: dict, code: str) -> None:
    setup = "import django; django.setup()\n"
    subprocess.run([PY, "-c", setup + code], cwd=ROOT, env=env, check=True)


def empty_tables(database_url: str) -> None:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE crm_contact, crm_consentevent, crm_contact_tags, crm_tag, crm_advisor,"
            " crm_importrowerror, crm_importjob RESTART IDENTITY CASCADE"
        )


def write_csv(path: Path, rows: int, *, bad_share: float, seed: int = 7) -> int:
    """Stream a CSV of `rows` rows; returns how many are bad."""
    rng = random.Random(seed)
    bad_every = round(1 / bad_share) if bad_share else 0
    bad = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write("phone,name,tags,consent,language,attr:city,lifetime_orders\n")
        for i in range(rows):
            phone, consent, orders = f"+9197{i:08d}", rng.choice(["opted_in", "", "no"]), i % 40
            if bad_every and i % bad_every == bad_every - 1:
                bad += 1
                kind = (i // bad_every) % 3
                if kind == 0:
                    phone = f"12{i}"
                elif kind == 1:
                    consent = "perhaps"
                else:
                    orders = "lots"
            tags = "newsletter;vip" if i % 5 == 0 else "newsletter"
            fh.write(f"{phone},Customer {i},{tags},{consent},en,{rng.choice(CITIES)},{orders}\n")
    return bad


def import_measured(path: Path, env: dict) -> dict:
    """Like import_once, with the child's peak memory from wait4 (per child, not cumulative)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [PY, "manage.py", "import_contacts", str(path), "--json"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    if proc.returncode:
        raise SystemExit(f"import failed ({proc.returncode}):\n{err}")
    result = json.loads(out.strip().splitlines()[-1])
    result["wall_seconds"] = round(wall, 2)
    result["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--bad-share", type=float, default=0.02)
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", DEFAULT_URL)

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        env = env_for(database_url, str(tmp_path / "media"))
        ensure_database(database_url, env)
        baseline_file = tmp_path / "contacts-100.csv"
        write_csv(baseline_file, 100, bad_share=args.bad_share)
        empty_tables(database_url)
        baseline = import_measured(baseline_file, env)  # Django and the app loaded, no data
        results = []
        sizes = sorted({min(10_000, args.rows), args.rows})
        for rows in sizes:
            path = tmp_path / f"contacts-{rows}.csv"
            bad = write_csv(path, rows, bad_share=args.bad_share)
            empty_tables(database_url)
            first = import_measured(path, env)
            again = import_measured(path, env)  # same file again: every row an upsert no-op
            results.append((rows, bad, path.stat().st_size, first, again))

    from bench.common import summary, table, write_section

    lines = []
    for rows, bad, size, first, again in results:
        for label, r in (("new contacts", first), ("same file again", again)):
            lines.append((
                f"{rows:,}", label, f"{size / 1e6:.1f} MB", f"{r['created']:,}",
                f"{r['updated'] + r['unchanged']:,}", f"{r['errors']:,} ({bad:,} bad)",
                f"{r['seconds']:.2f}", f"{r['rows_per_second']:,}", f"{r['peak_rss_mib']}",
            ))  # fmt: skip
    header = ("rows", "run", "file", "created", "updated/unchanged", "errors", "import s",
              "rows/s", "peak RSS MiB")  # fmt: skip
    body = table(lines, header)
    print(body)
    small, large = results[0][3], results[-1][3]
    growth = large["peak_rss_mib"] - small["peak_rss_mib"]
    flat = growth <= max(8.0, 0.1 * small["peak_rss_mib"])
    load = os.getloadavg()[0]
    note = (
        f"`manage.py import_contacts FILE` in a child process against PostgreSQL: batches of "
        f"{os.environ.get('IMPORT_BATCH_SIZE', '5000')} rows, each one transaction (rows COPYed "
        f"into a staging table, one `INSERT ... ON CONFLICT (phone) DO UPDATE`, tag links, "
        f"consent events, error rows, the checkpoint); the next batch is read and validated "
        f"in a helper thread meanwhile. {args.bad_share:.0%} bad rows. `import s` is the "
        f"import itself (the command's own timing), without process start-up. Peak RSS is the "
        f"child's `ru_maxrss`: {small['peak_rss_mib']} MiB at {results[0][0]:,} rows and "
        f"{large['peak_rss_mib']} MiB at {results[-1][0]:,} rows, against "
        f"{baseline['peak_rss_mib']} MiB for a 100-row file (Django and the app loaded): "
        + (
            "memory stays flat while the file grows."
            if flat
            else f"memory grew by {growth:.1f} MiB with the file."
        )
        + f" Target: at least 10,000 rows/s. Load average {load:.1f} when this finished."
    )
    write_section("Contact import", note + "\n\n" + body)
    summary(
        "import_contacts",
        [
            {
                "path": f"contact import, {results[-1][0]:,}-row CSV with validation",
                "measured": f"{large['rows_per_second']:,} rows/s, peak RSS "
                f"{large['peak_rss_mib']} MiB",
                "baseline": f"{small['peak_rss_mib']} MiB at {results[0][0]:,} rows, "
                f"{baseline['peak_rss_mib']} MiB at 100",
                "target": ">= 10,000 rows/s, memory flat in file size",
                "met": large["rows_per_second"] >= 10_000 and flat,
            }
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
