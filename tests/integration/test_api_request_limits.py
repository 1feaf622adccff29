"""The Import API's limits per client address and per configuration: through the web
application on both databases, and across two live `planport serve` processes sharing one
PostgreSQL database (each with its own data directory), where only the database can count."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from planport.domain.api_keys import ApiKeyType
from planport.domain.members import Actor
from planport.services.workspace import api_keys
from planport.settings import Settings
from planport.store.db import Database
from planport.web import create_app
from tests.conftest import postgres_schema
from tests.integration.test_cli import planport
from tests.servers import free_port, wait_until_ready

UNKNOWN_RUN = f"/api/v1/import/{uuid.UUID(int=7)}/status"


def test_an_address_past_its_request_limit_gets_429_and_others_do_not(
    db: Database, admin: Actor, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db.url, api_requests_per_window=3)
    spec = api_keys.KeySpec("Poller", ApiKeyType.IMPORT)
    headers = {
        "Authorization": f"Bearer {api_keys.create_key(db, spec, by=admin, time_zone='UTC').secret}"
    }
    app = create_app(settings, db)
    with TestClient(app, client=("203.0.113.7", 1)) as busy:
        statuses = [busy.get(UNKNOWN_RUN, headers=headers).status_code for _ in range(4)]
        assert statuses == [404, 404, 404, 429]
        refused = busy.get(UNKNOWN_RUN, headers=headers)
        assert 0 < int(refused.headers["Retry-After"]) <= 300
        assert "at most 3 per 5 minutes" in refused.json()["message"]
        # A client guessing keys is counted too: a bad key does not get around the limit.
        assert busy.get(UNKNOWN_RUN, headers={"Authorization": "Bearer x"}).status_code == 429
    with TestClient(app, client=("198.51.100.9", 1)) as other:
        assert other.get(UNKNOWN_RUN, headers=headers).status_code == 404


# ---------------------------------------------------------------- two live servers


@dataclass(frozen=True)
class Server:
    port: int

    def call(
        self, method: str, path: str, key: str, body: bytes | None = None
    ) -> tuple[int, dict[str, Any], str | None]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/csv"}
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            return (
                answer.status,
                json.loads(answer.read() or b"null"),
                answer.getheader("Retry-After"),
            )
        finally:
            connection.close()


@contextmanager
def serving(data_dir: Path, environment: dict[str, str]) -> Iterator[Server]:
    port = free_port()
    log = data_dir / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "planport", "serve", "--no-worker"],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**environment, "PLANPORT_DATA_DIR": str(data_dir), "PLANPORT_PORT": str(port)},
        )
    try:
        wait_until_ready(process, f"http://127.0.0.1:{port}", log)
        yield Server(port)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def two_servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, Server, str, str, bytes]]:
    """Two servers on one PostgreSQL schema: limits of 4 pushes per configuration per hour
    and 12 requests per address per window."""
    with postgres_schema() as url, ExitStack() as stack:
        first_dir, second_dir = tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("two")
        settings = {
            "PLANPORT_DATABASE_URL": url,
            "PLANPORT_API_PUSHES_PER_HOUR": "4",
            "PLANPORT_API_REQUESTS_PER_WINDOW": "12",
        }
        loaded = planport("demo", data_dir=first_dir, env=settings, timeout=120)
        assert loaded.returncode == 0, loaded.stderr
        hint = next(line for line in loaded.stdout.splitlines() if "planport import run" in line)
        configuration_id, sample = hint.split("planport import run ")[1].split()
        created = planport(
            "apikey", "create", "--owner", "demo@planport.local", "--type", "import",
            data_dir=first_dir, env=settings,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        environment = {k: v for k, v in os.environ.items() if not k.startswith("PLANPORT_")}
        environment |= settings
        one = stack.enter_context(serving(first_dir, environment))
        two = stack.enter_context(serving(second_dir, environment))
        yield one, two, key, configuration_id, Path(sample).read_bytes()


def test_pushes_per_configuration_are_counted_across_servers(
    two_servers: tuple[Server, Server, str, str, bytes],
) -> None:
    one, two, key, configuration_id, body = two_servers
    path = f"/api/v1/import/push/csv?configurationId={configuration_id}"
    answers = [server.call("POST", path, key, body) for server in (one, two, one, two, one)]
    assert [status for status, _, _ in answers] == [200, 200, 200, 200, 429]
    _, refused, retry_after = answers[-1]
    assert refused["message"].startswith(
        "Maximum number of reports per configuration per hour exceeded, maximum: 4."
    )
    assert retry_after is not None


def test_requests_per_address_are_counted_across_servers(
    two_servers: tuple[Server, Server, str, str, bytes],
) -> None:
    one, two, key, _, _ = two_servers
    # Whatever the pushes above used, twelve requests in all pass this window, then none.
    statuses = [server.call("GET", UNKNOWN_RUN, key)[0] for server in (one, two) * 7]
    assert 429 in statuses
    assert statuses[statuses.index(429) :] == [429] * (len(statuses) - statuses.index(429))
    assert statuses.count(404) <= 12
