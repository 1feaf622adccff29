"""The run queue on both databases: claims, heartbeats and the sweeper, retries, cancels, the
owner's rights at execution time, run again, and the configuration's Failed flag."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from planport.connectors import Fetched, SourceUnavailable
from planport.connectors.folder import FolderConnector
from planport.domain.blocks import BlockDef
from planport.domain.clock import utc_now
from planport.domain.enums import BlockKind, PropertyType
from planport.domain.errors import Invalid
from planport.domain.file_settings import FileSettings
from planport.domain.imports import RunStatus, Trigger
from planport.domain.mapping import CODE, NAME, Mapping
from planport.domain.members import Actor
from planport.execution.sweeper import sweep
from planport.execution.threads import ThreadExecutor
from planport.services import blocks
from planport.services.blocks import items
from planport.services.blocks.applications import ApplicationView
from planport.services.imports import configurations, runs
from planport.settings import Settings
from planport.store.db import Database
from planport.store.models import ImportConfiguration, ImportRun
from tests.integration.builders import grant, grid
from tests.integration.import_builders import field, mapping, write_csv

Progress = Callable[[int], None]


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    """Short heartbeats so that lost runs are found in a test's time; no real backoff."""
    return Settings(
        data_dir=tmp_path,
        database_url=db.url,
        heartbeat_seconds=0.2,
        worker_lost_after_seconds=2.0,
        run_poll_seconds=0.2,
        run_retries=2,
        retry_backoff_seconds=30.0,
    )


@pytest.fixture
def country(db: Database, admin: Actor, app: ApplicationView) -> BlockDef:
    created = blocks.create_list(db, admin, app.id, BlockKind.DIMENSION_LIST, "Country")
    blocks.add_property(db, admin, created.id, "Region", PropertyType.TEXT)
    items.write_items(db, admin, created.id, [{"Code": "FR", "Name": "France", "Region": "EMEA"}])
    return blocks.get_block(db, admin, created.id)


@pytest.fixture
def chosen(country: BlockDef) -> Mapping:
    region = next(p.id for p in country.properties if p.name == "Region")
    return mapping(field(CODE, "Code"), field(NAME, "Name"), field(region, "Region"))


@pytest.fixture
def countries(tmp_path: Path) -> Path:
    rows = [[f"C{i:05}", f"Country {i}", "EMEA"] for i in range(2000)]
    return write_csv(tmp_path / "countries.csv", ["Code", "Name", "Region"], rows)


def start(
    db: Database, actor: Actor, block: BlockDef, path: Path, chosen: Mapping, **kw: object
) -> uuid.UUID:
    return runs.start_import(db, actor, block.id, path, FileSettings(), chosen, **kw)  # type: ignore[arg-type]


def row(db: Database, run_id: uuid.UUID) -> ImportRun:
    with db.read() as session:
        found = session.get(ImportRun, run_id)
        assert found is not None
        return found


def claim_and_execute(
    db: Database, run_id: uuid.UUID, settings: Settings, on_progress: Progress | None = None
) -> runs.RunView:
    worker = f"test:{uuid.uuid4().hex[:6]}"
    assert runs.claim_run(db, run_id, worker)
    return runs.execute_run(db, run_id, worker, on_progress, settings=settings)


def save_configuration(db: Database, admin: Actor, block: BlockDef, chosen: Mapping) -> uuid.UUID:
    saved = configurations.save_configuration(
        db, admin, block.id, f"Countries {uuid.uuid4().hex[:6]}", FileSettings(), chosen
    )
    return saved.id


# ---------------------------------------------------------------- claiming


def test_each_queued_run_is_claimed_exactly_once_by_concurrent_claimers(
    db: Database, admin: Actor, country: BlockDef, chosen: Mapping, countries: Path
) -> None:
    queued = {start(db, admin, country, countries, chosen) for _ in range(8)}
    claimed: list[uuid.UUID] = []
    lock = threading.Lock()

    def claimer(number: int) -> None:
        while (run_id := runs.claim_next(db, f"claimer-{number}")) is not None:
            with lock:
                claimed.append(run_id)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(claimed) == sorted(queued)
    assert {row(db, r).status for r in queued} == {RunStatus.RUNNING.value}
    assert not runs.claim_run(db, claimed[0], "latecomer"), "a claimed run is never claimed again"


