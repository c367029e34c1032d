"""`make bench`: askozianum through pbxbridge vs panoramisk 1.4 vs a null responder.

One run, one fresh embedded billing (SQLite, migrated with pbxbridge.migrations.upgrade,
seeded with --subscribers subscribers owning one UA mobile number each), one load
generator (`agi_loadgen`: a fake Asterisk sending the captured environment block), and
three servers, each in its own process and measured one after the other with the same
sessions, concurrency and a warm-up:

  (a) `pbxbridge run` on a config file pointing at the seeded database, logging WARNING;
  (b) panoramisk 1.4's fast_agi.Application with the same lookup (bench/panoramisk_app.py);
  (c) a null responder: environment in, four constant SET VARIABLEs out (bench/null_agi.py).

Every session's four variables are checked against the database (a, b) or counted (c).
Between a server's warm-up and its measured phase (a and b), another process (the
`pbxbridge` CLI) freezes one subscriber and pays another's debt, and the very next call
must see each change. Last, a few sessions go through classic process-per-call AGI
(`pbxbridge-agi`), for contrast. The table is printed and written to
bench/results/latest.md (git-ignored).

`--profile` runs a diagnosis instead: (a) under py-spy with a breakdown of its event-loop
thread per session, pbxbridge's wire layer alone (agi_layer_server.py), two what-if
lookups (raw_lookup_server.py), the null responder, and the lookup alone in-process
(lookup_variants.py); written to bench/results/profile.md.

Exit status 1 when a correctness or freshness check fails or sessions errored; missed
performance targets print FAIL but exit 0 unless --strict.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from agi_loadgen import (
    REPO,
    EnvironmentTemplate,
    LoadResult,
    parse_set_variables,
    run_load,
    session,
)
from bench_billing import (
    NAMES,
    NOT_ASKED,
    NOTFOUND,
    UNKNOWN_CALLERID,
    Caller,
    callers,
    expected_values,
    pick,
    seed,
)
from classic_agi import ClassicOutcome, classic_environment, run_classic
from spy_report import breakdown

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results" / "latest.md"
BIN = Path(sys.executable).parent
CLASSIC_CONCURRENCY = 4
"""Classic AGI processes at once: each is CPU-bound start-up, and this box has few cores."""

TARGET_AB = 1.8
TARGET_AC = 0.75
TARGET_P99 = 1.5
TARGET_CPU = 1.3
"""pbxbridge's server CPU per session at most this many times the null responder's."""
TARGET_RSS_MB = 150.0


# Servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User + system CPU time of a process (all its threads), or of one of its threads."""
    where = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    fields = Path(where).read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def listen_overflows() -> int:
    """The kernel's count of connections dropped because a listen queue was full: each
    costs the client a SYN retransmission, one second later."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split(), values.split(), strict=True))["ListenOverflows"])
    return 0


def proc_status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


@dataclass
class Server:
    """A server process we started; stopped with SIGTERM (then SIGKILL) by its pid."""

    label: str
    argv: list[str]
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def wait_ready(self, env: bytes, timeout: float = 60.0) -> None:
        """Retry one real session until it completes (a bare connect would log a warning)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited at start-up:\n{self.log_tail()}")
            _, lines, error = asyncio.run(session(self.port, env, deadline=5.0))
            if error is None and lines:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.label} not answering after {timeout:g} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def log_problems(self) -> list[str]:
        words = (" WARNING ", " ERROR ", " CRITICAL ", "Traceback", "WARNING:", "ERROR:")
        text = self.log.read_text(errors="replace").splitlines()
        return [line for line in text if any(w in line for w in words)]


# Checks


@dataclass
class Check:
    what: str
    ok: bool
    detail: str
    gating: bool = True
    """Whether a failure makes the run fail (the classic AGI contrast does not)."""


