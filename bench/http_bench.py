"""`python bench/http_bench.py`: GET /api/v1/subscribers/{number} against `pbxbridge run`.

The same embedded billing as `agi_bench.py` (a fresh SQLite file, --subscribers subscribers
owning one UA mobile number each, bench_billing.seed), a real token made by `pbxbridge tokens
create`, the service started with its HTTP server on a free port and logging WARNING. First
every one of --check numbers is asked once and its login compared with the seeding (a
number nobody owns must be 404); then the load: `wrk` (when installed: `apt-get install
wrk`) with a Lua script drawing a random subscriber's number per request, and a small
aiohttp client (a process of its own, keep-alive connections) for comparison. Server CPU per
request is read from /proc over the measured phase. The FastAGI lookup of the same
billing is `agi_bench.py`'s (a) row: run both on the same machine to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
from agi_bench import Server, cpu_seconds, free_port, proc_status_kb
from bench_billing import FIRST_NUMBER, login_of, seed

BIN = Path(sys.executable).parent

LUA = """
math.randomseed(%(seed)d)
request = function()
  local n = %(first)d + math.random(0, %(last)d)
  return wrk.format("GET", "/api/v1/subscribers/0" .. n, {["Authorization"] = "Bearer %(token)s"})
end
"""


def write_config(folder: Path, database: Path, http_port: int) -> Path:
    for sub in ("outgoing", "outgoing_done", "tmp"):  # as Asterisk has them: no warning
        (folder / "spool" / sub).mkdir(parents=True, exist_ok=True)
    config = folder / "pbxbridge.toml"
    config.write_text(
        'timezone = "Europe/Kyiv"\n\n'
        f'[database]\nurl = "sqlite+aiosqlite:///{database}"\n\n'
        '[billing]\nbackend = "local"\ndefault_region = "UA"\n\n'
        f'[agi]\nhost = "127.0.0.1"\nport = {free_port()}\n\n'
        f"[http]\nport = {http_port}\n\n"
        "[ami]\nenabled = false\n\n"
        f'[spool]\ndir = "{folder / "spool"}"\nsounds_dir = "{folder / "sounds"}"\n\n'
        # No scheduled jobs: autofreeze (every 10 min) would freeze the seeded debtors
        # during a run, on the real clock.
        "[scheduler]\nenabled = false\n\n"
        '[logging]\nlevel = "WARNING"\n',
        encoding="utf-8",
    )
    return config


def national(i: int) -> str:
    return f"0{FIRST_NUMBER + i}"


async def wait_ready(base: str, server: Server, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert server.proc is not None
            if server.proc.poll() is not None:
                raise RuntimeError(f"pbxbridge exited at start-up:\n{server.log_tail()}")
            try:
                async with session.get(f"{base}/api/v1/openapi.json") as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"pbxbridge not answering HTTP after {within:g} s")


async def check(base: str, token: str, subscribers: int, count: int) -> int:
    """Every sampled number's login is the seeded one; a number nobody owns is 404."""
    rng = random.Random(7)
    wrong = 0
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for i in rng.sample(range(subscribers), min(count, subscribers)):
            async with session.get(f"{base}/api/v1/subscribers/{national(i)}") as answer:
                body = await answer.json()
                wrong += answer.status != 200 or body["login"] != login_of(i)
        async with session.get(f"{base}/api/v1/subscribers/0671234567") as answer:
            wrong += answer.status != 404
    return wrong


def run_wrk(base: str, token: str, args: argparse.Namespace, folder: Path) -> dict[str, float]:
    script = folder / "lookup.lua"
    script.write_text(
        LUA % {"seed": 1, "first": FIRST_NUMBER, "last": args.subscribers - 1, "token": token}
    )
    argv = ["wrk", "-t", "1", "-c", str(args.connections), "-d", f"{round(args.seconds)}s"]
    argv += ["--latency", "-s", str(script), base]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout

    def number(pattern: str) -> float:
        match = re.search(pattern, out, re.M)
        return float(match.group(1)) if match else 0.0

    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if match is None:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return {
        "requests": number(r"(\d+) requests in"),
        "rps": number(r"Requests/sec:\s+([\d.]+)"),
        "p50": latency("50%"),
        "p99": latency("99%"),
        "errors": number(r"Non-2xx or 3xx responses: (\d+)"),
        "socket_errors": float(sum(map(int, sockets.groups()))) if sockets else 0.0,
    }