def test_a_second_run_of_a_configuration_waits_until_the_first_one_finished(
    db: Database,
    admin: Actor,
    country: BlockDef,
    chosen: Mapping,
    countries: Path,
    settings: Settings,
) -> None:
    configuration_id = save_configuration(db, admin, country, chosen)
    first = start(db, admin, country, countries, chosen, configuration_id=configuration_id)
    second = start(db, admin, country, countries, chosen, configuration_id=configuration_id)

    assert runs.claim_next(db, "one") == first
    assert runs.claim_next(db, "two") is None, "never two runs of one configuration at once"
    assert not runs.claim_run(db, second, "two")
    runs.execute_run(db, first, "one", settings=settings)
    assert runs.follow_ups(db, first) == [(second, None)]
    assert runs.claim_next(db, "two") == second


# ---------------------------------------------------------------- lost runs and retries


def test_a_run_whose_heartbeat_stopped_is_failed_as_worker_lost_then_retried_with_backoff(
    db: Database,
    admin: Actor,
    country: BlockDef,
    chosen: Mapping,
    countries: Path,
    settings: Settings,
) -> None:
    before = grid(db, admin, country.id)
    run_id = start(db, admin, country, countries, chosen)
    assert runs.claim_run(db, run_id, "host:1:gone")  # and the worker dies: no heartbeat
    now = utc_now()

    assert sweep(db, now, settings=settings).lost == [], "a fresh heartbeat is not stale"
    later = now + timedelta(seconds=60)
    report = sweep(db, later, settings=settings)
    assert report.lost == [run_id]
    assert sweep(db, later, settings=settings).lost == [], "sweeping again changes nothing"

    lost = runs.get_run(db, admin, run_id)
    assert lost.status is RunStatus.FAILED
    assert [e.name for e in lost.errors] == ["WorkerLost"]
    assert "The worker running this import stopped" in lost.errors[0].description
    assert "host:1:gone" in lost.errors[0].description
    assert grid(db, admin, country.id) == before

    [retry_id] = report.retries
    retry = row(db, retry_id)
    assert (retry.attempt, retry.retry_of, retry.trigger) == (2, run_id, Trigger.MANUAL.value)
    assert retry.source == row(db, run_id).source
    assert retry.not_before == later + timedelta(seconds=30)
    assert runs.claim_next(db, "early", now=later) is None, "a retry waits for its backoff"

    assert runs.claim_run(db, retry_id, "host:2:gone", now=retry.not_before)
    report = sweep(db, later + timedelta(seconds=120), settings=settings)
    [third] = report.retries
    assert row(db, third).attempt == 3
    assert row(db, third).not_before == later + timedelta(seconds=120 + 60), "backoff doubles"

    assert runs.claim_run(db, third, "host:3:gone", now=later + timedelta(seconds=180))
    report = sweep(db, later + timedelta(seconds=300), settings=settings)
    assert report.lost == [third]
    assert report.retries == [], "two retries, then the run stays failed"


def test_a_worker_that_lost_its_run_finishes_nothing(
    db: Database,
    admin: Actor,
    country: BlockDef,
    chosen: Mapping,
    countries: Path,
    settings: Settings,
) -> None:
    before = grid(db, admin, country.id)
    run_id = start(db, admin, country, countries, chosen)
    assert runs.claim_run(db, run_id, "slow")
    sweep(db, utc_now() + timedelta(minutes=5), settings=settings)  # taken from "slow"

    seen = runs.execute_run(db, run_id, "slow", settings=settings)
    assert seen.status is RunStatus.FAILED
    assert [e.name for e in seen.errors] == ["WorkerLost"]
    assert grid(db, admin, country.id) == before


# PostgreSQL only: on SQLite the import holds the only write lock, so no sweeper can fail it
# meanwhile (the SIGKILL test covers a lost worker end to end).
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_run_lost_in_the_middle_of_its_import_leaves_the_block_unchanged(
    db: Database,
    admin: Actor,
    country: BlockDef,
    chosen: Mapping,
    countries: Path,
    settings: Settings,
) -> None:
    before = grid(db, admin, country.id)
    run_id = start(db, admin, country, countries, chosen)

    def taken_over(_rows: int) -> None:
        sweep(db, utc_now() + timedelta(minutes=5), settings=settings)

    view = claim_and_execute(db, run_id, settings, taken_over)
    assert view.status is RunStatus.FAILED
    assert [e.name for e in view.errors] == ["WorkerLost"]
    assert grid(db, admin, country.id) == before


def test_a_data_error_is_not_retried(
    db: Database,
    admin: Actor,
    country: BlockDef,
    chosen: Mapping,
    tmp_path: Path,
    settings: Settings,
) -> None:
    wrong = write_csv(tmp_path / "wrong.csv", ["Id", "Label"], [["FR", "France"]])
    run_id = start(db, admin, country, wrong, chosen)
    view = claim_and_execute(db, run_id, settings)
    assert view.status is RunStatus.FAILED
    assert [e.name for e in view.errors] == ["FileDoesNotMatch"]
    with db.read() as session:
        assert session.scalar(select(ImportRun.id).where(ImportRun.retry_of == run_id)) is None


