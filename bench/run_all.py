"""`make bench`: run every benchmark in bench/ in turn; each rewrites its section of README.md.

Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (as CI has them); each script
starts and stops its own simulator and workers.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = sorted(
    p
    for p in HERE.glob("*.py")
    if p.name not in {"common.py", "run_all.py", "bench_app.py", "bench_settings.py"}
    and p.stem[0] != "_"
)


def main() -> int:
    failed = []
    for script in SCRIPTS:
        print(f"\n=== {script.name} ===", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode:
            failed.append(script.name)
    print("\nResults are in bench/README.md")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
