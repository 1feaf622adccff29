"""The Import API's rules against a live `planport serve` on PostgreSQL (not the test client):
every reason a key is refused, the parameters a push is refused for, the size limit checked
while the body streams, a gzip push, and a push that waits behind a queued run.

The server runs without worker threads, so pushed runs stay queued until the test starts a
`planport worker`: what waits behind what is then decided by the database alone, not by timing.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from planport.domain.members import Actor
from planport.services.workspace import allow_lists, api_keys, members
from planport.store.db import Database
from planport.store.models import ImportConfiguration, ImportRun
from tests.conftest import postgres_schema
from tests.integration.builders import grant
from tests.integration.test_cli import planport
from tests.pigment_schemas import validate
from tests.servers import free_port, json_call, wait_until_ready

DEMO = "demo@planport.local"
MAX_PUSH_BYTES = 64 * 1024


@dataclass
class Server:
    port: int
    url: str
    data_dir: Path
    environment: dict[str, str]
    configuration_id: str
    sample: bytes
    db: Database

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        return json_call(self.port, method, path, body, headers)

    def push(
        self, key: str, body: bytes | None = None, *, query: str | None = None, **headers: str
    ) -> tuple[int, dict[str, Any]]:
        query = f"configurationId={self.configuration_id}" if query is None else query
        return self.request(
            "POST",
            f"/api/v1/import/push/csv?{query}",
            self.sample if body is None else body,
            {"Authorization": f"Bearer {key}", "Content-Type": "text/csv", **headers},
        )

    def key(self, owner: str = DEMO, key_type: str = "import") -> str:
        created = planport(
            "apikey", "create", "--owner", owner, "--type", key_type,
            data_dir=self.data_dir, env=self.environment,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        return created.stdout.strip().splitlines()[-1]

    def runs(self) -> int:
        with self.db.read() as session:
            return session.scalar(select(func.count()).select_from(ImportRun)) or 0

    def pushed_files(self) -> list[Path]:
        return sorted(p for p in (self.data_dir / "pushes").glob("*/*") if p.is_file())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with postgres_schema() as url:
        data_dir = tmp_path_factory.mktemp("live-rules")
        settings = {
            "PLANPORT_DATABASE_URL": url,
            "PLANPORT_API_MAX_PUSH_BYTES": str(MAX_PUSH_BYTES),
        }
        loaded = planport("demo", data_dir=data_dir, env=settings, timeout=120)
        assert loaded.returncode == 0, loaded.stderr
        hint = next(line for line in loaded.stdout.splitlines() if "planport import run" in line)
        configuration_id, sample = hint.split("planport import run ")[1].split()
        environment = {k: v for k, v in os.environ.items() if not k.startswith("PLANPORT_")}
        environment |= settings | {"PLANPORT_DATA_DIR": str(data_dir)}
        port = free_port()
        log = data_dir / "serve.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "planport", "serve", "--no-worker", "--no-scheduler"],
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**environment, "PLANPORT_PORT": str(port)},
            )
        db = Database(url)
        try:
            wait_until_ready(process, f"http://127.0.0.1:{port}", log)
            yield Server(
                port, url, data_dir, environment, configuration_id, Path(sample).read_bytes(), db
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
            db.dispose()


def test_every_reason_a_key_is_refused_has_its_status_and_reason_on_a_live_server(
    server: Server,
) -> None:
    db = server.db
    admin = members.actor_for(db, DEMO)
    with db.read() as session:
        application_id = session.scalar(
            select(ImportConfiguration.application_id).where(
                ImportConfiguration.id == uuid.UUID(server.configuration_id)
            )
        )
    assert application_id is not None
    reader = _member(db, "reader@example.com")
    grant(db, admin, application_id, reader.email, "Reader")
    leaver = _member(db, "leaver@example.com")
    grant(db, admin, application_id, leaver.email, "Contributor")
    leaver_key = server.key(leaver.email)
    members.update_member(db, admin, leaver.id, is_active=False)
    revoked = server.key()
    api_keys.revoke_key(db, revoked[:12], by=admin)
    ending = server.key()
    ending_id = api_keys.get_key(db, _key_id(db, admin, ending), by=admin).id
    # The expiration date set to today: the key worked until the end of yesterday.
    api_keys.update_key(
        db, ending_id, api_keys.KeyChange("ending", date.today()), by=admin, time_zone="UTC"
    )
    elsewhere = allow_lists.create_list(
        db, allow_lists.AllowListSpec("Office", "10.20.0.0/16"), by=admin
    )
    fenced = server.key()
    api_keys.update_key(
        db,
        _key_id(db, admin, fenced),
        api_keys.KeyChange("fenced", None, (elsewhere.id,)),
        by=admin,
        time_zone="UTC",
    )
    before = server.runs()

    cases = {
        "missing_key": None,
        "malformed_key": "not-a-key",
        "unknown_key": "ppk_" + "A" * 43,
        "revoked_key": revoked,
        "expired_key": ending,
        "wrong_key_type": server.key(key_type="export"),
        "address_not_allowed": fenced,
        "owner_lacks_permission": server.key(reader.email),
        "owner_inactive": leaver_key,
    }
    for reason, key in cases.items():
        headers = {"Content-Type": "text/csv"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        status, answer = server.request(
            "POST",
            f"/api/v1/import/push/csv?configurationId={server.configuration_id}",
            server.sample,
            headers,
        )
        expected = 401 if reason.endswith("_key") else 403
        assert (status, answer["reason"]) == (expected, reason), answer
        assert key is None or key not in json.dumps(answer)
    assert server.runs() == before
    assert server.pushed_files() == []


def test_pushes_to_unknown_or_malformed_configurations_are_refused_on_a_live_server(
    server: Server,
) -> None:
    key = server.key()
    before = server.runs()

    unknown = server.push(key, query=f"configurationId={uuid.UUID(int=7)}")
    no_uuid = server.push(key, query="configurationId=revenue")
    missing = server.push(key, query="")

    assert unknown[0] == 404
    assert unknown[1]["message"] == "Import configuration with the specified ID was not found"
    for status, answer in (no_uuid, missing):
        assert status == 400, answer
        assert "configurationId" in answer["message"]
    assert server.runs() == before
    assert server.pushed_files() == []


def test_a_push_over_the_size_limit_is_400_and_leaves_nothing(server: Server) -> None:
    key = server.key()
    header, *rows = server.sample.decode().splitlines(keepends=True)
    body = (header + "".join(rows) * (2 * MAX_PUSH_BYTES // len(server.sample) + 1)).encode()
    assert len(body) > MAX_PUSH_BYTES
    before = server.runs()

    status, answer = server.push(key, body)

    assert status == 400, answer
    assert answer["message"].startswith("Bad request or size limit exceeded")
    assert server.runs() == before
    assert server.pushed_files() == []


def test_pushes_behind_a_queued_run_wait_their_turn_and_a_gzip_push_lands(
    server: Server,
) -> None:
    key = server.key()
    first = server.push(key)
    second = server.push(key, gzip.compress(server.sample), **{"Content-Encoding": "gzip"})
    assert first[0] == second[0] == 200, (first, second)
    validate(first[1], "/api/v1/import/push/csv", "post")
    ids = [uuid.UUID(first[1]["importId"]), uuid.UUID(second[1]["importId"])]
    for run_id in ids:  # no worker yet: both wait in the queue
        assert _status(server, key, run_id)["importStatus"] == "InProgress"

    log = server.data_dir / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "planport", "worker"],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**server.environment, "PLANPORT_WORKER_THREADS": "2"},
        )
    try:
        reports = [_finished(server, key, run_id, log) for run_id in ids]
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    assert [r["importStatus"] for r in reports] == ["Completed", "Completed"], reports
    for report in reports:
        validate(report, "/api/v1/import/{importId}/status")
    with server.db.read() as session:
        rows = {r.id: r for r in session.scalars(select(ImportRun).where(ImportRun.id.in_(ids)))}
    one, two = rows[ids[0]], rows[ids[1]]
    # Two worker threads were free, yet the second push ran only once the first had finished.
    assert one.finished_at is not None
    assert two.started_at is not None
    assert two.started_at >= one.finished_at
    assert one.rows_read == two.rows_read > 0  # the gzip body was read as the plain one


# ------------------------------------------------------------------ helpers


def _member(db: Database, email: str) -> Actor:
    members.create_member(db, email, "a long enough password 1")
    return members.actor_for(db, email)


def _key_id(db: Database, admin: Actor, key: str) -> uuid.UUID:
    (found,) = [k for k in api_keys.list_keys(db, admin) if key.startswith(k.prefix)]
    return found.id


def _status(server: Server, key: str, run_id: uuid.UUID) -> dict[str, Any]:
    status, report = server.request(
        "GET",
        f"/api/v1/import/{run_id}/status?includedDetailedReport=true",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert status == 200, report
    return report


def _finished(server: Server, key: str, run_id: uuid.UUID, log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        report = _status(server, key, run_id)
        if report["importStatus"] != "InProgress":
            return report
        time.sleep(0.2)
    pytest.fail(f"run {run_id} did not finish:\n{log.read_text()[-4000:]}")