def test_a_given_file_that_is_gone_fails_without_retry(
    db: Database,
    admin: Actor,
    country: BlockDef,
    chosen: Mapping,
    countries: Path,
    settings: Settings,
) -> None:
    run_id = start(db, admin, country, countries, chosen)
    countries.unlink()
    view = claim_and_execute(db, run_id, settings)
    assert [e.name for e in view.errors] == ["FileUnreadable"]
    assert "no longer available" in view.errors[0].description
    assert runs.follow_ups(db, run_id) == []


# ---------------------------------------------------------------- cancelling


def test_cancelling_a_queued_run_finishes_it_before_it_starts(
    db: Database, admin: Actor, country: BlockDef, chosen: Mapping, countries: Path
) -> None:
    run_id = start(db, admin, country, countries, chosen)
    cancelled = runs.cancel_run(db, admin, run_id)
    assert cancelled.status is RunStatus.CANCELLED
    assert cancelled.status.finished
    assert runs.claim_next(db, "anyone") is None


def test_cancelling_a_running_run_stops_it_and_leaves_the_block_unchanged(
    db: Database,
    admin: Actor,
    country: BlockDef,
    chosen: Mapping,
    countries: Path,
    settings: Settings,
) -> None:
    before = grid(db, admin, country.id)
    run_id = start(db, admin, country, countries, chosen)
    cancelling: list[threading.Thread] = []

    def cancel_once(_rows: int) -> None:
        # As the run's page would, from another thread, while the import runs.
        if not cancelling:
            cancelling.append(threading.Thread(target=runs.cancel_run, args=(db, admin, run_id)))
            cancelling[0].start()
            time.sleep(0.5)

    view = claim_and_execute(db, run_id, settings, cancel_once)
    cancelling[0].join(timeout=30)
    assert view.status is RunStatus.CANCELLED
    assert grid(db, admin, country.id) == before


# ---------------------------------------------------------------- rights, run again, flags


def test_a_scheduled_run_whose_owner_lost_import_data_fails_with_owner_lacks_access(
    db: Database,
    admin: Actor,
    app: ApplicationView,
    country: BlockDef,
    chosen: Mapping,
    countries: Path,
    member_as: Callable[[str], Actor],
    settings: Settings,
) -> None:
    owner = member_as("Contributor")
    run_id = start(db, owner, country, countries, chosen, trigger=Trigger.SCHEDULE)
    grant(db, admin, app.id, owner.email, "Reader")  # the owner's role changes before it runs

    view = claim_and_execute(db, run_id, settings)
    assert view.status is RunStatus.FAILED
    [problem] = view.errors
    assert problem.name == "OwnerLacksAccess"
    assert owner.email in problem.description
    assert "Import Data" in problem.description


def test_run_again_queues_the_same_file_settings_and_mapping(
    db: Database,
    admin: Actor,
    country: BlockDef,
    chosen: Mapping,
    countries: Path,
    settings: Settings,
) -> None:
    first = claim_and_execute(db, start(db, admin, country, countries, chosen), settings)
    again = runs.run_again(db, admin, first.id)
    queued = runs.get_run(db, admin, again)
    assert (queued.status, queued.trigger) == (RunStatus.QUEUED, Trigger.RUN_AGAIN)
    assert (queued.mapping, queued.file_settings) == (first.mapping, first.file_settings)
    assert row(db, again).source == row(db, first.id).source
    assert claim_and_execute(db, again, settings).status is RunStatus.COMPLETED

    countries.unlink()
    with pytest.raises(Invalid, match="no longer available"):
        runs.run_again(db, admin, first.id)


def test_the_configuration_failed_flag_shows_until_a_later_run_completes(
    db: Database,
    admin: Actor,
    country: BlockDef,
    chosen: Mapping,
    countries: Path,
    tmp_path: Path,
    settings: Settings,
) -> None:
    configuration_id = save_configuration(db, admin, country, chosen)
    wrong = write_csv(tmp_path / "wrong.csv", ["Id"], [["FR"]])

    def run_with(path: Path) -> ImportConfiguration:
        run_id = start(db, admin, country, path, chosen, configuration_id=configuration_id)
        claim_and_execute(db, run_id, settings)
        with db.read() as session:
            found = session.get(ImportConfiguration, configuration_id)
            assert found is not None
            return found

    assert run_with(wrong).last_run_status == "failed"
    assert run_with(wrong).last_run_status == "failed"
    # The failure streak alerts fold is the alert policy's (scheduled runs only): a run by
    # hand shows its outcome to whoever started it (tests/integration/test_alerting.py).
    assert run_with(countries).last_run_status == "completed"


