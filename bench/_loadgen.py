"""HTTP load from `wrk` (Debian's package): requests from a list, for a while.

Not a benchmark itself (run_all skips modules whose name starts with "_"). The requests (pre-signed
bodies and their headers) are written one per line to a file that the Lua script loads and
walks in order (one wrk thread, so no body is sent twice until the list wraps); wrk's own
latency histogram gives p50/p99.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

LUA = r"""
local items = {}
for line in io.lines(os.getenv("WRK_ITEMS")) do
  local fields = {}
  for field in string.gmatch(line, "([^\t]*)\t") do fields[#fields + 1] = field end
  local headers = {}
  for k = 3, #fields - 1, 2 do headers[fields[k]] = fields[k + 1] end
  items[#items + 1] = wrk.format(fields[1], fields[2], headers, fields[#fields])
end
local i = 0
request = function()
  i = i % #items + 1
  return items[i]
end
done = function(summary, latency, requests)
  io.write(string.format("P50 %f\nP99 %f\nREQUESTS %d\nERRORS %d\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout))
end
"""


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def wrk(
    url: str,
    requests: list[tuple[str, str, dict[str, str], bytes]],
    *,
    seconds: float = 8.0,
    connections: int = 16,
) -> dict:
    """Run wrk against `url` (scheme and host) walking `requests` ((method, path, headers,
    body)); returns rps, p50_ms, p99_ms, requests and errors (non-2xx answers included)."""
    if not wrk_available():
        raise SystemExit("wrk is needed for this benchmark: apt-get install wrk")
    lines = []
    for method, path, headers, body in requests:
        fields = [method, path, *(x for pair in headers.items() for x in pair), body.decode()]
        assert not any("\t" in f or "\n" in f for f in fields), "one line per request"
        lines.append("\t".join(fields) + "\t")
    with tempfile.TemporaryDirectory() as folder:
        items = Path(folder) / "requests.tsv"
        items.write_text("\n".join(lines) + "\n")
        script = Path(folder) / "script.lua"
        script.write_text(LUA)
        run = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{round(seconds)}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                url,
            ],
            env={"WRK_ITEMS": str(items), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        )
    out = run.stdout
    if "REQUESTS" not in out:
        raise RuntimeError(f"wrk printed no summary: {out[-500:]} {run.stderr[-500:]}")
    figures = dict(re.findall(r"^(P50|P99|REQUESTS|ERRORS) ([\d.]+)$", out, re.M))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {
        "rps": round(rps),
        "p50_ms": round(float(figures["P50"]), 2),
        "p99_ms": round(float(figures["P99"]), 2),
        "requests": int(figures["REQUESTS"]),
        "errors": int(figures["ERRORS"]),
    }
