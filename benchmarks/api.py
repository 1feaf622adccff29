"""The Import API against live `planport serve` processes on loopback, set up as a new user
would (`planport demo`, a key from `planport apikey create`):

  push            one CSV file of --push-mb MB pushed to a server on SQLite: time, MB/s, and the
                  server's peak RSS growth during the push (target < 50 MB: the body is streamed
                  to disk). The server runs with --no-worker so that the run it queues is not
                  executed meanwhile: the figures are the push's own.
  status          GET /api/v1/import/<id>/status?includedDetailedReport=true of a finished run
                  against a server on PostgreSQL, for --seconds each:
                  - closed loop: --clients concurrent clients (one keep-alive connection each,
                    asking again as soon as answered): requests/s, the server's capacity, and
                    p50 / p99 latency, which in a closed loop is clients / capacity; the
                    server's CPU per answer; and the p50 of one client alone, the request's
                    own cost;
                  - polling: --poll-clients clients each asking every --poll-interval seconds,
                    as source systems waiting for their runs do: p50 / p99 latency (target
                    p99 < 50 ms at 200 clients).
                  Every request is counted against the address's request limit, set high
                  enough that none is refused.
  authenticate    `api_keys.authenticate` of a valid key in a loop, in this process: µs per call
                  on SQLite and on PostgreSQL.

    python -m benchmarks.api [--push-mb 1024] [--clients 200] [--seconds 10] [--auth-calls 5000]
                             [--poll-clients 200] [--poll-interval 1]

Prints one table, then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._support import bench_admin, database, postgres_available
from benchmarks.responsiveness import free_port, percentile

MB = 1 << 20
ROWS_HEADER = b"Month,Country,Product,Revenue\n"  # the demo's "Revenue, monthly file"
COUNTRIES = ("US", "CA", "BR", "MX", "GB", "FR", "DE", "ES", "IT", "NL", "JP", "AU")


@dataclass(frozen=True, slots=True)
class Server:
    """A live `planport serve` with the demo loaded and an Import key."""

    port: int
    pid: int
    key: str
    configuration_id: str
    sample: Path

    def connection(self, timeout: float = 600) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout, blocksize=MB)

    def push(self, file: Path) -> tuple[int, dict[str, Any]]:
        """Push `file` (streamed from disk); the answer's status and JSON."""
        connection = self.connection()
        headers = {
            "Authorization": f"Bearer {self.key}",
            "Content-Type": "text/csv",
            "Content-Length": str(file.stat().st_size),
        }
        path = f"/api/v1/import/push/csv?configurationId={self.configuration_id}"
        try:
            with file.open("rb") as body:
                connection.request("POST", path, body, headers)
            answer = connection.getresponse()
            return answer.status, json.loads(answer.read())
        finally:
            connection.close()

    def status_request(self, import_id: str) -> bytes:
        return (
            f"GET /api/v1/import/{import_id}/status?includedDetailedReport=true HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{self.port}\r\nAuthorization: Bearer {self.key}\r\n\r\n"
        ).encode()

    def wait_finished(self, import_id: str, timeout: float = 120) -> str:
        """Poll the status until the run has finished; its importStatus."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            connection = self.connection(timeout=30)
            try:
                connection.request(
                    "GET",
                    f"/api/v1/import/{import_id}/status",
                    headers={"Authorization": f"Bearer {self.key}"},
                )
                status = str(json.loads(connection.getresponse().read())["importStatus"])
            finally:
                connection.close()
            if status != "InProgress":
                return status
            time.sleep(0.1)
        raise RuntimeError(f"run {import_id} did not finish within {timeout} s")


# ------------------------------------------------------------------ live servers


def _environment(
    data_dir: Path, database_url: str | None, settings: dict[str, str] | None = None
) -> dict[str, str]:
    # Only the settings given here count: none inherited from the shell running the benchmark.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PLANPORT_")}
    environment |= {"PLANPORT_DATA_DIR": str(data_dir), "PLANPORT_LOG_LEVEL": "warning"}
    if database_url:
        environment["PLANPORT_DATABASE_URL"] = database_url
    return environment | (settings or {})


def _planport(environment: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "planport", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"planport {args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@contextlib.contextmanager
def serving(
    data_dir: Path,
    database_url: str | None,
    *,
    worker: bool,
    settings: dict[str, str] | None = None,
) -> Iterator[Server]:
    """The demo loaded, an Import key created, and `planport serve` answering on a free port,
    with `settings` (PLANPORT_* variables) besides the data folder and database."""
    environment = _environment(data_dir, database_url, settings)
    loaded = _planport(environment, "demo")
    hint = next(line for line in loaded.splitlines() if "planport import run" in line)
    configuration_id, sample = hint.split("planport import run ")[1].split()
    created = _planport(
        environment, "apikey", "create", "--owner", "demo@planport.local", "--type", "import"
    )
    key = created.strip().splitlines()[-1]
    port = free_port()
    command = [sys.executable, "-m", "planport", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--no-scheduler", "--worker" if worker else "--no-worker"]
    with (
        (data_dir / "serve.log").open("wb") as log,
        subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT) as server,
    ):
        try:
            _wait_until_ready(server, port, data_dir / "serve.log")
            yield Server(port, server.pid, key, configuration_id, Path(sample))
        finally:
            server.terminate()
            server.wait(60)


def _wait_until_ready(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"planport serve exited:\n{log.read_text()[-3000:]}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        with contextlib.suppress(OSError), contextlib.closing(connection):
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"planport serve was not ready within 60 s:\n{log.read_text()[-3000:]}")


# ------------------------------------------------------------------ push


def write_push_file(path: Path, megabytes: float) -> int:
    """A valid CSV file for the demo's "Revenue, monthly file" of about `megabytes` MB, written
    a block of rows at a time (never whole in memory); returns its size in bytes."""
    rows: list[str] = []
    size = 0
    while size < MB:
        n = len(rows)
        month, country, product = 1 + n % 12, COUNTRIES[n // 12 % 12], 1 + n // 144 % 8
        row = f"2027-{month:02d},{country},P{product:03d},{1000 + n % 49000}.{n % 100:02d}\n"
        rows.append(row)
        size += len(row)
    block = "".join(rows).encode()
    target = max(int(megabytes * MB), len(ROWS_HEADER) + len(rows[0]))
    with path.open("wb") as handle:
        written = handle.write(ROWS_HEADER)
        while written < target:
            part = block[: target - written]
            written += handle.write(part[: part.rfind(b"\n") + 1] or block[: len(rows[0])])
    return written


def _rss_kb(pid: int, field: str) -> int:
    """A memory figure of /proc/<pid>/status (`VmRSS`, `VmHWM`), in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


