"""The file store on a real S3 endpoint (moto in server mode on loopback): files one machine
received are read by another, and a push received by a web process is imported by a Celery
worker on another "machine" — its own data directory — sharing only the database, the broker
and the bucket."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from planport.domain.errors import FileStoreUnavailable, NotFound
from planport.services.imports import pushes, uploads
from planport.services.imports.uploads import UploadOwner
from planport.settings import Settings
from planport.store.files import FileStore
from tests.servers import demo_with_import_key, free_port, json_call, wait_until_ready

AWS = {
    "AWS_ACCESS_KEY_ID": "planport-test",
    "AWS_SECRET_ACCESS_KEY": "planport-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
OWNER = UploadOwner(uuid.UUID(int=1), uuid.UUID(int=2))


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new bucket of this test's own; its URL with a prefix."""
    for name, value in AWS.items():
        monkeypatch.setenv(name, value)
    import s3fs

    name = f"planport-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint}).mkdir(name)
    return f"s3://{name}/files"


def machine(tmp_path: Path, name: str, bucket: str, endpoint: str, **extra: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / name,
        file_store_url=bucket,
        file_store_endpoint_url=endpoint,
        **extra,
    )


def test_an_upload_received_by_one_machine_is_read_by_another(
    tmp_path: Path, bucket: str, s3_endpoint: str
) -> None:
    web, other = (machine(tmp_path, n, bucket, s3_endpoint) for n in ("web", "other"))
    content = b"Code,Name\nFR,France\n" * 1000
    upload_id, path = uploads.new_upload(web, OWNER, "countries.csv", _writing(content))
    assert path.is_relative_to(web.data_dir)

    found = uploads.uploaded_file(other, upload_id, OWNER)

    assert found.is_relative_to(other.data_dir.resolve())
    assert found.name == "countries.csv"
    assert found.read_bytes() == content
    with pytest.raises(NotFound):  # bound to its uploader and block, on every machine
        uploads.uploaded_file(other, upload_id, UploadOwner(uuid.UUID(int=9), OWNER.block_id))


def test_a_discarded_upload_is_gone_from_the_bucket_too(
    tmp_path: Path, bucket: str, s3_endpoint: str
) -> None:
    web, other = (machine(tmp_path, n, bucket, s3_endpoint) for n in ("web", "other"))
    upload_id, path = uploads.new_upload(web, OWNER, "a.csv", _writing(b"Code\nA\n"))

    uploads.discard(web, path)

    assert not path.exists()
    with pytest.raises(NotFound):
        uploads.uploaded_file(other, upload_id, OWNER)


def test_an_empty_upload_is_refused_and_leaves_nothing_in_the_bucket(
    tmp_path: Path, bucket: str, s3_endpoint: str
) -> None:
    web = machine(tmp_path, "web", bucket, s3_endpoint)
    with pytest.raises(Exception, match="is empty"):
        uploads.new_upload(web, OWNER, "empty.csv", _writing(b""))
    assert FileStore.of(web).first_under("uploads") is None


def test_files_past_the_retention_are_swept_from_the_bucket(
    tmp_path: Path, bucket: str, s3_endpoint: str
) -> None:
    web = machine(tmp_path, "web", bucket, s3_endpoint)
    other = machine(tmp_path, "other", bucket, s3_endpoint)
    old_id, _ = uploads.new_upload(web, OWNER, "old.csv", _writing(b"Code\nA\n"))
    time.sleep(1.1)  # S3 keeps modification times to the second

    # A machine that never held the file sweeps the bucket: one hour of retention keeps it,
    # none removes it.
    assert FileStore.of(other).sweep("uploads", 3600) == 0
    assert FileStore.of(machine(tmp_path, "third", bucket, s3_endpoint)).sweep("uploads", 1) == 1

    with pytest.raises(NotFound):
        uploads.uploaded_file(other, old_id, OWNER)


