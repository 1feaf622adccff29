"""The Import API's answers to bad input, against a live `planport serve` on loopback: bodies
that are not CSV, empty or cut off, wrong content types and encodings, configuration IDs that
are no UUID, Looker payloads without their file, 10,000 columns, a line with no end.

Each is refused with the document's 400 ("Bad request or size limit exceeded") and a JSON
message saying what is wrong, and where when a line is to blame; none is a 500, and none
leaves a run in the database or a file under DATA_DIR/pushes. A good push still lands after
them all.
"""

from __future__ import annotations

import gzip
import http.client
import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from planport.store.db import Database
from planport.store.models import ImportRun
from tests.integration.test_cli import planport
from tests.integration.test_import_api_server import Live, finished_report
from tests.integration.test_import_api_server import live as live  # the fixture
from tests.pigment_schemas import validate

CSV = "/api/v1/import/push/csv?configurationId={id}"
LEGACY_CSV = "/api/import/push/csv?configurationId={id}"
LOOKER = "/api/v1/import/push/looker?configurationId={id}"
TEXT_CSV = {"Content-Type": "text/csv"}
JSON = {"Content-Type": "application/json"}
GZIP = {"Content-Type": "text/csv", "Content-Encoding": "gzip"}
WIDE = 10_000
ROW_LIMIT = 16 << 20  # the longest row the reader takes (engine.detection.BLOCK_SIZE)


@dataclass(frozen=True)
class BadPush:
    """One bad request: its body made from the demo's sample file, and words its answer's
    message must hold."""

    body: Callable[[bytes], bytes]
    says: tuple[str, ...]
    headers: dict[str, str] = field(default_factory=lambda: dict(TEXT_CSV))
    path: str = CSV


