"""The embedded default under an import: pages and "Start right now" while `planport serve`
(SQLite, its own import threads) imports a large metric file.

Prints page latencies (p50 / p99 / max, ms) of a block page, a run page and the Import
Scheduling page, polled during the import, the time "Start an import right now" took to
answer (its run is queued when it does), and any answer that was not a success. The last line
is JSON with `sqlite_page_p99_during_import_ms`.

    python -m benchmarks.responsiveness [--rows 5000000]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from benchmarks.imports import _metric_mapping, _setup_metric, write_metric_file

PASSWORD = "benchmark-password"  # bench_admin's
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A logged-in member's requests (cookies kept), timed."""

    def __init__(self, base: str) -> None:
        self.base = base
        jar = http.cookiejar.CookieJar()
        self._open = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar)).open
        self.csrf = ""

    def get(self, path: str) -> tuple[int, float, str]:
        return self._request(urllib.request.Request(self.base + path))

    def post(self, path: str, form: dict[str, str]) -> tuple[int, float, str]:
        body = urllib.parse.urlencode({**form, "csrf_token": self.csrf}).encode()
        return self._request(urllib.request.Request(self.base + path, data=body, method="POST"))

    def log_in(self, email: str) -> None:
        self.csrf = CSRF.findall(self.get("/login")[2])[0]
        self.post("/login", {"email": email, "password": PASSWORD})
        self.csrf = CSRF.findall(self.get("/account")[2])[0]

    def _request(self, request: urllib.request.Request) -> tuple[int, float, str]:
        started = time.perf_counter()
        try:
            with self._open(request, timeout=60) as response:
                text = response.read().decode()
                status = response.status
        except urllib.error.HTTPError as error:
            text, status = error.read().decode(errors="replace"), error.code
        return status, (time.perf_counter() - started) * 1000, text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def prepare(folder: Path, rows: int) -> dict[str, Any]:
    """A database with the benchmark's metric, a small folder configuration and a file."""
    from planport.connectors import FolderSource, source_json
    from planport.domain.enums import BlockKind
    from planport.domain.file_settings import FileSettings
    from planport.domain.mapping import CODE, NAME, FieldMapping, Mapping, SourceColumn
    from planport.services import blocks
    from planport.services.imports import configurations
    from planport.store import migrate
    from planport.store.db import Database
    from planport.store.models import ImportConfiguration

    db = Database(f"sqlite:///{folder / 'planport.db'}")
    migrate.upgrade(db)
    actor, metric, _ = _setup_metric(db, 0)
    products = blocks.create_list(db, actor, metric.application_id, BlockKind.DIMENSION_LIST, "Ink")
    fields = [
        FieldMapping(target=CODE, source=SourceColumn(column="Code")),
        FieldMapping(target=NAME, source=SourceColumn(column="Name")),
    ]
    saved = configurations.save_configuration(
        db, actor, products.id, "Inks", FileSettings(), Mapping(fields=fields)
    )
    (folder / "imports").mkdir()
    (folder / "imports" / "inks.csv").write_text("Code,Name\nK1,Black\n")
    with db.write() as session:
        stored = session.get(ImportConfiguration, saved.id)
        assert stored is not None
        stored.source = source_json(FolderSource(path="inks.csv"))
    file = folder / "metric.csv"
    write_metric_file(file, rows)
    db.dispose()
    return {
        "email": actor.email,
        "metric": metric,
        "application_id": metric.application_id,
        "configuration_id": saved.id,
        "file": file,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5_000_000)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory() as name:
        figures = measure(Path(name), args.rows)
    print(f"{'figure':<40} {'value':>14}")
    for key, value in figures.items():
        print(f"{key:<40} {value:>14,}")
    print(json.dumps(figures))


def measure(folder: Path, rows: int) -> dict[str, float]:
    setup = prepare(folder, rows)
    port = free_port()
    env = {
        **os.environ,
        "PLANPORT_DATA_DIR": str(folder),
        "PLANPORT_IMPORT_ROOT": str(folder / "imports"),
        "PLANPORT_LOG_LEVEL": "warning",
    }
    command = [
        sys.executable,
        "-m",
        "planport",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with (
        (folder / "serve.log").open("wb") as log,
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log) as server,
    ):
        try:
            return _during_import(f"http://127.0.0.1:{port}", setup, folder)
        finally:
            server.terminate()
            server.wait(30)


def _during_import(base: str, setup: dict[str, Any], folder: Path) -> dict[str, float]:
    from planport.domain.file_settings import FileSettings
    from planport.services.imports import runs
    from planport.services.workspace.members import actor_for
    from planport.store.db import Database

    _wait_until_up(base)
    browser = Browser(base)
    browser.log_in(setup["email"])
    db = Database(f"sqlite:///{folder / 'planport.db'}")
    actor = actor_for(db, setup["email"])
    metric = setup["metric"]
    run_id = runs.start_import(
        db, actor, metric.id, setup["file"], FileSettings(separator=","), _metric_mapping(metric)
    )
    pages = [
        f"/blocks/{metric.id}",
        f"/runs/{run_id}",
        f"/applications/{setup['application_id']}/scheduling",
    ]
    latencies: list[float] = []
    failures: list[str] = []
    start_ms: list[float] = []
    started = time.perf_counter()
    _wait_for(db, run_id, "running")
    running_at = time.perf_counter()
    while _status(db, run_id) == "running":
        for page in pages:
            status, ms, _ = browser.get(page)
            latencies.append(ms)
            if status != 200:
                failures.append(f"{page}: {status}")
        if len(latencies) % 30 == 0:
            start = f"/applications/{setup['application_id']}/scheduling/configurations/"
            status, ms, _ = browser.post(f"{start}{setup['configuration_id']}/start", {})
            start_ms.append(ms)
            if status not in (200, 303):
                failures.append(f"start right now: {status}")
        time.sleep(0.05)
    import_s = time.perf_counter() - running_at
    final = _status(db, run_id)
    db.dispose()
    return {
        "sqlite_import_rows": setup["rows"],
        "sqlite_import_status_ok": 1.0 if final == "completed" else 0.0,
        "sqlite_import_s": round(import_s, 2),
        "sqlite_queued_to_running_s": round(running_at - started, 2),
        "sqlite_pages_during_import": len(latencies),
        "sqlite_page_p50_during_import_ms": round(percentile(latencies, 0.50), 1),
        "sqlite_page_p99_during_import_ms": round(percentile(latencies, 0.99), 1),
        "sqlite_page_max_during_import_ms": round(max(latencies, default=0.0), 1),
        "sqlite_start_right_now_max_ms": round(max(start_ms, default=0.0), 1),
        "sqlite_failed_requests_during_import": len(failures),
    }


def _status(db: Any, run_id: uuid.UUID) -> str:
    from planport.store.models import ImportRun

    with db.read() as session:
        run = session.get(ImportRun, run_id)
        return str(run.status) if run is not None else "missing"


def _wait_for(db: Any, run_id: uuid.UUID, status: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while _status(db, run_id) not in (status, "completed", "failed"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the run did not reach {status} within {timeout} s")
        time.sleep(0.05)


def _wait_until_up(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("planport serve did not start")


if __name__ == "__main__":
    main()