def test_an_unreachable_bucket_refuses_the_upload_with_a_clear_message_and_no_secret(
    tmp_path: Path, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    web = machine(tmp_path, "web", bucket, closed)
    with pytest.raises(FileStoreUnavailable) as refused:
        uploads.new_upload(web, OWNER, "a.csv", _writing(b"Code\nA\n"))
    message = refused.value.message
    assert bucket in message
    assert "PLANPORT_FILE_STORE_URL" in message
    assert AWS["AWS_SECRET_ACCESS_KEY"] not in message
    assert not (web.data_dir / "uploads").exists() or not any((web.data_dir / "uploads").iterdir())


def test_a_file_store_url_that_is_no_bucket_stops_the_start_up_naming_the_variable() -> None:
    with pytest.raises(ValueError, match="file_store_url"):
        Settings(file_store_url="/srv/planport-files")


def test_without_a_bucket_pushes_stay_in_the_data_directory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    path = pushes.new_push_file(settings, "sales.csv")
    path.write_bytes(b"Code\nA\n")
    files = FileStore.of(settings)
    assert not files.remote
    assert files.local(files.key_of(path)) == path.resolve()
    pushes.discard(settings, path)
    assert not path.parent.exists()


# ------------------------------------------------------------------ two machines, live


def test_a_push_to_the_web_process_is_imported_by_a_worker_with_another_data_directory(
    tmp_path: Path,
    bucket: str,
    s3_endpoint: str,
    pg_url: str,
    broker_url: str,
) -> None:
    web_dir, worker_dir = tmp_path / "web", tmp_path / "worker"
    shared = {
        "PLANPORT_DATABASE_URL": pg_url,
        "PLANPORT_EXECUTOR": "celery",
        "PLANPORT_CELERY_BROKER_URL": broker_url,
        "PLANPORT_CELERY_QUEUE": f"planport-test-{uuid.uuid4().hex[:10]}",
        "PLANPORT_FILE_STORE_URL": bucket,
        "PLANPORT_FILE_STORE_ENDPOINT_URL": s3_endpoint,
        "PLANPORT_LOG_LEVEL": "info",
        **AWS,
    }
    configuration_id, sample, key = demo_with_import_key(web_dir, shared)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PLANPORT_")}
    environment |= shared
    port = free_port()

    with ExitStack() as stack:
        web = stack.enter_context(
            _process(
                ["serve", "--no-worker", "--no-scheduler"],
                {**environment, "PLANPORT_DATA_DIR": str(web_dir), "PLANPORT_PORT": str(port)},
                web_dir / "serve.log",
            )
        )
        wait_until_ready(web, f"http://127.0.0.1:{port}", web_dir / "serve.log")
        worker_dir.mkdir()
        stack.enter_context(
            _process(
                ["worker", "--concurrency", "1"],
                {**environment, "PLANPORT_DATA_DIR": str(worker_dir)},
                worker_dir / "worker.log",
            )
        )
        content = sample.read_bytes()
        status, answer = json_call(
            port,
            "POST",
            f"/api/v1/import/push/csv?configurationId={configuration_id}",
            content,
            {"Authorization": f"Bearer {key}", "Content-Type": "text/csv"},
        )
        assert status == 200, answer
        report = _finished(port, key, answer["importId"], worker_dir / "worker.log")

    assert report["importStatus"] == "Completed", report
    summary = report["detailedReport"]["summary"]
    assert summary["insertedCount"] + summary["updatedCount"] > 0, summary
    # The worker read the bucket's copy into its own data directory: it never saw the web's.
    taken = list((worker_dir / "pushes").glob("*/*"))
    assert [p.read_bytes() for p in taken] == [content]
    assert [p.read_bytes() for p in (web_dir / "pushes").glob("*/*")] == [content]
    log = (web_dir / "serve.log").read_text() + (worker_dir / "worker.log").read_text()
    assert AWS["AWS_SECRET_ACCESS_KEY"] not in log
    assert key not in log


# ------------------------------------------------------------------ helpers


def _writing(content: bytes) -> Any:
    def write(path: Path) -> int:
        path.write_bytes(content)
        return len(content)

    return write


class _process:
    """A `planport` process in its own group, stopped (and waited for) on exit."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log

    def __enter__(self) -> subprocess.Popen[bytes]:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "planport", *self.args],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.log.parent,
                start_new_session=True,
            )
        return self.process

    def __exit__(self, *_exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def _finished(port: int, key: str, run_id: str, worker_log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status, report = json_call(
            port,
            "GET",
            f"/api/v1/import/{run_id}/status?includedDetailedReport=true",
            None,
            {"Authorization": f"Bearer {key}"},
        )
        assert status == 200, report
        if report["importStatus"] != "InProgress":
            return report
        time.sleep(0.2)
    pytest.fail(f"run {run_id} did not finish:\n{worker_log.read_text()[-4000:]}")