def test_a_configuration_fed_by_uploads_cannot_start_without_a_file(
    db: Database, admin: Actor, country: BlockDef, chosen: Mapping
) -> None:
    configuration_id = save_configuration(db, admin, country, chosen)
    with pytest.raises(Exception, match="Run with a new file"):
        runs.start_configuration_run(db, admin, configuration_id)


# ---------------------------------------------------------------- the thread executor


def test_the_thread_executor_starts_a_submitted_run_and_one_queued_elsewhere(
    db: Database,
    admin: Actor,
    country: BlockDef,
    chosen: Mapping,
    countries: Path,
    settings: Settings,
) -> None:
    executor = ThreadExecutor(db, settings, threads=2)
    executor.start()
    try:
        submitted = start(db, admin, country, countries, chosen)
        executor.submit(submitted)
        elsewhere = start(db, admin, country, countries, chosen)  # found by the poll
        for run_id in (submitted, elsewhere):
            assert wait_finished(db, admin, run_id).status is RunStatus.COMPLETED
    finally:
        executor.stop()


def wait_finished(db: Database, actor: Actor, run_id: uuid.UUID) -> runs.RunView:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        view = runs.get_run(db, actor, run_id)
        if view.finished:
            return view
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish: {runs.get_run(db, actor, run_id)}")


def test_queueing_inside_a_callers_transaction_commits_with_it(
    db: Database, admin: Actor, country: BlockDef, chosen: Mapping, countries: Path
) -> None:
    from planport.connectors import GivenFile

    with db.write() as session:
        source = GivenFile(path=str(countries), name="countries.csv")
        recipe = runs.RunRecipe.of(source, FileSettings(), chosen)
        new = runs.NewRun.into(country, recipe, Trigger.SCHEDULE, admin.id)
        queued = runs.queue_run(
            session, replace(new, scheduled_for=datetime(2027, 1, 1, tzinfo=utc_now().tzinfo))
        )
        run_id = queued.id
        session.execute(update(ImportRun).where(ImportRun.id == run_id).values(file_name="x"))
    assert runs.get_run(db, admin, run_id).status is RunStatus.QUEUED


def test_sweepers_running_at_once_fail_a_lost_run_once_and_retry_it_once(
    db: Database,
    admin: Actor,
    country: BlockDef,
    chosen: Mapping,
    countries: Path,
    settings: Settings,
) -> None:
    run_id = start(db, admin, country, countries, chosen)
    assert runs.claim_run(db, run_id, "host:9:gone")
    later = utc_now() + timedelta(minutes=5)
    reports = []

    def sweeper() -> None:
        reports.append(sweep(db, later, settings=settings))

    threads = [threading.Thread(target=sweeper) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(len(r.lost) for r in reports) == [0, 0, 0, 1]
    with db.read() as session:
        retries = session.scalars(select(ImportRun.id).where(ImportRun.retry_of == run_id)).all()
    assert len(retries) == 1


class _NotThereYet(FolderConnector):
    """A source whose file has not arrived yet (what a folder or SFTP connector reports)."""

    def fetch(self, spec: object, context: object) -> Fetched:
        raise SourceUnavailable("sales.csv is not there yet.", transient=True)


def test_a_source_unavailable_for_now_is_retried_and_one_that_needs_a_file_is_refused(
    db: Database,
    admin: Actor,
    country: BlockDef,
    chosen: Mapping,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from planport import connectors

    monkeypatch.setitem(connectors.CONNECTORS, "folder", _NotThereYet())
    configuration_id = save_configuration(db, admin, country, chosen)
    with db.write() as session:
        session.execute(
            update(ImportConfiguration)
            .where(ImportConfiguration.id == configuration_id)
            .values(source='{"kind": "folder", "path": "sales.csv"}')
        )
    run_id = runs.start_configuration_run(db, admin, configuration_id)
    assert row(db, run_id).file_name == "sales.csv"
    view = claim_and_execute(db, run_id, settings)
    assert [e.name for e in view.errors] == ["SourceUnavailable"]
    [(retry_id, not_before)] = runs.follow_ups(db, run_id)
    assert row(db, retry_id).attempt == 2
    assert not_before is not None
    assert not_before > utc_now() + timedelta(seconds=20), "after its backoff"
