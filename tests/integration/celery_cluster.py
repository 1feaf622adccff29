"""A Celery cluster for integration tests: real `planport worker` processes over the machine's
Redis on a PostgreSQL schema of the test's own (fixtures in conftest.py: pg_url, broker_url,
cluster). Each test has its own Redis database number and queue name, and short heartbeat
settings so that a lost worker is found in seconds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from planport.settings import Settings
from planport.store.db import Database

REQUIRED = os.environ.get("PLANPORT_TEST_REQUIRE_POSTGRES") == "1"
READY_TIMEOUT_S = 60.0


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class Cluster:
    db: Database
    settings: Settings
    env: dict[str, str]
    root: Path
    workers: list[subprocess.Popen[bytes]]

    def start_worker(self) -> subprocess.Popen[bytes]:
        with (self.root / f"worker-{len(self.workers) + 1}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "planport", "worker", "--concurrency", "2"],
                cwd=self.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: SIGKILL takes all of it
            )
        self.workers.append(process)
        return process

    def log_of(self, number: int) -> str:
        return (self.root / f"worker-{number}.log").read_text(errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        for number, process in enumerate(self.workers, start=1):
            while "ready." not in self.log_of(number):
                assert process.poll() is None, self.log_of(number)
                assert time.monotonic() < deadline, self.log_of(number)
                time.sleep(0.1)
