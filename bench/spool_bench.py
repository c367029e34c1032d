"""The call-file spooler: how fast it spools, and how well it keeps a configured cps.

    .venv/bin/python bench/spool_bench.py [--numbers 10000] [--cps 50] [--seconds 5]

Each scenario runs in a process of its own (so its peak RSS is its own), in a temp spool
folder on the filesystem of --dir (default: the system temp folder):

* writer: --numbers numbers through the one normaliser, rendered in the trunk's format,
  every value validated, written in tmp/ (fsynced) and renamed into outgoing/;
  again without fsync, to show what the disk costs;
* spooler: the whole service path with pacing off — a campaign of --numbers numbers in a
  fresh SQLite database, started, then `Spooler.tick()` until every file is in outgoing/
  (each attempt committed `spooled` before its rename, as in production);
* paced: the service as it runs (`Spooler.start()`, real clock) on a campaign limited to
  --cps calls/s, with a fake Asterisk that picks every file up within a millisecond and
  ends each call 0.5 s later; for --seconds seconds. Reported: calls placed per second over
  the run, and the most calls started in any one-second window (must not exceed --cps).

Prints a markdown table (and writes it to bench/results/spool.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"


def numbers(count: int) -> list[str]:
    """`count` distinct valid Ukrainian mobile numbers, written as people write them."""
    return [f"+38 (050) {1_000_000 + i:07d}" for i in range(count)]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def spool_dir(base: Path) -> Path:
    spool = Path(tempfile.mkdtemp(prefix="spool-bench-", dir=base))
    for sub in ("tmp", "outgoing", "outgoing_done"):
        (spool / sub).mkdir()
    return spool


# --- scenarios (each runs in a child process) ---------------------------------------------


def scenario_writer(args: argparse.Namespace, *, fsync: bool) -> dict[str, Any]:
    from callfile_spooler.dialing import Callee, Dialer, Target
    from callfile_spooler.settings import SpoolSettings
    from callfile_spooler.writer import SpoolFolder, file_name
    from primitives.phones import PhoneNormaliser

    spool = spool_dir(args.dir)
    settings = SpoolSettings(dir=spool, fsync=fsync, channel="PJSIP/{number}@trunk")
    folder = SpoolFolder(settings)
    folder.prepare()
    phones = PhoneNormaliser("UA")
    dialer = Dialer(settings, phones)
    target = Target(1, "pbxbridge-campaign", "s", '"ISP" <0441234567>')
    raw = numbers(args.numbers)
    started = time.perf_counter()
    entries = []
    for attempt_id, written in enumerate(raw, 1):
        e164 = phones.normalise(written)
        assert e164 is not None
        callee = Callee(attempt_id, e164, None, (("GREETING", "Добрий день"),))
        entries.append((file_name(1, attempt_id), dialer.call_file(target, callee)))
    result = folder.write(entries)  # renders (validates) each file, then writes it
    folder.publish(result.written)
    elapsed = time.perf_counter() - started
    landed = len(os.listdir(spool / "outgoing"))
    assert landed == args.numbers
    assert not result.refused
    return {"files": landed, "seconds": elapsed, "rss": peak_rss_mb()}


async def _database(base: Path) -> tuple[Any, Any]:
    import callfile_spooler.migrations
    from pbxbridge import migrations
    from storage import DatabaseSettings, create_engine, migrate, session_factory

    url = f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='spool-bench-db-', dir=base)}/b.db"
    engine = create_engine(DatabaseSettings(url=url))
    locations = (*migrations.VERSION_LOCATIONS, callfile_spooler.migrations.VERSIONS)
    await migrate.upgrade(engine, sorted(set(locations)))
    return engine, session_factory(engine)


async def _campaign(spooler: Any, count: int, **limits: Any) -> None:
    from callfile_spooler.campaigns import CampaignSettings
    from callfile_spooler.imports import parse_numbers

    await spooler.campaigns.create("bench", CampaignSettings(**limits))
    text = "number\n" + "\n".join(n.replace(" ", "") for n in numbers(count)) + "\n"
    parsed = parse_numbers(text, spooler.phones)
    assert not parsed.problems
    await spooler.campaigns.import_numbers("bench", parsed)
    await spooler.campaigns.start("bench")


def scenario_spooler(args: argparse.Namespace) -> dict[str, Any]:
    from callfile_spooler.settings import SpoolSettings
    from callfile_spooler.spooler import Spooler
    from primitives.clock import Clock
    from primitives.phones import PhoneNormaliser

    async def run() -> dict[str, Any]:
        engine, sessions = await _database(args.dir)
        spool = spool_dir(args.dir)
        settings = SpoolSettings(dir=spool, fsync=True)
        spooler = Spooler(sessions, Clock(), PhoneNormaliser("UA"), settings)
        await _campaign(spooler, args.numbers, max_concurrent=10**6, cps=10**6)
        await asyncio.to_thread(spooler.folder.prepare)
        started = time.perf_counter()
        spooled = 0
        while spooled < args.numbers:
            spooled += (await spooler.tick()).spooled
        elapsed = time.perf_counter() - started
        await engine.dispose()
        assert len(os.listdir(spool / "outgoing")) == args.numbers
        return {"files": spooled, "seconds": elapsed, "rss": peak_rss_mb()}

    return asyncio.run(run())


def scenario_paced(args: argparse.Namespace) -> dict[str, Any]:
    from callfile_spooler.callfile import parse
    from callfile_spooler.settings import SpoolSettings
    from callfile_spooler.spooler import Spooler
    from primitives.clock import Clock
    from primitives.phones import PhoneNormaliser

    count = int(args.cps * args.seconds * 2) + 100  # more than it can place in the time

    async def run() -> dict[str, Any]:
        engine, sessions = await _database(args.dir)
        spool = spool_dir(args.dir)
        settings = SpoolSettings(dir=spool, fsync=True, poll_interval=0.1)
        spooler = Spooler(sessions, Clock(), PhoneNormaliser("UA"), settings)
        await _campaign(spooler, count, max_concurrent=1000, cps=args.cps)
        arrivals: list[float] = []
        stop = threading.Event()

        def asterisk() -> None:
            """Pick files up at once (StartRetry), archive them 0.5 s later."""
            running: dict[str, float] = {}
            outgoing, done = spool / "outgoing", spool / "outgoing_done"
            while not stop.is_set():
                now = time.monotonic()
                for name in os.listdir(outgoing):
                    if name not in running:
                        path = outgoing / name
                        assert parse(path.read_bytes()).variables["CAMPAIGN_ATTEMPT_ID"]
                        with path.open("a") as fh:
                            fh.write(f"\nStartRetry: 1 1 ({int(time.time())})\n")
                        running[name] = now + 0.5
                        arrivals.append(now)
                for name, ends in list(running.items()):
                    if ends <= now:
                        os.rename(outgoing / name, done / name)
                        with (done / name).open("a") as fh:
                            fh.write("Status: Completed\n")
                        del running[name]
                time.sleep(0.001)

        thread = threading.Thread(target=asterisk, daemon=True)
        thread.start()
        await spooler.start()
        await asyncio.sleep(args.seconds + 0.5)
        await spooler.stop()
        stop.set()
        thread.join()
        await engine.dispose()
        first = arrivals[0]
        in_run = [t for t in arrivals if t < first + args.seconds]
        worst = max(bisect_left(arrivals, t + 1.0) - i for i, t in enumerate(arrivals))
        return {
            "calls": len(in_run),
            "seconds": args.seconds,
            "rate": len(in_run) / args.seconds,
            "worst_second": worst,
            "rss": peak_rss_mb(),
        }

    return asyncio.run(run())


SCENARIOS: Mapping[str, Callable[[argparse.Namespace], dict[str, Any]]] = MappingProxyType(
    {
        "writer": lambda a: scenario_writer(a, fsync=True),
        "writer-nofsync": lambda a: scenario_writer(a, fsync=False),
        "spooler": scenario_spooler,
        "paced": scenario_paced,
    }
)


# --- the parent: run each scenario in its own process, print the table -------------------


def child(name: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        name,
        "--numbers",
        str(args.numbers),
        "--cps",
        str(args.cps),
        "--seconds",
        str(args.seconds),
        "--dir",
        str(args.dir),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"scenario {name} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def filesystem(path: Path) -> str:
    try:
        done = subprocess.run(
            ["df", "--output=fstype", str(path)], capture_output=True, text=True, check=True
        )
        return done.stdout.split()[-1]
    except (OSError, subprocess.CalledProcessError):
        return "?"


def table(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"### Call-file spooler ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"{args.numbers:,} numbers; Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"spool on {filesystem(args.dir)} ({args.dir}); SQLite database on the same disk.",
        "",
        "| what | files | seconds | files/s | peak RSS MB |",
        "|---|---:|---:|---:|---:|",
    ]
    labels = {
        "writer": "normalise + render + validate + write tmp/ + fsync + rename (pacing off)",
        "writer-nofsync": "the same without fsync",
        "spooler": "whole service path, pacing off: DB commit `spooled` then rename, per tick",
    }
    for name, label in labels.items():
        r = results[name]
        lines.append(
            f"| {label} | {r['files']:,} | {r['seconds']:.2f} | {r['files'] / r['seconds']:,.0f} "
            f"| {r['rss']:.0f} |"
        )
    p = results["paced"]
    lines += [
        "",
        "| pacing (real clock) | configured cps | calls placed | seconds | achieved cps "
        "| most in any 1 s | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| `Spooler.start()`, calls last 0.5 s | {args.cps:g} | {p['calls']:,} "
        f"| {p['seconds']:g} | {p['rate']:.1f} ({100 * p['rate'] / args.cps:.0f} %) "
        f"| {p['worst_second']} | {p['rss']:.0f} |",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--numbers", type=int, default=10_000)
    parser.add_argument("--cps", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--child", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(SCENARIOS[args.child](args)))
        return 0
    results = {}
    with tempfile.TemporaryDirectory(prefix="spool-bench-", dir=args.dir) as scratch:
        # The children's spools and databases (40 MB a writer run) go when the run ends.
        work = argparse.Namespace(**{**vars(args), "dir": Path(scratch)})
        for name in SCENARIOS:
            print(f"running {name}…", file=sys.stderr)
            results[name] = child(name, work)
    text = table(args, results)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "spool.md").write_text(text + "\n", encoding="utf-8")
    paced = results["paced"]
    return 0 if paced["worst_second"] <= max(1, int(args.cps)) else 1


if __name__ == "__main__":
    sys.exit(main())
