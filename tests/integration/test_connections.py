"""Connections against a real S3 endpoint (moto in server mode on loopback): created with
their secrets sealed, tested with the cause in words, shown without a secret, refused with the
field to fix; and the same through `planport connection`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from planport.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from planport.domain.members import Actor
from planport.services.blocks import applications
from planport.services.workspace import connections
from planport.services.workspace.connections import CONNECTION_OK, ConnectionSpec
from planport.services.workspace.secret_box import SecretUnreadable
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import Connection
from tests.integration.test_cli import planport
from tests.integration.test_file_store import s3_endpoint as s3_endpoint  # the fixture
from tests.servers import free_port

SECRET = "s3cr3t-" + uuid.uuid4().hex  # searched for in everything Planport writes


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    import botocore.session

    name = f"conn-{uuid.uuid4().hex[:12]}"
    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key=SECRET,
    )
    client.create_bucket(Bucket=name)
    client.close()
    return name


@pytest.fixture
def settings(tmp_path: Path, db: Database) -> Settings:
    return Settings(data_dir=tmp_path, database_url=db.url, secret_key="k" * 40)  # type: ignore[arg-type]


def s3_spec(endpoint: str, bucket: str, name: str = "Finance drop", **extra: str) -> ConnectionSpec:
    return ConnectionSpec(
        name=name,
        kind="s3",
        settings={"bucket": bucket, "endpoint_url": endpoint, "path_style": "yes", **extra},
        secrets={"access_key_id": "AKIDTEST", "secret_access_key": SECRET},
    )


def test_a_connection_keeps_its_secrets_sealed_and_tests_successful(
    db: Database, settings: Settings, admin: Actor, s3_endpoint: str, bucket: str
) -> None:
    app = applications.create_application(db, admin, "FP&A")
    spec = s3_spec(s3_endpoint, bucket)
    created = connections.create_connection(
        db, settings, replace(spec, applications=["fp&a"]), by=admin
    )

    assert created.applications == (app.name,)
    assert created.secrets_set == ("access_key_id", "secret_access_key")
    assert created.settings == {"bucket": bucket, "endpoint_url": s3_endpoint, "path_style": "true"}
    with db.read() as session:
        stored = session.scalars(select(Connection)).one()
    assert SECRET not in stored.secrets
    assert SECRET not in stored.settings
    assert SECRET not in repr(created)

    tested = connections.check_connection(db, settings, "finance DROP", by=admin)
    assert (tested.test_ok, tested.test_message) == (True, CONNECTION_OK)
    assert tested.tested_at is not None
    assert connections.list_connections(db, by=admin)[0].test_ok is True


def test_a_missing_bucket_is_named_and_the_failure_recorded(
    db: Database, settings: Settings, admin: Actor, s3_endpoint: str
) -> None:
    connections.create_connection(db, settings, s3_spec(s3_endpoint, "no-such-bucket"), by=admin)

    tested = connections.check_connection(db, settings, "Finance drop", by=admin)

    assert tested.test_ok is False
    assert tested.test_message == (
        "The bucket 'no-such-bucket' does not exist (check its name and the region)."
    )
    assert connections.get_connection(db, "Finance drop", by=admin).test_ok is False


def test_an_endpoint_nobody_answers_is_unreachable_within_the_time_limit(
    db: Database, settings: Settings, admin: Actor
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    connections.create_connection(db, settings, s3_spec(nowhere, "some-bucket"), by=admin)

    started = time.monotonic()
    tested = connections.check_connection(db, settings, "Finance drop", by=admin, time_limit_s=3)

    assert time.monotonic() - started < 15
    assert tested.test_ok is False
    assert tested.test_message is not None
    assert tested.test_message.startswith(f"The storage server at {nowhere} cannot be reached")


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"settings": {"bucket": "b-1", "colour": "red"}}, "colour", "no setting 'colour'"),
        (
            {"settings": {"bucket": "b-1", "secret_access_key": SECRET}},
            "secret_access_key",
            "is a secret",
        ),
        ({"settings": {}}, "bucket", "bucket is required"),
        ({"settings": {"bucket": "b/reports"}}, "bucket", "a bucket's name alone"),
        (
            {"settings": {"bucket": "b-1", "endpoint_url": "ftp://x"}},
            "endpoint_url",
            "http(s) address",
        ),
        ({"secrets": {"access_key_id": "AKID"}}, "secret_access_key", "is required"),
        ({"kind": "ftp"}, "type", "not a connection type: use s3"),
    ],
)
def test_a_wrong_field_is_named_and_nothing_is_created(
    db: Database,
    settings: Settings,
    admin: Actor,
    change: dict[str, object],
    field: str,
    says: str,
) -> None:
    base = s3_spec("https://s3.example.com", "b-1")
    with pytest.raises(Invalid) as refused:
        connections.create_connection(db, settings, replace(base, **change), by=admin)

    assert refused.value.field == field
    assert says in refused.value.message
    assert SECRET not in refused.value.message
    assert connections.list_connections(db, by=admin) == []


def test_names_are_unique_applications_must_exist_and_only_admins_manage(
    db: Database, settings: Settings, admin: Actor, member: Actor
) -> None:
    spec = s3_spec("https://s3.example.com", "b-1")
    connections.create_connection(db, settings, spec, by=admin)
    with pytest.raises(Conflict, match="already exists"):
        connections.create_connection(
            db, settings, s3_spec("https://x.example", "b-2", name="FINANCE drop"), by=admin
        )
    other = replace(spec, name="Other", applications=["Nope"])
    with pytest.raises(NotFound, match="no application 'Nope'"):
        connections.create_connection(db, settings, other, by=admin)
    with pytest.raises(PermissionDenied):
        connections.list_connections(db, by=member)
    assert [c.name for c in connections.list_connections(db, by=admin)] == ["Finance drop"]

    assert connections.delete_connection(db, "finance drop", by=admin) == "Finance drop"
    with pytest.raises(NotFound, match="no connection"):
        connections.get_connection(db, "Finance drop", by=admin)


def test_secrets_sealed_under_another_key_say_so(
    db: Database, settings: Settings, admin: Actor, tmp_path: Path
) -> None:
    connections.create_connection(db, settings, s3_spec("https://s3.example.com", "b-1"), by=admin)
    moved = settings.model_copy(update={"secret_key": None, "data_dir": tmp_path / "other"})

    with pytest.raises(SecretUnreadable, match="PLANPORT_SECRET_KEY differs"):
        connections.check_connection(db, moved, "Finance drop", by=admin)


# ---------------------------------------------------------------- the command line


@pytest.fixture
def cli_env(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    data_dir = tmp_path / "data"
    env = {"PLANPORT_SECRET_KEY": "k" * 40}
    assert planport("db", "upgrade", data_dir=data_dir, env=env).returncode == 0
    return data_dir, env


def test_the_command_line_creates_tests_shows_and_deletes_without_printing_a_secret(
    cli_env: tuple[Path, dict[str, str]], s3_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    data_dir, env = cli_env
    key_file = tmp_path / "key-id"
    key_file.write_text("AKIDTEST\n")
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PLANPORT_")},
        "PLANPORT_DATA_DIR": str(data_dir),
        "PLANPORT_LOG_LEVEL": "warning",
        **env,
    }
    created = subprocess.run(
        [
            *(sys.executable, "-m", "planport", "connection", "create", "--type", "s3"),
            *(
                "--name",
                "Drop",
                "--set",
                f"bucket={bucket}",
                "--set",
                f"endpoint_url={s3_endpoint}",
            ),
            *("--set", "path_style=true", "--secret", f"access_key_id=@{key_file}"),
            *("--secret", "secret_access_key=-"),
        ],
        input=SECRET + "\n",
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert "S3-compatible storage connection 'Drop'" in created.stdout

    shown = planport("connection", "show", "Drop", data_dir=data_dir, env=env)
    assert "secret_access_key: (set)" in shown.stdout
    assert f"bucket: {bucket}" in shown.stdout

    tested = planport("connection", "test", "Drop", data_dir=data_dir, env=env)
    assert tested.returncode == 0, tested.stderr
    assert "Drop: Connection successful." in tested.stdout

    listed = planport("connection", "list", data_dir=data_dir, env=env)
    assert "Drop\ts3\t-\t" in listed.stdout
    assert listed.stdout.rstrip().endswith(" ok")

    outputs = [created, shown, tested, listed]
    assert all(SECRET not in r.stdout + r.stderr for r in outputs)

    deleted = planport("connection", "delete", "Drop", data_dir=data_dir, env=env)
    assert "Connection 'Drop' deleted" in deleted.stdout
    gone = planport("connection", "test", "Drop", data_dir=data_dir, env=env)
    assert gone.returncode == 1
    assert "There is no connection 'Drop'" in gone.stderr


def test_the_command_line_exits_1_with_the_cause_of_a_failed_test(
    cli_env: tuple[Path, dict[str, str]], s3_endpoint: str
) -> None:
    data_dir, env = cli_env
    made = planport(
        "connection",
        "create",
        "--type",
        "s3",
        "--name",
        "Drop",
        "--set",
        "bucket=gone-bucket",
        "--set",
        f"endpoint_url={s3_endpoint}",
        "--set",
        "path_style=true",
        "--secret",
        "access_key_id=AKIDTEST",
        "--secret",
        f"secret_access_key={SECRET}",
        data_dir=data_dir,
        env=env,
    )
    assert made.returncode == 0, made.stderr

    tested = planport("connection", "test", "Drop", data_dir=data_dir, env=env)

    assert tested.returncode == 1
    assert "Drop: The bucket 'gone-bucket' does not exist" in tested.stderr
    assert "Traceback" not in tested.stderr
    assert SECRET not in tested.stderr + tested.stdout
    bad = planport(
        "connection",
        "create",
        "--type",
        "s3",
        "--name",
        "X",
        "--set",
        "colour",
        data_dir=data_dir,
        env=env,
    )
    assert bad.returncode == 1
    assert "--set takes KEY=VALUE, not 'colour'." in bad.stderr


# ---------------------------------------------------------------- an S3 server that checks keys

POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", '
    '"Resource": ["arn:aws:s3:::team-bucket", "arn:aws:s3:::team-bucket/*"]}]}'
)


@pytest.fixture(scope="module")
def checking_s3() -> Iterator[tuple[str, str, str]]:
    """A moto server of its own that checks every request's key and policy once its first
    four requests (the set-up below) are through: (endpoint, access key ID, secret) of a user
    who may use the bucket team-bucket only."""
    import botocore.session

    port = free_port()
    environment = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "4"}
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "moto server did not start"
                time.sleep(0.1)

        def client(service: str) -> Any:
            return botocore.session.get_session().create_client(
                service,
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="AKIDSETUP",
                aws_secret_access_key="setup",
            )

        iam = client("iam")
        iam.create_user(UserName="planport")
        key = iam.create_access_key(UserName="planport")["AccessKey"]
        iam.put_user_policy(UserName="planport", PolicyName="read", PolicyDocument=POLICY)
        client("s3").create_bucket(Bucket="team-bucket")
        yield endpoint, key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        server.terminate()
        server.wait(30)


@pytest.mark.parametrize(
    ("bucket", "key_id", "secret", "answer"),
    [
        ("team-bucket", None, None, CONNECTION_OK),
        (
            "team-bucket",
            None,
            "not-the-secret",
            "Authentication failed: the secret access key is wrong.",
        ),
        (
            "team-bucket",
            "AKIDUNKNOWN",
            None,
            "Authentication failed: the access key ID is not known to the server.",
        ),
        (
            "finance-bucket",
            None,
            None,
            "Access denied to the bucket 'finance-bucket': give the access key s3:ListBucket "
            "on the bucket and s3:GetObject on its objects.",
        ),
    ],
)
def test_keys_the_server_refuses_are_told_apart(
    db: Database,
    settings: Settings,
    admin: Actor,
    checking_s3: tuple[str, str, str],
    bucket: str,
    key_id: str | None,
    secret: str | None,
    answer: str,
) -> None:
    endpoint, real_id, real_secret = checking_s3
    spec = ConnectionSpec(
        name="Team",
        kind="s3",
        settings={"bucket": bucket, "endpoint_url": endpoint, "path_style": "true"},
        secrets={
            "access_key_id": key_id or real_id,
            "secret_access_key": secret or real_secret,
        },
    )
    connections.create_connection(db, settings, spec, by=admin)

    tested = connections.check_connection(db, settings, "Team", by=admin)

    assert tested.test_message == answer
    assert tested.test_ok is (answer == CONNECTION_OK)
    assert real_secret not in (tested.test_message or "")