def verify(
    label: str, result: LoadResult, who: Sequence[Caller], expected: dict[str, dict[str, str]]
) -> Check:
    """Every session got exactly the four variables, with the values the database holds
    (constant values for the null responder: names only)."""
    names_only = not expected
    wrong_names = wrong_values = unknown = 0
    kinds: Counter[str] = Counter()
    example = ""
    for index, lines in result.commands.items():
        pairs = parse_set_variables(lines)
        if tuple(name for name, _ in pairs) != NAMES or len(pairs) != len(lines):
            wrong_names += 1
            example = example or f"session {index}: {lines!r}"
            continue
        if names_only:
            continue
        phone = who[index].phone
        if who[index].callerid == UNKNOWN_CALLERID:
            want = NOT_ASKED
        else:
            want = expected.get(phone, NOTFOUND) if phone is not None else NOTFOUND
        unknown += want is NOTFOUND or want is NOT_ASKED
        got = dict(pairs)
        if got != want:
            wrong_values += 1
            kinds[f"{got['BILLING_RESULT']}/{got['BILLING_SOURCE']}"] += 1
            example = example or f"session {index} ({who[index].callerid}): {pairs} != {want}"
    total = len(result.commands)
    ok = wrong_names == wrong_values == 0 and total == result.sessions and not result.errors
    if names_only:
        detail = f"{total - wrong_names}/{result.sessions} sessions got the 4 variables"
    else:
        detail = (
            f"{total - wrong_names - wrong_values}/{result.sessions} sessions: the 4 variables "
            f"match the database ({unknown} unknown numbers → 0/NOTFOUND)"
        )
    if wrong_values:
        detail += "; wrong answers by BILLING_RESULT/SOURCE: " + ", ".join(
            f"{kind} {n}" for kind, n in kinds.most_common()
        )
    if result.errors:
        detail += f"; {len(result.errors)} sessions failed, first: {result.errors[0][1]}"
    if example:
        detail += f"; first: {example[:240]}"
    return Check(f"correctness {label}", ok, detail)


def national(phone: str) -> str:
    return "0" + phone.removeprefix("+380")


def ask(port: int, template: EnvironmentTemplate, phone: str, tag: str) -> dict[str, str]:
    env = template.render(national(phone), f"1795400000.{tag}")
    _, lines, error = asyncio.run(session(port, env, deadline=10.0))
    if error is not None:
        raise RuntimeError(f"freshness session failed: {error}")
    return dict(parse_set_variables(lines))


