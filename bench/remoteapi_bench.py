"""The remoteapi face's userstatus under load: `pbxbridge run` answering a dialplan's CURL.

    .venv/bin/python bench/remoteapi_bench.py [--subscribers 10000] [--seconds 10]

One fresh embedded billing (bench_billing: 10,000 subscribers of every status), one
`pbxbridge run` with `http.remoteapi_key` set (AMI off, logging WARNING), and wrk (Debian
package `wrk`) sending `GET /?module=remoteapi&key=…&action=asterisk&number=…&param=
userstatus` for random callers (the numbers written the three ways Asterisk may give them,
5 % nobody's), over keep-alive connections and, closer to a dialplan's CURL() (one
request, then the connection goes), with `Connection: close`. Before the load, 500 answers
are checked against the database (bench_billing.expected_values, an independent reading).
Compare with `make bench`'s FastAGI askozianum sessions (bench/agi_bench.py): the same
billing lookup, answered over AGI instead of HTTP. Writes bench/results/remoteapi.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from agi_bench import Server, cpu_seconds, free_port, proc_status_kb
from bench_billing import callers, expected_values, seed

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = REPO / "bench" / "results"
KEY = "UB" + "0123456789abcdef" * 2

LUA = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local n = 0
request = function()
  n = n %% #paths + 1
  return wrk.format("GET", paths[n]%(close)s)
end
"""


def path_for(number: str) -> str:
    quoted = urllib.parse.quote(number, safe="")
    return f"/?module=remoteapi&key={KEY}&action=asterisk&number={quoted}&param=userstatus"


def write_config(folder: Path, database: Path, http_port: int, agi_port: int) -> Path:
    config = folder / "pbxbridge.toml"
    config.write_text(
        'timezone = "Europe/Kyiv"\n\n'
        f'[database]\nurl = "sqlite+aiosqlite:///{database}"\n\n'
        f'[agi]\nhost = "127.0.0.1"\nport = {agi_port}\n\n'
        "[ami]\nenabled = false\n\n"
        f'[spool]\ndir = "{folder / "spool"}"\nsounds_dir = "{folder / "sounds"}"\n\n'
        f'[http]\nport = {http_port}\nremoteapi_key = "{KEY}"\n\n'
        # No scheduled jobs: autofreeze (every 10 min) would freeze the seeded debtors
        # during a run, on the real clock.
        "[scheduler]\nenabled = false\n\n"
        '[logging]\nlevel = "WARNING"\n',
        encoding="utf-8",
    )
    return config


def wait_http(base: str, server: Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc is not None and server.proc.poll() is not None:
            raise RuntimeError(f"pbxbridge exited at start-up:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):  # noqa: S310
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"pbxbridge not answering HTTP:\n{server.log_tail()}")


def check_answers(base: str, database: Path, subscribers: int) -> int:
    expected = expected_values(database)
    checked = 0
    for caller in callers(500, subscribers, seed=7):
        with urllib.request.urlopen(base + path_for(caller.callerid), timeout=5) as answer:  # noqa: S310
            body = answer.read().decode()
        want = expected[caller.phone]["SUBSCRIBER_STATUS"] if caller.phone else "0"
        if body != want:
            raise AssertionError(f"{caller.callerid}: answered {body!r}, the database says {want}")
        checked += 1
    return checked


def run_wrk(
    base: str, paths: Path, folder: Path, *, connections: int, seconds: int, close: bool
) -> dict[str, float]:
    script = folder / ("close.lua" if close else "keepalive.lua")
    header = ', {["Connection"] = "close"}' if close else ""
    script.write_text(LUA % {"paths": paths, "close": header})
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if match is None:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if errors or socket_errors:
        print(out)
    return {
        "rate": float(rate.group(1)) if rate else float("nan"),
        "p50": ms("50%"),
        "p99": ms("99%"),
        "non2xx": float(errors.group(1)) if errors else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("remoteapi bench skipped: wrk is not installed (Debian: apt-get install wrk)")
        return 0
    with tempfile.TemporaryDirectory(prefix="remoteapi-bench-") as tmp:
        folder = Path(tmp)
        database = folder / "billing.db"
        seed(database, args.subscribers)
        (folder / "spool" / "outgoing").mkdir(parents=True)  # as if Asterisk were here
        http_port = free_port()
        config = write_config(folder, database, http_port, free_port())
        paths = folder / "paths.txt"
        paths.write_text(
            "\n".join(path_for(c.callerid) for c in callers(20_000, args.subscribers, seed=1))
            + "\n"
        )
        server = Server(
            "pbxbridge run",
            [str(BIN / "pbxbridge"), "--config", str(config), "run"],
            http_port,
            folder / "pbxbridge.log",
        )
        base = f"http://127.0.0.1:{http_port}"
        server.start()
        rows = []
        try:
            wait_http(base, server)
            checked = check_answers(base, database, args.subscribers)
            run_wrk(base, paths, folder, connections=50, seconds=3, close=False)  # warm-up
            for connections, close in ((50, False), (200, False), (50, True)):
                cpu = cpu_seconds(server.pid)
                result = run_wrk(
                    base, paths, folder, connections=connections, seconds=args.seconds, close=close
                )
                spent = cpu_seconds(server.pid) - cpu
                requests = result["rate"] * args.seconds
                rows.append((connections, close, result, spent / requests * 1e6))
            rss = proc_status_kb(server.pid, "VmHWM") / 1024
        finally:
            server.stop()
        problems = server.log_problems()
    lines = [
        f"# remoteapi userstatus under wrk ({args.subscribers:,} subscribers, "
        f"{args.seconds} s a run, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')})",
        "",
        f"{checked} answers checked against the database first: all matched.",
        "",
        "| connections | connection | requests/s | p50 ms | p99 ms | non-2xx | server CPU µs/req |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for connections, close, result, cpu_us in rows:
        lines.append(
            f"| {connections} | {'close' if close else 'keep-alive'} | {result['rate']:,.0f} | "
            f"{result['p50']:.1f} | {result['p99']:.1f} | {result['non2xx']:.0f} | {cpu_us:,.0f} |"
        )
    lines += ["", f"pbxbridge peak RSS {rss:.1f} MB; log problems: {len(problems)}"]
    lines += [f"    {line}" for line in problems[:10]]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "remoteapi.md").write_text(text)
    return 1 if problems or any(r[2]["non2xx"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
