"""The Import API against a live `planport serve` on loopback, set up as a new user would:
`planport demo`, a key from `planport apikey create`, then a source system's requests."""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_cli import planport
from tests.pigment_schemas import validate
from tests.servers import free_port, wait_until_ready


@dataclass(frozen=True)
class Live:
    port: int
    data_dir: Path
    configuration_id: str
    sample: Path
    key: str
    log: Path

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            answer = connection.getresponse()
            return answer.status, json.loads(answer.read() or b"null")
        finally:
            connection.close()

    def push(self, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return self.request(
            "POST",
            f"/api/v1/import/push/csv?configurationId={self.configuration_id}",
            self.sample.read_bytes(),
            {"Content-Type": "text/csv", **headers},
        )


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data_dir = tmp_path_factory.mktemp("live-api")
    loaded = planport("demo", data_dir=data_dir, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    hint = next(line for line in loaded.stdout.splitlines() if "planport import run" in line)
    configuration_id, sample = hint.split("planport import run ")[1].split()
    created = planport(
        "apikey", "create", "--owner", "demo@planport.local", "--type", "import",
        "--name", "Workday EIB", data_dir=data_dir,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    log = data_dir / "serve.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PLANPORT_")}
    environment |= {"PLANPORT_DATA_DIR": str(data_dir), "PLANPORT_PORT": str(port)}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "planport", "serve"],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    try:
        wait_until_ready(process, f"http://127.0.0.1:{port}", log)
        yield Live(port, data_dir, configuration_id, Path(sample), key, log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def finished_report(live: Live, run_id: str) -> dict[str, Any]:
    """Poll the status endpoint, as a source system does, until the run has finished."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, report = live.request(
            "GET",
            f"/api/v1/import/{run_id}/status?includedDetailedReport=true",
            headers={"Authorization": f"Bearer {live.key}"},
        )
        assert status == 200, report
        if report["importStatus"] != "InProgress":
            return report
        time.sleep(0.1)
    pytest.fail(f"run {run_id} did not finish")


def test_a_source_system_pushes_with_bearer_and_polls_until_completed(live: Live) -> None:
    status, started = live.push({"Authorization": f"Bearer {live.key}"})
    assert status == 200, started
    report = finished_report(live, started["importId"])
    validate(report, "/api/v1/import/{importId}/status")
    assert report["importStatus"] == "Completed", report
    assert report["detailedReport"]["summary"]["skippedCount"] == 0


def test_workdays_basic_delivery_with_the_key_as_user_name_is_accepted(live: Live) -> None:
    credentials = base64.b64encode(f"{live.key}:whatever".encode()).decode()
    status, started = live.push({"Authorization": f"Basic {credentials}"})
    assert status == 200, started
    assert finished_report(live, started["importId"])["importStatus"] == "Completed"


def test_a_push_whose_client_leaves_half_way_leaves_no_run_and_no_file(live: Live) -> None:
    runs_before = _run_count(live)
    pushes = live.data_dir / "pushes"
    files_before = _files(pushes)
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as raw:
        raw.sendall(
            (
                f"POST /api/v1/import/push/csv?configurationId={live.configuration_id} HTTP/1.1\r\n"
                f"Host: 127.0.0.1\r\nAuthorization: Bearer {live.key}\r\n"
                "Content-Type: text/csv\r\nContent-Length: 1000000\r\n\r\n"
            ).encode()
            + b"Month,Country,Product,Revenue\n" * 200
        )
        time.sleep(0.5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _files(pushes) != files_before:
        time.sleep(0.1)
    assert _files(pushes) == files_before
    assert _run_count(live) == runs_before


def test_a_looker_webhook_with_the_key_in_its_url_lands_and_no_log_holds_the_key(
    live: Live,
) -> None:
    payload = {
        "scheduled_plan": {"title": "Monthly revenue"},
        "attachment": {"extension": "csv", "data": live.sample.read_text()},
    }
    status, started = live.request(
        "POST",
        f"/api/v1/import/push/looker?configurationId={live.configuration_id}&api_key={live.key}",
        json.dumps(payload).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 200, started
    assert finished_report(live, started["importId"])["importStatus"] == "Completed"
    assert live.key[12:] not in live.log.read_text()


def test_a_revoked_key_is_refused_at_once_and_the_log_never_holds_a_key(live: Live) -> None:
    listed = planport("apikey", "list", data_dir=live.data_dir)
    assert listed.returncode == 0, listed.stderr
    prefix = live.key[:12]
    assert prefix in listed.stdout
    assert live.key not in listed.stdout
    revoked = planport("apikey", "revoke", prefix, data_dir=live.data_dir)
    assert revoked.returncode == 0, revoked.stderr
    status, answer = live.push({"Authorization": f"Bearer {live.key}"})
    assert (status, answer["reason"]) == (401, "revoked_key")
    assert live.key[12:] not in live.log.read_text()


def _files(pushes: Path) -> set[Path]:
    """The pushed files kept (those of earlier pushes stay for the retention)."""
    return {p for p in pushes.rglob("*") if p.is_file()} if pushes.is_dir() else set()


def _run_count(live: Live) -> int:
    code = (
        "from planport.settings import Settings; from planport.services import Database;"
        "from sqlalchemy import text;"
        f"db = Database.from_settings(Settings(data_dir={str(live.data_dir)!r}));"
        "print(db.engine.connect().execute(text('select count(*) from import_run')).scalar())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return int(result.stdout.strip())
