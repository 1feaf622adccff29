"""`planport scheduler` as a user runs it: one per SQLite database, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.test_cli import planport


def start_scheduler(data_dir: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANPORT_")}
    env |= {"PLANPORT_DATA_DIR": str(data_dir), "PLANPORT_LOG_LEVEL": "info"}
    return subprocess.Popen(
        [sys.executable, "-m", "planport", "scheduler"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_line(process: subprocess.Popen[str], text: str, timeout_s: float = 30) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen.append(line)
        if text in line:
            return "".join(seen)
        assert process.poll() is None or line, "".join(seen)
    raise AssertionError(f"no {text!r} in: {''.join(seen)}")


def test_a_second_scheduler_on_sqlite_is_refused_naming_the_first_and_sigterm_stops_it(
    tmp_path: Path,
) -> None:
    assert planport("db", "upgrade", data_dir=tmp_path).returncode == 0
    first = start_scheduler(tmp_path)
    try:
        wait_for_line(first, "scheduler.started")

        second = planport("scheduler", data_dir=tmp_path, timeout=60)

        assert second.returncode == 1
        assert "only one may run on SQLite" in second.stderr
        assert "Use PostgreSQL" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        output, _ = first.communicate(timeout=30)
    assert first.returncode == 0, output
    assert "scheduler.stopped" in output
