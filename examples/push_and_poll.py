"""Push a CSV file into a Pigment import configuration and wait for its report.

Written from Pigment's public API document only (the Import API), with the standard library
only, so it works against Pigment or any server that serves that API, such as Planport:

    export PIGMENT_API_KEY=...   # an Import API key
    python push_and_poll.py https://pigment.app e092bc59-ac8f-43e1-8114-d0c25af797c7 revenue.csv

1. `POST /api/v1/import/push/csv?configurationId=<ID>` with the file as the body (Bearer key,
   Content-Type text/csv). The file is streamed from disk, never read into memory.
2. `GET /api/v1/import/<importId>/status?includedDetailedReport=true`, again and again with a
   growing pause, until `importStatus` is `Completed` or `Failed`.
3. Print the report: counts, and the skipped data by reason.

Exit codes: 0 the import completed, 1 it failed, 2 a usage or HTTP error (the server's message
is printed). Progress goes to stderr, the report to stdout. The key is never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import sys
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

KEY_VARIABLE = "PIGMENT_API_KEY"
FINISHED = ("Completed", "Failed")
FIRST_PAUSE_S, LONGEST_PAUSE_S, GROWTH = 0.5, 15.0, 1.5
RETRIES_PER_POLL = 5  # a status call that fails for a transient reason is tried again
TRANSIENT = (429, 502, 503, 504)


class ApiError(Exception):
    """A request the server refused or that never got an answer; `str()` says why."""


class TransientError(ApiError):
    """No answer, or one saying to try again later (429, 502, 503, 504)."""


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    key = (args.key or os.environ.get(KEY_VARIABLE, "")).strip()
    if not key:
        _usage(f"no API key: set {KEY_VARIABLE} (or pass --key)")
    api = Api(args.base_url.rstrip("/"), key, args.request_timeout)
    try:
        import_id = api.push(args.configuration_id, args.file)
        _progress(f"Pushed {args.file.name} ({args.file.stat().st_size:,} bytes): {import_id}")
        report = api.wait(import_id, deadline=time.monotonic() + args.wait)
    except ApiError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(describe(report))
    return 0 if report["importStatus"] == "Completed" else 1


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Push a CSV file through an import configuration and print its report.",
        epilog=f"The Import API key is read from ${KEY_VARIABLE} unless --key is given.",
    )
    parser.add_argument("base_url", help="such as https://pigment.app")
    parser.add_argument("configuration_id", type=_uuid, help="the import configuration's ID")
    parser.add_argument("file", type=Path, help="the CSV file to push")
    parser.add_argument("--key", help=f"the Import API key (prefer ${KEY_VARIABLE})")
    parser.add_argument(
        "--wait", type=float, default=3600, help="longest wait for the report, s (3600)"
    )
    parser.add_argument(
        "--request-timeout", type=float, default=300, help="longest wait for one answer, s (300)"
    )
    args = parser.parse_args(argv)
    if not args.file.is_file():
        parser.error(f"{args.file} is not a file")
    return args


def _uuid(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ID (a UUID)") from None


class Api:
    """The two Import API calls this script makes, with the key in a Bearer header."""

    def __init__(self, base_url: str, key: str, timeout_s: float) -> None:
        self.base_url = base_url
        self.timeout_s = timeout_s
        self._headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}

    def push(self, configuration_id: str, file: Path) -> str:
        """Push the file; returns the import's ID. Raises ApiError."""
        query = urllib.parse.urlencode({"configurationId": configuration_id})
        headers = {"Content-Type": "text/csv", "Content-Length": str(file.stat().st_size)}
        with file.open("rb") as body:  # sent a block at a time, never read whole
            answer = self._send("POST", f"/api/v1/import/push/csv?{query}", body, headers)
        return str(answer["importId"])

    def status(self, import_id: str) -> dict[str, Any]:
        """The import's report (with the detailed report once it has finished)."""
        path = f"/api/v1/import/{urllib.parse.quote(import_id)}/status"
        return self._send("GET", f"{path}?includedDetailedReport=true")

    def wait(self, import_id: str, *, deadline: float) -> dict[str, Any]:
        """Poll the status until the import has finished; returns its report. The pause grows
        from half a second to 15 s: short imports answer quickly, long ones are not hammered.
        Raises ApiError (also when the deadline passes first)."""
        pause = FIRST_PAUSE_S
        shown = ""
        while True:
            report = self._status_with_retries(import_id, deadline)
            if report["importStatus"] in FINISHED:
                return report
            if report["importStatus"] != shown:
                shown = report["importStatus"]
                _progress(f"Import {import_id}: {shown}")
            if time.monotonic() + pause > deadline:
                raise ApiError(f"import {import_id} has not finished in time; it goes on")
            time.sleep(pause)
            pause = min(pause * GROWTH, LONGEST_PAUSE_S)

    def _status_with_retries(self, import_id: str, deadline: float) -> dict[str, Any]:
        # The file is pushed already: a hiccup while polling must not lose track of the import.
        for attempt in range(1, RETRIES_PER_POLL + 1):
            try:
                return self.status(import_id)
            except TransientError as error:
                if attempt == RETRIES_PER_POLL or time.monotonic() > deadline:
                    raise ApiError(str(error)) from None
                _progress(f"{error}; trying again")
                time.sleep(min(2.0**attempt, LONGEST_PAUSE_S))
        raise AssertionError("unreachable")

    def _send(
        self,
        method: str,
        path: str,
        body: BinaryIO | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The JSON answer to one request. Raises TransientError (no answer, or "try again
        later") or ApiError (any other refusal), with the server's message."""
        what = f"{method} {path.split('?')[0]}"
        url = urllib.parse.urlsplit(self.base_url)
        connect = (
            http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        )
        connection = connect(url.netloc, timeout=self.timeout_s, blocksize=1 << 16)
        try:
            # A refusal (a wrong key, an unknown ID) may come before the whole file is sent,
            # and the server then stops reading: its answer is still there to be read.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                connection.request(method, url.path + path, body, self._headers | (headers or {}))
            answer = connection.getresponse()
            status, text = answer.status, answer.read().decode("utf-8", errors="replace")
        except OSError as error:  # refused, reset, timed out, TLS
            raise TransientError(f"{what}: no answer ({error})") from None
        finally:
            connection.close()
        if status != 200:
            refusal = TransientError if status in TRANSIENT else ApiError
            raise refusal(f"{what}: {status} {_message(text) or answer.reason}")
        try:
            found: dict[str, Any] = json.loads(text)
        except ValueError:
            raise ApiError(f"{what}: the answer is not JSON: {text[:200]!r}") from None
        return found


def _message(text: str) -> str:
    """The server's own words: the `message` of a JSON error body, else its text."""
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:500]
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return text.strip()[:500]


def describe(report: dict[str, Any]) -> str:
    """The report as a few readable lines: status, counts, skipped data by reason, errors."""
    lines = [f"Import {report['importId']}: {report['importStatus']}"]
    lines += [f"  created   {report['createdAt']}", f"  completed {report.get('completedAt')}"]
    for error in report.get("errorsDetails") or []:
        lines.append(f"  error: {error['name']}: {error['description']}")
    detailed = report.get("detailedReport")
    if detailed:
        lines.append(f"Block type: {detailed['blockType']}")
        lines += [f"  {name:<8} {count:>12,}" for name, count in _counts(detailed["summary"])]
        lines += _skipped(detailed.get("impactedBlocks") or [])
        for created in detailed.get("autoCreatedDimensionModalities") or []:
            lines.append(f"Items created: {created['count']:,} in block {created['blockId']}")
    return "\n".join(lines)


def _counts(summary: dict[str, int]) -> list[tuple[str, int]]:
    names = ("inserted", "updated", "deleted", "skipped")
    return [(name, int(summary.get(f"{name}Count", 0))) for name in names]


def _skipped(blocks: list[dict[str, Any]]) -> list[str]:
    lines = []
    for block in blocks:
        for data in block.get("skippedData") or []:
            column = (
                f" in column {data['sourceColumnName']!r}" if data.get("sourceColumnName") else ""
            )
            samples = ", ".join(repr(sample) for sample in data.get("samples") or [])
            lines.append(f"  skipped {data['count']:,} × {data['reason']}{column}")
            if samples:
                lines.append(f"      such as {samples}")
    return ["Skipped data:", *lines] if lines else []


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _usage(message: str) -> NoReturn:
    print(f"usage error: {message}", file=sys.stderr)
    raise SystemExit(2)


if __name__ == "__main__":
    sys.exit(main())