class RssSampler:
    """A process's resident memory while the block runs: sampled every 10 ms in a thread, and
    its peak (VmHWM) read at the end, the peak having been reset to the current RSS when the
    sampler was made (clear_refs 5, where the kernel allows it) so that the server's start-up
    peak is not the one read. `growth_mb`: the highest RSS seen less the RSS before."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before_kb = _rss_kb(pid, "VmRSS")
        self.highest_kb = self.before_kb
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.hwm_reset:
            self.highest_kb = max(self.highest_kb, _rss_kb(self.pid, "VmHWM"))

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.highest_kb = max(self.highest_kb, _rss_kb(self.pid, "VmRSS"))

    @property
    def growth_mb(self) -> float:
        return (self.highest_kb - self.before_kb) / 1024


def measure_push(folder: Path, megabytes: float) -> dict[str, float]:
    file = folder / "push.csv"
    size = write_push_file(file, megabytes)
    data_dir = folder / "push-sqlite"
    data_dir.mkdir()
    with serving(data_dir, None, worker=False) as server:
        server.push(server.sample)  # warm: the first push's imports and caches are not measured
        with RssSampler(server.pid) as rss:
            started = time.perf_counter()
            status, answer = server.push(file)
            seconds = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"the push was refused: {status} {answer}")
    file.unlink()
    return {
        "sqlite_push_mb": round(size / MB, 1),
        "sqlite_push_s": round(seconds, 2),
        "sqlite_push_mb_s": round(size / MB / seconds, 1),
        "sqlite_push_server_rss_before_mb": round(rss.before_kb / 1024, 1),
        "sqlite_push_server_rss_growth_mb": round(rss.growth_mb, 1),
    }


# ------------------------------------------------------------------ status under load

# Every status request is still counted against its address's limit (one upsert on
# PostgreSQL), but the load's thousands of requests from 127.0.0.1 must not be answered 429.
STATUS_SETTINGS = {"PLANPORT_API_REQUESTS_PER_WINDOW": "1000000"}


@dataclass(frozen=True, slots=True)
class Load:
    """How clients ask: `interval_s` None asks again as soon as answered (closed loop, the
    server's capacity); a number asks every `interval_s` seconds from a random phase, as a
    source system polling a run's status does (a late answer makes the next ask at once)."""

    clients: int
    seconds: float
    interval_s: float | None = None


@dataclass
class Answers:
    latencies: list[float]  # seconds, of the requests sent after the warm-up
    failures: int = 0  # answers that were not 200, warm-up included


async def _ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> bool:
    """Send `request`, read its whole answer; whether it was 200."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)
    return head[9:12] == b"200"


async def _client(
    port: int, request: bytes, load: Load, window: tuple[float, float], answers: Answers
) -> None:
    """One client on its own keep-alive connection, asking until the window's end; records
    the latencies of requests sent from the window's start on."""
    keep_from, stop_at = window
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    next_at = time.perf_counter() + (random.uniform(0, load.interval_s) if load.interval_s else 0)
    try:
        while True:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            if (started := time.perf_counter()) >= stop_at:
                break
            answers.failures += not await _ask(reader, writer, request)
            if started >= keep_from:
                answers.latencies.append(time.perf_counter() - started)
            next_at = next_at + load.interval_s if load.interval_s else 0.0
    finally:
        writer.close()
        await writer.wait_closed()


async def _load(port: int, request: bytes, load: Load) -> Answers:
    # Connections opened, the server's pool filled and every poller past its first ask first.
    warm_s = load.interval_s or min(1.0, load.seconds / 4)
    keep_from = time.perf_counter() + warm_s
    answers = Answers([])
    window = (keep_from, keep_from + load.seconds)
    await asyncio.gather(
        *(_client(port, request, load, window, answers) for _ in range(load.clients))
    )
    return answers


def _run_load(port: int, request: bytes, load: Load) -> Answers:
    # Its own thread, hence its own event loop: the caller's thread may already run one (the
    # test suite's browser fixtures do), and asyncio.run refuses to nest.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _load(port, request, load)).result()


def _cpu_s(pid: int) -> float:
    """CPU time (user + system) of a process and its children alive now (uvicorn's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(stat.parent.name) == pid or int(fields[1]) == pid:
                total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _figures(prefix: str, load: Load, answers: Answers) -> dict[str, float]:
    found = answers.latencies
    return {
        f"{prefix}_clients": load.clients,
        f"{prefix}_requests": len(found),
        f"{prefix}_rps": round(len(found) / load.seconds),
        f"{prefix}_p50_ms": round(percentile(found, 0.50) * 1000, 1),
        f"{prefix}_p99_ms": round(percentile(found, 0.99) * 1000, 1),
        f"{prefix}_max_ms": round(max(found, default=0.0) * 1000, 1),
        f"{prefix}_failed": answers.failures,
    }


def measure_status(folder: Path, closed: Load, polling: Load) -> dict[str, float]:
    """The status of a finished run under `closed` and `polling` loads, and alone."""
    data_dir = folder / "status-postgresql"
    data_dir.mkdir()
    with (
        database("postgresql", folder) as db,
        serving(data_dir, db.url, worker=True, settings=STATUS_SETTINGS) as server,
    ):
        status, answer = server.push(server.sample)
        if status != 200:
            raise RuntimeError(f"the push was refused: {status} {answer}")
        import_id = answer["importId"]
        if server.wait_finished(import_id) != "Completed":
            raise RuntimeError(f"run {import_id} failed")
        request = server.status_request(import_id)
        alone = _run_load(server.port, request, Load(1, min(closed.seconds, 3.0)))
        cpu_before = _cpu_s(server.pid)
        loaded = _run_load(server.port, request, closed)
        cpu_s = _cpu_s(server.pid) - cpu_before
        polled = _run_load(server.port, request, polling)
    return {
        **_figures("pg_status", closed, loaded),
        "pg_status_1_client_p50_ms": round(percentile(alone.latencies, 0.50) * 1000, 2),
        # The server's CPU per answer under the closed load, warm-up requests included.
        "pg_status_server_cpu_ms": round(cpu_s * 1000 / max(1, len(loaded.latencies)), 2),
        "pg_poll_interval_s": polling.interval_s or 0.0,
        **_figures("pg_poll", polling, polled),
    }


# ------------------------------------------------------------------ authenticate


def measure_authenticate(kind: str, folder: Path, calls: int) -> dict[str, float]:
    from planport.domain.api_keys import ApiKeyType
    from planport.services.workspace import api_keys

    with database(kind, folder) as db:
        bench_admin(db)
        spec = api_keys.KeySpec("Bench", ApiKeyType.IMPORT, owner_email="bench@example.com")
        secret = api_keys.create_key(db, spec, by=None, time_zone="UTC").secret
        for _ in range(min(calls, 50)):  # warm: connections, statement caches, last use written
            api_keys.authenticate(db, secret, ApiKeyType.IMPORT, "127.0.0.1")
        started = time.perf_counter()
        for _ in range(calls):
            api_keys.authenticate(db, secret, ApiKeyType.IMPORT, "127.0.0.1")
        seconds = time.perf_counter() - started
    prefix = "pg" if kind == "postgresql" else kind
    return {f"{prefix}_authenticate_us": round(seconds / calls * 1e6, 1)}


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--push-mb", type=float, default=1024, help="size of the pushed file")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10, help="length of the status load")
    parser.add_argument("--auth-calls", type=int, default=5000)
    parser.add_argument(
        "--poll-clients", type=int, default=200, help="clients polling the status each interval"
    )
    parser.add_argument("--poll-interval", type=float, default=1.0, help="seconds between polls")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        figures |= measure_push(folder, args.push_mb)
        figures |= measure_authenticate("sqlite", folder, args.auth_calls)
        # The pushed gigabyte is still being written back to disk: measured meanwhile,
        # PostgreSQL's commits wait behind it and the status figures are the disk's.
        os.sync()
        if postgres_available():
            closed = Load(args.clients, args.seconds)
            polling = Load(args.poll_clients, args.seconds, args.poll_interval)
            figures |= measure_status(folder, closed, polling)
            figures |= measure_authenticate("postgresql", folder, args.auth_calls)
        else:
            print("PostgreSQL is not answering on 127.0.0.1:5432; skipping it")
    print(f"{'figure':<40} {'value':>14}")
    for key, value in figures.items():
        print(f"{key:<40} {value:>14,}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