@dataclass(frozen=True)
class Sweep:
    live: Live
    db: Database
    sample: bytes  # the demo's monthly revenue file: a good push

    def send(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str, dict[str, Any]]:
        """(status, content type, JSON answer) of one POST with the key as Bearer."""
        connection = http.client.HTTPConnection("127.0.0.1", self.live.port, timeout=60)
        try:
            connection.request(
                "POST",
                path.format(id=self.live.configuration_id),
                body=body,
                headers={"Authorization": f"Bearer {self.live.key}", **headers},
            )
            answer = connection.getresponse()
            return answer.status, answer.getheader("content-type", ""), json.loads(answer.read())
        finally:
            connection.close()

    def refused(self, case: BadPush) -> str:
        """The message of the 400 that `case` gets, once checked that it left nothing."""
        runs, kept = self.runs(), self.kept()
        status, kind, answer = self.send(case.path, case.body(self.sample), case.headers)
        assert status == 400, answer
        assert kind == "application/json"
        assert answer["error"] == "Bad request"
        assert self.runs() == runs, "a refused push left a run"
        assert self.kept() == kept, "a refused push left a file"
        message: str = answer["message"]
        for words in case.says:
            assert words in message, message
        return message

    def accepted(self, path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        """The finished report of a push that must be taken."""
        status, _, started = self.send(path, body, headers)
        assert status == 200, started
        validate(started, "/api/v1/import/push/csv", "post")
        report = finished_report(self.live, started["importId"])
        validate(report, "/api/v1/import/{importId}/status")
        return report

    def runs(self) -> int:
        with self.db.read() as session:
            return session.scalar(select(func.count()).select_from(ImportRun)) or 0

    def run_ids(self) -> set[uuid.UUID]:
        with self.db.read() as session:
            return set(session.scalars(select(ImportRun.id)))

    def rows_read(self, run_id: str) -> int:
        with self.db.read() as session:
            run = session.get(ImportRun, uuid.UUID(run_id))
            assert run is not None
            return run.rows_read

    def kept(self) -> set[Path]:
        """Every file and folder under DATA_DIR/pushes (a refused push's folder too)."""
        pushes = self.live.data_dir / "pushes"
        return set(pushes.rglob("*")) if pushes.is_dir() else set()


@pytest.fixture(scope="module")
def sweep(live: Live) -> Iterator[Sweep]:
    db = Database(f"sqlite:///{live.data_dir / 'planport.db'}")
    try:
        yield Sweep(live, db, live.sample.read_bytes())
    finally:
        db.dispose()


# ------------------------------------------------------------------ bodies


def _lines(sample: bytes) -> int:
    return sample.count(b"\n")


def _cut_in_last_row(sample: bytes) -> bytes:
    """The sample stopped 9 characters into its last row."""
    return sample[: sample.rindex(b"\n", 0, len(sample) - 1) + 10]


def _wide(first: list[str]) -> bytes:
    header = first + [f"Extra {n}" for n in range(WIDE - len(first))]
    row = ["2027-01", "US", "P001", "1.5"][: len(first)] + ["x"] * (WIDE - len(first))
    return f"{','.join(header)}\n{','.join(row)}\n".encode()


def _multipart(sample: bytes) -> bytes:
    return (
        b'--cut\r\nContent-Disposition: form-data; name="file"; filename="revenue.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + sample + b"\r\n--cut--\r\n"
    )


def _looker(attachment: object) -> Callable[[bytes], bytes]:
    payload = {"scheduled_plan": {"title": "Monthly revenue"}, "attachment": attachment}
    return lambda _sample: json.dumps(payload).encode()


GARBAGE = random.Random(12).randbytes(4096)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(7).randbytes(600)
NOT_CSV = "not a CSV file"

NOT_CSV_BODIES = [
    pytest.param(BadPush(lambda _: GARBAGE, ("binary file", NOT_CSV)), id="binary-garbage"),
    pytest.param(BadPush(lambda _: PNG, ("a PNG image", NOT_CSV)), id="png-header"),
    pytest.param(
        BadPush(
            lambda s: s.decode().encode("utf-16-le"),
            ("UTF-16 LE text without a byte-order mark", "Choose UTF-16 LE"),
        ),
        id="utf16-le-without-bom",
    ),
    pytest.param(
        BadPush(lambda s: s.decode().encode("utf-16-be"), ("UTF-16 BE", "Choose UTF-16 BE")),
        id="utf16-be-without-bom",
    ),
    pytest.param(
        BadPush(
            _looker({"extension": "csv", "data": "Month,Revenue\n2027-01,1\n"}),
            ("looks like JSON", NOT_CSV),
        ),
        id="json-sent-as-text-csv",
    ),
    pytest.param(
        BadPush(
            lambda s: json.dumps([{"Month": "2027-01", "Revenue": 1.5}], indent=2).encode(),
            ("looks like JSON", NOT_CSV),
            path=LEGACY_CSV,
        ),
        id="json-array-on-the-legacy-path",
    ),
    pytest.param(BadPush(lambda _: b"", ("The body is empty",)), id="empty-body"),
    pytest.param(BadPush(lambda _: b"\n\r\n\n", ("The file has no rows",)), id="blank-lines"),
    pytest.param(
        BadPush(
            lambda _: _wide(["Region"]),
            ("The file has no column 'Month'", "The file has no column 'Revenue'"),
        ),
        id="10000-columns-none-mapped",
    ),
]


@pytest.mark.parametrize("case", NOT_CSV_BODIES)
def test_a_body_that_is_no_csv_file_is_told_what_it_looks_like(sweep: Sweep, case: BadPush) -> None:
    message = sweep.refused(case)
    assert len(message) < 1000  # 10,000 columns are never listed back


WRONG_REQUESTS = [
    pytest.param(
        BadPush(lambda s: s, ("'application/json' is not accepted", "text/csv"), dict(JSON)),
        id="csv-sent-as-application-json",
    ),
    pytest.param(
        BadPush(
            _multipart,
            ("'multipart/form-data' is not accepted", "raw body"),
            {"Content-Type": "multipart/form-data; boundary=cut"},
        ),
        id="multipart-form-data",
    ),
    pytest.param(
        BadPush(
            _multipart,
            ("'multipart/form-data' is not accepted",),
            {"Content-Type": "multipart/form-data; boundary=cut"},
            LOOKER,
        ),
        id="multipart-form-data-on-looker",
    ),
    pytest.param(BadPush(lambda s: s, ("Content-Type", "text/csv"), {}), id="no-content-type"),
    pytest.param(
        BadPush(
            lambda s: s,
            ("configurationId must be a UUID",),
            path="/api/v1/import/push/csv?configurationId=revenue-2027",
        ),
        id="configuration-id-not-a-uuid",
    ),
    pytest.param(
        BadPush(
            lambda s: s,
            ("configurationId must be a UUID",),
            path="/api/import/push/csv?configurationId={id}0",
        ),
        id="configuration-id-one-digit-too-long",
    ),
    pytest.param(
        BadPush(
            lambda s: s,
            ("configurationId is required",),
            path="/api/v1/import/push/csv",
        ),
        id="configuration-id-missing",
    ),
    pytest.param(
        BadPush(
            lambda s: s,
            ("configurationId is required",),
            path="/api/v1/import/push/csv?configurationId=",
        ),
        id="configuration-id-empty",
    ),
    pytest.param(
        BadPush(
            _looker({"extension": "csv", "data": "x"}),
            ("configurationId must be a UUID",),
            dict(JSON),
            "/api/v1/import/push/looker?configurationId=Monthly%20revenue",
        ),
        id="looker-configuration-id-not-a-uuid",
    ),
    pytest.param(
        BadPush(
            _looker({"extension": "csv", "data": "x"}),
            ("configurationId is required",),
            dict(JSON),
            "/api/v1/import/push/looker",
        ),
        id="looker-configuration-id-missing",
    ),
]


@pytest.mark.parametrize("case", WRONG_REQUESTS)
def test_a_wrong_content_type_or_configuration_id_is_named_in_the_answer(
    sweep: Sweep, case: BadPush
) -> None:
    sweep.refused(case)


def test_an_unknown_configuration_id_is_the_documents_404_and_leaves_nothing(
    sweep: Sweep,
) -> None:
    runs, kept = sweep.runs(), sweep.kept()
    path = f"/api/v1/import/push/csv?configurationId={uuid.UUID(int=12)}"
    status, kind, answer = sweep.send(path, sweep.sample, TEXT_CSV)
    assert (status, kind) == (404, "application/json")
    assert answer["message"] == "Import configuration with the specified ID was not found"
    assert (sweep.runs(), sweep.kept()) == (runs, kept)


LOOKER_PAYLOADS = [
    pytest.param(
        BadPush(
            lambda _: json.dumps({"scheduled_plan": {"title": "Monthly revenue"}}).encode(),
            ("no attachment with data", "Webhook destination with the CSV format"),
            dict(JSON),
            LOOKER,
        ),
        id="without-attachment",
    ),
    pytest.param(
        BadPush(
            _looker({"extension": "csv", "data": 2027}),
            ("attachment.data must be the CSV file's text", "not a number"),
            dict(JSON),
            LOOKER,
        ),
        id="data-a-number",
    ),
    pytest.param(
        BadPush(
            _looker({"extension": "csv", "data": ["Month", "Revenue"]}),
            ("attachment.data must be", "not an array"),
            dict(JSON),
            LOOKER,
        ),
        id="data-an-array",
    ),
    pytest.param(
        BadPush(
            _looker("Month,Revenue\n2027-01,1\n"),
            ("attachment must be an object", "not a string"),
            dict(JSON),
            LOOKER,
        ),
        id="attachment-a-string",
    ),
    pytest.param(
        BadPush(
            _looker({"extension": "xlsx", "data": "PK"}),
            ("'xlsx', not CSV",),
            dict(JSON),
            LOOKER,
        ),
        id="attachment-not-csv",
    ),
    pytest.param(
        BadPush(
            lambda _: b'{"attachment": {"extension": "csv", "data": "Month,Re',
            ("The body is not JSON", "line 1 column"),
            dict(JSON),
            LOOKER,
        ),
        id="invalid-json",
    ),
    pytest.param(
        BadPush(
            lambda _: b"[" * 100_000 + b"]" * 100_000,
            ("not a Looker payload", "nests too deep"),
            dict(JSON),
            LOOKER,
        ),
        id="json-nested-100000-deep",
    ),
    pytest.param(
        BadPush(
            lambda _: b"[]",
            ("not a Looker payload", "not an array"),
            dict(JSON),
            LOOKER,
        ),
        id="json-array",
    ),
    pytest.param(
        BadPush(
            lambda _: b'{"attachment": {"extension": "csv", "data": "Month,Revenue\\n\\ud800,1"}}',
            ("attachment.data is not valid Unicode text", "line 2"),
            dict(JSON),
            LOOKER,
        ),
        id="data-with-half-a-surrogate-pair",
    ),
    pytest.param(
        BadPush(
            _looker({"extension": "csv", "data": "Month,Country\n\x00\x01\x02\x03"}),
            ("binary data (NUL bytes)", "line 2"),
            dict(JSON),
            LOOKER,
        ),
        id="data-binary",
    ),
    pytest.param(
        BadPush(lambda _: GARBAGE, ("binary file",), path=LOOKER),
        id="raw-garbage-as-text-csv",
    ),
]


@pytest.mark.parametrize("case", LOOKER_PAYLOADS)
def test_a_looker_payload_without_its_csv_text_says_what_is_missing(
    sweep: Sweep, case: BadPush
) -> None:
    sweep.refused(case)


CUT_OFF_BODIES = [
    pytest.param(
        BadPush(_cut_in_last_row, ("The file ends in the middle of line", "looks cut off")),
        id="last-line-incomplete",
    ),
    pytest.param(
        BadPush(lambda s: s + b'2027-02,US,"P001', ("is never closed",)),
        id="quoted-field-open-at-the-end",
    ),
    pytest.param(
        BadPush(
            lambda s: json.dumps(
                {"attachment": {"extension": "csv", "data": _cut_in_last_row(s).decode()}}
            ).encode(),
            ("The file ends in the middle of line",),
            dict(JSON),
            LOOKER,
        ),
        id="looker-data-incomplete",
    ),
]


@pytest.mark.parametrize("case", CUT_OFF_BODIES)
def test_a_body_cut_off_inside_a_row_is_refused_naming_the_line(
    sweep: Sweep, case: BadPush
) -> None:
    message = sweep.refused(case)
    lines = _lines(sweep.sample)
    cut_line = lines + 1 if "never closed" in message else lines
    assert f"line {cut_line}" in message, message


GZIP_BODIES = [
    pytest.param(
        BadPush(lambda _: b"\x1f\x8b\x08\x00" + GARBAGE, ("not valid gzip",), dict(GZIP)),
        id="corrupt-gzip-stream",
    ),
    pytest.param(
        BadPush(lambda s: gzip.compress(s)[:-12], ("stops before its end",), dict(GZIP)),
        id="gzip-stream-cut-off",
    ),
    pytest.param(BadPush(lambda s: s, ("not valid gzip",), dict(GZIP)), id="plain-body-said-gzip"),
    pytest.param(
        BadPush(
            lambda s: gzip.compress(s) + b"trailing bytes",
            ("not valid gzip", "after the end of its gzip stream"),
            dict(GZIP),
        ),
        id="bytes-after-the-gzip-stream",
    ),
    pytest.param(
        BadPush(lambda s: gzip.compress(_cut_in_last_row(s)), ("looks cut off",), dict(GZIP)),
        id="gzip-of-a-cut-off-file",
    ),
    pytest.param(BadPush(lambda _: b"", ("The body is empty",), dict(GZIP)), id="empty-gzip"),
    pytest.param(
        BadPush(
            lambda s: s,
            ("Content-Encoding 'br' is not supported",),
            {**TEXT_CSV, "Content-Encoding": "br"},
        ),
        id="brotli",
    ),
]


@pytest.mark.parametrize("case", GZIP_BODIES)
def test_a_gzip_body_that_does_not_unpack_is_refused(sweep: Sweep, case: BadPush) -> None:
    sweep.refused(case)


LONG_LINES = [
    pytest.param(
        BadPush(
            lambda _: b"Month,Country,Product,Revenue" + b"x" * (20 << 20),
            ("Line 1 does not end within the first 256 KB", "one row per line"),
        ),
        id="20-mb-in-one-line",
    ),
    pytest.param(
        BadPush(
            lambda s: s + b"2027-02,US," + b"x" * (ROW_LIMIT + 1),
            ("is longer than 16 MB, the largest row Planport reads",),
        ),
        id="last-line-over-the-row-limit",
    ),
]


@pytest.mark.parametrize("case", LONG_LINES)
def test_a_line_longer_than_the_reader_takes_is_refused_at_the_push(
    sweep: Sweep, case: BadPush
) -> None:
    message = sweep.refused(case)
    assert len(message) < 400


def test_a_10000_column_body_with_the_mapped_columns_lands(sweep: Sweep) -> None:
    body = _wide(["Month", "Country", "Product", "Revenue"])
    report = sweep.accepted(CSV, body, TEXT_CSV)
    assert report["importStatus"] == "Completed", report
    assert sweep.rows_read(report["importId"]) == 1


def test_concatenated_gzip_members_land_whole(sweep: Sweep) -> None:
    sample = sweep.sample
    middle = sample.index(b"\n", len(sample) // 2) + 1
    body = gzip.compress(sample[:middle]) + gzip.compress(sample[middle:])
    report = sweep.accepted(CSV, body, GZIP)
    assert report["importStatus"] == "Completed", report
    assert sweep.rows_read(report["importId"]) == _lines(sample) - 1


def test_after_every_bad_input_a_good_push_still_lands_and_no_request_failed(
    sweep: Sweep,
) -> None:
    # Sent again here: with `pytest -n`, the tests above may have run on another server.
    before = sweep.run_ids()
    everything = [
        *NOT_CSV_BODIES, *WRONG_REQUESTS, *LOOKER_PAYLOADS, *CUT_OFF_BODIES, *GZIP_BODIES,
        *LONG_LINES,
    ]  # fmt: skip
    for param in everything:
        (case,) = param.values
        assert isinstance(case, BadPush)
        sweep.refused(case)

    report = sweep.accepted(CSV, sweep.sample, TEXT_CSV)

    assert report["importStatus"] == "Completed", report
    assert report["detailedReport"]["summary"]["skippedCount"] == 0
    assert sweep.run_ids() - before == {uuid.UUID(report["importId"])}
    listed = planport(
        "runs", "list", "--configuration", sweep.live.configuration_id, "--limit", "1",
        data_dir=sweep.live.data_dir,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert report["importId"] in listed.stdout
    log = sweep.live.log.read_text()
    assert "request failed" not in log
    assert "Traceback" not in log
