"""`make bench`: run every benchmark in bench/ in turn, then print and record the summary.

Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (as CI has them); each script
starts and stops its own simulator, web server and workers, and rewrites its own section of
README.md. The headline figures each one records (`common.summary`) become the "Summary"
table at the top of README.md: every figure beside its baseline and target.

    .venv/bin/python bench/run_all.py [script ...]   # e.g. send_throughput webhook_ingest
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402

SCRIPTS = sorted(
    p
    for p in HERE.glob("*.py")
    if p.name not in {"common.py", "run_all.py", "bench_app.py", "bench_settings.py"}
    and p.stem[0] != "_"
)


def _status(met) -> str:
    return {True: "met", False: "missed", None: ""}[met]


def summary_write(failed: list[str]) -> str:
    rows = []
    for script in SCRIPTS:
        path = common.RESULTS / f"{script.stem}.json"
        if path.exists():
            rows.extend(json.loads(path.read_text()))
    table = common.table(
        [(r["path"], r["measured"], r["baseline"], r["target"], _status(r["met"])) for r in rows],
        ("path", "measured", "baseline", "target", "status"),
    )
    body = (
        "Every figure from the last `make bench`, beside its baseline (measured in the same "
        "run) and its target; each section below has the details and the method. Where a "
        'target is missed, "Where the targets stand" says what stands in the way.\n\n' + table
    )
    if failed:
        body += f"\n\nThese benchmarks failed and left no figures: {', '.join(failed)}.\n"
    common.write_section("Summary", body, first=True)
    return table


def main() -> int:
    wanted = set(sys.argv[1:])
    scripts = [s for s in SCRIPTS if not wanted or s.stem in wanted]
    if not wanted:
        shutil.rmtree(common.RESULTS, ignore_errors=True)
    failed = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode:
            failed.append(script.name)
    table = summary_write(failed)
    print("\n" + table)
    print(f"\nWritten to {common.README.relative_to(HERE.parent)} ({common.machine()}).")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
