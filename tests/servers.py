"""Helpers for tests that start real `planport serve` processes: a free port, and waiting for
the server to answer /readyz (failing with its log when it exits or takes too long)."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

READY_TIMEOUT_S = 45.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_ready(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`planport serve` exited early:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as error:
            error.close()
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"`planport serve` was not ready in time:\n{log.read_text()[-4000:]}")


def json_call(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One request to a live server on loopback: (status, the JSON answer or None)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read() or b"null")
    finally:
        connection.close()


def demo_with_import_key(data_dir: Path, env: dict[str, str]) -> tuple[str, Path, str]:
    """`planport demo` then `planport apikey create` into `data_dir`'s settings and `env`, as a
    new user sets up an integration: (the demo configuration's ID, its sample file, the key)."""
    from tests.integration.test_cli import planport

    loaded = planport("demo", data_dir=data_dir, env=env, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    hint = next(line for line in loaded.stdout.splitlines() if "planport import run" in line)
    configuration_id, sample = hint.split("planport import run ")[1].split()
    created = planport(
        "apikey", "create", "--owner", "demo@planport.local", "--type", "import",
        data_dir=data_dir, env=env,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    return configuration_id, Path(sample), created.stdout.strip().splitlines()[-1]