def aiohttp_client(
    base: str, token: str, subscribers: int, seconds: float, connections: int
) -> None:
    """The aiohttp load generator (run in a process of its own): prints a JSON summary."""

    async def main() -> None:
        rng = random.Random(1)
        latencies: list[float] = []
        errors = 0
        stop = time.perf_counter() + seconds
        connector = aiohttp.TCPConnector(limit=connections)
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(base, connector=connector, headers=headers) as session:

            async def worker() -> None:
                nonlocal errors
                while (start := time.perf_counter()) < stop:
                    url = f"/api/v1/subscribers/{national(rng.randrange(subscribers))}"
                    async with session.get(url) as answer:
                        await answer.read()
                        errors += answer.status != 200
                    latencies.append(time.perf_counter() - start)

            began = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(connections)))
            elapsed = time.perf_counter() - began
        latencies.sort()
        summary = {
            "requests": len(latencies),
            "rps": len(latencies) / elapsed,
            "p50": latencies[len(latencies) // 2] * 1000,
            "p99": latencies[int(len(latencies) * 0.99)] * 1000,
            "errors": errors,
            "socket_errors": 0,
        }
        print(json.dumps(summary))

    asyncio.run(main())


def measure(server: Server, run: Callable[[], dict[str, float]]) -> dict[str, float]:
    """`run`'s figures with the server's CPU per request and peak RSS over it."""
    before = cpu_seconds(server.pid)
    result = run()
    used = cpu_seconds(server.pid) - before
    result["cpu_us"] = used / max(result["requests"], 1) * 1e6
    result["rss_mb"] = proc_status_kb(server.pid, "VmHWM") / 1024
    return result


def start_server(folder: Path, config: Path, port: int) -> Server:
    argv = [str(BIN / "pbxbridge"), "--config", str(config), "run"]
    server = Server("pbxbridge run", argv, port, folder / "pbxbridge.log")
    server.start()
    return server


def make_token(config: Path) -> str:
    argv = [str(BIN / "pbxbridge"), "--config", str(config), "tokens", "create", "bench"]
    argv += ["--scope", "subscribers:read"]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return out.splitlines()[-1]


def report(rows: list[tuple[str, dict[str, float]]], problems: list[str]) -> None:
    print()
    print(
        "| load generator | requests | requests/s | p50 ms | p99 ms | server CPU µs/request "
        "| peak RSS MB | non-200 | socket errors |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, r in rows:
        print(
            f"| {label} | {r['requests']:,.0f} | {r['rps']:,.0f} | {r['p50']:.1f} | "
            f"{r['p99']:.1f} | {r['cpu_us']:,.0f} | {r['rss_mb']:.1f} | {r['errors']:.0f} | "
            f"{r['socket_errors']:.0f} |"
        )
    load = os.getloadavg()[0]
    print(f"\n{os.cpu_count()} CPUs, load average {load:.1f}; server log problems: {len(problems)}")
    for line in problems[:5]:
        print("  " + line)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--check", type=int, default=500, help="numbers checked before the load")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load not measured")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (db, logs)")
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        base, token, subscribers, seconds, connections = sys.argv[2:7]
        aiohttp_client(base, token, int(subscribers), float(seconds), int(connections))
        return 0
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="pbxbridge-http-bench-"))
    try:
        database = folder / "billing.db"
        started = time.perf_counter()
        seed(database, args.subscribers)
        print(f"seeded {args.subscribers:,} subscribers in {time.perf_counter() - started:.1f} s")
        port = free_port()
        config = write_config(folder, database, port)
        token = make_token(config)
        base = f"http://127.0.0.1:{port}"
        server = start_server(folder, config, port)
        rows: list[tuple[str, dict[str, float]]] = []
        try:
            asyncio.run(wait_ready(base, server))
            wrong = asyncio.run(check(base, token, args.subscribers, args.check))
            print(f"checked {args.check} lookups: {wrong} wrong")
            client = [sys.executable, __file__, "--client", base, token, str(args.subscribers)]
            warmup = [*client, str(args.warmup), str(args.connections)]
            subprocess.run(warmup, check=True, capture_output=True)
            if shutil.which("wrk"):
                label = f"wrk, {args.connections} connections"
                rows.append((label, measure(server, lambda: run_wrk(base, token, args, folder))))

            def python_client() -> dict[str, float]:
                argv = [*client, str(args.seconds), str(args.connections)]
                out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
                return {k: float(v) for k, v in json.loads(out).items()}

            label = f"aiohttp client, {args.connections} connections"
            rows.append((label, measure(server, python_client)))
            problems = server.log_problems()
        finally:
            server.stop()
        report(rows, problems)
        failed = any(r["errors"] or r["socket_errors"] for _, r in rows)
        return 1 if wrong or failed or problems else 0
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