def change_from_cli(
    config: Path, database: Path, words: list[str], fallback_sql: str, login: str
) -> str:
    """Run `pbxbridge --config … <words>` in another process; a plain sqlite3 UPDATE from
    another process if the CLI fails. Returns what was run."""
    cli = subprocess.run(
        [str(BIN / "pbxbridge"), "--config", str(config), *words],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if cli.returncode == 0:
        return "`pbxbridge " + " ".join(words) + "`"
    code = (
        "import sqlite3, sys\n"
        "with sqlite3.connect(sys.argv[1], timeout=30) as c:\n"
        "    c.execute(sys.argv[2], (sys.argv[3],))\n"
    )
    subprocess.run([sys.executable, "-c", code, str(database), fallback_sql, login], check=True)
    return f"sqlite3 {fallback_sql!r} (CLI failed: {cli.stderr.strip()[-200:]})"


def freshness(
    label: str,
    port: int,
    template: EnvironmentTemplate,
    config: Path,
    database: Path,
    subscribers: int,
) -> Check:
    """Changes made by another process show in the very next call: freeze an active
    subscriber (→ 3), pay a debtor's debt (→ 1)."""
    expected = expected_values(database)
    steps: list[str] = []
    ok = True

    def expect(phone: str, status: str, after: str) -> None:
        nonlocal ok
        got = ask(port, template, phone, str(len(steps))).get("SUBSCRIBER_STATUS")
        ok = ok and got == status
        steps.append(f"{after}: {got}" + ("" if got == status else f" (want {status})"))

    active_login, active_phone = pick(expected, "1", subscribers)
    debtor_login, debtor_phone = pick(expected, "2", subscribers)
    expect(active_phone, "1", f"{active_login} before")
    done = change_from_cli(
        config,
        database,
        ["subscribers", "freeze", active_login],
        "UPDATE billing_subscribers SET frozen = 1 WHERE login = ?",
        active_login,
    )
    expect(active_phone, "3", f"next call after {done}")
    expect(debtor_phone, "2", f"{debtor_login} before")
    done = change_from_cli(
        config,
        database,
        ["payments", "add", debtor_login, "1000"],
        "UPDATE billing_subscribers SET balance_cents = balance_cents + 100000 WHERE login = ?",
        debtor_login,
    )
    expect(debtor_phone, "1", f"next call after {done}")
    return Check(f"freshness {label}", ok, "SUBSCRIBER_STATUS " + "; ".join(steps))


# Running one server


def thread_cpu(pid: int) -> tuple[float, float]:
    """(event-loop thread, all other threads) CPU seconds of a process. The main thread
    runs the loop; the others are aiosqlite's workers (and pool threads, if any)."""
    main = cpu_seconds(pid, pid)
    return main, cpu_seconds(pid) - main


@dataclass
class Measured:
    label: str
    result: LoadResult
    loop_us: float
    """Event-loop thread CPU per session."""
    threads_us: float
    """CPU of the process's other threads per session (aiosqlite's workers)."""
    idle_rss_mb: float
    peak_rss_mb: float
    overflows: int
    checks: list[Check] = field(default_factory=list)
    log_problems: list[str] = field(default_factory=list)

    @property
    def cpu_us(self) -> float:
        return self.loop_us + self.threads_us


def measure(
    server: Server,
    args: argparse.Namespace,
    template: EnvironmentTemplate,
    warmup: Sequence[Caller],
    measured: Sequence[Caller],
    database: Path,
    *,
    names_only: bool = False,
    between: Callable[[], Check] | None = None,
    profile: Path | None = None,
) -> Measured:
    """Start the server, warm it up, run `between`, measure, check, stop it."""
    print(f"\n== {server.label}: port {server.port}", flush=True)
    server.start()
    spy: subprocess.Popen[bytes] | None = None
    try:
        server.wait_ready(template.render(warmup[0].callerid, "1795300000.0"))
        idle_kb = proc_status_kb(server.pid, "VmRSS")
        print(f"   ready (pid {server.pid}); warm-up {len(warmup)} sessions", flush=True)
        warm = run_load(
            server.port,
            [template.render(c.callerid, f"1795300000.{i}") for i, c in enumerate(warmup)],
            concurrency=args.concurrency,
            workers=args.workers,
        )
        if warm.errors:
            print(f"   warm-up errors: {len(warm.errors)}, first: {warm.errors[0][1]}")
        checks = []
        if between is not None:
            check = between()
            checks.append(check)
            print(f"   {check.what}: {verdict(check.ok)}: {check.detail}", flush=True)
        envs = [template.render(c.callerid, f"1795311406.{i}") for i, c in enumerate(measured)]
        print(
            f"   measuring {len(envs)} sessions, {args.concurrency} concurrent, "
            f"{args.workers} generator process(es)",
            flush=True,
        )
        if profile is not None:
            spy = start_py_spy(server.pid, profile)
        loop_before, threads_before = thread_cpu(server.pid)
        overflows_before = listen_overflows()
        result = run_load(server.port, envs, concurrency=args.concurrency, workers=args.workers)
        overflows = listen_overflows() - overflows_before
        loop_after, threads_after = thread_cpu(server.pid)
        peak_kb = proc_status_kb(server.pid, "VmHWM")
        if spy is not None:
            stop_py_spy(spy)
        expected = {} if names_only else expected_values(database)
        checks.append(verify(server.label.split()[0], result, measured, expected))
        run = Measured(
            server.label,
            result,
            (loop_after - loop_before) / len(envs) * 1e6,
            (threads_after - threads_before) / len(envs) * 1e6,
            idle_kb / 1024,
            peak_kb / 1024,
            overflows,
            checks,
        )
        print(
            f"   {result.rate:,.0f} sessions/s, p50 {result.percentile(50):.1f} ms, "
            f"p99 {result.percentile(99):.1f} ms, {run.cpu_us:,.0f} µs CPU/session "
            f"(loop {run.loop_us:,.0f}), RSS {run.idle_rss_mb:.1f} MB idle, "
            f"{run.peak_rss_mb:.1f} MB peak, "
            f"{overflows} listen-queue overflows",
            flush=True,
        )
        print(f"   {checks[-1].what}: {verdict(checks[-1].ok)}: {checks[-1].detail}", flush=True)
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
        server.stop()
    run.log_problems = server.log_problems()
    return run


def start_py_spy(pid: int, output: Path) -> subprocess.Popen[bytes]:
    """Sample `pid` until stopped (blocking mode: exact stacks, the target slows a little)."""
    spy = subprocess.Popen(
        [
            str(py_spy()),
            "record",
            "--pid",
            str(pid),
            "--rate",
            "250",
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # attach before the load starts
    return spy


def stop_py_spy(spy: subprocess.Popen[bytes]) -> None:
    spy.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
    try:
        spy.wait(timeout=60)
    except subprocess.TimeoutExpired:
        spy.kill()


def py_spy() -> Path:
    return BIN / "py-spy"


# Report


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def setup_line(setup: Setup) -> str:
    args = setup.args
    return (
        f"{args.sessions:,} sessions, {args.concurrency} concurrent, {args.subscribers:,} "
        f"subscribers in the embedded billing (SQLite), warm-up {args.warmup:,} per server "
        f"({repeats(setup):.0%} of measured sessions call from a number already used in "
        f"the run); load generator: {args.workers} process(es); {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.machine()}; code: {tree_state()}."
    )


def repeats(setup: Setup) -> float:
    """Share of measured sessions whose number was already used earlier in the run (in
    the warm-up, by the same server): the most any per-number memo could answer."""
    seen = {c.phone or c.callerid for c in setup.warmup}
    again = 0
    for caller in setup.measured:
        key = caller.phone or caller.callerid
        again += key in seen
        seen.add(key)
    return again / max(1, len(setup.measured))


def tree_state() -> str:
    """The commit measured, and the files changed since (read-only git calls)."""

    def git(*words: str) -> str:
        done = subprocess.run(
            ["git", "--no-optional-locks", *words],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.rstrip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = [
        line[3:]
        for line in git("status", "--porcelain", "--untracked-files=all").splitlines()
        if not line[3:].startswith("bench/")
    ]
    if not changed:
        return head
    return f"{head} + uncommitted {', '.join(changed[:6])}" + (" …" if len(changed) > 6 else "")


def server_table(runs: Sequence[Measured], *, split: bool = False) -> list[str]:
    cpu = "loop / other threads µs" if split else "server CPU µs"
    lines = [
        f"| server | sessions/s | p50 ms | p99 ms | {cpu}/session | peak RSS MB "
        "| generator CPU µs/session | listen-queue overflows | failed sessions |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        r = run.result
        cpu_cell = f"{run.loop_us:,.0f} / {run.threads_us:,.0f}" if split else f"{run.cpu_us:,.0f}"
        lines.append(
            f"| {run.label} | {r.rate:,.0f} | {r.percentile(50):.1f} | {r.percentile(99):.1f} "
            f"| {cpu_cell} | {run.peak_rss_mb:.1f} | {r.generator_cpu / r.sessions * 1e6:,.0f} "
            f"| {run.overflows} | {len(r.errors)} |"
        )
    return lines


def report(
    setup: Setup, runs: list[Measured], classic: ClassicOutcome, checks: list[Check]
) -> tuple[str, bool, bool]:
    """(markdown, every target met, every gating check passed)."""
    a, b, c = runs
    lines = [
        f"### askozianum over FastAGI ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        setup_line(setup),
        "",
        *server_table(runs),
    ]
    if classic.result is not None:
        r = classic.result
        lines.append(
            f"| classic `pbxbridge-agi askozianum`, process per call ({r.sessions} sessions, "
            f"{CLASSIC_CONCURRENCY} at once; contrast only) | {r.rate:,.1f} "
            f"| {r.percentile(50):.1f} | {r.percentile(99):.1f} | – | – | – | – | {len(r.errors)} |"
        )
    else:
        lines.append(f"| classic `pbxbridge-agi`: skipped ({classic.skipped}) | | | | | | | | |")
    ab = a.result.rate / b.result.rate
    ac = a.result.rate / c.result.rate
    p99 = a.result.percentile(99) / c.result.percentile(99)
    cpu = a.cpu_us / c.cpu_us
    targets = [
        ("server CPU/session a / c", f"{cpu:.2f}", f"≤ {TARGET_CPU}", cpu <= TARGET_CPU),
        ("throughput a/b (pbxbridge / panoramisk)", f"{ab:.2f}", f"≥ {TARGET_AB}", ab >= TARGET_AB),
        ("throughput a/c (pbxbridge / null)", f"{ac:.2f}", f"≥ {TARGET_AC}", ac >= TARGET_AC),
        ("p99 a / p99 c", f"{p99:.2f}", f"≤ {TARGET_P99:g}", p99 <= TARGET_P99),
        (
            "pbxbridge peak RSS",
            f"{a.peak_rss_mb:.1f} MB",
            f"< {TARGET_RSS_MB:g} MB",
            a.peak_rss_mb < TARGET_RSS_MB,
        ),
    ]
    lines += ["", "| target | measured | goal | verdict |", "|---|---:|---:|---|"]
    lines += [f"| {what} | {got} | {goal} | {verdict(ok)} |" for what, got, goal, ok in targets]
    lines += ["", "| check | verdict | detail |", "|---|---|---|"]
    lines += [
        f"| {ch.what} | {verdict(ch.ok) if ch.gating else verdict(ch.ok) + ' (info)'} "
        f"| {ch.detail} |"
        for ch in checks
    ]
    for run in runs:
        if run.log_problems:
            lines.append(
                f"\n{run.label} logged {len(run.log_problems)} warnings/errors, first: "
                f"`{run.log_problems[0][:200]}`"
            )
    lines += ["", *NOTES]
    text = "\n".join(lines) + "\n"
    return text, all(t[3] for t in targets), all(ch.ok for ch in checks if ch.gating)


NOTES = (
    "Notes:",
    "- Closed loop: each of the concurrent channels opens its next session when the "
    "previous one closes, so latency ≈ concurrency / throughput (Little's law) and the p99 "
    "goal is a throughput goal too. Latency is connect to the server's close.",
    "- Every server gets the captured environment block (scenario 1) with agi_callerid, "
    "agi_uniqueid, agi_network_script `askozianum?mode=test&x=1` and agi_request set per "
    "session and the captured agi_arg_N dropped (the shipped dialplan passes none). "
    "panoramisk 1.4 routes on the whole script, query included: (b) looks its route up "
    "without the query (bench/panoramisk_app.py, QueryBlindRoutes).",
    "- (c) is bounded by the load generator, not by the server: compare its generator CPU "
    "per session with one core's worth at its rate. a/c measures pbxbridge against the "
    "generator's ceiling on this machine. On a shared machine rates move with the "
    "neighbours' load; CPU per session, and its ratio between servers measured in the same "
    "run, move much less.",
    "- CPU is read from /proc for the server process (every thread) over the measured "
    "phase; peak RSS is its VmHWM. Another process changes the billing for the freshness "
    "checks with the `pbxbridge` CLI.",
)


# Main


def default_workers() -> int:
    """Half the CPUs for the generator, the other half for the server (1 on 2 CPUs: a
    second generator process would take CPU from the server it measures)."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=1_000, help="sessions before measuring")
    parser.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="load generator processes (default: half the CPUs, at most 4)",
    )
    parser.add_argument("--classic-sessions", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="small numbers for a smoke run")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of the comparison: profile pbxbridge (py-spy) and measure what-ifs",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (db, logs)")
    args = parser.parse_args(argv)
    if args.quick:
        args.sessions, args.concurrency, args.subscribers = 2_000, 50, 1_000
        args.warmup, args.classic_sessions = 200, 10
    return args


def write_config(folder: Path, database: Path, port: int) -> Path:
    config = folder / "pbxbridge.toml"
    config.write_text(
        'timezone = "Europe/Kyiv"\n\n'
        f'[database]\nurl = "sqlite+aiosqlite:///{database}"\n\n'
        '[billing]\nbackend = "local"\ndefault_region = "UA"\n\n'
        f'[agi]\nhost = "127.0.0.1"\nport = {port}\n\n'
        "[http]\nport = 0\n\n"
        # No scheduled jobs: autofreeze (every 10 min) would freeze the seeded debtors
        # during a run, on the real clock.
        "[scheduler]\nenabled = false\n\n"
        '[logging]\nlevel = "WARNING"\n',
        encoding="utf-8",
    )
    return config


@dataclass
class Setup:
    args: argparse.Namespace
    tmp: Path
    database: Path
    config: Path
    port: int
    warmup: list[Caller]
    measured: list[Caller]


def prepare(args: argparse.Namespace, tmp: Path) -> Setup:
    database = tmp / "billing.db"
    started = time.perf_counter()
    seed(database, args.subscribers)
    print(f"seeded {args.subscribers:,} subscribers in {time.perf_counter() - started:.1f} s")
    port = free_port()
    return Setup(
        args,
        tmp,
        database,
        write_config(tmp, database, port),
        port,
        callers(args.warmup, args.subscribers, seed=2),
        callers(args.sessions, args.subscribers, seed=1),
    )


def python_server(label: str, script: str, port: int, log: Path, *extra: str) -> Server:
    argv = [sys.executable, str(BENCH / script), "--port", str(port), *extra]
    return Server(label, argv, port, log)


def pbxbridge_server(setup: Setup) -> Server:
    argv = [str(BIN / "pbxbridge"), "--config", str(setup.config), "run"]
    return Server("(a) `pbxbridge run`", argv, setup.port, setup.tmp / "pbxbridge.log")


def null_server(setup: Setup) -> Server:
    port = free_port()
    return python_server("(c) null responder", "null_agi.py", port, setup.tmp / "null.log")


def compare(setup: Setup) -> int:
    """The comparison `make bench` runs: (a), (b), (c), then classic AGI for contrast."""
    args, database, config = setup.args, setup.database, setup.config

    def fresh(label: str, port: int, template: EnvironmentTemplate) -> Callable[[], Check]:
        return lambda: freshness(label, port, template, config, database, args.subscribers)

    template_a = EnvironmentTemplate(setup.port)
    a = measure(
        pbxbridge_server(setup),
        args,
        template_a,
        setup.warmup,
        setup.measured,
        database,
        between=fresh("(a)", setup.port, template_a),
    )
    port_b = free_port()
    template_b = EnvironmentTemplate(port_b)
    b = measure(
        python_server(
            "(b) panoramisk 1.4 + aiosqlite",
            "panoramisk_app.py",
            port_b,
            setup.tmp / "panoramisk.log",
            "--database",
            str(database),
        ),
        args,
        template_b,
        setup.warmup,
        setup.measured,
        database,
        between=fresh("(b)", port_b, template_b),
    )
    null = null_server(setup)
    c = measure(
        null,
        args,
        EnvironmentTemplate(null.port),
        setup.warmup,
        setup.measured,
        database,
        names_only=True,
    )

    print(f"\n== classic AGI: {args.classic_sessions} sessions", flush=True)
    who = setup.measured[: args.classic_sessions]
    classic = run_classic(
        BIN / "pbxbridge-agi",
        [classic_environment(x.callerid, f"1795322222.{i}") for i, x in enumerate(who)],
        config,
        concurrency=CLASSIC_CONCURRENCY,
        log_file=setup.tmp / "classic.log",
    )
    checks = [ch for run_ in (a, b, c) for ch in run_.checks]
    if classic.result is not None:
        check = verify("classic", classic.result, who, expected_values(database))
        check.gating = False
        checks.append(check)
        print(f"   {classic.result.rate:.1f} sessions/s; {check.detail}")
    else:
        print(f"   SKIPPED: {classic.skipped}")

    text, targets_met, checks_passed = report(setup, [a, b, c], classic, checks)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print("\n" + text)
    print(f"(written to {RESULTS.relative_to(REPO)})")
    if not checks_passed:
        return 1
    return 1 if args.strict and not targets_met else 0


def profile(setup: Setup) -> int:
    """Where pbxbridge's time goes: (a) under py-spy, the wire layer alone (d), two
    what-if lookups (e1, e2), the null responder, and the lookup alone in-process."""
    args, database = setup.args, setup.database
    spy_file = setup.tmp / "py-spy.txt"
    sampling = py_spy().exists()
    if not sampling:
        print(f"{py_spy()} not found: `.venv/bin/pip install py-spy` for the breakdown")
    template_a = EnvironmentTemplate(setup.port)
    runs = [
        measure(
            pbxbridge_server(setup),
            args,
            template_a,
            setup.warmup,
            setup.measured,
            database,
            profile=spy_file if sampling else None,
        )
    ]
    whatifs = [
        ("(d) pbxbridge FastAgiServer, constant route (no lookup)", "agi_layer_server.py", ()),
        (
            "(e1) `pbxbridge run` with a one-statement lookup via aiosqlite (1 round trip)",
            "raw_lookup_server.py",
            ("--config", str(setup.config), "--mode", "thread"),
        ),
        (
            "(e2) `pbxbridge run` with a one-statement lookup in the loop thread (sqlite3)",
            "raw_lookup_server.py",
            ("--config", str(setup.config), "--mode", "inloop"),
        ),
    ]
    for label, script, extra in whatifs:
        port = free_port()
        log = setup.tmp / f"{script}.{port}.log"
        server = python_server(label, script, port, log, *extra)
        runs.append(
            measure(
                server,
                args,
                EnvironmentTemplate(port),
                setup.warmup,
                setup.measured,
                database,
                names_only=script == "agi_layer_server.py",
            )
        )
    null = null_server(setup)
    runs.append(
        measure(
            null,
            args,
            EnvironmentTemplate(null.port),
            setup.warmup,
            setup.measured,
            database,
            names_only=True,
        )
    )
    print("\n== the lookup alone, in-process", flush=True)
    variants = subprocess.run(
        [
            sys.executable,
            str(BENCH / "lookup_variants.py"),
            "--database",
            str(database),
            "--subscribers",
            str(args.subscribers),
            "--concurrency",
            str(args.concurrency),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [
        f"### pbxbridge askozianum profile ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        setup_line(setup),
        "",
        *server_table(runs, split=True),
        "",
    ]
    lines += [f"- {ch.what}: {verdict(ch.ok)}: {ch.detail}" for run in runs for ch in run.checks]
    if sampling and spy_file.exists():
        lines += ["", breakdown(spy_file, runs[0].loop_us)]
    lines += ["", variants]
    text = "\n".join(lines) + "\n"
    out = RESULTS.with_name("profile.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print("\n" + text)
    print(f"(written to {out.relative_to(REPO)})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    body = profile if args.profile else compare
    if args.keep:
        tmp = Path(tempfile.mkdtemp(prefix="pbxbridge-bench-"))
        print(f"temp dir kept: {tmp}")
        return body(prepare(args, tmp))
    with tempfile.TemporaryDirectory(prefix="pbxbridge-bench-") as folder:
        return body(prepare(args, Path(folder)))


if __name__ == "__main__":
    sys.exit(main())
